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
use crate::service::progress::Progress;
use crate::state::AppState;

/// How a selection chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// Leximin: the lowest probability as high as it can be, then the next, and so on.
    Leximin,
    /// Maximin: the lowest probability as high as it can be.
    Maximin,
    /// The legacy greedy method, kept for comparison; its probabilities are estimated.
    Greedy,
}

impl Method {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Leximin => "leximin",
            Self::Maximin => "maximin",
            Self::Greedy => "greedy",
        }
    }

    fn parse(s: &str) -> AppResult<Self> {
        [Self::Leximin, Self::Maximin, Self::Greedy]
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("unknown selection method {s}")))
    }
}

/// A selection as an officer asks for it.
#[derive(Clone, Debug)]
pub struct SelectionRequest {
    /// The panel.
    pub panel: PanelId,
    /// The method.
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
    /// The run.
    pub run_id: SelectionRunId,
}

/// One category value in the transparency report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueReport {
    /// The feature.
    pub feature: String,
    /// The value.
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
    /// Median.
    pub probability_median: f64,
    /// Highest.
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
    /// Median.
    pub median: f64,
    /// Highest.
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
    /// Identity.
    pub id: SelectionRunId,
    /// The panel.
    pub panel_id: PanelId,
    /// Its job.
    pub job_id: Option<crate::domain::ids::JobId>,
    /// A top-up of a sitting panel.
    pub top_up: bool,
    /// The method.
    pub method: Method,
    /// The seed.
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
    /// The lottery's file.
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
    /// When.
    pub drawn_at: Option<DateTime<Utc>>,
    /// Who started it.
    pub created_by: Option<AccountId>,
    /// When.
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
        id: SelectionRunId(row.id),
        panel_id: PanelId(row.panel_id),
        job_id: row.job_id.map(crate::domain::ids::JobId),
        top_up: row.top_up,
        method: Method::parse(&row.method)?,
        seed: row.seed.parse().map_err(|_| corrupt("seed".to_owned()))?,
        k: count(row.k),
        tickets: count(row.tickets),
        greedy_runs: count(row.greedy_runs),
        time_limit_seconds: count(row.time_limit_seconds),
        quotas_csv: row.quotas,
        as_of: row.as_of,
        summary,
        infeasibility,
        lottery_file: row.lottery_file_id.map(FileId),
        lottery_sha256: row.lottery_sha256,
        distribution_file: row.distribution_file_id.map(FileId),
        drawn_number: row.drawn_number.and_then(|n| u32::try_from(n).ok()),
        draw_source: row.draw_source,
        drawn_by: row.drawn_by.map(AccountId),
        drawn_at: row.drawn_at,
        created_by: row.created_by.map(AccountId),
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
    selection_run::Entity::find_by_id(id.get())
        .one(db)
        .await?
        .ok_or(AppError::NotFound {
            what: "selection run",
        })
        .and_then(to_domain)
}

/// A panel's runs, newest first.
pub async fn runs_of(state: &AppState, caller: &Caller, panel: PanelId) -> AppResult<Vec<Run>> {
    caller.require(OFFICERS)?;
    selection_run::Entity::find()
        .filter(selection_run::Column::PanelId.eq(panel.get()))
        .order_by_desc(selection_run::Column::Id)
        .all(state.db.reader())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// Longest time limit a run may ask for.
pub const MAX_TIME_LIMIT_SECONDS: i64 = 3_600;

/// Checks a selection request, builds its pool to check the quotas against it at once,
/// records the run and queues its job. Only one selection per panel runs at a time.
pub async fn start(
    state: &AppState,
    caller: &Caller,
    request: SelectionRequest,
) -> AppResult<(Run, Job)> {
    caller.require(OFFICERS)?;
    let tickets = u32::try_from(request.tickets)
        .ok()
        .filter(|t| (1..=100_000).contains(t))
        .ok_or_else(|| {
            AppError::bad_input("input.tickets", "A lottery has 1 to 100,000 tickets.")
        })?;
    let greedy_runs = u32::try_from(request.greedy_runs)
        .ok()
        .filter(|r| (1..=100_000).contains(r))
        .ok_or_else(|| {
            AppError::bad_input(
                "input.greedyRuns",
                "Repeat the greedy method 1 to 100,000 times.",
            )
        })?;
    let time_limit = u32::try_from(request.time_limit_seconds)
        .ok()
        .filter(|t| (1..=MAX_TIME_LIMIT_SECONDS as u32).contains(t))
        .ok_or_else(|| {
            AppError::bad_input(
                "input.timeLimitSeconds",
                format!("The time limit is 1 to {MAX_TIME_LIMIT_SECONDS} seconds."),
            )
        })?;
    let seed = match request.seed.as_deref().map(str::trim) {
        Some(text) => text.parse::<u64>().map_err(|_| {
            AppError::bad_input("input.seed", "The seed is a whole number below 2^64.")
        })?,
        None => rand::random(),
    };
    let db = state.db.reader();
    let panel = panels::find_any(db, request.panel).await?;
    let features = panels::quotas(db, panel.id).await?;
    if features.is_empty() {
        return Err(AppError::bad_input(
            "input.panelId",
            "The panel has no quotas: set, import or derive them first.",
        ));
    }
    let now = state.clock.now();
    let pool = build_pool(db, &panel, features.clone(), now, request.top_up).await?;
    pool.instance
        .check()
        .map_err(|err| selection_error("input.panelId", err))?;
    let k = pool.instance.k;
    let quotas_csv = selection::quotas_csv(&features);
    let txn = state.db.writer().begin().await?;
    let row = selection_run::ActiveModel {
        panel_id: Set(panel.id.get()),
        job_id: Set(None),
        top_up: Set(request.top_up),
        method: Set(request.method.as_str().to_owned()),
        seed: Set(seed.to_string()),
        k: Set(i32::try_from(k).unwrap_or(i32::MAX)),
        tickets: Set(i32::try_from(tickets).unwrap_or(1)),
        greedy_runs: Set(i32::try_from(greedy_runs).unwrap_or(1)),
        time_limit_seconds: Set(i32::try_from(time_limit).unwrap_or(60)),
        quotas: Set(quotas_csv),
        as_of: Set(now),
        pool_size: Set(None),
        summary: Set(None),
        lottery_file_id: Set(None),
        lottery_sha256: Set(None),
        distribution_file_id: Set(None),
        drawn_number: Set(None),
        draw_source: Set(None),
        drawn_by: Set(None),
        drawn_at: Set(None),
        created_by: Set(caller.account().map(AccountId::get)),
        created_at: Set(now),
        seats_fingerprint: Set(None),
        seats_sitting: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let job = jobs::enqueue_in(
        &txn,
        state,
        jobs::Request {
            kind: JobKind::PanelSelection,
            payload: &SelectionJob {
                run_id: SelectionRunId(row.id),
            },
            created_by: caller.account(),
            singleton_key: Some(format!("selection:panel:{}", panel.id)),
        },
    )
    .await
    .map_err(|err| match err {
        AppError::Conflict { .. } => AppError::conflict(
            "A selection for this panel is already queued or running; wait for it or cancel it.",
        ),
        other => other,
    })?;
    selection_run::Entity::update_many()
        .col_expr(
            selection_run::Column::JobId,
            sea_orm::sea_query::Expr::value(job.id.get()),
        )
        .filter(selection_run::Column::Id.eq(row.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    state.work_queued.notify_one();
    tracing::info!(run_id = row.id, panel_id = %panel.id, method = request.method.as_str(), k, pool = pool.instance.pool_size(), "selection queued");
    let run = find_any(state.db.reader(), SelectionRunId(row.id)).await?;
    Ok((run, job))
}

/// The pool of a selection: the instance (ids are resident row ids), the sitting members'
/// counts per value, and the quotas before they were reduced by them.
struct Pool {
    instance: Instance,
    sitting: Vec<Vec<u32>>,
}

/// Builds the pool of `panel` on `as_of`: registrants not withdrawn, eligible (age on the
/// UK date of `as_of`, wards, a guardian's consent under 13), not sitting on the panel
/// (nor ever on it, for a top-up), with one value per quota feature. A top-up counts the
/// sitting members against the quotas and fills the seats left.
async fn build_pool(
    db: &impl ConnectionTrait,
    panel: &Panel,
    features: Vec<Feature>,
    as_of: DateTime<Utc>,
    top_up: bool,
) -> AppResult<Pool> {
    let on = uk_date(as_of);
    let rows = resident::Entity::find()
        .filter(resident::Column::WithdrawnAt.is_null())
        .order_by_asc(resident::Column::Id)
        .all(db)
        .await?;
    let memberships: Vec<(i64, String)> = membership::Entity::find()
        .select_only()
        .column(membership::Column::ResidentId)
        .column(membership::Column::Status)
        .filter(membership::Column::PanelId.eq(panel.id.get()))
        .into_tuple()
        .all(db)
        .await?;
    let sitting_ids: HashSet<i64> = memberships
        .iter()
        .filter(|(_, s)| {
            s.parse::<MembershipStatus>()
                .is_ok_and(MembershipStatus::is_sitting)
        })
        .map(|(id, _)| *id)
        .collect();
    let ever: HashSet<i64> = memberships.iter().map(|(id, _)| *id).collect();
    if !top_up && !sitting_ids.is_empty() {
        return Err(AppError::conflict(format!(
            "The panel has {} sitting members: top it up instead, or end their memberships first.",
            sitting_ids.len()
        )));
    }
    let consented: HashSet<i64> = guardian_consent::Entity::find()
        .select_only()
        .column(guardian_consent::Column::ResidentId)
        .filter(guardian_consent::Column::WithdrawnAt.is_null())
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let candidates: Vec<resident::Model> = rows
        .into_iter()
        .filter(|row| {
            sitting_ids.contains(&row.id)
                || (!(top_up && ever.contains(&row.id))
                    && panel
                        .eligibility
                        .check(
                            row.date_of_birth,
                            &row.ward_code,
                            consented.contains(&row.id),
                            on,
                        )
                        .is_ok())
        })
        .collect();
    let mut people = Vec::new();
    let mut sitting: Vec<Vec<u32>> = features.iter().map(|f| vec![0; f.values.len()]).collect();
    let mut sitting_households: HashSet<String> = HashSet::new();
    for (row, values) in quota_values(db, candidates, &features, on, "input.panelId").await? {
        if sitting_ids.contains(&row.id) {
            for (counts, &value) in sitting.iter_mut().zip(&values) {
                counts[value] += 1;
            }
            sitting_households.insert(row.household_key);
        } else {
            people.push(Person {
                id: row.id.to_string(),
                values,
                household: panel.one_per_household.then_some(row.household_key),
            });
        }
    }
    if panel.one_per_household {
        // Households already on the panel stay out; within the pool, the selection takes at
        // most one person from each (`Person::household`).
        people.retain(|person| {
            person
                .household
                .as_ref()
                .is_none_or(|h| !sitting_households.contains(h))
        });
    }
    let seated: u32 = sitting.first().map_or(0, |counts| counts.iter().sum());
    let k = panel.target_size.saturating_sub(seated);
    if top_up && k == 0 {
        return Err(AppError::conflict(format!(
            "The panel has {seated} sitting members of {}: no seat to fill.",
            panel.target_size
        )));
    }
    let mut reduced = features.clone();
    for (feature, counts) in reduced.iter_mut().zip(&sitting) {
        for (bounds, &n) in feature.bounds.iter_mut().zip(counts) {
            *bounds = (bounds.0.saturating_sub(n), bounds.1.saturating_sub(n));
        }
    }
    let mut over = Vec::new();
    for (feature, counts) in features.iter().zip(&sitting) {
        for ((value, &(_, max)), &n) in feature.values.iter().zip(&feature.bounds).zip(counts) {
            if n > max {
                over.push(format!(
                    "{} {value:?} already has {n} sitting members, above its maximum {max}",
                    feature.name
                ));
            }
        }
    }
    if !over.is_empty() {
        return Err(selection_error(
            "input.panelId",
            SelectionError::Infeasible { reasons: over },
        ));
    }
    let instance = Instance::new(reduced, people, k);
    Ok(Pool { instance, sitting })
}

/// Each of `rows` with its value (an index into the feature's values) for every quota
/// feature on `on`, from the profile or the custom attributes. Anyone with a value the
/// quotas do not list is refused with `BAD_USER_INPUT` on `field`, naming the values.
pub(crate) async fn quota_values(
    db: &impl ConnectionTrait,
    rows: Vec<resident::Model>,
    features: &[Feature],
    on: NaiveDate,
    field: &str,
) -> AppResult<Vec<(resident::Model, Vec<usize>)>> {
    let custom: Vec<String> = features
        .iter()
        .filter(|f| profile_feature(&f.name).is_none())
        .map(|f| feature_key(&f.name))
        .collect();
    let mut attributes: HashMap<i64, HashMap<String, String>> = HashMap::new();
    if !custom.is_empty() {
        let values: Vec<(i64, String, String)> = resident_attribute::Entity::find()
            .select_only()
            .column(resident_attribute::Column::ResidentId)
            .column(resident_attribute::Column::Name)
            .column(resident_attribute::Column::Value)
            .filter(resident_attribute::Column::Name.is_in(custom))
            .into_tuple()
            .all(db)
            .await?;
        for (id, name, value) in values {
            attributes.entry(id).or_default().insert(name, value);
        }
    }
    let lookup: Vec<HashMap<String, usize>> = features
        .iter()
        .map(|f| {
            f.values
                .iter()
                .enumerate()
                .map(|(i, v)| (v.trim().to_lowercase(), i))
                .collect()
        })
        .collect();
    let mut valued = Vec::with_capacity(rows.len());
    // (feature, value) → registrants with a value the quotas do not list.
    let mut unlisted: Vec<(String, String, u32)> = Vec::new();
    for row in rows {
        let profile = Profile {
            date_of_birth: row.date_of_birth,
            sex: row.sex.clone(),
            ethnic_group: row.ethnic_group.clone(),
            disability: row.disability.clone(),
            ward_code: row.ward_code.clone(),
            deprivation_decile: row.deprivation_decile,
            attributes: attributes.remove(&row.id).unwrap_or_default(),
        };
        let mut values = Vec::with_capacity(features.len());
        for (feature, known) in features.iter().zip(&lookup) {
            let value = profile
                .value(&feature.name, on)
                .unwrap_or_else(|| "(missing)".to_owned());
            match known.get(&value.trim().to_lowercase()) {
                Some(&index) => values.push(index),
                None => {
                    match unlisted
                        .iter_mut()
                        .find(|(f, v, _)| *f == feature.name && *v == value)
                    {
                        Some((_, _, n)) => *n += 1,
                        None => unlisted.push((feature.name.clone(), value, 1)),
                    }
                }
            }
        }
        if values.len() == features.len() {
            valued.push((row, values));
        }
    }
    if !unlisted.is_empty() {
        let described: Vec<String> = unlisted
            .iter()
            .take(10)
            .map(|(f, v, n)| format!("{n} with {f} {v:?}"))
            .collect();
        return Err(AppError::bad_input(
            field,
            format!(
                "Some eligible registrants have a value the quotas do not list ({}{}): add a quota for each (minimum 0 if need be), import the missing attributes, or narrow the panel's eligibility.",
                described.join("; "),
                if unlisted.len() > 10 { "; …" } else { "" }
            ),
        ));
    }
    Ok(valued)
}

/// The computation's outcome.
enum Outcome {
    Done {
        probabilities: Vec<f64>,
        lottery_probabilities: Vec<f64>,
        lottery_text: String,
        distribution_csv: String,
        sha256: String,
        summary: Summary,
    },
    Infeasible(Infeasibility),
}

/// The selection job's work: builds the pool as it was asked for, computes the
/// probabilities and the lottery on a blocking thread (cancellation answered within a
/// fraction of a second; the solver's own time limit ends the thread), then stores the
/// probabilities, the lottery and the summary in one short transaction.
pub async fn run(
    state: &AppState,
    input: &SelectionJob,
    progress: &Progress,
) -> AppResult<SelectionDone> {
    let db = state.db.reader();
    let run = find_any(db, input.run_id).await?;
    if run.summary.is_some() {
        return Ok(SelectionDone { run_id: run.id });
    }
    let panel = panels::find_any(db, run.panel_id).await?;
    let features = selection::read_quotas(run.quotas_csv.as_bytes())
        .map_err(|err| selection_error("quotas", err))?;
    progress.set_total(3);
    // The seats are read before the pool: a draw landing in between then makes the run
    // look superseded (refused, safe) rather than current (an overfilled panel).
    let computed_for = seats::seats(db, panel.id, None).await?;
    let pool = build_pool(db, &panel, features, run.as_of, run.top_up).await?;
    progress.set_done(1);
    progress.check()?;
    let (method, seed, tickets, greedy_runs) = (run.method, run.seed, run.tickets, run.greedy_runs);
    let limit = Duration::from_secs(u64::from(run.time_limit_seconds));
    let started = std::time::Instant::now();
    let instance = pool.instance.clone();
    let outcome = progress
        .run_blocking(move |stop| {
            compute(&instance, method, seed, tickets, greedy_runs, limit, stop)
        })
        .await?;
    progress.set_done(2);
    progress.check()?;
    let outcome = outcome.map_err(|err| selection_error("quotas", err))?;
    let now = state.clock.now();
    let db = state.db.writer();
    match outcome {
        Outcome::Infeasible(infeasibility) => {
            let stored = serde_json::to_string(&Stored::Infeasible(infeasibility.clone()))
                .map_err(AppError::internal)?;
            selection_run::Entity::update_many()
                .col_expr(
                    selection_run::Column::Summary,
                    sea_orm::sea_query::Expr::value(stored),
                )
                .col_expr(
                    selection_run::Column::PoolSize,
                    sea_orm::sea_query::Expr::value(
                        i32::try_from(pool.instance.pool_size()).unwrap_or(i32::MAX),
                    ),
                )
                .filter(selection_run::Column::Id.eq(run.id.get()))
                .exec(db)
                .await?;
            Err(AppError::bad_input(
                "quotas",
                format!(
                    "No panel meets the quotas: {}. The run's suggestedQuotasCsv holds the smallest relaxation that works.",
                    infeasibility.reasons.join("; ")
                ),
            ))
        }
        Outcome::Done {
            probabilities,
            lottery_probabilities,
            lottery_text,
            distribution_csv,
            sha256,
            mut summary,
        } => {
            summary.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            summary.values = value_reports(&pool, &probabilities);
            let file = store_text(
                db,
                format!("selection-{}-lottery.txt", run.id),
                "text/plain; charset=utf-8",
                &lottery_text,
                run.created_by,
                now,
            )
            .await?;
            let distribution = store_text(
                db,
                format!("selection-{}-distribution.csv", run.id),
                "text/csv; charset=utf-8",
                &distribution_csv,
                run.created_by,
                now,
            )
            .await?;
            let stored = serde_json::to_string(&Stored::Computed(summary.clone()))
                .map_err(AppError::internal)?;
            let txn = db.begin().await?;
            selection_probability::Entity::delete_many()
                .filter(selection_probability::Column::RunId.eq(run.id.get()))
                .exec(&txn)
                .await?;
            let rows: Vec<selection_probability::ActiveModel> = pool
                .instance
                .ids
                .iter()
                .zip(probabilities.iter().zip(&lottery_probabilities))
                .map(|(id, (&p, &l))| selection_probability::ActiveModel {
                    run_id: Set(run.id.get()),
                    resident_id: Set(id.parse().unwrap_or(0)),
                    probability: Set(p),
                    lottery_probability: Set(Some(l)),
                    ..Default::default()
                })
                .collect();
            for chunk in rows.chunks(1_000) {
                selection_probability::Entity::insert_many(chunk.to_vec())
                    .exec(&txn)
                    .await?;
            }
            selection_run::Entity::update_many()
                .col_expr(
                    selection_run::Column::Summary,
                    sea_orm::sea_query::Expr::value(stored),
                )
                .col_expr(
                    selection_run::Column::PoolSize,
                    sea_orm::sea_query::Expr::value(
                        i32::try_from(summary.pool_size).unwrap_or(i32::MAX),
                    ),
                )
                .col_expr(
                    selection_run::Column::LotteryFileId,
                    sea_orm::sea_query::Expr::value(file.get()),
                )
                .col_expr(
                    selection_run::Column::LotterySha256,
                    sea_orm::sea_query::Expr::value(sha256),
                )
                .col_expr(
                    selection_run::Column::DistributionFileId,
                    sea_orm::sea_query::Expr::value(distribution.get()),
                )
                .col_expr(
                    selection_run::Column::K,
                    sea_orm::sea_query::Expr::value(
                        i32::try_from(pool.instance.k).unwrap_or(i32::MAX),
                    ),
                )
                .col_expr(
                    selection_run::Column::SeatsFingerprint,
                    sea_orm::sea_query::Expr::value(computed_for.fingerprint()),
                )
                .col_expr(
                    selection_run::Column::SeatsSitting,
                    sea_orm::sea_query::Expr::value(
                        i32::try_from(computed_for.count()).unwrap_or(i32::MAX),
                    ),
                )
                .filter(selection_run::Column::Id.eq(run.id.get()))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            progress.set_done(3);
            tracing::info!(run_id = %run.id, pool = summary.pool_size, minimum = summary.minimum, elapsed_ms = summary.elapsed_ms, "selection computed");
            Ok(SelectionDone { run_id: run.id })
        }
    }
}

/// Stores a selection's text (its lottery or its distribution) as a file kept for good.
async fn store_text(
    db: &impl ConnectionTrait,
    name: String,
    content_type: &'static str,
    text: &str,
    created_by: Option<AccountId>,
    now: DateTime<Utc>,
) -> AppResult<FileId> {
    let file = files::create(
        db,
        NewFile {
            purpose: files::SELECTION_LOTTERY,
            name,
            content_type,
            job_id: None,
            created_by,
            expires_at: now + Months::new(12 * 100),
        },
        now,
    )
    .await?;
    if let Err(err) = files::write_all(db, file, text.as_bytes()).await {
        files::delete(db, file).await?;
        return Err(err);
    }
    Ok(file)
}

/// The fair distribution as CSV: one row per panel and type of person on it,
/// `panel,probability,<each feature>,count` (how many of the panel's members have those
/// values). Panels are numbered from 1 in the distribution's order.
fn distribution_csv(instance: &Instance, distribution: &Distribution) -> String {
    let mut out = String::from("panel,probability");
    for feature in &instance.features {
        out.push(',');
        out.push_str(&csv_cell(&feature.name));
    }
    out.push_str(",count\n");
    for (number, (composition, p)) in distribution.panels.iter().enumerate() {
        for (t, &count) in composition.iter().enumerate().filter(|(_, c)| **c > 0) {
            out.push_str(&format!("{},{p:.9}", number + 1));
            for (f, &value) in instance.types[t].values.iter().enumerate() {
                out.push(',');
                out.push_str(&csv_cell(&instance.features[f].values[value]));
            }
            out.push_str(&format!(",{count}\n"));
        }
    }
    out
}

/// A CSV cell, quoted when it holds a comma, a quote or a line break.
fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The probabilities, the lottery and the summary of one run (CPU work, no database).
fn compute(
    instance: &Instance,
    method: Method,
    seed: u64,
    tickets: u32,
    greedy_runs: u32,
    limit: Duration,
    stop: &AtomicBool,
) -> Result<Outcome, SelectionError> {
    let solved = match method {
        Method::Leximin => selection::leximin_stoppable(instance, limit, stop),
        Method::Maximin => selection::maximin_stoppable(instance, limit, stop),
        Method::Greedy => greedy_distribution(instance, seed, greedy_runs),
    };
    let distribution = match solved {
        Ok(distribution) => distribution,
        Err(SelectionError::Infeasible { reasons }) => {
            let suggested = instance
                .relaxed_quotas(limit)
                .ok()
                .map(|features| selection::quotas_csv(&features));
            return Ok(Outcome::Infeasible(Infeasibility {
                reasons,
                suggested_quotas: suggested,
            }));
        }
        Err(other) => return Err(other),
    };
    let probabilities = distribution.person_probabilities(instance);
    let (lottery, greedy_tickets) = match method {
        Method::Greedy => (None, Some(distribution.draw(instance, seed))),
        _ => (Some(distribution.lottery(instance, tickets, seed)), None),
    };
    let (lottery_probabilities, text, sha256, shift) = match (&lottery, greedy_tickets) {
        (Some(lottery), _) => (
            lottery.person_probabilities(instance),
            lottery.text(instance),
            lottery.sha256.clone(),
            lottery.largest_shift,
        ),
        (None, Some(panel)) => {
            let single = selection::Lottery {
                tickets: vec![panel],
                sha256: String::new(),
                largest_shift: 0.0,
            };
            let text = single.text(instance);
            let sha256 = {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(text.as_bytes()))
            };
            (
                single.person_probabilities(instance),
                text,
                sha256,
                f64::NAN,
            )
        }
        (None, None) => return Err(SelectionError::Solver("no lottery was made".to_owned())),
    };
    let mut sorted = probabilities.clone();
    sorted.sort_by(f64::total_cmp);
    let summary = Summary {
        pool_size: u32::try_from(instance.pool_size()).unwrap_or(u32::MAX),
        types: u32::try_from(instance.types.len()).unwrap_or(u32::MAX),
        panels: u32::try_from(distribution.panels.len()).unwrap_or(u32::MAX),
        minimum: sorted.first().copied().unwrap_or(0.0),
        median: median(&sorted),
        maximum: sorted.last().copied().unwrap_or(0.0),
        largest_shift: if shift.is_finite() { shift } else { 0.0 },
        elapsed_ms: 0,
        values: Vec::new(),
    };
    Ok(Outcome::Done {
        distribution_csv: distribution_csv(instance, &distribution),
        probabilities,
        lottery_probabilities,
        lottery_text: text,
        sha256,
        summary,
    })
}

/// The greedy method as a distribution: probabilities estimated from `runs` repetitions,
/// and one panel, the run drawn with `seed`, to draw from.
fn greedy_distribution(
    instance: &Instance,
    seed: u64,
    runs: u32,
) -> Result<Distribution, SelectionError> {
    let type_probabilities = estimate_greedy(instance, runs, seed)?;
    let mut rng = <rand_chacha::ChaCha20Rng as rand::SeedableRng>::seed_from_u64(seed);
    let composition = (0..runs.max(1))
        .find_map(|_| selection::greedy(instance, &mut rng))
        .ok_or_else(|| SelectionError::Infeasible {
            reasons: vec!["the greedy method got stuck on every run".to_owned()],
        })?;
    Ok(Distribution {
        panels: vec![(composition, 1.0)],
        type_probabilities,
    })
}

fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Per category value: quotas, sitting members, pool count and probabilities.
fn value_reports(pool: &Pool, probabilities: &[f64]) -> Vec<ValueReport> {
    let instance = &pool.instance;
    let mut reports = Vec::new();
    for (f, feature) in instance.features.iter().enumerate() {
        for (v, value) in feature.values.iter().enumerate() {
            let mut ps: Vec<f64> = instance
                .types
                .iter()
                .filter(|t| t.values[f] == v)
                .flat_map(|t| t.members.iter().map(|&m| probabilities[m]))
                .collect();
            ps.sort_by(f64::total_cmp);
            reports.push(ValueReport {
                feature: feature.name.clone(),
                value: value.clone(),
                min: feature.bounds[v].0,
                max: feature.bounds[v].1,
                sitting: pool.sitting[f][v],
                pool: u32::try_from(ps.len()).unwrap_or(u32::MAX),
                selected: None,
                population_share: None,
                probability_min: ps.first().copied().unwrap_or(0.0),
                probability_median: median(&ps),
                probability_max: ps.last().copied().unwrap_or(0.0),
            });
        }
    }
    reports
}

/// Where the drawn number comes from.
#[derive(Clone, Debug)]
pub enum DrawnNumber {
    /// A number drawn in public (dice, numbered balls), entered by the officer.
    Entered(i64),
    /// Public randomness (a national lottery's numbers, …), one source per entry, turned
    /// into a number by RFC 3797.
    Rfc3797(Vec<String>),
}

/// Records the public draw of a computed run: the ticket the number names becomes the
/// panel (members `selected`, each with a first event). Once per run.
pub async fn draw(
    state: &AppState,
    caller: &Caller,
    id: SelectionRunId,
    number: DrawnNumber,
) -> AppResult<Run> {
    caller.require(OFFICERS)?;
    let db = state.db.writer();
    let run = find_any(db, id).await?;
    let Some(file) = run.lottery_file else {
        return Err(AppError::conflict(
            "The selection has not finished computing; wait for its job to succeed.",
        ));
    };
    if run.drawn_number.is_some() {
        return Err(AppError::conflict("This selection has already been drawn."));
    }
    let tickets = if run.method == Method::Greedy {
        1
    } else {
        run.tickets
    };
    let (ticket, source) = match number {
        DrawnNumber::Entered(n) => {
            let n = u32::try_from(n)
                .ok()
                .filter(|n| (1..=tickets).contains(n))
                .ok_or_else(|| {
                    AppError::bad_input(
                        "input.number",
                        format!("The number is from 1 to {tickets}."),
                    )
                })?;
            (n, "entered".to_owned())
        }
        DrawnNumber::Rfc3797(sources) => {
            let (key, n) = rfc3797_ticket(&sources, tickets).ok_or_else(|| {
                AppError::bad_input(
                    "input.randomSources",
                    "Give at least one source of public randomness, each with a number or letters.",
                )
            })?;
            (n, format!("rfc3797:{key}"))
        }
    };
    let text = String::from_utf8(files::read_all(db, file).await?).map_err(AppError::internal)?;
    let prefix = format!("{ticket}:");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("run {id}: ticket {ticket} missing")))?;
    let members: Vec<i64> = line[prefix.len()..]
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<i64>().map_err(AppError::internal))
        .collect::<AppResult<_>>()?;
    let panel = panels::find_any(db, run.panel_id).await?;
    let now = state.clock.now();
    let term_ends = now.checked_add_months(Months::new(panel.term_months));
    let txn = db.begin().await?;
    // Draws of one panel one at a time, so each sees the seats the one before it filled
    // (PostgreSQL; SQLite's one writer already runs them one at a time).
    locks::hold_until_commit(&txn, &format!("selection-draw:panel:{}", panel.id)).await?;
    // The guard on `drawn_number` makes the draw once only, even when two officers record
    // it at the same moment.
    let claimed = selection_run::Entity::update_many()
        .col_expr(
            selection_run::Column::DrawnNumber,
            sea_orm::sea_query::Expr::value(i32::try_from(ticket).unwrap_or(0)),
        )
        .col_expr(
            selection_run::Column::DrawSource,
            sea_orm::sea_query::Expr::value(source),
        )
        .col_expr(
            selection_run::Column::DrawnBy,
            sea_orm::sea_query::Expr::value(caller.account().map(AccountId::get)),
        )
        .col_expr(
            selection_run::Column::DrawnAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(selection_run::Column::Id.eq(id.get()))
        .filter(selection_run::Column::DrawnNumber.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(AppError::conflict("This selection has already been drawn."));
    }
    // Read inside the transaction, after the claim: the seats the members are added to.
    let now_seats = seats::seats(&txn, panel.id, Some(id)).await?;
    if let Some(why) = superseded(run.top_up, run.computed_for.as_ref(), &now_seats) {
        return Err(AppError::conflict(format!(
            "This selection is superseded and cannot be drawn: {why}"
        )));
    }
    let reason = format!("Selected by selection run {id}, ticket {ticket} of {tickets}.");
    for resident in &members {
        let row = membership::ActiveModel {
            panel_id: Set(panel.id.get()),
            resident_id: Set(*resident),
            run_id: Set(Some(id.get())),
            status: Set(MembershipStatus::Selected.as_str().to_owned()),
            selected_at: Set(now),
            term_ends_at: Set(term_ends),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(|err| match AppError::from(err) {
            AppError::Conflict { .. } => AppError::conflict(
                "A resident on the drawn ticket already sits on the panel; start a new selection.",
            ),
            other => other,
        })?;
        membership_event::ActiveModel {
            membership_id: Set(row.id),
            from_status: Set(None),
            to_status: Set(MembershipStatus::Selected.as_str().to_owned()),
            reason: Set(Some(reason.clone())),
            by_account: Set(caller.account().map(AccountId::get)),
            at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    tracing::info!(run_id = %id, ticket, members = members.len(), by = ?caller.account(), "selection drawn");
    find_any(state.db.reader(), id).await
}

/// Why a computed run may no longer be drawn (another run drawn since, or the seats it
/// was computed for changed), or `None` while it may; `None` too for a run drawn or not
/// yet computed. The draw refuses a superseded run with the same words.
pub async fn superseded_reason(
    state: &AppState,
    caller: &Caller,
    run: &Run,
) -> AppResult<Option<String>> {
    caller.require(OFFICERS)?;
    if run.drawn_number.is_some() || run.lottery_file.is_none() {
        return Ok(None);
    }
    let now = seats::seats(state.db.reader(), run.panel_id, None).await?;
    Ok(superseded(run.top_up, run.computed_for.as_ref(), &now))
}

/// The lottery's text (`civic-panel-lottery/1`), whose SHA-256 is the commitment.
pub async fn lottery_text(
    state: &AppState,
    caller: &Caller,
    run: &Run,
) -> AppResult<Option<String>> {
    caller.require(OFFICERS)?;
    let Some(file) = run.lottery_file else {
        return Ok(None);
    };
    let bytes = files::read_all(state.db.reader(), file).await?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(AppError::internal)
}
