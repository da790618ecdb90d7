//! Reports on a consultation for officers and scrutiny: the funnel of its invitations, its
//! respondents against the population, who responds among those invited (response rates
//! and R-indicators), and its results weighted to the population.
//!
//! Counts are aggregated in the database (every split of a side counted at once, see
//! `db::counts`; one grouped query for each other table); the statistics are
//! the pure functions of `domain::reports::statistics`. Every count SCRUTINY receives passes
//! through `domain::reports::disclosure::tables` (and anything worked out from a hidden count is hidden
//! with it); OFFICER and ADMIN see everything.
//!
//! How the people are classified:
//! - an *invitation* by its member's profile (ward, decile, sex, ethnic group, disability)
//!   and age on the day the consultation opened (or today, if it never has), and by the
//!   furthest stage it reached;
//! - an *open-link response* by its optional "about you" answers ("Not given" when
//!   skipped);
//! - for weighting and answers, every response by the profile it was stored with.

pub mod age_bands;

pub mod publications;
pub mod report_csv;
pub mod report_html;

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::db::entities::benchmark;
use crate::db::reports::{delivery_flags, responses_by_profile, stages_reached_by_day};
use crate::domain::accounts::role::Role;
use crate::domain::consultations::consultation::{Consultation, QuestionItem};
use crate::domain::consultations::questionnaire::QuestionKind;
use crate::domain::consultations::tracking::Stage;
use crate::domain::ids::ConsultationId;
use crate::domain::recruitment::composition::{age_bands_from, share_aged};
use crate::domain::register::demographics::{AgeBand, Category};
use crate::domain::reports::age_range::{AgeAnswer, AgeRange, AgeScheme};
use crate::domain::reports::disclosure::tables::{
    self as disclosure, CountTable, Population, Protection, Tables, Ticks,
};
use crate::domain::reports::statistics::{self, Cell, ChiSquare, Margin, RakeOptions};
use crate::domain::uk_time::uk_date;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::service::consultations;
use crate::state::AppState;
use publications::Kind;

mod young;

use young::{young_by_bands, young_label_of_band, young_notes, young_shares};

mod weighting;

use weighting::{CellWeights, weigh, weighted_shares};

mod counting;
mod model;
mod questions;
mod response_rates;
#[cfg(test)]
mod tests;

// The parts see one another's items, as they did when they were one file.
#[allow(unused_imports)]
use {counting::*, model::*, questions::*, response_rates::*};

pub(crate) use counting::{
    Benchmarked, Counted, PopulationShares, canonical, order_rows, population, ratio_of, shown,
};
pub use model::{
    COLUMNS, COMPLETED, Change, Day, Flag, Funnel, GroupRow, INVITED, NOT_GIVEN, OPEN_LINK,
    OptionResult, Propensity, QuestionResult, READERS, RESPONDENTS, Report, ReportDimension,
    ReportOptions, Score, Shown, Split, Weighting,
};

/// Everything a report is built from, counted in the database.
struct Gathered {
    consultation: Consultation,
    area_code: Option<String>,
    reference_day: NaiveDate,
    population: PopulationShares,
    /// One per [`ReportDimension::ALL`].
    splits: Vec<Counted>,
    young: Counted,
    young_labels: [String; 3],
    channel: Counted,
    questions: Vec<QuestionItem>,
    question_tables: Vec<Vec<QuestionTable>>,
    answers: AnswerCounts,
    /// Bounced, opened only by machines.
    flags: (u64, u64),
    /// The age bands of an "about you" question, when ages are counted in them.
    scheme: Option<AgeScheme>,
}

impl Gathered {
    /// SCRUTINY's tables, canonical (see `domain::reports::disclosure::tables::Tables`): the people's
    /// splits and channel, each question's tables, then the two delivery flags. Young
    /// people are sums of age bands for SCRUTINY (see [`young_by_bands`]), not a table.
    fn protected_tables(&self) -> Tables {
        let people = people();
        let mut tables = Tables::default();
        for counted in self.splits.iter().chain([&self.channel]) {
            let (labels, table) = canonical(counted, &people, 0);
            tables.push(counted.name.clone(), labels, table);
        }
        for q in &self.question_tables {
            for t in q {
                tables.push(t.name.clone(), t.keys.clone(), t.table.clone());
            }
        }
        let flag = Population {
            name: "delivery flags",
            parts: 1,
            columns: vec![("count", vec![0])],
        };
        let all = vec!["all".to_owned()];
        tables.push(
            BOUNCED,
            all.clone(),
            CountTable::full(&flag, 1, vec![vec![self.flags.0]]),
        );
        tables.push(
            MACHINE_OPENED,
            all,
            CountTable::full(&flag, 2, vec![vec![self.flags.1]]),
        );
        tables.populations = vec![people, flag.clone(), flag];
        tables
    }
}

/// The delivery flags' tables.
const BOUNCED: &str = "bounced";
const MACHINE_OPENED: &str = "machine_opened_only";

async fn gather(
    state: &AppState,
    id: ConsultationId,
    options: &ReportOptions,
    answers: bool,
) -> AppResult<Gathered> {
    let db = state.db.reader();
    let consultation = consultations::find_any(db, id).await?;
    let reference_day = uk_date(consultation.opened_at.unwrap_or_else(|| state.clock.now()));
    let (area_code, population) =
        population(db, options.area_code.as_deref(), options.min_age).await?;
    let People {
        mut splits,
        young,
        young_labels,
        channel,
    } = count_people(db, id, reference_day, options.young).await?;
    // An "about you" age question with bands of its own: ages are counted in them.
    let all_questions = consultations::questions_of(db, id).await?;
    let youngest = age_bands::youngest_age(db, consultation.panel).await?;
    let scheme = age_bands::scheme_of(&all_questions, youngest);
    let mut population = population;
    if let Some(scheme) = &scheme {
        let ages = &mut splits[0];
        let mut merged = Counted {
            name: ages.name.clone(),
            rows: Vec::new(),
        };
        for (label, parts) in std::mem::take(&mut ages.rows) {
            let label = ReportDimension::AgeBand.label_in(Some(&label), Some(scheme));
            for (part, n) in parts.into_iter().enumerate() {
                merged.add(label.clone(), part, n);
            }
        }
        *ages = merged;
        if let Some((shares, _)) = population.by_dimension.get_mut(&ReportDimension::AgeBand) {
            let mut summed: Vec<(String, f64)> = Vec::new();
            for (label, n) in std::mem::take(shares) {
                let label = ReportDimension::AgeBand.label_in(Some(&label), Some(scheme));
                match summed.iter_mut().find(|(l, _)| *l == label) {
                    Some((_, total)) => *total += n,
                    None => summed.push((label, n)),
                }
            }
            *shares = summed;
        }
    }
    for (split, dimension) in splits.iter_mut().zip(ReportDimension::ALL) {
        let shares = population
            .by_dimension
            .get(&dimension)
            .map_or(&[][..], |(s, _)| s.as_slice());
        order_rows(split, shares, OPEN_PART + 1);
    }
    let (questions, answers) = if answers {
        let answers =
            answer_counts(db, id, &options.weighting, &all_questions, scheme.as_ref()).await?;
        (all_questions, answers)
    } else {
        (Vec::new(), AnswerCounts::default())
    };
    let part_totals: Vec<u64> = (0..=OPEN_PART)
        .map(|p| channel.rows.iter().map(|(_, parts)| parts[p]).sum())
        .collect();
    let question_tables = questions
        .iter()
        .enumerate()
        .map(|(i, q)| question_tables(q, i, &answers, &part_totals))
        .collect();
    let flags = delivery_flags(db, id).await?;
    let flags = (flags.bounced, flags.machine_opened_only);
    Ok(Gathered {
        consultation,
        area_code,
        reference_day,
        population,
        splits,
        young,
        young_labels,
        channel,
        questions,
        question_tables,
        answers,
        flags,
        scheme,
    })
}

/// The threshold for a report: always the server's, so that two requests never hide
/// different counts of the same people.
fn threshold_of(state: &AppState) -> u64 {
    state.config.disclosure_threshold
}

/// A consultation's report for `caller`: in full for OFFICER and ADMIN, protected for
/// SCRUTINY.
pub async fn consultation_report(
    state: &AppState,
    caller: &Caller,
    id: ConsultationId,
    options: &ReportOptions,
) -> AppResult<Report> {
    caller.require(READERS)?;
    check_options(options)?;
    let db = state.db.reader();
    let protected = caller.role() == Some(Role::Scrutiny);
    let threshold = threshold_of(state);
    let gathered = gather(state, id, options, options.results || protected).await?;
    let protection = if protected {
        publications::protection(
            state,
            Kind::ConsultationReport,
            id.get(),
            gathered.protected_tables(),
        )
        .await?
    } else {
        std::sync::Arc::new(Protection::none())
    };
    let people = &people();
    let mut splits: Vec<Split> = gathered
        .splits
        .iter()
        .zip(ReportDimension::ALL)
        .map(|(c, dimension)| {
            publish_split(
                c,
                &protection,
                people,
                gathered.population.by_dimension.get(&dimension),
                options.flag_beyond,
            )
        })
        .collect();
    let young = if protected {
        young_by_bands(&gathered, options, &protection, people)
    } else {
        let young_population = young_shares(&gathered.population, options, &gathered.young_labels);
        let mut young = publish_split(
            &gathered.young,
            &protection,
            people,
            young_population.as_ref(),
            options.flag_beyond,
        );
        young.notes = young_notes(&gathered.population, options, &gathered.young_labels);
        young
    };
    let by_channel = publish_split(
        &gathered.channel,
        &protection,
        people,
        None,
        options.flag_beyond,
    );
    let funnel = Funnel {
        totals: by_channel.totals,
        bounced: protection.count(BOUNCED, Some("all"), 0, gathered.flags.0),
        machine_opened_only: protection.count(MACHINE_OPENED, Some("all"), 0, gathered.flags.1),
    };
    let propensity = propensity(
        db,
        id,
        gathered.reference_day,
        &options.propensity,
        &mut splits,
        protected,
        gathered.scheme.as_ref(),
    )
    .await?;
    let scheme = gathered.scheme.as_ref();
    let (mut weighting, weights) = if options.results {
        let profiles = responses_by_profile(db, id).await?;
        let (weighting, weights) = weigh(&profiles, options, &gathered.population, scheme);
        if !protected {
            // Each category's weighted share (OFFICER): a raked margin read back.
            let shares = weighted_shares(&profiles, &options.weighting, &weights, scheme);
            for (split, dimension) in splits.iter_mut().zip(ReportDimension::ALL) {
                for row in &mut split.rows {
                    row.weighted_share = shares
                        .get(&dimension)
                        .map(|s| s.get(&row.label).copied().unwrap_or(0.0))
                        .filter(|_| row.label != NOT_GIVEN);
                }
            }
        }
        (weighting, weights)
    } else {
        (Weighting::not_asked(options), HashMap::new())
    };
    // Weighted figures rest on counts of the weighting cells, which are not published:
    // the effective sample size, a weighted share or score is one more equation in them,
    // and how the raking went (its sweeps, whether it converged) tells of them too.
    // SCRUTINY gets whether respondents were weighted, and nothing else of it.
    let weights = if protected {
        weighting = Weighting {
            dimensions: weighting.dimensions,
            weighted: weighting.weighted,
            dropped: weighting.dropped,
            note: weighting.weighted.then(|| {
                "Weighted figures are for officers: they would reveal groups too small to \
                 publish."
                    .to_owned()
            }),
            ..Weighting::not_asked(options)
        };
        HashMap::new()
    } else {
        weights
    };
    let mut results = Vec::new();
    for (item, tables) in gathered.questions.iter().zip(&gathered.question_tables) {
        let result = QuestionContext {
            people,
            answers: &gathered.answers,
            weights: &weights,
            protected,
            protection: &protection,
        }
        .result(item, tables);
        // The previous round's score would reveal its groups whatever its own report
        // hides: the comparison is for officers.
        let change = match result.score {
            Some(score) if !protected => {
                previous_round(db, &gathered.consultation, item, score).await?
            }
            _ => None,
        };
        results.push(QuestionResult { change, ..result });
    }
    let by_day = if protected {
        Vec::new()
    } else {
        days(db, id).await?
    };
    Ok(Report {
        consultation: gathered.consultation,
        area_code: gathered.area_code,
        reference_day: gathered.reference_day,
        threshold: protected.then_some(threshold),
        suppressed: protection.any(),
        funnel,
        by_channel,
        splits,
        young,
        by_day,
        propensity,
        weighting,
        questions: results,
    })
}

pub(crate) fn check_options(options: &ReportOptions) -> AppResult<()> {
    if !(options.flag_beyond.is_finite() && (0.0..1.0).contains(&options.flag_beyond)) {
        return Err(AppError::bad_input(
            "input.flagBeyond",
            "must be at least 0 and less than 1 (0.2 flags ratios below 0.8 or above 1.2)",
        ));
    }
    let (low, high) = options.young;
    let oldest = crate::domain::register::demographics::MAX_AGE;
    if high.is_some_and(|h| h < low || h > oldest) || low > oldest {
        return Err(AppError::bad_input(
            "input.youngPeople",
            "ages from 0 to 120, the youngest not above the oldest",
        ));
    }
    if options.propensity.is_empty() {
        return Err(AppError::bad_input(
            "input.propensityDimensions",
            "name at least one dimension",
        ));
    }
    if let Some((lo, hi)) = options.trim
        && !(lo.is_finite() && hi.is_finite() && 0.0 < lo && lo < 1.0 && hi > 1.0)
    {
        return Err(AppError::bad_input(
            "input.trim",
            "trim bounds are multiples of the mean weight: below 1 and above 1",
        ));
    }
    Ok(())
}

/// Stages first reached per day, for officers: each invitation counted on the day it first
/// got at least that far (the earliest of its times at that stage or beyond), as the
/// funnel counts it.
async fn days(db: &impl ConnectionTrait, id: ConsultationId) -> AppResult<Vec<Day>> {
    let mut days: BTreeMap<NaiveDate, [u64; 5]> = BTreeMap::new();
    for reached in stages_reached_by_day(db, id).await? {
        if let Some(slot) = days.entry(reached.day).or_default().get_mut(reached.stage) {
            *slot += reached.invitations;
        }
    }
    Ok(days
        .into_iter()
        .map(|(day, counts)| Day { day, counts })
        .collect())
}

/// Every disclosure table of a consultation report and what SCRUTINY's copy hides (the
/// report's populations, tables and hidden marks, as stored and served), for the attack
/// that checks it.
pub async fn protection_of(
    state: &AppState,
    id: ConsultationId,
    options: &ReportOptions,
) -> AppResult<(Vec<Population>, Vec<CountTable>, Vec<disclosure::Hidden>)> {
    let gathered = gather(state, id, options, true).await?;
    let tables = gathered.protected_tables();
    let protection =
        publications::protection(state, Kind::ConsultationReport, id.get(), tables.clone()).await?;
    let hidden = protection.hidden(&tables);
    Ok((tables.populations, tables.tables, hidden))
}
