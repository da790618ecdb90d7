//! `consents`: what a resident agreed to, in which words, and when.

use crate::domain::ids::ResidentId;
use sea_orm::entity::prelude::*;

/// One consent record.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub resident_id: ResidentId,
    /// e.g. `panel_membership`.
    pub purpose: String,
    /// The exact wording shown.
    #[sea_orm(column_type = "Text")]
    pub wording: String,
    pub version: String,
    pub given_at: DateTimeUtc,
    pub withdrawn_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
