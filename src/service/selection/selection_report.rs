//! A selection's transparency report: per category value, the quota's range, the
//! population share, sitting members, the pool and selected counts and the probabilities,
//! with the run's method, seed, lottery and drawn number; as GraphQL rows or CSV, and
//! everyone's probability as CSV (OFFICER).
//!
//! [`published`] is the report as a reader may see it: in full for OFFICER; for
//! SCRUTINY through `domain::reports::disclosure::tables`, with
//! - the sitting and pool counts protected as tables of one population (everyone counted
//!   in a run is in exactly one value of each feature, so the features' tables share
//!   their totals), and the pool size with them;
//! - a value's probabilities hidden with its pool count (a small group's lowest and
//!   highest probability are its members' own);
//! - no selected counts (the panel's members by group are in `panelReport`, protected
//!   there), and a quota's range only when it is at least the threshold wide: the
//!   selection always meets its quotas, so a narrow range would pin the number selected.

use std::collections::{HashMap, HashSet};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::db::entities::{membership, resident, resident_attribute, selection_probability};
use crate::domain::accounts::role::Role;
use crate::domain::ids::{ResidentId, SelectionRunId};
use crate::domain::panels::panel::Profile;
use crate::domain::reports::disclosure::tables::{CountTable, Hidden, Population, Tables};
use crate::domain::selection;
use crate::domain::uk_time::uk_date;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::service::panels::{self, OFFICERS, selection_error};
use crate::service::reports::READERS;
use crate::service::reports::publications::{self, Kind};
use crate::service::selection::{Run, ValueReport, find};
use crate::state::AppState;

/// Registrants selected by a drawn run, per category value, for the report.
pub async fn selected_counts(
    state: &AppState,
    run: &Run,
) -> AppResult<HashMap<(String, String), u32>> {
    let db = state.db.reader();
    let ids: Vec<i64> = membership::Entity::find()
        .select_only()
        .column(membership::Column::ResidentId)
        .filter(membership::Column::RunId.eq(run.id))
        .into_tuple()
        .all(db)
        .await?;
    let chosen: HashSet<i64> = ids.into_iter().collect();
    let mut counts = HashMap::new();
    if chosen.is_empty() {
        return Ok(counts);
    }
    let features = selection::read_quotas(run.quotas_csv.as_bytes())
        .map_err(|err| selection_error("quotas", err))?;
    let on = uk_date(run.as_of);
    let rows = resident::Entity::find()
        .filter(resident::Column::Id.is_in(chosen.iter().copied()))
        .all(db)
        .await?;
    let attributes: Vec<(i64, String, String)> = resident_attribute::Entity::find()
        .select_only()
        .column(resident_attribute::Column::ResidentId)
        .column(resident_attribute::Column::Name)
        .column(resident_attribute::Column::Value)
        .filter(resident_attribute::Column::ResidentId.is_in(chosen.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    for row in rows {
        let profile = Profile {
            date_of_birth: row.date_of_birth,
            sex: row.sex,
            ethnic_group: row.ethnic_group,
            disability: row.disability,
            ward_code: row.ward_code,
            deprivation_decile: row.deprivation_decile,
            attributes: attributes
                .iter()
                .filter(|(id, _, _)| *id == row.id.get())
                .map(|(_, n, v)| (n.clone(), v.clone()))
                .collect(),
        };
        for feature in &features {
            if let Some(value) = profile.value(&feature.name, on)
                && let Some(listed) = feature
                    .values
                    .iter()
                    .find(|v| v.trim().eq_ignore_ascii_case(value.trim()))
            {
                *counts
                    .entry((feature.name.clone(), listed.clone()))
                    .or_insert(0) += 1;
            }
        }
    }
    Ok(counts)
}

/// The transparency report: per category value, the quotas, sitting members, pool and
/// selected counts and the probabilities; the figures of the run beside.
pub async fn report(
    state: &AppState,
    caller: &Caller,
    id: SelectionRunId,
) -> AppResult<(Run, Vec<ValueReport>)> {
    let run = find(state, caller, id).await?;
    let Some(summary) = &run.summary else {
        return Ok((run.clone(), Vec::new()));
    };
    let mut values = summary.values.clone();
    let db = state.db.reader();
    let panel = panels::find_any(db, run.panel_id).await?;
    let features = selection::read_quotas(run.quotas_csv.as_bytes())
        .map_err(|err| selection_error("quotas", err))?;
    let shares = panels::population_shares(db, &panel, &features).await?;
    for value in &mut values {
        value.population_share = shares
            .get(&(value.feature.clone(), value.value.clone()))
            .copied();
    }
    if run.drawn_number.is_some() {
        let counts = selected_counts(state, &run).await?;
        for value in &mut values {
            value.selected = Some(
                counts
                    .get(&(value.feature.clone(), value.value.clone()))
                    .copied()
                    .unwrap_or(0),
            );
        }
    }
    Ok((run, values))
}

/// A selection's report as its reader may see it (`None` where hidden).
#[derive(Clone, Debug)]
pub struct Published {
    /// The run as stored, its summary unprotected: show the reader only its settings and
    /// draw, and the figures below.
    pub run: Run,
    /// The name of the panel the run fills, as it is now.
    pub panel_name: String,
    /// Registrants in the pool.
    pub pool_size: Option<u32>,
    /// Lowest, median and highest probability in the pool.
    pub probabilities: Option<(f64, f64, f64)>,
    /// Per category value, in the quotas' order.
    pub values: Vec<PublishedValue>,
    /// The threshold applied (`None` for readers who see everything).
    pub threshold: Option<u64>,
    /// Whether anything was hidden.
    pub suppressed: bool,
}

/// One category value as its reader may see it.
#[derive(Clone, Debug)]
pub struct PublishedValue {
    /// The quota's feature, e.g. `age_band`, `ward` or a custom attribute.
    pub feature: String,
    /// One value of the feature, as the quotas spell it.
    pub value: String,
    /// The quota's minimum and maximum for this selection.
    pub quota: Option<(u32, u32)>,
    /// The value's share of the population.
    pub population_share: Option<f64>,
    /// Sitting members with it (a top-up).
    pub sitting: Option<u32>,
    /// Registrants in the pool with it.
    pub pool: Option<u32>,
    /// Selected by the draw (OFFICER, once drawn).
    pub selected: Option<u32>,
    /// Lowest, median and highest probability among them.
    pub probabilities: Option<(f64, f64, f64)>,
}

/// The people a run counts: parts are sitting members, the pool not selected, and the
/// selected; columns are sitting, pool (selected or not) and selected.
fn run_people() -> Population {
    Population {
        name: "selection",
        parts: 3,
        columns: vec![
            ("sitting", vec![0]),
            ("pool", vec![1, 2]),
            ("selected", vec![2]),
        ],
    }
}

/// One table per feature (values in the quotas' order) of what SCRUTINY may see: sitting
/// (in a top-up) and pool. Selected counts are counted in the model but not shown. Each
/// table is named by its feature, its rows by their values.
fn run_tables(run: &Run, values: &[ValueReport]) -> Tables {
    let people = run_people();
    let mut features: Vec<String> = Vec::new();
    for v in values {
        if !features.contains(&v.feature) {
            features.push(v.feature.clone());
        }
    }
    let columns: Vec<usize> = if run.top_up { vec![0, 1] } else { vec![1] };
    let mut tables = Tables {
        populations: vec![people.clone()],
        ..Tables::default()
    };
    for feature in &features {
        let of_feature: Vec<&ValueReport> =
            values.iter().filter(|v| v.feature == *feature).collect();
        let counts = of_feature
            .iter()
            .map(|v| {
                let selected = u64::from(v.selected.unwrap_or(0));
                let pool = u64::from(v.pool);
                vec![
                    u64::from(v.sitting),
                    pool.saturating_sub(selected),
                    selected,
                ]
            })
            .collect();
        tables.push(
            feature.clone(),
            of_feature.iter().map(|v| v.value.clone()).collect(),
            CountTable {
                columns: columns.clone(),
                ..CountTable::full(&people, 0, counts)
            },
        );
    }
    tables
}

/// The report for `caller`: in full for OFFICER, protected for SCRUTINY.
pub async fn published(
    state: &AppState,
    caller: &Caller,
    id: SelectionRunId,
) -> AppResult<Published> {
    caller.require(READERS)?;
    let (run, values) = report(state, &Caller::System, id).await?;
    let panel = panels::find_any(state.db.reader(), run.panel_id).await?;
    let protected = caller.role() == Some(Role::Scrutiny);
    let summary = run.summary.as_ref();
    let probabilities_of =
        |v: &ValueReport| Some((v.probability_min, v.probability_median, v.probability_max));
    if !protected {
        return Ok(Published {
            pool_size: summary.map(|s| s.pool_size),
            probabilities: summary.map(|s| (s.minimum, s.median, s.maximum)),
            values: values
                .iter()
                .map(|v| PublishedValue {
                    feature: v.feature.clone(),
                    value: v.value.clone(),
                    quota: Some((v.min, v.max)),
                    population_share: v.population_share,
                    sitting: Some(v.sitting),
                    pool: Some(v.pool),
                    selected: v.selected,
                    probabilities: probabilities_of(v),
                })
                .collect(),
            threshold: None,
            suppressed: false,
            panel_name: panel.name,
            run,
        });
    }
    let threshold = state.config.disclosure_threshold;
    let tables = run_tables(&run, &values);
    let first_feature = tables.names.first().map(|(name, _)| name.clone());
    let pool_total = values
        .iter()
        .filter(|v| Some(&v.feature) == first_feature.as_ref())
        .map(|v| u64::from(v.pool))
        .sum::<u64>();
    let protection =
        publications::protection(state, Kind::SelectionReport, id.get(), tables).await?;
    // Column positions in each table: sitting first in a top-up, then pool.
    let (sitting_column, pool_column) = if run.top_up { (Some(0), 1) } else { (None, 0) };
    let mut published = Vec::with_capacity(values.len());
    let mut quota_withheld = false;
    for v in &values {
        let cell = |column: usize, value: u32| {
            protection.hides(&v.feature, Some(&v.value), column, u64::from(value))
        };
        let pool_hidden = cell(pool_column, v.pool);
        let wide = u64::from(v.max.saturating_sub(v.min)) >= threshold;
        quota_withheld |= !wide;
        published.push(PublishedValue {
            feature: v.feature.clone(),
            value: v.value.clone(),
            quota: wide.then_some((v.min, v.max)),
            population_share: v.population_share,
            sitting: match sitting_column {
                Some(c) => (!cell(c, v.sitting)).then_some(v.sitting),
                None => Some(0),
            },
            pool: (!pool_hidden).then_some(v.pool),
            selected: None,
            probabilities: if pool_hidden {
                None
            } else {
                probabilities_of(v)
            },
        });
    }
    let total_hidden =
        first_feature.is_some_and(|f| protection.hides(&f, None, pool_column, pool_total));
    Ok(Published {
        pool_size: if total_hidden {
            None
        } else {
            summary.map(|s| s.pool_size)
        },
        probabilities: if total_hidden {
            None
        } else {
            summary.map(|s| (s.minimum, s.median, s.maximum))
        },
        values: published,
        threshold: Some(threshold),
        suppressed: quota_withheld || protection.any(),
        panel_name: panel.name,
        run,
    })
}

/// The disclosure tables of a run and what SCRUTINY's copy hides (as stored and served),
/// for the attack that checks it.
pub async fn protection_of(
    state: &AppState,
    id: SelectionRunId,
) -> AppResult<(Vec<Population>, Vec<CountTable>, Vec<Hidden>)> {
    let (run, values) = report(state, &Caller::System, id).await?;
    let tables = run_tables(&run, &values);
    let protection =
        publications::protection(state, Kind::SelectionReport, id.get(), tables.clone()).await?;
    let hidden = protection.hidden(&tables);
    Ok((tables.populations, tables.tables, hidden))
}

/// The transparency report as CSV: first the run (`item,value` rows: panel, method, seed,
/// pool, k, tickets, lottery hash, drawn number and how it was found, the lowest, median
/// and highest probability), a blank line, then one row per category value, the lowest
/// probabilities first marked `lowest`.
pub async fn report_csv(
    state: &AppState,
    caller: &Caller,
    id: SelectionRunId,
) -> AppResult<String> {
    let (run, values) = report(state, caller, id).await?;
    let panel = panels::find_any(state.db.reader(), run.panel_id).await?;
    let mut out = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let mut write = |row: Vec<String>| out.write_record(row).map_err(AppError::internal);
    let summary = run.summary.as_ref();
    let figure = |f: Option<f64>| f.map_or_else(String::new, |p| format!("{p:.6}"));
    let items: Vec<(&str, String)> = vec![
        ("panel", panel.name.clone()),
        ("selection_run", run.id.to_string()),
        ("method", run.method.as_str().to_owned()),
        ("seed", run.seed.to_string()),
        ("top_up", run.top_up.to_string()),
        ("k", run.k.to_string()),
        (
            "pool",
            summary.map_or_else(String::new, |s| s.pool_size.to_string()),
        ),
        ("tickets", run.tickets.to_string()),
        (
            "lottery_sha256",
            run.lottery_sha256.clone().unwrap_or_default(),
        ),
        (
            "drawn_number",
            run.drawn_number.map_or_else(String::new, |n| n.to_string()),
        ),
        ("draw_source", run.draw_source.clone().unwrap_or_default()),
        ("probability_min", figure(summary.map(|s| s.minimum))),
        ("probability_median", figure(summary.map(|s| s.median))),
        ("probability_max", figure(summary.map(|s| s.maximum))),
        (
            "largest_lottery_shift",
            figure(summary.map(|s| s.largest_shift)),
        ),
    ];
    write(vec!["item".to_owned(), "value".to_owned()])?;
    for (item, value) in items {
        write(vec![item.to_owned(), value])?;
    }
    let mut text = String::from_utf8(out.into_inner().map_err(AppError::internal)?)
        .map_err(AppError::internal)?;
    text.push('\n');
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut write = |row: Vec<String>| out.write_record(row).map_err(AppError::internal);
    write(
        [
            "feature",
            "value",
            "min",
            "max",
            "population_share",
            "sitting",
            "pool",
            "selected",
            "probability_min",
            "probability_median",
            "probability_max",
            "lowest",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    )?;
    let lowest = values
        .iter()
        .filter(|v| v.pool > 0)
        .map(|v| v.probability_min)
        .fold(f64::INFINITY, f64::min);
    for v in &values {
        write(vec![
            v.feature.clone(),
            v.value.clone(),
            v.min.to_string(),
            v.max.to_string(),
            figure(v.population_share),
            v.sitting.to_string(),
            v.pool.to_string(),
            v.selected.map_or_else(String::new, |s| s.to_string()),
            format!("{:.6}", v.probability_min),
            format!("{:.6}", v.probability_median),
            format!("{:.6}", v.probability_max),
            if v.pool > 0 && v.probability_min <= lowest + 1e-9 {
                "lowest".to_owned()
            } else {
                String::new()
            },
        ])?;
    }
    text.push_str(
        &String::from_utf8(out.into_inner().map_err(AppError::internal)?)
            .map_err(AppError::internal)?,
    );
    Ok(text)
}

/// Everyone's probability in a run as `resident_id,probability,lottery_probability` CSV.
pub async fn probabilities_csv(
    state: &AppState,
    caller: &Caller,
    id: SelectionRunId,
) -> AppResult<String> {
    caller.require(OFFICERS)?;
    let rows: Vec<(i64, f64, Option<f64>)> = selection_probability::Entity::find()
        .select_only()
        .column(selection_probability::Column::ResidentId)
        .column(selection_probability::Column::Probability)
        .column(selection_probability::Column::LotteryProbability)
        .filter(selection_probability::Column::RunId.eq(id))
        .order_by_asc(selection_probability::Column::ResidentId)
        .into_tuple()
        .all(state.db.reader())
        .await?;
    let mut out = String::from("resident_id,probability,lottery_probability\n");
    for (resident, p, l) in rows {
        out.push_str(&format!(
            "{},{p:.6},{}\n",
            ResidentId(resident),
            l.map_or_else(String::new, |l| format!("{l:.6}"))
        ));
    }
    Ok(out)
}

/// Everyone's probability in a run drawn as an SVG chart (OFFICER): sorted, with the
/// lowest marked and the equal-chance line at k ÷ pool.
pub async fn probabilities_svg(
    state: &AppState,
    caller: &Caller,
    id: SelectionRunId,
) -> AppResult<String> {
    let run = find(state, caller, id).await?;
    let probabilities: Vec<f64> = selection_probability::Entity::find()
        .select_only()
        .column(selection_probability::Column::Probability)
        .filter(selection_probability::Column::RunId.eq(id))
        .into_tuple()
        .all(state.db.reader())
        .await?;
    let k_over_n =
        (!probabilities.is_empty()).then(|| f64::from(run.k) / probabilities.len() as f64);
    Ok(crate::domain::reports::charts::probabilities(
        &format!("Chances of selection in run {}", run.id),
        &format!(
            "The selection probability of each of the {} people in the pool, sorted, against \
             the equal chance k / n for a panel of {}.",
            probabilities.len(),
            run.k
        ),
        &probabilities,
        k_over_n,
    ))
}
