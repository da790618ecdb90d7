use crate::domain::ids::{AccountId, ResidentId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "guardian_consents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub resident_id: ResidentId,
    pub guardian_name: String,
    pub relationship: String,
    pub method: String,
    pub recorded_by: Option<AccountId>,
    pub recorded_at: DateTimeUtc,
    pub withdrawn_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
