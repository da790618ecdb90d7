//! Sliding-window rate limits kept in the database, so that several API instances share
//! one count. A limit is a bucket name, a maximum and a window; each counted attempt is a
//! row in `rate_limit_events`.

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

/// Refuses with `RATE_LIMITED` when the bucket is full, saying when a slot frees up.
pub async fn check(db: &impl ConnectionTrait, limit: &Limit, now: DateTime<Utc>) -> AppResult<()> {
    let since = now - limit.window;
    let in_window = rate_limit_event::Entity::find()
        .filter(Column::Bucket.eq(&limit.bucket))
        .filter(Column::OccurredAt.gt(since));
    let count = in_window.clone().count(db).await?;
    if count < u64::from(limit.max) {
        return Ok(());
    }
    // The oldest event still in the window is the next to leave it.
    let oldest = in_window
        .order_by_asc(Column::OccurredAt)
        .limit(1)
        .one(db)
        .await?
        .map_or(now, |event| event.occurred_at);
    let retry_after = (oldest + limit.window - now).num_seconds().max(1);
    Err(AppError::RateLimited {
        retry_after_secs: u64::try_from(retry_after).unwrap_or(1),
    })
}

/// Counts one event in `limit`'s bucket, forgetting events that have left the window.
pub async fn record(db: &impl ConnectionTrait, limit: &Limit, now: DateTime<Utc>) -> AppResult<()> {
    rate_limit_event::Entity::delete_many()
        .filter(Column::Bucket.eq(&limit.bucket))
        .filter(Column::OccurredAt.lte(now - limit.window))
        .exec(db)
        .await?;
    rate_limit_event::ActiveModel {
        bucket: Set(limit.bucket.clone()),
        occurred_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
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
