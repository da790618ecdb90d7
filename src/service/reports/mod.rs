//! Reports on a consultation for officers and scrutiny: the funnel of its invitations, its
//! respondents against the population, who responds among those invited (response rates
//! and R-indicators), and its results weighted to the population.
//!
//! Counts are aggregated in the database (every split of a side counted at once, see
//! `service::grouped`; one grouped query for each other table); the statistics are
//! the pure functions of `domain::reports::statistics`. Every count SCRUTINY receives passes
//! through `service::reports::disclosure` (and anything worked out from a hidden count is hidden
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
pub mod disclosure;
pub mod publications;
pub mod report_csv;
pub mod report_html;

use std::collections::{BTreeMap, HashMap};

use chrono::{Months, NaiveDate};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Value,
};

use crate::db::counts::{self as grouped, Key};
use crate::db::entities::benchmark;
use crate::db::sql::{count_of, query};
use crate::domain::accounts::role::Role;
use crate::domain::consultations::consultation::{Consultation, QuestionItem};
use crate::domain::consultations::questionnaire::QuestionKind;
use crate::domain::consultations::tracking::Stage;
use crate::domain::ids::ConsultationId;
use crate::domain::recruitment::composition::{age_bands_from, share_aged};
use crate::domain::register::demographics::{AgeBand, Category, Dimension};
use crate::domain::reports::age_range::{AgeAnswer, AgeRange, AgeScheme};
use crate::domain::reports::statistics::{self, Cell, ChiSquare, Margin, RakeOptions};
use crate::domain::uk_time::uk_date;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::service::consultations;
use crate::state::AppState;
use disclosure::{CountTable, Population, Protection, Tables, Ticks};
use publications::Kind;

mod young;

use young::{young_by_bands, young_label_of_band, young_notes, young_shares};

mod weighting;

use weighting::{CellWeights, profiles, weigh, weighted_shares};

/// Who may read reports: officers in full, scrutiny members with small counts hidden.
pub const READERS: &[Role] = &[Role::Officer, Role::Scrutiny];

/// A dimension reports split people by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReportDimension {
    /// Census five-year age band.
    AgeBand,
    /// Sex.
    Sex,
    /// Ethnic group.
    EthnicGroup,
    /// Disability.
    Disability,
    /// Ward (code).
    Ward,
    /// Deprivation decile of the address (1 most deprived).
    DeprivationDecile,
}

impl ReportDimension {
    /// Every dimension, in report order.
    pub const ALL: [Self; 6] = [
        Self::AgeBand,
        Self::Sex,
        Self::EthnicGroup,
        Self::Disability,
        Self::Ward,
        Self::DeprivationDecile,
    ];

    /// The name benchmarks use for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgeBand => "age_band",
            Self::Sex => "sex",
            Self::EthnicGroup => "ethnic_group",
            Self::Disability => "disability",
            Self::Ward => "ward",
            Self::DeprivationDecile => "deprivation_decile",
        }
    }

    /// The census dimension it is, if any (ward and decile benchmarks are matched as
    /// written).
    fn census(self) -> Option<Dimension> {
        match self {
            Self::AgeBand => Some(Dimension::AgeBand),
            Self::Sex => Some(Dimension::Sex),
            Self::EthnicGroup => Some(Dimension::EthnicGroup),
            Self::Disability => Some(Dimension::Disability),
            Self::Ward | Self::DeprivationDecile => None,
        }
    }

    /// The member's category in SQL over `residents r` (age bands come from the
    /// reference day's cut-off dates, bound from `$2`).
    pub(crate) fn member_sql(self) -> String {
        match self {
            Self::AgeBand => age_band_sql(),
            Self::Sex => "r.sex".to_owned(),
            Self::EthnicGroup => "r.ethnic_group".to_owned(),
            Self::Disability => "r.disability".to_owned(),
            Self::Ward => "r.ward_code".to_owned(),
            Self::DeprivationDecile => "CAST(r.deprivation_decile AS TEXT)".to_owned(),
        }
    }

    /// The member's category as a grouping key over `residents r` (see
    /// [`Self::member_sql`]).
    fn member_key(self) -> Key {
        match self {
            Self::DeprivationDecile => Key {
                select: self.member_sql(),
                group: "r.deprivation_decile".to_owned(),
            },
            _ => Key::text(self.member_sql()),
        }
    }

    /// The response's stored category as a grouping key over `responses s`.
    fn response_key(self) -> Key {
        match self {
            Self::DeprivationDecile => Key {
                select: self.response_sql().to_owned(),
                group: "s.deprivation_decile".to_owned(),
            },
            _ => Key::text(self.response_sql()),
        }
    }

    /// The response's stored category in SQL over `responses s`.
    fn response_sql(self) -> &'static str {
        match self {
            Self::AgeBand => "s.age_band",
            Self::Sex => "s.sex",
            Self::EthnicGroup => "s.ethnic_group",
            Self::Disability => "s.disability",
            Self::Ward => "s.ward_code",
            Self::DeprivationDecile => "CAST(s.deprivation_decile AS TEXT)",
        }
    }

    /// A stored value as its report label: census categories in the census's wording,
    /// anything else as written, and a missing one as [`NOT_GIVEN`].
    pub(crate) fn label(self, raw: Option<&str>) -> String {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return NOT_GIVEN.to_owned();
        };
        if self == Self::AgeBand && AgeRange::parse(raw) == Some(AgeAnswer::NotGiven) {
            return NOT_GIVEN.to_owned();
        }
        self.census()
            .and_then(|d| Category::from_label(d, raw))
            .map_or_else(|| raw.to_owned(), Category::label)
    }

    /// [`Self::label`], ages counted in `scheme`'s bands when there is one (see
    /// `service::reports::age_bands`).
    pub(crate) fn label_in(self, raw: Option<&str>, scheme: Option<&AgeScheme>) -> String {
        let label = self.label(raw);
        match scheme {
            Some(scheme) if self == Self::AgeBand && label != NOT_GIVEN => {
                scheme.label_of(&label).map_or(label, str::to_owned)
            }
            _ => label,
        }
    }
}

/// The row of people whose category is not known.
pub const NOT_GIVEN: &str = "Not given";

/// The oldest band the age cut-offs name; older people are in `85+`.
const BANDS: u32 = AgeBand::OPEN_FROM / 5;

fn age_band_sql() -> String {
    // $2 is the cut-off for 85+, $3 for 80-84, ... : born on or before the day the band's
    // youngest age was reached.
    let mut sql = String::from("CASE");
    for (i, low) in (0..=BANDS).rev().enumerate() {
        let band = AgeBand { low: low * 5 };
        sql.push_str(&format!(
            " WHEN r.date_of_birth <= ${} THEN '{}'",
            i + 2,
            band.label()
        ));
    }
    sql.push_str(" END");
    sql
}

/// The birth-date cut-offs of [`age_band_sql`] for ages on `day`.
pub(crate) fn age_cutoffs(day: NaiveDate) -> Vec<Value> {
    (0..=BANDS)
        .rev()
        .map(|low| born_by(day, low * 5).into())
        .collect()
}

/// The latest birth date of someone aged `age` or more on `day`.
fn born_by(day: NaiveDate, age: u32) -> NaiveDate {
    day.checked_sub_months(Months::new(age * 12))
        .unwrap_or(NaiveDate::MIN)
}

/// What a report is worked out with.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportOptions {
    /// The benchmark area the population comes from (e.g. `E06000020`); the only one
    /// imported when `None`.
    pub area_code: Option<String>,
    /// A group is flagged when its representation ratio is below `1 − flag_beyond` or
    /// above `1 + flag_beyond`.
    pub flag_beyond: f64,
    /// The age range called out as young people.
    pub young: (u32, Option<u32>),
    /// The youngest age members can be (the population is compared from this age).
    pub min_age: u32,
    /// Dimensions of the response-propensity cells (R-indicator).
    pub propensity: Vec<ReportDimension>,
    /// Dimensions respondents are weighted on.
    pub weighting: Vec<ReportDimension>,
    /// Weight trimming, as multiples of the mean weight.
    pub trim: Option<(f64, f64)>,
    /// Whether to work out the weighting and the questions' results (the API leaves them
    /// out when they are not asked for). SCRUTINY's copy always counts the answers, since
    /// they are protected together with everything else.
    pub results: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            area_code: None,
            flag_beyond: 0.2,
            young: (16, Some(24)),
            min_age: 16,
            propensity: vec![
                ReportDimension::AgeBand,
                ReportDimension::Sex,
                ReportDimension::Disability,
            ],
            weighting: vec![ReportDimension::AgeBand, ReportDimension::Sex],
            trim: None,
            results: true,
        }
    }
}

/// The columns every split of a consultation's people has: how far its invitations got
/// (each counts those that reached at least that stage), its open-link responses, and all
/// its respondents.
pub const COLUMNS: [&str; 8] = [
    "invited",
    "sent",
    "opened",
    "clicked",
    "started",
    "completed",
    "open_link",
    "respondents",
];
/// Index of the invited column.
pub const INVITED: usize = 0;
/// Index of the completed column.
pub const COMPLETED: usize = 5;
/// Index of the open-link column.
pub const OPEN_LINK: usize = 6;
/// Index of the respondents column.
pub const RESPONDENTS: usize = 7;

/// The part an open-link response is in (invitations are in the part of their stage).
const OPEN_PART: usize = Stage::ALL.len();

/// The people of a consultation, parted by furthest stage (invitations) or as open-link
/// responses.
fn people() -> Population {
    let from = |stage: usize| (stage..OPEN_PART).collect::<Vec<_>>();
    Population {
        name: "people",
        parts: OPEN_PART + 1,
        columns: vec![
            (COLUMNS[0], from(0)),
            (COLUMNS[1], from(1)),
            (COLUMNS[2], from(2)),
            (COLUMNS[3], from(3)),
            (COLUMNS[4], from(4)),
            (COLUMNS[5], from(5)),
            (COLUMNS[6], vec![OPEN_PART]),
            (COLUMNS[7], vec![OPEN_PART - 1, OPEN_PART]),
        ],
    }
}

/// A count as published: `None` when hidden from the reader.
pub type Shown = Option<u64>;

/// Whether a group is under- or over-represented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    /// Within the threshold, or not known.
    None,
    /// Below `1 − flag_beyond`.
    Under,
    /// Above `1 + flag_beyond`.
    Over,
}

/// One category of a split.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupRow {
    /// The category.
    pub label: String,
    /// Its count in each of [`COLUMNS`].
    pub counts: [Shown; 8],
    /// Its share of the population (from the benchmarks; public figures).
    pub population_share: Option<f64>,
    /// Its share of the invited members whose category is known.
    pub invited_share: Option<f64>,
    /// Its share of the respondents whose category is known.
    pub respondent_share: Option<f64>,
    /// Respondent share ÷ population share, with its 95 % interval.
    pub ratio: Option<(f64, f64, f64)>,
    /// Whether the ratio is beyond the threshold.
    pub flag: Flag,
    /// Completed ÷ invited.
    pub response_rate: Option<f64>,
    /// Partial R-indicators of the category (unconditional, signed; conditional), when the
    /// split is one of the propensity dimensions.
    pub partial: Option<(f64, f64)>,
    /// Its share of the weighted respondents whose category is known (OFFICER, when the
    /// respondents are weighted; by the profile stored with each response, as weighting
    /// uses): on a weighting dimension, the raked margin.
    pub weighted_share: Option<f64>,
}

/// People split by one dimension, compared with the population.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// `age_band`, `sex`, …, `young_people` or `channel`.
    pub name: String,
    /// Categories: the population's first, then any others, then [`NOT_GIVEN`].
    pub rows: Vec<GroupRow>,
    /// Everyone, per column.
    pub totals: [Shown; 8],
    /// Whether the population has a benchmark for this split.
    pub benchmarked: bool,
    /// Benchmark categories that name no known category, as written.
    pub unmatched: Vec<String>,
    /// Respondents of categories with no benchmark (other than not given).
    pub respondents_without_benchmark: Shown,
    /// Index of dissimilarity between respondents and population (0 to 1).
    pub dissimilarity: Option<f64>,
    /// Chi-square goodness of fit of respondents to the population.
    pub chi_square: Option<ChiSquare>,
    /// Partial R-indicators of the dimension (unconditional, conditional).
    pub partial: Option<(f64, f64)>,
    /// What the reader should know about this split.
    pub notes: Vec<String>,
}

/// The whole funnel of a consultation's invitations.
#[derive(Clone, Debug, PartialEq)]
pub struct Funnel {
    /// Per column (see [`COLUMNS`]).
    pub totals: [Shown; 8],
    /// Invitations whose delivery bounced.
    pub bounced: Shown,
    /// Invitations opened only by machines (mail-privacy proxies, scanners).
    pub machine_opened_only: Shown,
}

/// One day of tracking (OFFICER only).
#[derive(Clone, Debug, PartialEq)]
pub struct Day {
    /// The day (UTC).
    pub day: NaiveDate,
    /// First reached on that day: sent, opened (by a person), clicked, started, completed.
    pub counts: [u64; 5],
}

/// Response propensities: the R-indicator.
#[derive(Clone, Debug, PartialEq)]
pub struct Propensity {
    /// The dimensions of the cells.
    pub dimensions: Vec<ReportDimension>,
    /// R = 1 − 2·S(ρ̂).
    pub r: Option<f64>,
    /// S(ρ̂).
    pub s: Option<f64>,
    /// Mean propensity (the response rate).
    pub mean: Option<f64>,
    /// Why it is missing, when it is.
    pub note: Option<String>,
}

/// How respondents were weighted.
#[derive(Clone, Debug, PartialEq)]
pub struct Weighting {
    /// Dimensions raked on.
    pub dimensions: Vec<ReportDimension>,
    /// Whether weights exist (otherwise `note` says why).
    pub weighted: bool,
    /// Sweeps made (`None` when not weighted, or withheld from the reader).
    pub iterations: Option<u32>,
    /// Whether every margin met its total (`None` as `iterations`).
    pub converged: Option<bool>,
    /// Largest relative margin error at the end (`None` as `iterations`).
    pub max_error: Option<f64>,
    /// Kish's effective sample size (`None` as `iterations`).
    pub effective_n: Option<f64>,
    /// Kish's design effect from weighting (`None` as `iterations`).
    pub design_effect: Option<f64>,
    /// Respondents weighted.
    pub respondents: Shown,
    /// Respondents left out (a category missing or without a benchmark).
    pub left_out: Shown,
    /// Population categories with no respondent, dropped from their margin.
    pub dropped: Vec<String>,
    /// What the reader should know.
    pub note: Option<String>,
}

impl Weighting {
    /// Unweighted, because the weighting was not asked for.
    fn not_asked(options: &ReportOptions) -> Self {
        Self {
            dimensions: options.weighting.clone(),
            weighted: false,
            iterations: None,
            converged: None,
            max_error: None,
            effective_n: None,
            design_effect: None,
            respondents: None,
            left_out: None,
            dropped: Vec::new(),
            note: Some("Not asked for.".to_owned()),
        }
    }
}

/// A score with its 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    /// The score (NPS −100…100, net agreement −100…100).
    pub value: f64,
    /// Standard error.
    pub standard_error: f64,
    /// Interval's lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

/// A score against the previous round of the same consultation.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The previous round.
    pub previous: ConsultationId,
    /// Its title.
    pub previous_title: String,
    /// Its score (unweighted).
    pub previous_score: Score,
    /// This round's unweighted score less the previous.
    pub difference: f64,
    /// Two-sided p-value of the difference (z test).
    pub p_value: f64,
}

/// One option (or scale value) of a question.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionResult {
    /// Option key, or the scale value.
    pub key: String,
    /// What respondents saw.
    pub label: String,
    /// Respondents who chose it (ranked it first, for a ranking).
    pub count: Shown,
    /// Their share of those who answered.
    pub share: Option<f64>,
    /// The weighted share.
    pub weighted_share: Option<f64>,
}

/// A question's results.
#[derive(Clone, Debug, PartialEq)]
pub struct QuestionResult {
    /// The question's key (stable across rounds).
    pub key: String,
    /// Its wording.
    pub text: String,
    /// `single_choice`, `multiple_choice`, `agreement`, `rating`, `free_text`, `ranking`.
    pub kind: &'static str,
    /// Respondents who answered it.
    pub answered: Shown,
    /// Options or scale values.
    pub options: Vec<OptionResult>,
    /// NPS (rating) or net agreement (agreement), unweighted.
    pub score: Option<Score>,
    /// The same, weighted.
    pub weighted_score: Option<Score>,
    /// Against the previous round.
    pub change: Option<Change>,
}

/// A consultation's report.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The consultation.
    pub consultation: Consultation,
    /// The benchmark area compared with.
    pub area_code: Option<String>,
    /// Ages are worked out on this day.
    pub reference_day: NaiveDate,
    /// The threshold applied (`None` for readers who see everything).
    pub threshold: Option<u64>,
    /// Whether anything was hidden.
    pub suppressed: bool,
    /// The funnel.
    pub funnel: Funnel,
    /// By channel (email, sms, post, open link).
    pub by_channel: Split,
    /// By each dimension.
    pub splits: Vec<Split>,
    /// Young people.
    pub young: Split,
    /// By day (empty for SCRUTINY).
    pub by_day: Vec<Day>,
    /// The R-indicator.
    pub propensity: Propensity,
    /// The weighting.
    pub weighting: Weighting,
    /// Per question.
    pub questions: Vec<QuestionResult>,
}

/// Counts of one split, before publishing: rows by label, each per part.
pub(crate) struct Counted {
    pub(crate) name: String,
    pub(crate) rows: Vec<(String, Vec<u64>)>,
}

impl Counted {
    fn add(&mut self, label: String, part: usize, count: u64) {
        self.add_in(label, part, count, OPEN_PART + 1);
    }

    /// Adds `count` people of `label` to `part`, rows having `width` parts.
    pub(crate) fn add_in(&mut self, label: String, part: usize, count: u64, width: usize) {
        match self.rows.iter_mut().find(|(l, _)| *l == label) {
            Some((_, parts)) => parts[part] += count,
            None => {
                let mut parts = vec![0; width];
                parts[part] = count;
                self.rows.push((label, parts));
            }
        }
    }
}

fn stage_part(stored: &str) -> usize {
    Stage::ALL
        .iter()
        .position(|s| s.as_str() == stored)
        .unwrap_or(0)
}

/// A consultation's people counted for every split of its report.
struct People {
    /// By each of [`ReportDimension::ALL`], in that order.
    splits: Vec<Counted>,
    /// By whether they are in the young age range (and its three labels).
    young: Counted,
    young_labels: [String; 3],
    /// Invitations by channel, and the open link.
    channel: Counted,
}

/// Counts a consultation's people for every split at once: its invitations by each
/// dimension, by whether the member was young on `day` and by channel, each with the
/// furthest stage reached; its open-link responses by each dimension (the young people
/// and the open-link total follow from their age bands). One grouped query for each side
/// on PostgreSQL, a query per split side by side on SQLite (see `service::grouped`).
async fn count_people(
    db: &impl ConnectionTrait,
    id: ConsultationId,
    day: NaiveDate,
    (low, high): (u32, Option<u32>),
) -> AppResult<People> {
    let young_labels = [
        match high {
            Some(high) => format!("Aged {low} to {high}"),
            None => format!("Aged {low} and over"),
        },
        "Other ages".to_owned(),
        "Age band partly in the range".to_owned(),
    ];
    let mut values: Vec<Value> = vec![id.get().into()];
    values.extend(age_cutoffs(day));
    // Young: born on or before the day they turned `low`, and after the day they would
    // have turned `high + 1` (parameters after the age cut-offs).
    let first = values.len() + 1;
    let young_sql = match high {
        Some(high) => {
            values.push(born_by(day, low).into());
            values.push(born_by(day, high + 1).into());
            format!(
                "r.date_of_birth <= ${first} AND r.date_of_birth > ${}",
                first + 1
            )
        }
        None => {
            values.push(born_by(day, low).into());
            format!("r.date_of_birth <= ${first}")
        }
    };
    let mut member_keys: Vec<Key> = ReportDimension::ALL
        .iter()
        .map(|d| d.member_key())
        .collect();
    member_keys.push(Key::text(format!(
        "CASE WHEN {young_sql} THEN '1' ELSE '0' END"
    )));
    member_keys.push(Key::text("i.channel"));
    let invited = grouped::count_by_each(
        db,
        &member_keys,
        &["i.stage"],
        "FROM invitations i JOIN residents r ON r.id = i.resident_id \
         WHERE i.consultation_id = $1 AND i.revoked_at IS NULL",
        values,
    );
    let response_keys: Vec<Key> = ReportDimension::ALL
        .iter()
        .map(|d| d.response_key())
        .collect();
    let open = grouped::count_by_each(
        db,
        &response_keys,
        &[],
        "FROM responses s WHERE s.consultation_id = $1 AND s.channel = 'qr'",
        vec![id.get().into()],
    );
    let (invited, open) = futures_util::future::try_join(invited, open).await?;
    let mut splits: Vec<Counted> = ReportDimension::ALL
        .iter()
        .map(|d| Counted {
            name: d.as_str().to_owned(),
            rows: Vec::new(),
        })
        .collect();
    let mut young = Counted {
        name: "young_people".to_owned(),
        rows: young_labels
            .iter()
            .take(2)
            .map(|l| (l.clone(), vec![0; OPEN_PART + 1]))
            .collect(),
    };
    let mut channel = Counted {
        name: "channel".to_owned(),
        rows: ["email", "sms", "post"]
            .iter()
            .map(|c| ((*c).to_owned(), vec![0; OPEN_PART + 1]))
            .collect(),
    };
    let dimensions = ReportDimension::ALL.len();
    for group in &invited {
        let stage: String = group.by(0)?;
        let part = stage_part(&stage);
        let count = group.count(1)?;
        let category = group.category.as_deref();
        match group.key {
            k if k < dimensions => {
                splits[k].add(ReportDimension::ALL[k].label(category), part, count);
            }
            k if k == dimensions => {
                let label = &young_labels[usize::from(category != Some("1"))];
                young.add(label.clone(), part, count);
            }
            _ => channel.add(category.unwrap_or_default().to_owned(), part, count),
        }
    }
    let mut open_total = 0;
    for group in &open {
        let count = group.count(0)?;
        let category = group.category.as_deref();
        splits[group.key].add(
            ReportDimension::ALL[group.key].label(category),
            OPEN_PART,
            count,
        );
        if ReportDimension::ALL[group.key] == ReportDimension::AgeBand {
            let label = young_label_of_band(category, (low, high), &young_labels);
            young.add(label, OPEN_PART, count);
            open_total += count;
        }
    }
    channel.add("open_link".to_owned(), OPEN_PART, open_total);
    Ok(People {
        splits,
        young,
        young_labels,
        channel,
    })
}

/// The population of one area: per dimension, category label → people (aged `min_age`
/// and over for age bands), and the labels that named no category.
/// One dimension's population: category label → people, and the benchmark labels that
/// named no category.
pub(crate) type Benchmarked = (Vec<(String, f64)>, Vec<String>);

pub(crate) struct PopulationShares {
    pub(crate) by_dimension: HashMap<ReportDimension, Benchmarked>,
    age_bands: Vec<(String, i64)>,
}

pub(crate) async fn population(
    db: &impl ConnectionTrait,
    area: Option<&str>,
    min_age: u32,
) -> AppResult<(Option<String>, PopulationShares)> {
    let area = match area.map(str::trim).filter(|a| !a.is_empty()) {
        Some(area) => Some(area.to_owned()),
        None => {
            let mut areas: Vec<String> = benchmark::Entity::find()
                .select_only()
                .column(benchmark::Column::AreaCode)
                .distinct()
                .order_by_asc(benchmark::Column::AreaCode)
                .into_tuple()
                .all(db)
                .await?;
            match areas.len() {
                0 => None,
                1 => areas.pop(),
                _ => {
                    return Err(AppError::bad_input(
                        "input.areaCode",
                        format!(
                            "benchmarks for {} areas are imported ({}); say which to compare with",
                            areas.len(),
                            areas.join(", ")
                        ),
                    ));
                }
            }
        }
    };
    let rows = match &area {
        Some(area) => {
            benchmark::Entity::find()
                .filter(benchmark::Column::AreaCode.eq(area.as_str()))
                .order_by_asc(benchmark::Column::Id)
                .all(db)
                .await?
        }
        None => Vec::new(),
    };
    if area.is_some() && rows.is_empty() {
        return Err(AppError::bad_input(
            "input.areaCode",
            "no benchmarks are imported for this area",
        ));
    }
    let mut by_dimension = HashMap::new();
    let mut age_bands = Vec::new();
    for dimension in ReportDimension::ALL {
        let mut shares: Vec<(String, f64)> = Vec::new();
        let mut unmatched = Vec::new();
        for row in rows.iter().filter(|b| {
            crate::domain::register::demographics::normalise(&b.dimension).replace([' ', '-'], "_")
                == dimension.as_str()
        }) {
            let label = match dimension.census() {
                Some(census) => match Category::from_label(census, &row.category) {
                    Some(category) => category.label(),
                    None => {
                        unmatched.push(row.category.clone());
                        continue;
                    }
                },
                None => row.category.trim().to_owned(),
            };
            match shares.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += row.count as f64,
                None => shares.push((label, row.count as f64)),
            }
        }
        if dimension == ReportDimension::AgeBand {
            age_bands = shares.iter().map(|(l, n)| (l.clone(), *n as i64)).collect();
            shares = age_bands_from(&age_bands, min_age);
        }
        if !shares.is_empty() || !unmatched.is_empty() {
            by_dimension.insert(dimension, (shares, unmatched));
        }
    }
    Ok((
        area,
        PopulationShares {
            by_dimension,
            age_bands,
        },
    ))
}

/// Orders a split's rows: the population's categories first, then others, then
/// [`NOT_GIVEN`], adding empty rows for population categories nobody is in.
pub(crate) fn order_rows(counted: &mut Counted, population: &[(String, f64)], width: usize) {
    for (label, _) in population {
        if !counted.rows.iter().any(|(l, _)| l == label) {
            counted.rows.push((label.clone(), vec![0; width]));
        }
    }
    let rank = |label: &str| {
        population
            .iter()
            .position(|(l, _)| l == label)
            .map_or(if label == NOT_GIVEN { 2 } else { 1 }, |_| 0)
    };
    counted.rows.sort_by(|a, b| {
        let position = |l: &str| population.iter().position(|(p, _)| p == l);
        rank(&a.0)
            .cmp(&rank(&b.0))
            .then(position(&a.0).cmp(&position(&b.0)))
            .then(a.0.cmp(&b.0))
    });
}

pub(crate) fn shown(value: u64, hidden: bool) -> Shown {
    (!hidden).then_some(value)
}

pub(crate) fn ratio_of(part: Shown, whole: Shown) -> Option<f64> {
    match (part, whole) {
        (Some(p), Some(w)) if w > 0 => Some(p as f64 / w as f64),
        _ => None,
    }
}

/// A split as published: counts (hidden where `protection` says, the split's name being
/// its table's), shares, ratios, flags and goodness of fit.
fn publish_split(
    counted: &Counted,
    protection: &Protection,
    people: &Population,
    population: Option<&Benchmarked>,
    flag_beyond: f64,
) -> Split {
    let table = counted.name.as_str();
    let value =
        |parts: &[u64], c: usize| -> u64 { people.columns[c].1.iter().map(|&p| parts[p]).sum() };
    let all: Vec<u64> = (0..people.parts)
        .map(|p| counted.rows.iter().map(|(_, parts)| parts[p]).sum())
        .collect();
    let counts_of = |row: Option<usize>| -> [Shown; 8] {
        std::array::from_fn(|c| match row {
            Some(r) => {
                let (label, parts) = &counted.rows[r];
                protection.count(table, Some(label), c, value(parts, c))
            }
            None => protection.count(table, None, c, value(&all, c)),
        })
    };
    let totals = counts_of(None);
    let (shares, unmatched) = population.cloned().unwrap_or_default();
    let population_total: f64 = shares.iter().map(|(_, n)| n).sum();
    // Everyone in the column whose category is known: the total less those not giving
    // it (hidden if either is, since it would give the other away).
    let not_given = counted
        .rows
        .iter()
        .position(|(label, _)| label == NOT_GIVEN);
    let known = |column: usize| -> Shown {
        let given = not_given.map_or(Some(0), |r| counts_of(Some(r))[column])?;
        totals[column].map(|total| total - given)
    };
    let known_invited = known(INVITED);
    let known_respondents = known(RESPONDENTS);
    let mut rows = Vec::new();
    for (r, (label, _)) in counted.rows.iter().enumerate() {
        let counts = counts_of(Some(r));
        let population_share = shares
            .iter()
            .find(|(l, _)| l == label)
            .filter(|_| population_total > 0.0)
            .map(|(_, n)| n / population_total);
        let given = label != NOT_GIVEN;
        let respondent_share = ratio_of(counts[RESPONDENTS], known_respondents).filter(|_| given);
        let ratio = match (counts[RESPONDENTS], known_respondents, population_share) {
            (Some(c), Some(n), Some(p)) if given => {
                statistics::representation_ratio(c as f64, n as f64, p)
            }
            _ => None,
        };
        let flag = match ratio {
            Some((r, _, _)) if r < 1.0 - flag_beyond => Flag::Under,
            Some((r, _, _)) if r > 1.0 + flag_beyond => Flag::Over,
            _ => Flag::None,
        };
        rows.push(GroupRow {
            label: label.clone(),
            counts,
            population_share,
            invited_share: ratio_of(counts[INVITED], known_invited).filter(|_| given),
            respondent_share,
            ratio,
            flag,
            response_rate: ratio_of(counts[COMPLETED], counts[INVITED]),
            partial: None,
            weighted_share: None,
        });
    }
    // Goodness of fit over the categories with a population share, when every count it
    // uses is shown.
    let fitted: Vec<&GroupRow> = rows
        .iter()
        .filter(|r| r.population_share.is_some())
        .collect();
    let observed: Option<Vec<f64>> = fitted
        .iter()
        .map(|r| r.counts[RESPONDENTS].map(|c| c as f64))
        .collect();
    let expected: Vec<f64> = fitted.iter().filter_map(|r| r.population_share).collect();
    let respondents_without_benchmark = if shares.is_empty() {
        None
    } else {
        rows.iter()
            .filter(|r| r.population_share.is_none() && r.label != NOT_GIVEN)
            .try_fold(0, |sum, r| r.counts[RESPONDENTS].map(|c| sum + c))
    };
    let (dissimilarity, chi_square) = match &observed {
        Some(observed) if observed.iter().sum::<f64>() > 0.0 && !expected.is_empty() => (
            Some(statistics::dissimilarity(observed, &expected)),
            statistics::chi_square(observed, &expected),
        ),
        _ => (None, None),
    };
    let mut notes = Vec::new();
    if shares.is_empty() {
        notes.push(format!(
            "No population benchmark for {}: shares are shown without a comparison.",
            counted.name
        ));
    }
    if observed.is_none() {
        notes.push(
            "Some counts are hidden: the index of dissimilarity and the chi-square test, \
             which would reveal them, are not shown."
                .to_owned(),
        );
    }
    Split {
        name: counted.name.clone(),
        rows,
        totals,
        benchmarked: !shares.is_empty(),
        unmatched,
        respondents_without_benchmark,
        dissimilarity,
        chi_square,
        partial: None,
        notes,
    }
}

/// A split as a canonical table of `people`: the rows with anyone in them (a row of zeros
/// tells an attacker nothing), in label order with [`NOT_GIVEN`] last, whatever order or
/// empty rows the report shows; with their labels.
pub(crate) fn canonical(
    counted: &Counted,
    people: &Population,
    population: usize,
) -> (Vec<String>, CountTable) {
    let mut rows: Vec<&(String, Vec<u64>)> = counted
        .rows
        .iter()
        .filter(|(_, parts)| parts.iter().any(|&n| n > 0))
        .collect();
    rows.sort_by(|a, b| (a.0 == NOT_GIVEN, &a.0).cmp(&(b.0 == NOT_GIVEN, &b.0)));
    (
        rows.iter().map(|(label, _)| label.clone()).collect(),
        CountTable::full(
            people,
            population,
            rows.iter().map(|(_, parts)| parts.clone()).collect(),
        ),
    )
}

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
    /// SCRUTINY's tables, canonical (see `service::reports::disclosure::Tables`): the people's
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
    let flags = flag_counts(db, id).await?;
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
        let profiles = profiles(db, id).await?;
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

/// Bounced invitations and invitations opened only by machines.
async fn flag_counts(db: &impl ConnectionTrait, id: ConsultationId) -> AppResult<(u64, u64)> {
    let rows = query(
        db,
        format!(
            "SELECT COUNT(bounced_at), COALESCE(SUM({}), 0) \
             FROM invitations WHERE consultation_id = $1 AND revoked_at IS NULL",
            crate::service::consultations::invitations::machine_opened_only()
        ),
        vec![id.get().into()],
    )
    .await?;
    match rows.first() {
        Some(row) => Ok((count_of(row, 0)?, count_of(row, 1)?)),
        None => Ok((0, 0)),
    }
}

/// Stages first reached per day, for officers: each invitation counted on the day it first
/// got at least that far (the earliest of its times at that stage or beyond), as the
/// funnel counts it.
async fn days(db: &impl ConnectionTrait, id: ConsultationId) -> AppResult<Vec<Day>> {
    let stages = [
        (Stage::Sent, "sent_at"),
        (Stage::Opened, "opened_at"),
        (Stage::Clicked, "clicked_at"),
        (Stage::Started, "started_at"),
        (Stage::Completed, "completed_at"),
    ];
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    let sql = (0..stages.len())
        .map(|i| {
            let columns: Vec<&str> = stages[i..].iter().map(|(_, c)| *c).collect();
            // The earliest of the times set: PostgreSQL's LEAST skips nulls; SQLite's min
            // does not (and with one argument is the aggregate), so a null stands for a
            // day after every other (timestamps are stored as ISO text there).
            let first = match (postgres, columns.as_slice()) {
                (_, [one]) => (*one).to_owned(),
                (true, many) => format!("LEAST({})", many.join(", ")),
                (false, many) => {
                    let padded: Vec<String> = many
                        .iter()
                        .map(|c| format!("COALESCE({c}, '9999')"))
                        .collect();
                    format!("NULLIF(min({}), '9999')", padded.join(", "))
                }
            };
            let day = if postgres {
                format!("CAST(({first} AT TIME ZONE 'UTC') AS DATE)")
            } else {
                format!("substr({first}, 1, 10)")
            };
            format!(
                "SELECT {i} AS k, CAST({day} AS TEXT) AS d, COUNT(*) AS n FROM invitations \
                 WHERE consultation_id = $1 AND revoked_at IS NULL AND {} = 1 \
                 AND {first} IS NOT NULL GROUP BY 2",
                crate::service::consultations::invitations::reached(stages[i].0)
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let rows = query(db, sql, vec![id.get().into()]).await?;
    let mut days: BTreeMap<NaiveDate, [u64; 5]> = BTreeMap::new();
    for row in &rows {
        let k: i32 = row.try_get_by_index(0)?;
        let d: String = row.try_get_by_index(1)?;
        let Ok(day) = NaiveDate::parse_from_str(d.get(..10).unwrap_or(&d), "%Y-%m-%d") else {
            continue;
        };
        if let Some(slot) = days.entry(day).or_default().get_mut(k as usize) {
            *slot += count_of(row, 2)?;
        }
    }
    Ok(days
        .into_iter()
        .map(|(day, counts)| Day { day, counts })
        .collect())
}

/// Response propensities over cells of `dimensions` (one grouped query), the R-indicator,
/// and the partial indicators written into the matching splits. For SCRUTINY, a partial
/// is shown only where its category's invited and completed counts are, and R only when
/// both respondents and non-respondents are at least the threshold (they are shown then).
async fn propensity(
    db: &impl ConnectionTrait,
    id: ConsultationId,
    day: NaiveDate,
    dimensions: &[ReportDimension],
    splits: &mut [Split],
    protected: bool,
    scheme: Option<&AgeScheme>,
) -> AppResult<Propensity> {
    let mut values: Vec<Value> = vec![id.get().into()];
    if dimensions.contains(&ReportDimension::AgeBand) {
        values.extend(age_cutoffs(day));
    }
    let select: Vec<String> = dimensions.iter().map(|d| d.member_sql()).collect();
    let groups: Vec<String> = (1..=dimensions.len()).map(|i| i.to_string()).collect();
    let rows = query(
        db,
        format!(
            "SELECT {}, COUNT(*), COUNT(i.completed_at) FROM invitations i \
             JOIN residents r ON r.id = i.resident_id \
             WHERE i.consultation_id = $1 AND i.revoked_at IS NULL GROUP BY {}",
            select.join(", "),
            groups.join(", ")
        ),
        values,
    )
    .await?;
    // Categories per dimension, in the split's row order.
    let labels: Vec<Vec<String>> = dimensions
        .iter()
        .map(|d| {
            splits
                .iter()
                .find(|s| s.name == d.as_str())
                .map(|s| s.rows.iter().map(|r| r.label.clone()).collect())
                .unwrap_or_default()
        })
        .collect();
    let mut cells = Vec::new();
    for row in &rows {
        let mut categories = Vec::new();
        for (k, dimension) in dimensions.iter().enumerate() {
            let raw: Option<String> = row.try_get_by_index(k)?;
            let label = dimension.label_in(raw.as_deref(), scheme);
            categories.push(labels[k].iter().position(|l| *l == label).unwrap_or(0));
        }
        cells.push(Cell {
            categories,
            invited: count_of(row, dimensions.len())?,
            responded: count_of(row, dimensions.len() + 1)?,
        });
    }
    let sizes: Vec<usize> = labels.iter().map(|l| l.len().max(1)).collect();
    let dims: Vec<ReportDimension> = dimensions.to_vec();
    let Some(r) = statistics::r_indicator(&cells, &sizes) else {
        return Ok(Propensity {
            dimensions: dims,
            r: None,
            s: None,
            mean: None,
            note: Some("Nobody was invited.".to_owned()),
        });
    };
    // For SCRUTINY: R is one more equation in the cells' counts, so it is shown only when
    // every group of every propensity dimension has its invited and completed counts
    // shown (and it says nothing when everyone or no one responded).
    let all_shown = dimensions.iter().all(|d| {
        splits
            .iter()
            .find(|s| s.name == d.as_str())
            .is_some_and(|s| {
                s.rows
                    .iter()
                    .all(|r| r.counts[INVITED].is_some() && r.counts[COMPLETED].is_some())
            })
    });
    for (dimension, partial) in dimensions.iter().zip(&r.partials) {
        let Some(split) = splits.iter_mut().find(|s| s.name == dimension.as_str()) else {
            continue;
        };
        split.partial =
            (!protected || all_shown).then_some((partial.unconditional, partial.conditional));
        // Conditional partials come from unpublished cross-classified cells: for SCRUTINY,
        // like R, only with every count shown.
        for (row, &(u, c)) in split.rows.iter_mut().zip(&partial.categories) {
            row.partial = (!protected || all_shown).then_some((u, c));
        }
    }
    let invited: u64 = cells.iter().map(|c| c.invited).sum();
    let responded: u64 = cells.iter().map(|c| c.responded).sum();
    let visible = !protected || all_shown && responded > 0 && responded < invited;
    Ok(Propensity {
        dimensions: dims,
        r: visible.then_some(r.r),
        s: visible.then_some(r.s),
        mean: visible.then_some(r.mean),
        note: (!visible).then(|| {
            "Not shown: the number of respondents or non-respondents is too small to publish."
                .to_owned()
        }),
    })
}

/// (question, option key or scale value, rank, open link, weighting cell, count).
type AnswerRow = (String, String, Option<i32>, bool, Vec<String>, u64);

/// Answers counted by question, option or scale value, rank, part (0 from an invitation,
/// 1 open link) and weighting cell.
#[derive(Default)]
struct AnswerCounts {
    /// (question, option key or scale, rank, open, cell key) → count.
    rows: Vec<AnswerRow>,
    /// (question, open, cell key) → respondents who answered it.
    answered: Vec<(String, bool, Vec<String>, u64)>,
}

/// The SQL of a weighting cell over `responses s` (a leading comma before each column,
/// nothing for no dimension) and its `GROUP BY` positions from `first`.
fn cell_sql(dims: &[ReportDimension], first: usize) -> (String, String) {
    let select: String = dims
        .iter()
        .map(|d| format!(", {}", d.response_sql()))
        .collect();
    let group: String = (first..first + dims.len())
        .map(|i| format!(", {i}"))
        .collect();
    (select, group)
}

/// A weighting cell's key (the labels of `dims`) from a row's columns from `from`.
fn cell_key(
    row: &sea_orm::QueryResult,
    from: usize,
    dims: &[ReportDimension],
    scheme: Option<&AgeScheme>,
) -> AppResult<Vec<String>> {
    dims.iter()
        .enumerate()
        .map(|(k, d)| {
            let raw: Option<String> = row.try_get_by_index(from + k)?;
            Ok(d.label_in(raw.as_deref(), scheme))
        })
        .collect()
}

/// Answers counted by question, option and weighting cell (of the weighting dimensions
/// `dims`): two grouped queries.
async fn answer_counts(
    db: &impl ConnectionTrait,
    id: ConsultationId,
    dims: &[ReportDimension],
    questions: &[QuestionItem],
    scheme: Option<&AgeScheme>,
) -> AppResult<AnswerCounts> {
    let (cell, group) = cell_sql(dims, 5);
    let rows = query(
        db,
        format!(
            "SELECT a.question_key, COALESCE(a.option_key, CAST(a.scale AS TEXT)), a.rank, \
               CASE WHEN s.channel = 'qr' THEN 1 ELSE 0 END{cell}, COUNT(*) \
             FROM answers a JOIN responses s ON s.id = a.response_id \
             WHERE s.consultation_id = $1 AND (a.option_key IS NOT NULL OR a.scale IS NOT NULL) \
               AND (a.rank IS NULL OR a.rank = 1) \
             GROUP BY 1, 2, 3, 4{group}"
        ),
        vec![id.get().into()],
    )
    .await?;
    let mut counts = AnswerCounts::default();
    for row in &rows {
        let open: i32 = row.try_get_by_index(3)?;
        counts.rows.push((
            row.try_get_by_index(0)?,
            row.try_get_by_index::<Option<String>>(1)?
                .unwrap_or_default(),
            row.try_get_by_index(2)?,
            open == 1,
            cell_key(row, 4, dims, scheme)?,
            count_of(row, 4 + dims.len())?,
        ));
    }
    // A respondent gives one answer row to a single choice, a scale or a ranking's first
    // place: those rows count who answered. Multiple choices (a row per option ticked)
    // and free text (no option) are counted in the database.
    let (one_row, counted): (Vec<&QuestionItem>, Vec<&QuestionItem>) =
        questions.iter().partition(|q| {
            !matches!(
                q.question.kind,
                QuestionKind::MultipleChoice { .. } | QuestionKind::FreeText { .. }
            )
        });
    for q in one_row {
        let mut by_cell: HashMap<(bool, Vec<String>), u64> = HashMap::new();
        for (key, _, _, open, cell, n) in &counts.rows {
            if *key == q.question.key {
                *by_cell.entry((*open, cell.clone())).or_default() += n;
            }
        }
        counts.answered.extend(
            by_cell
                .into_iter()
                .map(|((open, cell), n)| (q.question.key.clone(), open, cell, n)),
        );
    }
    if counted.is_empty() {
        return Ok(counts);
    }
    let (cell, group) = cell_sql(dims, 3);
    let keys: Vec<String> = (0..counted.len()).map(|i| format!("${}", i + 2)).collect();
    let mut values: Vec<Value> = vec![id.get().into()];
    values.extend(counted.iter().map(|q| q.question.key.clone().into()));
    let rows = query(
        db,
        format!(
            "SELECT a.question_key, CASE WHEN s.channel = 'qr' THEN 1 ELSE 0 END{cell}, \
               COUNT(DISTINCT a.response_id) \
             FROM answers a JOIN responses s ON s.id = a.response_id \
             WHERE s.consultation_id = $1 AND a.question_key IN ({}) GROUP BY 1, 2{group}",
            keys.join(", ")
        ),
        values,
    )
    .await?;
    for row in &rows {
        let open: i32 = row.try_get_by_index(1)?;
        counts.answered.push((
            row.try_get_by_index(0)?,
            open == 1,
            cell_key(row, 2, dims, scheme)?,
            count_of(row, 2 + dims.len())?,
        ));
    }
    Ok(counts)
}

/// One disclosure table of a question, and what its rows are.
struct QuestionTable {
    /// Its name: `question:<key>`, or `question:<key>:<option>` for one option's table of
    /// a multiple-choice question.
    name: String,
    table: CountTable,
    /// Each shown row's option key (or scale value); a row that is not an option (who
    /// answered a free-text question, who answered without ticking an option) is keyed
    /// by the empty string.
    keys: Vec<String>,
    /// Row groups' names (`promoters`, `detractors`, `agree`, `disagree`).
    group_names: Vec<&'static str>,
}

/// The option keys (or scale values) of a question with their labels.
fn options_of(item: &QuestionItem) -> Vec<(String, String)> {
    let labelled = |options: &Vec<String>| {
        options
            .iter()
            .enumerate()
            .map(|(i, k)| {
                (
                    k.clone(),
                    item.labels.get(i).cloned().unwrap_or_else(|| k.clone()),
                )
            })
            .collect()
    };
    match &item.question.kind {
        QuestionKind::SingleChoice { options }
        | QuestionKind::MultipleChoice { options, .. }
        | QuestionKind::Ranking { options } => labelled(options),
        QuestionKind::Agreement => [
            "Strongly disagree",
            "Disagree",
            "Neither agree nor disagree",
            "Agree",
            "Strongly agree",
        ]
        .iter()
        .enumerate()
        .map(|(i, l)| ((i + 1).to_string(), (*l).to_owned()))
        .collect(),
        QuestionKind::Rating => (0..=10).map(|v| (v.to_string(), v.to_string())).collect(),
        QuestionKind::FreeText { .. } => Vec::new(),
    }
}

fn kind_name(kind: &QuestionKind) -> &'static str {
    match kind {
        QuestionKind::SingleChoice { .. } => "single_choice",
        QuestionKind::MultipleChoice { .. } => "multiple_choice",
        QuestionKind::Agreement => "agreement",
        QuestionKind::Rating => "rating",
        QuestionKind::FreeText { .. } => "free_text",
        QuestionKind::Ranking { .. } => "ranking",
    }
}

/// The disclosure tables of question number `index`: one partition of everyone when each
/// respondent gives one answer (single choice, scales, first choice of a ranking, multiple
/// choice of at most one), one table per option when a respondent may tick several
/// (multiple choice), and a table of
/// the number who answered (free text). Each ends with the unpublished rest of the
/// consultation's people, so that its parts add up to theirs (`part_totals`).
fn question_tables(
    item: &QuestionItem,
    index: usize,
    answers: &AnswerCounts,
    part_totals: &[u64],
) -> Vec<QuestionTable> {
    let key = &item.question.key;
    let part = |open: bool| if open { OPEN_PART } else { OPEN_PART - 1 };
    let with_rest = |mut rows: Vec<Vec<u64>>| {
        let mut rest: Vec<u64> = part_totals.to_vec();
        for row in &rows {
            for (p, n) in row.iter().enumerate() {
                rest[p] = rest[p].saturating_sub(*n);
            }
        }
        rows.push(rest);
        rows
    };
    let table = |rows: Vec<Vec<u64>>, groups: Vec<Vec<usize>>| CountTable {
        population: 0,
        counts: with_rest(rows),
        residual: true,
        columns: vec![RESPONDENTS],
        groups,
        linked: Vec::new(),
        ticks: None,
    };
    let options = options_of(item);
    let count_rows = |option: &str| -> Vec<u64> {
        let mut parts = vec![0; OPEN_PART + 1];
        for (q, o, _, open, _, n) in &answers.rows {
            if q == key && o == option {
                parts[part(*open)] += n;
            }
        }
        parts
    };
    let mut answered = vec![0; OPEN_PART + 1];
    for (q, open, _, n) in &answers.answered {
        if q == key {
            answered[part(*open)] += n;
        }
    }
    match &item.question.kind {
        // At most one tick (and never none: an empty answer is not stored) is one answer
        // each, the options adding up to who answered: the one-answer table below.
        QuestionKind::MultipleChoice { max, .. } if *max != Some(1) => {
            // Each option its own table (a respondent may tick several): those who ticked
            // it and those who answered without ticking it, never shown but known to
            // anyone who has both figures, so protected too. Their sum, who answered, is
            // one figure linked across the options' tables: an option is never ticked by
            // more than answered, and the options' ticks add up to between who answered
            // and the maximum times them.
            options
                .iter()
                .map(|(option, _)| {
                    let chose = count_rows(option);
                    let other = answered
                        .iter()
                        .zip(&chose)
                        .map(|(a, c)| a.saturating_sub(*c))
                        .collect();
                    QuestionTable {
                        name: format!("question:{key}:{option}"),
                        table: CountTable {
                            linked: vec![(0, index)],
                            ticks: Some(Ticks {
                                key: index,
                                row: 0,
                                answered: 0,
                                max: *max,
                            }),
                            ..table(vec![chose, other], vec![vec![0, 1]])
                        },
                        keys: vec![option.clone(), String::new()],
                        group_names: vec![ANSWERED],
                    }
                })
                .collect()
        }
        QuestionKind::FreeText { .. } => vec![QuestionTable {
            name: format!("question:{key}"),
            table: table(vec![answered], Vec::new()),
            keys: vec![String::new()],
            group_names: Vec::new(),
        }],
        kind => {
            // One answer each: the number who answered is the sum of the options' rows,
            // published as a group of them so that the protection sees it.
            let (mut groups, mut group_names): (Vec<Vec<usize>>, Vec<&'static str>) = match kind {
                QuestionKind::Rating => (
                    vec![(9..=10).collect(), (0..=6).collect()],
                    vec!["promoters", "detractors"],
                ),
                QuestionKind::Agreement => {
                    (vec![vec![3, 4], vec![0, 1]], vec!["agree", "disagree"])
                }
                _ => (Vec::new(), Vec::new()),
            };
            groups.push((0..options.len()).collect());
            group_names.push(ANSWERED);
            vec![QuestionTable {
                name: format!("question:{key}"),
                table: table(options.iter().map(|(o, _)| count_rows(o)).collect(), groups),
                keys: options.iter().map(|(o, _)| o.clone()).collect(),
                group_names,
            }]
        }
    }
}

/// The row group of a question's table that counts who answered it (in each option's
/// table of a multiple-choice question).
const ANSWERED: &str = "answered";

/// What a question's results are worked out with.
struct QuestionContext<'a> {
    people: &'a Population,
    answers: &'a AnswerCounts,
    weights: &'a CellWeights,
    protected: bool,
    /// What the reader may not see, by the question tables' names.
    protection: &'a Protection,
}

/// A score from NPS or net agreement answers (`(value, weight)` pairs).
fn score_of(kind: &QuestionKind, pairs: &[(u8, f64)]) -> Option<Score> {
    match kind {
        QuestionKind::Rating => statistics::net_promoter(pairs).map(|s| Score {
            value: s.score,
            standard_error: s.standard_error,
            low: s.low,
            high: s.high,
        }),
        QuestionKind::Agreement => statistics::net_agreement(pairs).map(|(v, se)| Score {
            value: v,
            standard_error: se,
            low: v - statistics::Z95 * se,
            high: v + statistics::Z95 * se,
        }),
        _ => None,
    }
}

impl QuestionContext<'_> {
    /// Weighted answers to `key` with `option` (all options when `None`).
    fn weighted(&self, key: &str, option: Option<&str>) -> f64 {
        self.answers
            .rows
            .iter()
            .filter(|(q, o, ..)| q == key && option.is_none_or(|option| o == option))
            .filter_map(|(_, _, _, _, cell, n)| self.weights.get(cell).map(|w| w * *n as f64))
            .sum()
    }

    /// Each answer of a scale question with weight 1, or with its cell's weight (answers
    /// outside the weighting left out).
    fn scale_answers(&self, key: &str, weighted: bool) -> Vec<(u8, f64)> {
        let mut pairs = Vec::new();
        for (q, o, _, _, cell, n) in &self.answers.rows {
            let Ok(v) = o.parse::<u8>() else { continue };
            if q != key {
                continue;
            }
            let w = match (weighted, self.weights.get(cell)) {
                (false, _) => 1.0,
                (true, Some(w)) => *w,
                (true, None) => continue,
            };
            pairs.extend(std::iter::repeat_n((v, w), *n as usize));
        }
        pairs
    }

    /// A question's results (without the change since the previous round).
    fn result(&self, item: &QuestionItem, tables: &[QuestionTable]) -> QuestionResult {
        let key = &item.question.key;
        let first = &tables[0];
        // Who answered: a table of its own, or the "answered" group of the options' table.
        let answered = match first.group_names.iter().position(|g| *g == ANSWERED) {
            Some(g) => shown(
                first
                    .table
                    .value(self.people, Some(&first.table.groups[g]), 0),
                self.protection.hides_group(&first.name, g, 0),
            ),
            None => self.protection.count(
                &first.name,
                Some(&first.keys[0]),
                0,
                first.table.value(self.people, Some(&[0]), 0),
            ),
        };
        let weighted_answered: f64 = self
            .answers
            .answered
            .iter()
            .filter(|(q, ..)| q == key)
            .filter_map(|(_, _, cell, n)| self.weights.get(cell).map(|w| w * *n as f64))
            .sum();
        let mut options = Vec::new();
        for (option, label) in options_of(item) {
            // The table and row holding this option.
            let found = tables.iter().enumerate().find_map(|(t, table)| {
                table.keys.iter().position(|k| *k == option).map(|r| (t, r))
            });
            let count = found.and_then(|(t, r)| {
                self.protection.count(
                    &tables[t].name,
                    Some(&tables[t].keys[r]),
                    0,
                    tables[t].table.value(self.people, Some(&[r]), 0),
                )
            });
            let weighted_share = (count.is_some() && weighted_answered > 0.0)
                .then(|| self.weighted(key, Some(&option)) / weighted_answered);
            options.push(OptionResult {
                share: ratio_of(count, answered),
                key: option,
                label,
                count,
                weighted_share,
            });
        }
        // A score is worked out from published groups (promoters and detractors, those
        // agreeing and disagreeing) and the number who answered: all must be shown.
        let groups_shown = first.group_names.len() > 1
            && (0..first.group_names.len())
                .all(|g| !self.protection.hides_group(&first.name, g, 0))
            && answered.is_some();
        let kind = &item.question.kind;
        let scored = matches!(kind, QuestionKind::Rating | QuestionKind::Agreement)
            && (!self.protected || groups_shown);
        let score = scored
            .then(|| score_of(kind, &self.scale_answers(key, false)))
            .flatten();
        let weighted_score = (scored && !self.weights.is_empty())
            .then(|| score_of(kind, &self.scale_answers(key, true)))
            .flatten();
        QuestionResult {
            key: key.clone(),
            text: item.question.text.clone(),
            kind: kind_name(kind),
            answered,
            options,
            score,
            weighted_score,
            change: None,
        }
    }
}

/// The same question's unweighted score in the latest earlier round of the series, and
/// the test of the change (OFFICER).
async fn previous_round(
    db: &impl ConnectionTrait,
    consultation: &Consultation,
    item: &QuestionItem,
    score: Score,
) -> AppResult<Option<Change>> {
    let rows = query(
        db,
        "SELECT c.id, c.title, a.scale, COUNT(*) FROM consultations c \
         JOIN responses s ON s.consultation_id = c.id \
         JOIN answers a ON a.response_id = s.id \
         WHERE c.series_id = $1 AND c.id < $2 AND a.question_key = $3 AND a.scale IS NOT NULL \
           AND c.id = (SELECT MAX(p.id) FROM consultations p JOIN responses ps \
                         ON ps.consultation_id = p.id \
                       WHERE p.series_id = $1 AND p.id < $2) \
         GROUP BY 1, 2, 3"
            .to_owned(),
        vec![
            consultation.series.get().into(),
            consultation.id.get().into(),
            item.question.key.clone().into(),
        ],
    )
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let previous: i64 = first.try_get_by_index(0)?;
    let title: String = first.try_get_by_index(1)?;
    let mut pairs = Vec::new();
    for row in &rows {
        let v: i16 = row.try_get_by_index(2)?;
        let n = count_of(row, 3)?;
        pairs.extend(std::iter::repeat_n(
            (u8::try_from(v).unwrap_or(u8::MAX), 1.0),
            n as usize,
        ));
    }
    Ok(
        score_of(&item.question.kind, &pairs).map(|previous_score| Change {
            previous: ConsultationId(previous),
            previous_title: title,
            previous_score,
            difference: score.value - previous_score.value,
            p_value: statistics::change_p_value(
                score.value,
                score.standard_error,
                previous_score.value,
                previous_score.standard_error,
            ),
        }),
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::consultations::questionnaire::Question;

    /// A multiple-choice question `key` with options a, b and c, ticked by 15, 3 and 12
    /// of 30 completed invitations (each ticking one), with 40 people in all.
    fn tables_of(max: Option<usize>) -> (Population, Vec<CountTable>) {
        let item = QuestionItem {
            question: Question {
                key: "contact".to_owned(),
                text: "How should we contact you?".to_owned(),
                kind: QuestionKind::MultipleChoice {
                    options: vec!["a".to_owned(), "b".to_owned(), "c".to_owned()],
                    max,
                },
                required: false,
                show_when: None,
            },
            labels: Vec::new(),
            about_you: None,
        };
        let completed = OPEN_PART - 1;
        let rows = [("a", 15), ("b", 3), ("c", 12)]
            .iter()
            .map(|(o, n)| {
                (
                    "contact".to_owned(),
                    (*o).to_owned(),
                    None,
                    false,
                    Vec::new(),
                    *n,
                )
            })
            .collect();
        let answers = AnswerCounts {
            rows,
            answered: vec![("contact".to_owned(), false, Vec::new(), 30)],
        };
        let mut totals = vec![0; OPEN_PART + 1];
        totals[completed] = 30;
        totals[0] = 10;
        let tables = question_tables(&item, 0, &answers, &totals)
            .into_iter()
            .map(|t| t.table)
            .collect();
        (people(), tables)
    }

    #[test]
    fn a_multiple_choice_of_at_most_one_is_protected_as_one_answer_each() {
        // Shown alone, the 15, the 12 and the 30 who answered would give away the 3.
        let (population, tables) = tables_of(Some(1));
        assert_eq!(
            tables.len(),
            1,
            "one table, its options adding up to who answered"
        );
        let hidden = disclosure::protect(std::slice::from_ref(&population), &tables, 10).unwrap();
        let h = &hidden[0];
        assert!(h.cells[1][0], "the 3 is hidden");
        assert!(
            h.cells[0][0] || h.cells[2][0] || h.groups[0][0],
            "and so is one of the figures it could be worked out from: {h:?}"
        );
        // Several ticks allowed: a table per option, each saying how many an answer may
        // have.
        let (_, tables) = tables_of(None);
        assert_eq!(tables.len(), 3);
        let (_, tables) = tables_of(Some(2));
        assert!(
            tables
                .iter()
                .all(|t| t.ticks.as_ref().is_some_and(|k| k.max == Some(2))),
            "{tables:?}"
        );
    }
}
