//! Background jobs as use cases: queueing one, reading one or a page of them, cancelling.
//!
//! Work that can take seconds (a draw, an export, an import) is queued here by the use
//! case that validated the request and is run by a worker (`jobs::worker`), in this process
//! or another. Staff (OFFICER, ADMIN) see every job; nobody else sees any.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Serialize;

use crate::db::entities::job;
use crate::db::pages::{self, Order};
use crate::db::queue::{self, NewJob};
use crate::domain::accounts::role::Role;
use crate::domain::ids::{AccountId, JobId};
use crate::domain::job::{Job, JobKind, JobStatus};
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::state::AppState;

/// Who may see jobs.
const STAFF: &[Role] = &[Role::Officer];

/// A job to queue.
#[derive(Debug)]
pub struct Request<'a, P: Serialize> {
    /// What to do.
    pub kind: JobKind,
    /// Its input.
    pub payload: &'a P,
    /// Who asked.
    pub created_by: Option<AccountId>,
    /// At most one unfinished job may hold this key; a second request is `CONFLICT`.
    pub singleton_key: Option<String>,
}

/// Queues a job and wakes this process's worker.
pub async fn enqueue<P: Serialize>(state: &AppState, request: Request<'_, P>) -> AppResult<Job> {
    let job = enqueue_in(state.db.writer(), state, request).await?;
    state.work_queued.notify_one();
    Ok(job)
}

/// Queues a job inside the caller's transaction `db` (it runs only if that commits); the
/// caller wakes the worker (`state.work_queued`) after committing.
pub async fn enqueue_in<P: Serialize>(
    db: &impl ConnectionTrait,
    state: &AppState,
    request: Request<'_, P>,
) -> AppResult<Job> {
    let now = state.clock.now();
    let payload = serde_json::to_string(request.payload).map_err(AppError::internal)?;
    let row = queue::enqueue(
        db,
        NewJob {
            kind: request.kind,
            payload,
            created_by: request.created_by,
            run_after: now,
            singleton_key: request.singleton_key,
        },
        now,
    )
    .await
    .map_err(|err| match err {
        AppError::Conflict { .. } => {
            AppError::conflict("The same work is already queued or running; wait for it to finish.")
        }
        other => other,
    })?;
    to_domain(row)
}

/// One job, for staff.
pub async fn find(state: &AppState, caller: &Caller, id: JobId) -> AppResult<Job> {
    caller.require(STAFF)?;
    find_any(state.db.reader(), id).await
}

/// One job, whoever asks (for the worker and for use cases that queued it).
pub async fn find_any(db: &impl ConnectionTrait, id: JobId) -> AppResult<Job> {
    job::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound { what: "job" })
        .and_then(to_domain)
}

/// Jobs by id, for a loader: those that exist, in no particular order.
pub async fn find_many(state: &AppState, caller: &Caller, ids: &[JobId]) -> AppResult<Vec<Job>> {
    caller.require(STAFF)?;
    job::Entity::find()
        .filter(job::Column::Id.is_in(ids.iter().copied()))
        .all(state.db.reader())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// Which jobs to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only jobs in this state.
    pub status: Option<JobStatus>,
    /// Only jobs of this kind.
    pub kind: Option<JobKind>,
}

/// A page of jobs, newest first, before `before` (an id); up to `limit + 1` so the caller
/// can tell whether another page follows.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    filter: &Filter,
    before: Option<JobId>,
    limit: u64,
) -> AppResult<Vec<Job>> {
    caller.require(STAFF)?;
    let mut query = pages::page(
        job::Entity::find(),
        job::Column::Id,
        Order::NewestFirst,
        before.map(JobId::get),
        limit,
    );
    if let Some(status) = filter.status {
        query = query.filter(job::Column::Status.eq(status));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(job::Column::Kind.eq(kind));
    }
    query
        .all(state.db.reader())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// Asks a job to stop. A queued job is cancelled at once; a running one stops at its next
/// check (told at once when it runs in this process, at its next heartbeat when it runs in
/// another) and is then `CANCELLED`; a finished one is left as it is (`CONFLICT`).
pub async fn cancel(state: &AppState, caller: &Caller, id: JobId) -> AppResult<Job> {
    caller.require(STAFF)?;
    let now = state.clock.now();
    let row = queue::cancel(state.db.writer(), id, now)
        .await?
        .ok_or(AppError::NotFound { what: "job" })?;
    let job = to_domain(row)?;
    if job.status.is_finished() && job.status != JobStatus::Cancelled {
        return Err(AppError::conflict(format!(
            "The job has already {}.",
            job.status.as_str()
        )));
    }
    let here = state.running.cancel(id);
    tracing::info!(job_id = %id, by = ?caller.account(), running_here = here, "job cancellation requested");
    Ok(job)
}

/// Turns a stored row into the domain value; a corrupt row is an internal error.
pub fn to_domain(row: job::Model) -> AppResult<Job> {
    Ok(Job {
        id: row.id,
        kind: row.kind,
        status: row.status,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        max_attempts: u32::try_from(row.max_attempts).unwrap_or(0),
        run_after: row.run_after,
        progress_done: u64::try_from(row.progress_done).unwrap_or(0),
        progress_total: row.progress_total.and_then(|t| u64::try_from(t).ok()),
        last_error: row.last_error,
        payload: row.payload,
        result: row.result,
        created_by: row.created_by,
        created_at: row.created_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        cancel_requested: row.cancel_requested_at.is_some(),
    })
}

/// A job's result, decoded; `None` until it succeeded.
pub fn result_of<T: serde::de::DeserializeOwned>(job: &Job) -> AppResult<Option<T>> {
    job.result
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(AppError::internal)
}
