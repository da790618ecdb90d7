//! A consultation's audience as a balanced sub-sample of its panel: the pool (the panel's
//! current members) with the panel's quotas scaled to the sample (`domain::panels::sub_sample`),
//! checked when an officer asks for a sample and again when the panel is invited, and the
//! draw the invite job makes with the consultation's stored seed.
//!
//! The draw runs in the invite job, its CPU work on a blocking thread before any
//! transaction; the job then writes the whole sample's invitations in one transaction.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

use crate::db::entities::{membership, resident};
use crate::domain::ids::PanelId;
use crate::domain::panels::panel::MembershipStatus;
use crate::domain::panels::sub_sample::{self, scaled_quotas};
use crate::domain::selection::{self, Instance, Person, SelectionError};
use crate::domain::uk_time::uk_date;
use crate::error::{AppError, AppResult};
use crate::service::panels;
use crate::service::selection::quota_values;
use crate::state::progress::Progress;

/// Longest the fair distribution of a sample may take.
const TIME_LIMIT: Duration = Duration::from_secs(300);

/// The memberships a consultation goes to: selected or active (not paused, withdrawn or
/// ended).
pub const INVITED: [MembershipStatus; 2] = [MembershipStatus::Selected, MembershipStatus::Active];

/// What a sample's draw used, kept with the invite job's result so it can be checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleDrawn {
    /// The panel's current members it was drawn from.
    pub pool_size: u32,
    /// The panel's quotas scaled to the sample (`feature,value,min,max`).
    pub quotas_csv: String,
    /// The lowest chance any of those members had of being sampled.
    pub minimum_probability: f64,
}

/// The pool of a sample of `size` from `panel` with ages counted on `as_of`: its current
/// members (selected or active, not withdrawn), by resident number, with the panel's
/// quotas scaled to `size`. Refused with `BAD_USER_INPUT` on `field` when the panel has no
/// quotas, the size is 0 or more than the members, a member has a value the quotas do
/// not list, or the scaled quotas plainly cannot be met (each category named).
pub async fn pool(
    db: &impl ConnectionTrait,
    panel: PanelId,
    size: u32,
    as_of: DateTime<Utc>,
    field: &str,
) -> AppResult<Instance> {
    if size == 0 {
        return Err(AppError::bad_input(
            field,
            "A sample has at least 1 member.",
        ));
    }
    let panel = panels::find_any(db, panel).await?;
    let quotas = panels::quotas(db, panel.id).await?;
    if quotas.is_empty() {
        return Err(AppError::bad_input(
            field,
            "The panel has no quotas to balance a sample on: set, import or derive them first.",
        ));
    }
    let members = resident::Entity::find()
        .filter(resident::Column::WithdrawnAt.is_null())
        .filter(
            resident::Column::Id.in_subquery(
                Query::select()
                    .column(membership::Column::ResidentId)
                    .from(membership::Entity)
                    .and_where(membership::Column::PanelId.eq(panel.id))
                    .and_where(membership::Column::Status.is_in(INVITED))
                    .to_owned(),
            ),
        )
        .order_by_asc(resident::Column::Id)
        .all(db)
        .await?;
    if size as usize > members.len() {
        return Err(AppError::bad_input(
            field,
            format!(
                "A sample of {size} is more than the panel's {} current members (selected or active).",
                members.len()
            ),
        ));
    }
    let people = quota_values(db, members, &quotas, uk_date(as_of), field)
        .await?
        .into_iter()
        .map(|(row, values)| Person {
            id: row.id.to_string(),
            values,
            household: None,
        })
        .collect();
    let instance = Instance::new(
        scaled_quotas(&quotas, panel.target_size, size),
        people,
        size,
    );
    instance
        .check()
        .map_err(|err| sample_error(field, size, err))?;
    Ok(instance)
}

/// Draws the sample of `size` with `seed` from `panel`'s pool on `as_of` (see [`pool`]):
/// the residents sampled, and what the draw used. The solver runs on a blocking thread
/// and stops when the job is cancelled.
pub async fn draw(
    db: &impl ConnectionTrait,
    panel: PanelId,
    size: u32,
    seed: u64,
    as_of: DateTime<Utc>,
    progress: &Progress,
) -> AppResult<(HashSet<i64>, SampleDrawn)> {
    const FIELD: &str = "input.consultationId";
    let instance = pool(db, panel, size, as_of, FIELD).await?;
    let solving = instance.clone();
    let drawn = progress
        .run_blocking(move |stop| sub_sample::draw(&solving, seed, TIME_LIMIT, stop))
        .await?
        .map_err(|err| sample_error(FIELD, size, err))?;
    let residents = drawn
        .members
        .iter()
        .map(|&p| instance.ids[p].parse::<i64>().map_err(AppError::internal))
        .collect::<AppResult<HashSet<i64>>>()?;
    Ok((
        residents,
        SampleDrawn {
            pool_size: u32::try_from(instance.pool_size()).unwrap_or(u32::MAX),
            quotas_csv: selection::quotas_csv(&instance.features),
            minimum_probability: drawn.minimum_probability,
        },
    ))
}

/// A sample that cannot be drawn, as the API says it.
fn sample_error(field: &str, size: u32, err: SelectionError) -> AppError {
    match err {
        SelectionError::Infeasible { reasons } => AppError::bad_input(
            field,
            format!(
                "No sample of {size} meets the panel's quotas scaled to {size}: {}.",
                reasons.join("; ")
            ),
        ),
        SelectionError::Stopped => AppError::Cancelled,
        other => AppError::conflict(format!("The sample could not be drawn: {other}.")),
    }
}
