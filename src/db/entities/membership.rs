use crate::domain::ids::{MembershipId, PanelId, ResidentId, SelectionRunId};
use crate::domain::panels::panel::MembershipStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: MembershipId,
    pub panel_id: PanelId,
    pub resident_id: ResidentId,
    pub run_id: Option<SelectionRunId>,
    pub status: MembershipStatus,
    pub selected_at: DateTimeUtc,
    pub term_ends_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
