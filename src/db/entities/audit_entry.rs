//! `audit_log`: staff actions on residents' personal data, appended and never changed.

use crate::domain::ids::{AccountId, AuditEntryId};
use sea_orm::entity::prelude::*;

/// One action.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: AuditEntryId,
    pub at: DateTimeUtc,
    /// Who (the staff account).
    pub account_id: Option<AccountId>,
    /// What, e.g. `responses.export`.
    pub action: String,
    /// On what, e.g. `consultation:12`.
    pub subject: String,
    /// How many records it reached.
    pub records: Option<i64>,
    /// From where (the client's address).
    pub client: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
