//! Sliding-window rate limits kept in the database, so that several API instances share
//! one count. A limit is a bucket name, a maximum and a window; each counted attempt is a
//! row in `rate_limit_events`. Windows are at most a day long.
//!
//! Two sequences, both safe against a burst of parallel attempts:
//!
//! - [`attempt`] (logins, login-link requests): count the attempt in every limit before
//!   doing the work, then keep the count (a failure that suggests guessing) or
//!   [`Attempts::forgive`] it. Attempts still in flight count until they finish, which
//!   suits work that is slow (a password hash) and rarely concurrent per bucket.
//! - [`Serial`] (code redemptions): the check is quick, so it runs one at a time under
//!   the guarded bucket's lock, from reading the count to recording a failure. Only
//!   failures are ever counted, so many people succeeding at once from one address never
//!   refuse each other, and still no burst gets more checks than the limit allows.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use crate::db::entities::rate_limit_event::{self, Column};
use crate::db::locks;
use crate::error::{AppError, AppResult};

/// One limit: at most `max` events in `bucket` within any `window`.
#[derive(Clone, Debug)]
pub struct Limit {
    /// Bucket name, e.g. `login:client:127.0.0.1`.
    pub bucket: String,
    /// Events allowed in the window.
    pub max: u32,
    /// Window length.
    pub window: Duration,
}

/// Counts one attempt in `limit`'s bucket and refuses with `RATE_LIMITED` when that makes
/// it more than the limit allows.
///
/// The attempt is written first and counted after, so concurrent attempts see each other:
/// checking first and recording after the (slow) work would let a burst of parallel
/// requests all pass the check. A refused attempt is removed again.
async fn reserve(db: &impl ConnectionTrait, limit: &Limit, now: DateTime<Utc>) -> AppResult<i64> {
    purge_now_and_then(db, now).await?;
    let event = record(db, limit, now).await?;
    if in_window(db, limit, now).await? <= u64::from(limit.max) {
        return Ok(event);
    }
    release(db, event).await?;
    Err(refusal(db, limit, now).await?)
}

/// Writes one event in `limit`'s bucket; its id.
async fn record(db: &impl ConnectionTrait, limit: &Limit, now: DateTime<Utc>) -> AppResult<i64> {
    let event = rate_limit_event::ActiveModel {
        bucket: Set(limit.bucket.clone()),
        occurred_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(event.id)
}

/// Events in `limit`'s bucket within its window.
async fn in_window(db: &impl ConnectionTrait, limit: &Limit, now: DateTime<Utc>) -> AppResult<u64> {
    Ok(window_events(limit, now).count(db).await?)
}

fn window_events(limit: &Limit, now: DateTime<Utc>) -> sea_orm::Select<rate_limit_event::Entity> {
    rate_limit_event::Entity::find()
        .filter(Column::Bucket.eq(&limit.bucket))
        .filter(Column::OccurredAt.gt(now - limit.window))
}

/// `RATE_LIMITED`, retrying once the oldest event in the window leaves it.
async fn refusal(
    db: &impl ConnectionTrait,
    limit: &Limit,
    now: DateTime<Utc>,
) -> AppResult<AppError> {
    let oldest = window_events(limit, now)
        .order_by_asc(Column::OccurredAt)
        .limit(1)
        .one(db)
        .await?
        .map_or(now, |e| e.occurred_at);
    let retry_after = (oldest + limit.window - now).num_seconds().max(1);
    Ok(AppError::RateLimited {
        retry_after_secs: u64::try_from(retry_after).unwrap_or(1),
    })
}

/// A quick check run under a limit's lock, counting only its failures (see the module
/// documentation). Dropped without [`Serial::passed`] or [`Serial::failed`], it records
/// nothing and lets the next check in.
#[must_use = "say whether the check passed or failed"]
pub struct Serial {
    txn: DatabaseTransaction,
    now: DateTime<Utc>,
    _in_process: tokio::sync::OwnedMutexGuard<()>,
}

/// Serial checks queue here first, so that a process has at most one connection waiting
/// for the database's lock and a burst cannot take the whole pool.
static IN_PROCESS: std::sync::LazyLock<Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(|| Arc::new(tokio::sync::Mutex::new(())));

impl Serial {
    /// Waits for `guard`'s lock, then refuses with `RATE_LIMITED` if its bucket is
    /// already full. Hold it only for a quick check, made through [`Serial::connection`]:
    /// it holds a write transaction.
    pub async fn begin(
        db: &DatabaseConnection,
        guard: &Limit,
        now: DateTime<Utc>,
    ) -> AppResult<Self> {
        let in_process = Arc::clone(&IN_PROCESS).lock_owned().await;
        let txn = db.begin().await?;
        locks::hold_until_commit(&txn, &guard.bucket).await?;
        purge_now_and_then(&txn, now).await?;
        if in_window(&txn, guard, now).await? >= u64::from(guard.max) {
            return Err(refusal(&txn, guard, now).await?);
        }
        Ok(Self {
            txn,
            now,
            _in_process: in_process,
        })
    }

    /// The connection to check on (the one holding the lock: waiting for another could
    /// wait for ever on a small pool).
    pub fn connection(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// The check passed: nothing is counted.
    pub async fn passed(self) -> AppResult<()> {
        self.txn.commit().await?;
        Ok(())
    }

    /// The check failed: counts one failure in each of `limits` (the guarded one among
    /// them), then refuses with `RATE_LIMITED` if that took any past its maximum.
    pub async fn failed(self, limits: &[Limit]) -> AppResult<()> {
        let mut over = None;
        for limit in limits {
            record(&self.txn, limit, self.now).await?;
            if over.is_none() && in_window(&self.txn, limit, self.now).await? > u64::from(limit.max)
            {
                over = Some(refusal(&self.txn, limit, self.now).await?);
            }
        }
        self.txn.commit().await?;
        over.map_or(Ok(()), Err)
    }
}

/// Counts one failure in each of `limits` without a check (a failure found after the
/// quick check, such as an email already taken).
pub async fn count_failure(
    db: &impl ConnectionTrait,
    limits: &[Limit],
    now: DateTime<Utc>,
) -> AppResult<()> {
    for limit in limits {
        record(db, limit, now).await?;
    }
    Ok(())
}

/// An attempt counted in one or more limits.
#[must_use = "keep or forgive the attempt"]
#[derive(Debug)]
pub struct Attempts {
    events: Vec<i64>,
}

impl Attempts {
    /// Takes the attempt back from every limit (it succeeded, or failed in a way that
    /// says nothing about guessing).
    pub async fn forgive(self, db: &impl ConnectionTrait) -> AppResult<()> {
        for event in self.events {
            release(db, event).await?;
        }
        Ok(())
    }

    /// Leaves the attempt counted.
    pub fn keep(self) {}
}

/// Counts one attempt in each of `limits`, in order. Past any of them the attempt is
/// refused with `RATE_LIMITED`, and the counts it already made are taken back.
pub async fn attempt(
    db: &impl ConnectionTrait,
    limits: &[Limit],
    now: DateTime<Utc>,
) -> AppResult<Attempts> {
    let mut counted = Attempts {
        events: Vec::with_capacity(limits.len()),
    };
    for limit in limits {
        match reserve(db, limit, now).await {
            Ok(event) => counted.events.push(event),
            Err(err) => {
                counted.forgive(db).await?;
                return Err(err);
            }
        }
    }
    Ok(counted)
}

/// Takes back an attempt counted by [`reserve`].
async fn release(db: &impl ConnectionTrait, event_id: i64) -> AppResult<()> {
    rate_limit_event::Entity::delete_by_id(event_id)
        .exec(db)
        .await?;
    Ok(())
}

/// Events older than any window are deleted now and then (about one call in a hundred),
/// so buckets used once do not accumulate for ever.
async fn purge_now_and_then(db: &impl ConnectionTrait, now: DateTime<Utc>) -> AppResult<()> {
    if rand::random_range(0..100) == 0 {
        rate_limit_event::Entity::delete_many()
            .filter(Column::OccurredAt.lt(now - Duration::days(1)))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Empties a bucket (a successful login forgives the account's earlier failures).
pub async fn clear(db: &impl ConnectionTrait, bucket: &str) -> AppResult<()> {
    rate_limit_event::Entity::delete_many()
        .filter(Column::Bucket.eq(bucket))
        .exec(db)
        .await?;
    Ok(())
}
