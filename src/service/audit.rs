//! The audit log: who on the staff reached residents' personal data, what, how many
//! records, when and from where. Written in the same step as the action it records (a
//! download is not sent unless its entry is stored), appended and never changed; ADMIN
//! reads it.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};

use crate::db::entities::audit_entry;
use crate::db::pages::{self, Order};
use crate::domain::accounts::role::Role;
use crate::domain::ids::{AccountId, AuditEntryId};
use crate::error::AppResult;
use crate::service::accounts::auth::{Caller, ClientAddress};
use crate::state::AppState;

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A page of a consultation's responses read (answers, free text included).
    ResponsesRead,
    /// A consultation's responses downloaded (answers, free text included).
    ResponsesExport,
    /// Which member gave which response of a consultation, downloaded.
    ResponseMembersExport,
}

impl Action {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResponsesRead => "responses.read",
            Self::ResponsesExport => "responses.export",
            Self::ResponseMembersExport => "response_members.export",
        }
    }
}

/// One entry as ADMIN reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The row's key, also the number in its `AuditEntry` global ID.
    pub id: AuditEntryId,
    /// When the data was read or downloaded.
    pub at: DateTime<Utc>,
    /// The staff account that acted; `None` when the caller had no account.
    pub account: Option<AccountId>,
    /// What (the stored name of an [`Action`]).
    pub action: String,
    /// On what, e.g. `consultation:12`.
    pub subject: String,
    /// How many records it reached.
    pub records: Option<u64>,
    /// The client's IP address, when known.
    pub client: Option<String>,
}

/// Appends an entry for `caller` doing `action` on `subject`, reaching `records` records.
pub async fn record(
    db: &impl ConnectionTrait,
    caller: &Caller,
    client: ClientAddress,
    action: Action,
    subject: String,
    records: Option<u64>,
    at: DateTime<Utc>,
) -> AppResult<()> {
    audit_entry::ActiveModel {
        at: Set(at),
        account_id: Set(caller.account()),
        action: Set(action.as_str().to_owned()),
        subject: Set(subject),
        records: Set(records.map(|n| i64::try_from(n).unwrap_or(i64::MAX))),
        client: Set(client.0.map(|ip| ip.to_string())),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A page of entries, newest first, before `before` (ADMIN only); up to `limit + 1`.
pub async fn entries(
    state: &AppState,
    caller: &Caller,
    before: Option<AuditEntryId>,
    limit: u64,
) -> AppResult<Vec<Entry>> {
    caller.require(&[Role::Admin])?;
    let rows = pages::page(
        audit_entry::Entity::find(),
        audit_entry::Column::Id,
        Order::NewestFirst,
        before.map(AuditEntryId::get),
        limit,
    )
    .all(state.db.reader())
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Entry {
            id: row.id,
            at: row.at,
            account: row.account_id,
            action: row.action,
            subject: row.subject,
            records: row.records.and_then(|n| u64::try_from(n).ok()),
            client: row.client,
        })
        .collect())
}
