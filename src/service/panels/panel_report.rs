//! A panel's health: who sits on it against the population, who has left, who responds and
//! who has stopped responding, by group, so that recruitment can top up the groups that
//! leave; and the response rate of each group consultation by consultation.
//!
//! Members are counted by their profile (ages today) and by two things about their
//! membership: whether they still sit (selected, active, paused) or have left (withdrawn,
//! term ended), and how they answer the panel's consultations:
//! - *not yet invited*;
//! - *never responded*: invited, never completed;
//! - *responding*: completed at least one of their two latest invitations;
//! - *lapsed*: completed an earlier one, but neither of their two latest.
//!
//! One grouped query per dimension (the classification is worked out in SQL). For
//! SCRUTINY, the tables are protected together by `domain::reports::disclosure::tables`; the series by
//! consultation is taken from each consultation's own report, so a count hidden there is
//! hidden here too.

use chrono::NaiveDate;

use crate::db::entities::{consultation, selection_run};
use crate::db::panels::memberships_by_engagement;
use crate::domain::accounts::role::Role;
use crate::domain::ids::{ConsultationId, PanelId, SelectionRunId};
use crate::domain::reports::disclosure::tables::{
    CountTable, Hidden, Population, Protection, Tables,
};
use crate::domain::uk_time::uk_date;
use crate::error::AppResult;
use crate::service::accounts::auth::Caller;
use crate::service::panels;
use crate::service::reports::publications::{self, Kind};
use crate::service::reports::{
    self, COMPLETED, Counted, INVITED, PopulationShares, ReportDimension, ReportOptions, Shown,
    canonical, order_rows, population, ratio_of,
};
use crate::state::AppState;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// Parts: sitting or left, times the four ways of answering (not yet invited, never
/// responded, responding, lapsed).
const PARTS: usize = 8;

/// The published columns.
pub const COLUMNS: [&str; 6] = [
    "members",
    "sitting",
    "left",
    "responding",
    "lapsed",
    "never_responded",
];

fn members() -> Population {
    Population {
        name: "memberships",
        parts: PARTS,
        columns: vec![
            (COLUMNS[0], (0..PARTS).collect()),
            (COLUMNS[1], (0..4).collect()),
            (COLUMNS[2], (4..8).collect()),
            (COLUMNS[3], vec![2, 6]),
            (COLUMNS[4], vec![3, 7]),
            (COLUMNS[5], vec![1, 5]),
        ],
    }
}

/// One group of a panel split.
#[derive(Clone, Debug, PartialEq)]
pub struct PanelGroup {
    /// The category: census categories in the census's wording, others (wards, deciles)
    /// as stored, and `Not given` for people who did not say.
    pub label: String,
    /// Per [`COLUMNS`].
    pub counts: [Shown; 6],
    /// Its share of the population (census benchmarks).
    pub population_share: Option<f64>,
    /// Its share of the sitting members whose category is known.
    pub sitting_share: Option<f64>,
    /// Sitting share ÷ population share.
    pub ratio: Option<f64>,
    /// Left ÷ all who have been members.
    pub leaving_rate: Option<f64>,
    /// Lapsed ÷ those who ever responded (responding or lapsed).
    pub lapse_rate: Option<f64>,
}

/// The panel split by one dimension.
#[derive(Clone, Debug, PartialEq)]
pub struct PanelSplit {
    /// `age_band`, `sex`, …
    pub name: String,
    /// The population's categories first (empty ones included), then any others, then
    /// `Not given`.
    pub rows: Vec<PanelGroup>,
    /// Everyone.
    pub totals: [Shown; 6],
}

/// One consultation of the panel, by group.
#[derive(Clone, Debug, PartialEq)]
pub struct EngagementPoint {
    /// One of the consultations that went to the panel and has opened.
    pub consultation: ConsultationId,
    /// The consultation's title, as it is now.
    pub title: String,
    /// The day it opened.
    pub opened: Option<NaiveDate>,
    /// Per group of the chosen dimension, as its own report shows it.
    pub groups: Vec<EngagementGroup>,
}

/// One group's invitations and completions in one consultation.
#[derive(Clone, Debug, PartialEq)]
pub struct EngagementGroup {
    /// The category: census categories in the census's wording, others (wards, deciles)
    /// as stored, and `Not given` for people who did not say.
    pub label: String,
    /// Members invited.
    pub invited: Shown,
    /// Members invited who submitted their answers.
    pub completed: Shown,
    /// Completed ÷ invited.
    pub response_rate: Option<f64>,
}

/// A panel's health.
#[derive(Clone, Debug, PartialEq)]
pub struct PanelReport {
    /// The panel reported on.
    pub panel: PanelId,
    /// The panel's name, as it is now.
    pub name: String,
    /// The benchmark area compared with.
    pub area_code: Option<String>,
    /// The threshold applied (`None` for readers who see everything).
    pub threshold: Option<u64>,
    /// Whether anything was hidden.
    pub suppressed: bool,
    /// Members by each dimension.
    pub splits: Vec<PanelSplit>,
    /// The dimension `series` splits each consultation by, as the caller asked.
    pub series_dimension: ReportDimension,
    /// Consultations in the order they opened.
    pub series: Vec<EngagementPoint>,
    /// The drawn selections that filled the panel, newest first (see
    /// `service::selection::selection_report::published`).
    pub selection_runs: Vec<SelectionRunId>,
}

/// A panel's members counted by `dimension` (ages on `day`), each in the part of whether
/// they sit or have left and how they answer.
async fn split_members(
    state: &AppState,
    panel: PanelId,
    day: NaiveDate,
    dimension: ReportDimension,
) -> AppResult<Counted> {
    let groups = memberships_by_engagement(state.db.reader(), panel, day, dimension).await?;
    let mut counted = Counted {
        name: dimension.as_str().to_owned(),
        rows: Vec::new(),
    };
    for group in groups {
        let part = usize::from(group.left) * 4 + group.engagement.min(3);
        counted.add_in(
            dimension.label(group.category.as_deref()),
            part,
            group.memberships,
            PARTS,
        );
    }
    Ok(counted)
}

/// Members split by every dimension, with the population; and SCRUTINY's tables,
/// canonical (see `domain::reports::disclosure::tables::Tables`).
async fn gather(
    state: &AppState,
    panel: PanelId,
    options: &ReportOptions,
) -> AppResult<(Option<String>, PopulationShares, Vec<Counted>, Tables)> {
    let today = uk_date(state.clock.now());
    let (area_code, shares) = population(
        state.db.reader(),
        options.area_code.as_deref(),
        options.min_age,
    )
    .await?;
    let people = members();
    let mut counted = Vec::new();
    let mut tables = Tables {
        populations: vec![people.clone()],
        ..Tables::default()
    };
    for dimension in ReportDimension::ALL {
        let mut split = split_members(state, panel, today, dimension).await?;
        let (labels, table) = canonical(&split, &people, 0);
        tables.push(split.name.clone(), labels, table);
        let population = shares
            .by_dimension
            .get(&dimension)
            .map_or(&[][..], |(s, _)| s.as_slice());
        order_rows(&mut split, population, PARTS);
        counted.push(split);
    }
    Ok((area_code, shares, counted, tables))
}

/// A panel's health report for `caller`: in full for OFFICER and ADMIN, protected for
/// SCRUTINY. `series_dimension` is the dimension of the consultation-by-consultation
/// series.
pub async fn panel_report(
    state: &AppState,
    caller: &Caller,
    panel: PanelId,
    options: &ReportOptions,
    series_dimension: ReportDimension,
) -> AppResult<PanelReport> {
    caller.require(reports::READERS)?;
    reports::check_options(options)?;
    let db = state.db.reader();
    let found = panels::find_any(db, panel).await?;
    let protected = caller.role() == Some(Role::Scrutiny);
    let threshold = state.config.disclosure_threshold;
    let (area_code, shares, counted, tables) = gather(state, panel, options).await?;
    let people = members();
    let protection = if protected {
        publications::protection(state, Kind::PanelReport, panel.get(), tables).await?
    } else {
        std::sync::Arc::new(Protection::none())
    };
    let mut splits = Vec::new();
    for (c, dimension) in counted.iter().zip(ReportDimension::ALL) {
        let population = shares.by_dimension.get(&dimension).map(|(s, _)| s);
        let population_total: f64 = population.map_or(0.0, |p| p.iter().map(|(_, n)| n).sum());
        let value = |parts: &[u64], k: usize| -> u64 {
            people.columns[k].1.iter().map(|&p| parts[p]).sum()
        };
        let all: Vec<u64> = (0..PARTS)
            .map(|p| c.rows.iter().map(|(_, parts)| parts[p]).sum())
            .collect();
        let counts_of = |row: Option<usize>| -> [Shown; 6] {
            std::array::from_fn(|k| match row {
                Some(r) => {
                    let (label, parts) = &c.rows[r];
                    protection.count(&c.name, Some(label), k, value(parts, k))
                }
                None => protection.count(&c.name, None, k, value(&all, k)),
            })
        };
        // Sitting members whose category is known (the total less those not giving it).
        let not_given = c.rows.iter().position(|(l, _)| l == reports::NOT_GIVEN);
        let known_sitting: Shown = not_given
            .map_or(Some(0), |r| counts_of(Some(r))[1])
            .and_then(|given| counts_of(None)[1].map(|total| total - given));
        let rows = c
            .rows
            .iter()
            .enumerate()
            .map(|(r, (label, _))| {
                let counts = counts_of(Some(r));
                let population_share = population
                    .and_then(|p| p.iter().find(|(l, _)| l == label))
                    .filter(|_| population_total > 0.0)
                    .map(|(_, n)| n / population_total);
                let sitting_share = ratio_of(counts[1], known_sitting);
                let ever = counts[3].zip(counts[4]).map(|(a, b)| a + b);
                PanelGroup {
                    label: label.clone(),
                    population_share,
                    sitting_share,
                    ratio: sitting_share
                        .zip(population_share)
                        .filter(|(_, p)| *p > 0.0)
                        .map(|(s, p)| s / p),
                    leaving_rate: ratio_of(counts[2], counts[0]),
                    lapse_rate: ratio_of(counts[4], ever),
                    counts,
                }
            })
            .collect();
        splits.push(PanelSplit {
            name: c.name.clone(),
            rows,
            totals: counts_of(None),
        });
    }
    // The series: each consultation's own report, as the caller may read it.
    let mut series = Vec::new();
    let mut consultations: Vec<_> = consultation::Entity::find()
        .filter(consultation::Column::PanelId.eq(panel))
        .filter(consultation::Column::OpenedAt.is_not_null())
        .all(db)
        .await?;
    consultations.sort_by_key(|c| (c.opened_at, c.id));
    for consultation in consultations {
        let report = reports::consultation_report(
            state,
            caller,
            consultation.id,
            &ReportOptions {
                weighting: Vec::new(),
                results: false,
                ..options.clone()
            },
        )
        .await?;
        let groups = report
            .splits
            .iter()
            .find(|s| s.name == series_dimension.as_str())
            .map(|s| {
                s.rows
                    .iter()
                    .map(|r| EngagementGroup {
                        label: r.label.clone(),
                        invited: r.counts[INVITED],
                        completed: r.counts[COMPLETED],
                        response_rate: ratio_of(r.counts[COMPLETED], r.counts[INVITED]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        series.push(EngagementPoint {
            consultation: consultation.id,
            title: consultation.title,
            opened: consultation.opened_at.map(uk_date),
            groups,
        });
    }
    // The runs that filled it, for their reports.
    let selection_runs = selection_run::Entity::find()
        .select_only()
        .column(selection_run::Column::Id)
        .filter(selection_run::Column::PanelId.eq(panel))
        .filter(selection_run::Column::DrawnNumber.is_not_null())
        .order_by_desc(selection_run::Column::Id)
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .map(SelectionRunId)
        .collect();
    Ok(PanelReport {
        panel,
        name: found.name,
        selection_runs,
        area_code,
        threshold: protected.then_some(threshold),
        suppressed: protection.any(),
        splits,
        series_dimension,
        series,
    })
}

/// The disclosure tables of a panel report and what SCRUTINY's copy hides (as stored and
/// served), for the attack that checks it.
pub async fn protection_of(
    state: &AppState,
    panel: PanelId,
    options: &ReportOptions,
) -> AppResult<(Vec<Population>, Vec<CountTable>, Vec<Hidden>)> {
    let (_, _, _, tables) = gather(state, panel, options).await?;
    let protection =
        publications::protection(state, Kind::PanelReport, panel.get(), tables.clone()).await?;
    let hidden = protection.hidden(&tables);
    Ok((tables.populations, tables.tables, hidden))
}
