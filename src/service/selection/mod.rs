//! Selecting a panel from the pool: starting a selection (checked at once, run as a job),
//! the job's work, and the public draw of the lottery's number. The transparency report
//! is in `selection_report`.
//!
//! A selection run snapshots the panel's quotas and the moment ages are counted on, builds
//! the pool (registrants eligible for the panel, not already on it, with each quota
//! feature's value from their profile or custom attributes), and computes everyone's
//! selection probability with the chosen method (`domain::selection`) on a blocking
//! thread. The fair distribution is rounded to a lottery of M tickets whose SHA-256 is
//! stored with the run: publish it, draw a number from 1 to M in public (or derive it from
//! public randomness by RFC 3797), and `selectionDraw` makes the ticket's residents
//! members. A top-up keeps sitting members, counts them against the quotas, and selects
//! the seats left from the rest of the pool.

pub mod seats;
pub mod selection_report;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use chrono::{DateTime, Months, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::db::entities::{
    guardian_consent, membership, membership_event, resident, resident_attribute,
    selection_probability, selection_run,
};
use crate::db::files::{self, NewFile};
use crate::db::locks;
use crate::db::pages::{self, Order};
use crate::domain::ids::{AccountId, FileId, PanelId, SelectionRunId};
use crate::domain::job::{Job, JobKind};
use crate::domain::panels::panel::{
    MembershipStatus, Panel, Profile, feature_key, profile_feature, rfc3797_ticket,
};
use crate::domain::selection::seats::{ComputedFor, superseded};
use crate::domain::selection::{
    self, Distribution, Feature, Instance, Person, SelectionError, estimate_greedy,
};
use crate::domain::uk_time::uk_date;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::service::jobs;
use crate::service::panels::{self, OFFICERS, selection_error};
use crate::state::AppState;
use crate::state::progress::Progress;

mod computing;
mod drawing;
mod pool;
mod starting;

// The parts see one another's items, as they did when they were one file.
#[allow(unused_imports)]
use {computing::*, drawing::*, pool::*, starting::*};

pub use crate::domain::selection::Method;
pub use computing::run;
pub use drawing::{DrawnNumber, draw, lottery_text, superseded_reason};
pub(crate) use pool::quota_values;
pub use starting::{MAX_TIME_LIMIT_SECONDS, start};

/// A selection as an officer asks for it.
#[derive(Clone, Debug)]
pub struct SelectionRequest {
    /// The panel to fill; its quotas as they are when the run starts are the ones used.
    pub panel: PanelId,
    /// How the selection probabilities are worked out.
    pub method: Method,
    /// Seed for the lottery's rotation and the greedy runs (decimal below 2^64); random
    /// when absent.
    pub seed: Option<String>,
    /// Tickets in the lottery (M).
    pub tickets: i64,
    /// Greedy runs to estimate its probabilities.
    pub greedy_runs: i64,
    /// Longest the solver may take, in seconds.
    pub time_limit_seconds: i64,
    /// Keep sitting members and fill the seats left.
    pub top_up: bool,
}

/// The job's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectionJob {
    /// The run to compute.
    pub run_id: SelectionRunId,
}

/// What a selection job hands back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectionDone {
    /// The run computed; its figures are stored with it, not in the job's result.
    pub run_id: SelectionRunId,
}

/// One category value in the transparency report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueReport {
    /// The quota's feature, e.g. `age_band`, `ward` or a custom attribute.
    pub feature: String,
    /// One value of the feature, as the quotas spell it.
    pub value: String,
    /// The quota's minimum for this selection (after sitting members, in a top-up).
    pub min: u32,
    /// The quota's maximum for this selection.
    pub max: u32,
    /// Sitting members with this value (a top-up only).
    pub sitting: u32,
    /// Registrants in the pool with this value.
    pub pool: u32,
    /// Selected by the draw, once drawn.
    pub selected: Option<u32>,
    /// The value's share of the population, where the panel's benchmark area (or the
    /// register, for wards and deprivation) gives one.
    #[serde(default)]
    pub population_share: Option<f64>,
    /// Lowest selection probability among them.
    pub probability_min: f64,
    /// Median selection probability among them.
    pub probability_median: f64,
    /// Highest selection probability among them.
    pub probability_max: f64,
}

/// A finished run's figures, stored with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Registrants in the pool.
    pub pool_size: u32,
    /// Groups of interchangeable registrants.
    pub types: u32,
    /// Panels with positive probability in the distribution.
    pub panels: u32,
    /// Lowest selection probability.
    pub minimum: f64,
    /// Median selection probability (the mean of the two middle ones for an even pool).
    pub median: f64,
    /// Highest selection probability.
    pub maximum: f64,
    /// The largest change of anyone's probability from rounding to the lottery.
    pub largest_shift: f64,
    /// How long the computation took.
    pub elapsed_ms: u64,
    /// Per category value.
    pub values: Vec<ValueReport>,
}

/// A run when it failed on its quotas: why, and the smallest relaxation that works.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Infeasibility {
    /// What conflicts.
    pub reasons: Vec<String>,
    /// Suggested quotas as a `feature,value,min,max` CSV, when one was found.
    pub suggested_quotas: Option<String>,
}

/// A selection run as the API sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// The row's key, also the number in its `SelectionRun` global ID.
    pub id: SelectionRunId,
    /// The panel it fills, or tops up.
    pub panel_id: PanelId,
    /// The job that computes it, set when the run is started.
    pub job_id: Option<crate::domain::ids::JobId>,
    /// A top-up of a sitting panel.
    pub top_up: bool,
    /// How the selection probabilities are worked out.
    pub method: Method,
    /// Seeds the lottery's rotation and the greedy runs.
    pub seed: u64,
    /// Seats to fill.
    pub k: u32,
    /// Tickets in the lottery.
    pub tickets: u32,
    /// Greedy runs for the estimate.
    pub greedy_runs: u32,
    /// Solver time limit.
    pub time_limit_seconds: u32,
    /// The quotas used (`feature,value,min,max`), as they were at the start.
    pub quotas_csv: String,
    /// The moment ages are counted on.
    pub as_of: DateTime<Utc>,
    /// Once computed.
    pub summary: Option<Summary>,
    /// When the quotas could not be met.
    pub infeasibility: Option<Infeasibility>,
    /// The stored file of the lottery's tickets, once computed; the draw is refused
    /// until then.
    pub lottery_file: Option<FileId>,
    /// The lottery's SHA-256.
    pub lottery_sha256: Option<String>,
    /// The fair distribution over panels, as CSV.
    pub distribution_file: Option<FileId>,
    /// The drawn number, once drawn.
    pub drawn_number: Option<u32>,
    /// How the number was found: `entered`, or `rfc3797:` and the key.
    pub draw_source: Option<String>,
    /// Who recorded the draw.
    pub drawn_by: Option<AccountId>,
    /// When the draw was recorded.
    pub drawn_at: Option<DateTime<Utc>>,
    /// Who started it.
    pub created_by: Option<AccountId>,
    /// When it was started.
    pub created_at: DateTime<Utc>,
    /// The seats it was computed for, once computed.
    pub computed_for: Option<ComputedFor>,
}

/// Stored run summary: the figures, or why the quotas failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
enum Stored {
    Computed(Summary),
    Infeasible(Infeasibility),
}

fn to_domain(row: selection_run::Model) -> AppResult<Run> {
    let corrupt =
        |what: String| AppError::internal(anyhow::anyhow!("selection run {}: {what}", row.id));
    let stored: Option<Stored> = row
        .summary
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    let (summary, infeasibility) = match stored {
        Some(Stored::Computed(s)) => (Some(s), None),
        Some(Stored::Infeasible(i)) => (None, Some(i)),
        None => (None, None),
    };
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    Ok(Run {
        id: row.id,
        panel_id: row.panel_id,
        job_id: row.job_id,
        top_up: row.top_up,
        method: row.method,
        seed: row.seed.parse().map_err(|_| corrupt("seed".to_owned()))?,
        k: count(row.k),
        tickets: count(row.tickets),
        greedy_runs: count(row.greedy_runs),
        time_limit_seconds: count(row.time_limit_seconds),
        quotas_csv: row.quotas,
        as_of: row.as_of,
        summary,
        infeasibility,
        lottery_file: row.lottery_file_id,
        lottery_sha256: row.lottery_sha256,
        distribution_file: row.distribution_file_id,
        drawn_number: row.drawn_number.and_then(|n| u32::try_from(n).ok()),
        draw_source: row.draw_source,
        drawn_by: row.drawn_by,
        drawn_at: row.drawn_at,
        created_by: row.created_by,
        created_at: row.created_at,
        computed_for: row.seats_fingerprint.map(|fingerprint| ComputedFor {
            fingerprint,
            sitting: row.seats_sitting.map_or(0, count),
        }),
    })
}

/// One run, for officers.
pub async fn find(state: &AppState, caller: &Caller, id: SelectionRunId) -> AppResult<Run> {
    caller.require(OFFICERS)?;
    find_any(state.db.reader(), id).await
}

async fn find_any(db: &impl ConnectionTrait, id: SelectionRunId) -> AppResult<Run> {
    selection_run::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound {
            what: "selection run",
        })
        .and_then(to_domain)
}

/// A panel's runs, newest first, a page of `limit` (and one more, to tell that another page
/// follows) before `before`.
pub async fn runs_of(
    state: &AppState,
    caller: &Caller,
    panel: PanelId,
    before: Option<SelectionRunId>,
    limit: u64,
) -> AppResult<Vec<Run>> {
    caller.require(OFFICERS)?;
    pages::page(
        selection_run::Entity::find(),
        selection_run::Column::Id,
        Order::NewestFirst,
        before.map(SelectionRunId::get),
        limit,
    )
    .filter(selection_run::Column::PanelId.eq(panel))
    .all(state.db.reader())
    .await?
    .into_iter()
    .map(to_domain)
    .collect()
}

/// The first page of each of `panels`' runs, newest first, `limit` (and one more) each,
/// with one statement (the loader of a list's runs).
pub async fn first_run_pages(
    state: &AppState,
    caller: &Caller,
    panels: &[PanelId],
    limit: u64,
) -> AppResult<HashMap<PanelId, Vec<Run>>> {
    caller.require(OFFICERS)?;
    let parents: Vec<i64> = panels.iter().map(|p| p.get()).collect();
    let rows = pages::first_of_each(
        state.db.reader(),
        selection_run::Entity::find(),
        selection_run::Column::PanelId,
        selection_run::Column::Id,
        Order::NewestFirst,
        &parents,
        limit,
    )
    .await?;
    let mut found: HashMap<PanelId, Vec<Run>> = HashMap::new();
    for row in rows {
        let panel = row.panel_id;
        found.entry(panel).or_default().push(to_domain(row)?);
    }
    Ok(found)
}
