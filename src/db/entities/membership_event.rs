use crate::domain::ids::{AccountId, MembershipId};
use crate::domain::panels::panel::MembershipStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "membership_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub membership_id: MembershipId,
    pub from_status: Option<MembershipStatus>,
    pub to_status: MembershipStatus,
    #[sea_orm(column_type = "Text", nullable)]
    pub reason: Option<String>,
    pub by_account: Option<AccountId>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
