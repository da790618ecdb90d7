use crate::domain::ids::{AccountId, PanelId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "panels")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: PanelId,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub min_age: Option<i16>,
    pub max_age: Option<i16>,
    #[sea_orm(column_type = "Text", nullable)]
    pub wards: Option<String>,
    pub target_size: i32,
    pub term_months: i32,
    pub one_per_household: bool,
    pub area_code: Option<String>,
    pub created_by: Option<AccountId>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
