//! Claiming work with a lease: background jobs and outbox messages.
//!
//! A claim is one statement that marks a batch of due rows as held by a worker until a
//! moment (the lease) and returns them. On PostgreSQL the rows are picked with
//! `FOR UPDATE SKIP LOCKED`, so several workers in several processes each take different
//! rows without waiting for one another. SQLite has one writer at a time, so the same
//! `UPDATE … RETURNING` is atomic there by itself. A row whose lease ran out (its worker
//! died) is due again.
//!
//! Every later change to a claimed row names the claim (the worker and its attempt
//! number): a worker that lost its lease can no longer overwrite what the next one does.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, Statement,
};

use crate::db::bulk::Backend;
use crate::db::entities::{job, outbox};
use crate::domain::consultations::consultation::Channel;
use crate::domain::ids::{AccountId, JobId, OutboxId};
use crate::domain::job::{JobKind, JobStatus};
use crate::error::{AppError, AppResult};

/// The lock clause that lets concurrent claimers skip each other's rows.
fn skip_locked(db: &DatabaseConnection) -> AppResult<&'static str> {
    Ok(match Backend::of(db)? {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        // One writer at a time: the statement is atomic without it.
        Backend::Sqlite => "",
    })
}

/// A job to queue.
#[derive(Clone, Debug)]
pub struct NewJob {
    /// What to do.
    pub kind: JobKind,
    /// Its input, as JSON.
    pub payload: String,
    /// Who asked.
    pub created_by: Option<AccountId>,
    /// Not before this moment.
    pub run_after: DateTime<Utc>,
    /// At most one unfinished job may hold this key (a second is a unique violation).
    pub singleton_key: Option<String>,
}

/// Queues a job.
pub async fn enqueue(
    db: &impl sea_orm::ConnectionTrait,
    new: NewJob,
    now: DateTime<Utc>,
) -> AppResult<job::Model> {
    Ok(job::ActiveModel {
        kind: Set(new.kind),
        payload: Set(new.payload),
        status: Set(JobStatus::Queued),
        attempts: Set(0),
        max_attempts: Set(i32::try_from(new.kind.max_attempts()).unwrap_or(i32::MAX)),
        run_after: Set(new.run_after),
        locked_by: Set(None),
        locked_until: Set(None),
        last_error: Set(None),
        progress_done: Set(0),
        progress_total: Set(None),
        result: Set(None),
        created_by: Set(new.created_by),
        created_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
        cancel_requested_at: Set(None),
        singleton_key: Set(new.singleton_key),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// One claim: the worker that holds it and the attempt it counts as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The worker's name (`host:pid:n`).
    pub worker: String,
    /// The row's attempt count as this claim set it.
    pub attempt: i32,
}

/// A message for the outbox, written and ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The email's subject (empty for a text message).
    pub subject: String,
    /// The plain text (the whole of a text message).
    pub text: String,
    /// The email's HTML part, if it has one.
    pub html: Option<String>,
    /// Extra email headers (`List-Unsubscribe` and the like).
    pub headers: Vec<(String, String)>,
}

/// Queues `message` to `to` by `channel` in the outbox, inside the caller's transaction
/// `db`, so it is sent only if that commits. `key` is its idempotency key: the transport
/// sees it on every attempt, so a resend after a crash is recognised as the same message.
pub async fn queue_message(
    db: &impl ConnectionTrait,
    channel: Channel,
    to: &str,
    message: Message,
    key: String,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let headers = (!message.headers.is_empty())
        .then(|| serde_json::to_string(&message.headers))
        .transpose()
        .map_err(AppError::internal)?;
    outbox::Entity::insert(outbox::ActiveModel {
        channel: Set(channel),
        recipient: Set(to.to_owned()),
        subject: Set(message.subject),
        body: Set(message.text),
        html_body: Set(message.html),
        headers: Set(headers),
        idempotency_key: Set(key),
        created_at: Set(now),
        sent_at: Set(None),
        attempts: Set(0),
        next_attempt_at: Set(None),
        locked_by: Set(None),
        locked_until: Set(None),
        last_error: Set(None),
        failed_at: Set(None),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// A claiming statement's values, in the order both claims number them: the worker
/// (`$1`), the lease's end (`$2`), now (`$3`) and the most rows to claim (`$4`).
fn claim_statement(
    db: &DatabaseConnection,
    sql: String,
    worker: &str,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: u64,
) -> Statement {
    Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [
            worker.into(),
            lease_until.into(),
            now.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    )
}

/// Claims up to `limit` due jobs for `worker` until `lease_until`, oldest due first.
pub async fn claim_jobs(
    db: &DatabaseConnection,
    worker: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> AppResult<Vec<job::Model>> {
    let sql = format!(
        "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, \
         attempts = attempts + 1, started_at = COALESCE(started_at, $3) \
         WHERE id IN (SELECT id FROM jobs \
           WHERE (status = 'queued' AND run_after <= $3) \
              OR (status = 'running' AND locked_until < $3) \
           ORDER BY run_after, id LIMIT $4{}) \
         RETURNING *",
        skip_locked(db)?
    );
    let statement = claim_statement(db, sql, worker, lease_until, now, limit);
    Ok(job::Entity::find().from_raw_sql(statement).all(db).await?)
}

/// The rows of one claim of `id`.
fn held(id: JobId, claim: &Claim) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(job::Column::Id.eq(id))
        .add(job::Column::Status.eq(JobStatus::Running))
        .add(job::Column::LockedBy.eq(claim.worker.as_str()))
        .add(job::Column::Attempts.eq(claim.attempt))
}

/// What a renewal found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Renewal {
    /// The claim still holds (no other worker has taken the job).
    pub held: bool,
    /// Someone asked the job to stop.
    pub cancel_requested: bool,
}

/// Extends a claim's lease and records progress.
pub async fn renew(
    db: &DatabaseConnection,
    id: JobId,
    claim: &Claim,
    lease_until: DateTime<Utc>,
    progress: Option<(u64, Option<u64>)>,
) -> AppResult<Renewal> {
    let mut update = job::Entity::update_many()
        .col_expr(job::Column::LockedUntil, Expr::value(lease_until))
        .filter(held(id, claim));
    if let Some((done, total)) = progress {
        update = update
            .col_expr(
                job::Column::ProgressDone,
                Expr::value(i64::try_from(done).unwrap_or(i64::MAX)),
            )
            .col_expr(
                job::Column::ProgressTotal,
                Expr::value(total.map(|t| i64::try_from(t).unwrap_or(i64::MAX))),
            );
    }
    let updated = update.exec(db).await?.rows_affected == 1;
    if !updated {
        return Ok(Renewal {
            held: false,
            cancel_requested: false,
        });
    }
    let cancel_requested = job::Entity::find_by_id(id)
        .one(db)
        .await?
        .is_some_and(|row| row.cancel_requested_at.is_some());
    Ok(Renewal {
        held: true,
        cancel_requested,
    })
}

/// How a claimed job ends (or pauses).
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Done, with its result (JSON).
    Succeeded { result: String },
    /// Try again from `run_after`.
    Retry {
        error: String,
        run_after: DateTime<Utc>,
    },
    /// Given up.
    Failed { error: String },
    /// Stopped on request.
    Cancelled,
}

/// Records how a claimed job ended; `false` when the claim no longer held (another worker
/// took the job after this one's lease ran out, and its word counts).
pub async fn finish(
    db: &DatabaseConnection,
    id: JobId,
    claim: &Claim,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let release = job::Entity::update_many()
        .col_expr(job::Column::LockedBy, Expr::value(None::<String>))
        .col_expr(job::Column::LockedUntil, Expr::value(None::<DateTime<Utc>>))
        .filter(held(id, claim));
    let update = match outcome {
        Outcome::Succeeded { result } => release
            .col_expr(job::Column::Status, Expr::value(JobStatus::Succeeded))
            .col_expr(job::Column::Result, Expr::value(result))
            .col_expr(job::Column::FinishedAt, Expr::value(now))
            .col_expr(job::Column::LastError, Expr::value(None::<String>)),
        Outcome::Retry { error, run_after } => release
            .col_expr(job::Column::Status, Expr::value(JobStatus::Queued))
            .col_expr(job::Column::RunAfter, Expr::value(run_after))
            .col_expr(job::Column::LastError, Expr::value(error)),
        Outcome::Failed { error } => release
            .col_expr(job::Column::Status, Expr::value(JobStatus::Failed))
            .col_expr(job::Column::FinishedAt, Expr::value(now))
            .col_expr(job::Column::LastError, Expr::value(error)),
        Outcome::Cancelled => release
            .col_expr(job::Column::Status, Expr::value(JobStatus::Cancelled))
            .col_expr(job::Column::FinishedAt, Expr::value(now)),
    };
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// Asks a job to stop: a queued job is cancelled at once, a running one is flagged for its
/// worker to notice. Returns the row as it is now, or `None` when there is no such job.
pub async fn cancel(
    db: &DatabaseConnection,
    id: JobId,
    now: DateTime<Utc>,
) -> AppResult<Option<job::Model>> {
    job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(JobStatus::Cancelled))
        .col_expr(job::Column::FinishedAt, Expr::value(now))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::Status.eq(JobStatus::Queued))
        .exec(db)
        .await?;
    job::Entity::update_many()
        .col_expr(job::Column::CancelRequestedAt, Expr::value(now))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::Status.eq(JobStatus::Running))
        .filter(job::Column::CancelRequestedAt.is_null())
        .exec(db)
        .await?;
    Ok(job::Entity::find_by_id(id).one(db).await?)
}

/// Claims up to `limit` messages that are due for `worker` until `lease_until`, in the
/// order they were queued, stamping `now` as the moment their hand-off begins (committed
/// before any of them is sent).
pub async fn claim_messages(
    db: &DatabaseConnection,
    worker: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> AppResult<Vec<outbox::Model>> {
    let sql = format!(
        "UPDATE outbox SET locked_by = $1, locked_until = $2, attempts = attempts + 1, \
           handoff_at = $3 \
         WHERE id IN (SELECT id FROM outbox \
           WHERE sent_at IS NULL AND failed_at IS NULL \
             AND (next_attempt_at IS NULL OR next_attempt_at <= $3) \
             AND (locked_until IS NULL OR locked_until < $3) \
           ORDER BY id LIMIT $4{}) \
         RETURNING *",
        skip_locked(db)?
    );
    let statement = claim_statement(db, sql, worker, lease_until, now, limit);
    Ok(outbox::Entity::find()
        .from_raw_sql(statement)
        .all(db)
        .await?)
}

/// How a claimed message's delivery went.
#[derive(Clone, Debug, PartialEq)]
pub enum Delivery {
    /// The transport accepted it.
    Sent,
    /// Try again from `at`.
    Retry { error: String, at: DateTime<Utc> },
    /// Given up.
    Failed { error: String },
}

/// Records a claimed message's delivery; `false` when the claim no longer held.
pub async fn delivered(
    db: &impl ConnectionTrait,
    id: OutboxId,
    claim: &Claim,
    delivery: Delivery,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let update = outbox::Entity::update_many()
        .col_expr(outbox::Column::LockedBy, Expr::value(None::<String>))
        .col_expr(
            outbox::Column::LockedUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::LockedBy.eq(claim.worker.as_str()))
        .filter(outbox::Column::Attempts.eq(claim.attempt))
        .filter(outbox::Column::SentAt.is_null());
    let update = match delivery {
        Delivery::Sent => update
            .col_expr(outbox::Column::SentAt, Expr::value(now))
            .col_expr(outbox::Column::LastError, Expr::value(None::<String>)),
        Delivery::Retry { error, at } => update
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(at))
            .col_expr(outbox::Column::LastError, Expr::value(error)),
        Delivery::Failed { error } => update
            .col_expr(outbox::Column::FailedAt, Expr::value(now))
            .col_expr(outbox::Column::LastError, Expr::value(error)),
    };
    Ok(update.exec(db).await?.rows_affected == 1)
}
