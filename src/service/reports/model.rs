//! What a consultation report is made of: the dimensions it splits by (from
//! `domain::reports::dimension`), the options it takes, and the tables, rows and figures it
//! publishes.

use super::*;

pub use crate::domain::reports::dimension::{NOT_GIVEN, ReportDimension};

/// Who may read reports: officers in full, scrutiny members with small counts hidden.
pub const READERS: &[Role] = &[Role::Officer, Role::Scrutiny];

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
pub(super) const OPEN_PART: usize = Stage::ALL.len();

/// The people of a consultation, parted by furthest stage (invitations) or as open-link
/// responses.
pub(super) fn people() -> Population {
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
    /// The category: census categories in the census's wording, others as stored, and
    /// [`NOT_GIVEN`] for people who did not say.
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
    /// S(ρ̂), the standard deviation of the cells' response propensities.
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
    pub(super) fn not_asked(options: &ReportOptions) -> Self {
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
    /// Its standard error (from the effective sample size when weighted).
    pub standard_error: f64,
    /// Interval's lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

/// A score against the previous round of the same consultation.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The previous consultation of the series.
    pub previous: ConsultationId,
    /// The previous consultation's title, as it is now.
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
    /// Its share once weighted; `None` when its count is hidden or no answer carries a
    /// weight.
    pub weighted_share: Option<f64>,
}

/// One question's answers, counted and scored, unweighted and weighted.
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
    /// The consultation reported on, as it is now.
    pub consultation: Consultation,
    /// The benchmark area compared with.
    pub area_code: Option<String>,
    /// Ages are worked out on this day.
    pub reference_day: NaiveDate,
    /// The threshold applied (`None` for readers who see everything).
    pub threshold: Option<u64>,
    /// Whether anything was hidden.
    pub suppressed: bool,
    /// How far every invitation got, with bounces and machine-only opens counted apart.
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
    /// Whether respondents were raked to the population, on what, and how well it worked.
    pub weighting: Weighting,
    /// Per question.
    pub questions: Vec<QuestionResult>,
}
