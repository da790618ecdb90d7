//! `jobs`: background work (a draw, an export, an import, a login link), claimed by a
//! worker with a lease that expires, retried with backoff, cancellable, with progress.

use crate::domain::ids::{AccountId, JobId};
use crate::domain::job::JobKind;
use crate::domain::job::JobStatus;
use sea_orm::entity::prelude::*;

/// One job.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: JobId,
    /// What to do (`JobKind`'s stored name).
    pub kind: JobKind,
    /// The kind's input, as JSON.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: JobStatus,
    /// Times a worker has claimed it.
    pub attempts: i32,
    /// Claims allowed before it fails for good.
    pub max_attempts: i32,
    /// Not claimed before this moment.
    pub run_after: DateTimeUtc,
    /// The worker running it, while its lease lasts.
    pub locked_by: Option<String>,
    pub locked_until: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub progress_done: i64,
    pub progress_total: Option<i64>,
    /// The kind's output, as JSON, once it succeeded.
    #[sea_orm(column_type = "Text", nullable)]
    pub result: Option<String>,
    pub created_by: Option<AccountId>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub cancel_requested_at: Option<DateTimeUtc>,
    /// At most one unfinished job holds a given key.
    pub singleton_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
