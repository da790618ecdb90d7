//! `tracking_events`: every event of every invitation, append-only.

use crate::domain::consultations::tracking::EventKind;
use crate::domain::ids::InvitationId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tracking_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub invitation_id: InvitationId,
    /// `sent`, `bounced`, `opened`, `clicked`, `started`, `completed`, `reminded`.
    pub kind: EventKind,
    pub at: DateTimeUtc,
    /// An open by a mail-privacy proxy or scanner rather than a person.
    pub machine: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
