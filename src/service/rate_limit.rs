//! Sliding-window rate limits kept in the database, so that several API instances share
//! one count. A limit is a bucket name, a maximum and a window; each counted attempt is a
//! row in `rate_limit_events`. Windows are at most a day long.
//!
//! Logins, registrations and login-link requests all follow one sequence, [`attempt`]:
//! count the attempt in every limit that applies before doing the work (so a burst of
//! parallel attempts cannot all pass a check made first), then either keep the count (a
//! failure that suggests guessing) or [`Attempts::forgive`] it.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::db::entities::rate_limit_event::{self, Column};
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
    let event = rate_limit_event::ActiveModel {
        bucket: Set(limit.bucket.clone()),
        occurred_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let in_window = rate_limit_event::Entity::find()
        .filter(Column::Bucket.eq(&limit.bucket))
        .filter(Column::OccurredAt.gt(now - limit.window));
    let count = in_window.clone().count(db).await?;
    if count <= u64::from(limit.max) {
        return Ok(event.id);
    }
    release(db, event.id).await?;
    // The oldest event still in the window is the next to leave it.
    let oldest = in_window
        .order_by_asc(Column::OccurredAt)
        .limit(1)
        .one(db)
        .await?
        .map_or(now, |e| e.occurred_at);
    let retry_after = (oldest + limit.window - now).num_seconds().max(1);
    Err(AppError::RateLimited {
        retry_after_secs: u64::try_from(retry_after).unwrap_or(1),
    })
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
