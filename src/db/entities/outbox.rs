//! `outbox`: messages waiting to be delivered (email now; SMS and post later). Written in
//! the same transaction as the change that causes them, so none is lost or sent for a
//! change that rolled back. The delivery worker claims a message with a lease
//! (`locked_by`, `locked_until`), so two workers never send it at once and a crashed
//! worker's message is taken up again once the lease runs out.

use crate::domain::consultations::consultation::Channel;
use crate::domain::ids::OutboxId;
use sea_orm::entity::prelude::*;

/// One message.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: OutboxId,
    /// `email`.
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    /// The plain-text body.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// An HTML alternative, when there is one.
    #[sea_orm(column_type = "Text", nullable)]
    pub html_body: Option<String>,
    /// Unique: the same message is never queued twice.
    #[sea_orm(unique)]
    pub idempotency_key: String,
    pub created_at: DateTimeUtc,
    /// When the transport accepted it.
    pub sent_at: Option<DateTimeUtc>,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// Not before this moment (after a failed attempt); `None` is now.
    pub next_attempt_at: Option<DateTimeUtc>,
    /// The worker delivering it, while its lease lasts.
    pub locked_by: Option<String>,
    pub locked_until: Option<DateTimeUtc>,
    /// Why the last attempt failed.
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// When delivery was given up (a permanent refusal, or too many attempts).
    pub failed_at: Option<DateTimeUtc>,
    /// Extra headers (`List-Unsubscribe`…) as a JSON array of `[name, value]` pairs.
    #[sea_orm(column_type = "Text", nullable)]
    pub headers: Option<String>,
    /// When the latest attempt's hand-off to the transport began (stamped by its claim).
    pub handoff_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
