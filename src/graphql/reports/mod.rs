//! Reports in the API: a consultation's funnel, its respondents against the population,
//! response propensities and weighted results (OFFICER in full; SCRUTINY with small counts
//! and anything worked out from them hidden, as `null`).

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::NaiveDate;

use crate::domain::ids::{ConsultationId, PanelId, SelectionRunId};
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::graphql::id;
use crate::service::reports::{self, ReportDimension, ReportOptions};

mod panel_health;
mod selection_run;

// The parts see one another's items, as they did when they were one file.
#[allow(unused_imports)]
use {panel_health::*, selection_run::*};

pub use panel_health::{
    EngagementGroup, EngagementPoint, PanelCounts, PanelReport, PanelReportGroup, PanelReportSplit,
};
pub use selection_run::{ProbabilityRange, SelectionReport, SelectionReportValue};

/// A dimension reports split people by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "ReportDimension",
    remote = "crate::service::reports::ReportDimension"
)]
pub enum DimensionValue {
    /// Census five-year age band.
    AgeBand,
    /// Female or male, as the census asks it.
    Sex,
    /// Ethnic group (the census's 19 groups).
    EthnicGroup,
    /// Disability under the Equality Act.
    Disability,
    /// Ward (by code).
    Ward,
    /// Deprivation decile of the address (1 most deprived).
    DeprivationDecile,
}

/// A span of ages in whole years, both ends included.
#[derive(InputObject, Clone, Copy, Debug)]
pub struct AgeRangeInput {
    /// Youngest age in the range.
    pub from: u32,
    /// Oldest age in the range; none for no upper end.
    pub to: Option<u32>,
}

/// Weight trimming bounds, as multiples of the mean weight.
#[derive(InputObject, Clone, Copy, Debug)]
pub struct TrimInput {
    /// Smallest weight allowed (e.g. 0.3).
    pub low: f64,
    /// Largest weight allowed (e.g. 3.0).
    pub high: f64,
}

/// How a report is worked out. Everything is optional.
#[derive(InputObject, Clone, Debug, Default)]
pub struct ReportInput {
    /// The benchmark area to compare with (e.g. `E06000020`); needed only when more than
    /// one area's benchmarks are imported.
    pub area_code: Option<String>,
    /// Flag groups whose representation ratio is below 1 − this or above 1 + this
    /// (default 0.2).
    pub flag_beyond: Option<f64>,
    /// The young people called out (default 16 to 24).
    pub young_people: Option<AgeRangeInput>,
    /// The youngest age members can be; the population is compared from this age
    /// (default 16).
    pub min_age: Option<u32>,
    /// Dimensions of the response-propensity cells for the R-indicator (default age band,
    /// sex, disability).
    pub propensity_dimensions: Option<Vec<DimensionValue>>,
    /// Dimensions respondents are raked on (default age band and sex; empty for none).
    pub weighting_dimensions: Option<Vec<DimensionValue>>,
    /// Trim weights to this range after each raking sweep.
    pub trim: Option<TrimInput>,
}

impl ReportInput {
    fn options(self) -> ReportOptions {
        let defaults = ReportOptions::default();
        let dimensions = |values: Option<Vec<DimensionValue>>, default: Vec<ReportDimension>| {
            values.map_or(default, |v| v.into_iter().map(Into::into).collect())
        };
        ReportOptions {
            area_code: self.area_code,
            flag_beyond: self.flag_beyond.unwrap_or(defaults.flag_beyond),
            young: self.young_people.map_or(defaults.young, |r| (r.from, r.to)),
            min_age: self.min_age.unwrap_or(defaults.min_age),
            propensity: dimensions(self.propensity_dimensions, defaults.propensity),
            weighting: dimensions(self.weighting_dimensions, defaults.weighting),
            trim: self.trim.map(|t| (t.low, t.high)),
            results: true,
        }
    }
}

/// A number, or nothing when it is not a finite number.
fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// Counts of one group of people (`null` where hidden from the reader).
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct ReportCounts {
    /// Invitations made (not revoked).
    pub invited: Option<u64>,
    /// Invitations sent or printed (or further).
    pub sent: Option<u64>,
    /// Opened by a person, or further (machine opens are not counted).
    pub opened: Option<u64>,
    /// Link followed, or further.
    pub clicked: Option<u64>,
    /// An answer saved, or submitted.
    pub started: Option<u64>,
    /// Submitted, whatever the channel (paper and phone included).
    pub completed: Option<u64>,
    /// Responses through the open link or QR code.
    pub open_link: Option<u64>,
    /// Every respondent: completed invitations and open-link responses.
    pub respondents: Option<u64>,
}

impl From<[Option<u64>; 8]> for ReportCounts {
    fn from(c: [Option<u64>; 8]) -> Self {
        Self {
            invited: c[0],
            sent: c[1],
            opened: c[2],
            clicked: c[3],
            started: c[4],
            completed: c[5],
            open_link: c[6],
            respondents: c[7],
        }
    }
}

/// Whether a group is under- or over-represented among respondents.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "RepresentationFlag", remote = "crate::service::reports::Flag")]
pub enum FlagValue {
    /// Within the threshold, or not known.
    None,
    /// Representation ratio below 1 − `flagBeyond`.
    Under,
    /// Representation ratio above 1 + `flagBeyond`.
    Over,
}

/// A value with its 95 % interval.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct Estimate {
    /// The point estimate; the interval need not be centred on it.
    pub value: f64,
    /// The interval's lower end.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
}

/// Partial R-indicators.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct PartialIndicator {
    /// Unconditional: for a category, signed (negative: responds less than average); for a
    /// dimension, the spread between its categories.
    pub unconditional: f64,
    /// Conditional: the spread left within the cells of every other dimension.
    pub conditional: f64,
}

fn partial((unconditional, conditional): (f64, f64)) -> Option<PartialIndicator> {
    Some(PartialIndicator {
        unconditional: finite(unconditional)?,
        conditional: finite(conditional)?,
    })
}

/// One category of a split.
#[derive(SimpleObject, Clone, Debug)]
pub struct ReportGroup {
    /// The category (the census's wording; `Not given` for people who did not say).
    pub label: String,
    /// How far the people in this category got, from invited to responded.
    pub counts: ReportCounts,
    /// Its share of the population (census benchmarks), when known.
    pub population_share: Option<f64>,
    /// Its share of the invited members whose category is known.
    pub invited_share: Option<f64>,
    /// Its share of the respondents whose category is known.
    pub respondent_share: Option<f64>,
    /// Respondent share ÷ population share, with a 95 % interval (Wilson interval of the
    /// respondent share).
    pub representation_ratio: Option<Estimate>,
    /// Flagged when the ratio is beyond the report's threshold.
    pub flag: FlagValue,
    /// Completed ÷ invited.
    pub response_rate: Option<f64>,
    /// The category's partial R-indicators (when its dimension is a propensity dimension).
    pub partial_indicator: Option<PartialIndicator>,
    /// Its share of the weighted respondents whose category is known, by the profile
    /// stored with each response (as weighting uses it): on a weighting dimension it is
    /// the raked margin, the population share of the categories weighted. OFFICER only
    /// (`null` for SCRUTINY, like every weighted figure), on the six dimensions' splits,
    /// when the respondents are weighted; `null` for `Not given`.
    pub weighted_share: Option<f64>,
}

/// Chi-square goodness of fit.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct ChiSquareTest {
    /// The statistic Σ (O − E)² / E.
    pub statistic: f64,
    /// Degrees of freedom: the categories with a population share, less one.
    pub degrees_of_freedom: u32,
    /// The chance of a statistic this large if respondents were drawn from the population.
    pub p_value: f64,
}

/// People split by one dimension.
#[derive(SimpleObject, Clone, Debug)]
pub struct ReportSplit {
    /// `age_band`, `sex`, `ethnic_group`, `disability`, `ward`, `deprivation_decile`,
    /// `young_people` or `channel`.
    pub name: String,
    /// The population's categories first, then any others, then `Not given`.
    pub groups: Vec<ReportGroup>,
    /// Everyone.
    pub totals: ReportCounts,
    /// Whether the population has a benchmark for it.
    pub benchmarked: bool,
    /// Benchmark categories that name no category, as written (left out of the shares).
    pub unmatched_benchmarks: Vec<String>,
    /// Respondents in categories the benchmark does not have.
    pub respondents_without_benchmark: Option<u64>,
    /// Duncan's index of dissimilarity between respondents and population (0 to 1: the
    /// share of respondents who would have to change category to match).
    pub dissimilarity: Option<f64>,
    /// Chi-square goodness of fit of respondents to the population.
    pub chi_square: Option<ChiSquareTest>,
    /// The dimension's partial R-indicators.
    pub partial_indicator: Option<PartialIndicator>,
    /// What the reader should know about this split.
    pub notes: Vec<String>,
}

impl From<reports::Split> for ReportSplit {
    fn from(split: reports::Split) -> Self {
        Self {
            name: split.name,
            groups: split
                .rows
                .into_iter()
                .map(|row| ReportGroup {
                    label: row.label,
                    counts: row.counts.into(),
                    population_share: row.population_share.and_then(finite),
                    invited_share: row.invited_share.and_then(finite),
                    respondent_share: row.respondent_share.and_then(finite),
                    representation_ratio: row.ratio.and_then(|(value, low, high)| {
                        Some(Estimate {
                            value: finite(value)?,
                            low: finite(low)?,
                            high: finite(high)?,
                        })
                    }),
                    flag: row.flag.into(),
                    response_rate: row.response_rate.and_then(finite),
                    partial_indicator: row.partial.and_then(partial),
                    weighted_share: row.weighted_share.and_then(finite),
                })
                .collect(),
            totals: split.totals.into(),
            benchmarked: split.benchmarked,
            unmatched_benchmarks: split.unmatched,
            respondents_without_benchmark: split.respondents_without_benchmark,
            dissimilarity: split.dissimilarity.and_then(finite),
            chi_square: split.chi_square.and_then(|c| {
                Some(ChiSquareTest {
                    statistic: finite(c.statistic)?,
                    degrees_of_freedom: c.degrees_of_freedom,
                    p_value: finite(c.p_value)?,
                })
            }),
            partial_indicator: split.partial.and_then(partial),
            notes: split.notes,
        }
    }
}

/// The funnel of a consultation's invitations.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct ReportFunnel {
    /// Counts at each stage (each counts those that got at least that far).
    pub counts: ReportCounts,
    /// Invitations whose delivery bounced.
    pub bounced: Option<u64>,
    /// Invitations opened only by machines (mail-privacy proxies, scanners), never by a
    /// person: reported apart because they say nothing about a person.
    pub machine_opened_only: Option<u64>,
}

/// Stages first reached on one day (UTC).
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct ReportDay {
    /// A calendar day in UTC.
    pub day: NaiveDate,
    /// Invitations that first got at least as far as sent (or printed) that day.
    pub sent: u64,
    /// First got at least as far as opened by a person that day (a click counts).
    pub opened: u64,
    /// First got at least as far as following the link that day.
    pub clicked: u64,
    /// First got at least as far as a saved answer that day.
    pub started: u64,
    /// Submitted that day.
    pub completed: u64,
}

/// The R-indicator of the response among those invited.
#[derive(SimpleObject, Clone, Debug)]
pub struct ResponsePropensity {
    /// The dimensions of the propensity cells.
    pub dimensions: Vec<DimensionValue>,
    /// R = 1 − 2·S(ρ̂): 1 when every group responded alike.
    pub r_indicator: Option<f64>,
    /// S(ρ̂), the standard deviation of the cells' response propensities.
    pub propensity_sd: Option<f64>,
    /// Mean propensity (the response rate).
    pub mean_propensity: Option<f64>,
    /// Why a figure is missing.
    pub note: Option<String>,
}

/// How respondents were weighted to the population.
#[derive(SimpleObject, Clone, Debug)]
pub struct ReportWeighting {
    /// Dimensions raked on.
    pub dimensions: Vec<DimensionValue>,
    /// Whether weights were made (otherwise `note` says why).
    pub weighted: bool,
    /// Raking sweeps made (`null` when not weighted; withheld from SCRUTINY, like every
    /// figure of the weighting but whether there was one).
    pub iterations: Option<u32>,
    /// Whether every margin met its population total (`null` as `iterations`).
    pub converged: Option<bool>,
    /// Largest relative difference between a weighted margin and its total at the end.
    pub max_error: Option<f64>,
    /// Kish's effective sample size, (Σw)² / Σw².
    pub effective_sample_size: Option<f64>,
    /// Kish's design effect from weighting, n / effective sample size.
    pub design_effect: Option<f64>,
    /// Respondents weighted.
    pub respondents: Option<u64>,
    /// Respondents left out (a weighting category not given, or without a benchmark).
    pub left_out: Option<u64>,
    /// Population categories with no respondent, dropped from their margin.
    pub dropped_categories: Vec<String>,
    /// What the reader should know.
    pub note: Option<String>,
}

/// A score with its interval.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct ReportScore {
    /// The score, −100 to 100.
    pub value: f64,
    /// Its standard error (from the effective sample size when weighted).
    pub standard_error: f64,
    /// 95 % interval's lower end.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
}

fn score(s: reports::Score) -> Option<ReportScore> {
    Some(ReportScore {
        value: finite(s.value)?,
        standard_error: finite(s.standard_error)?,
        low: finite(s.low)?,
        high: finite(s.high)?,
    })
}

/// A score against the previous round of the same consultation series.
#[derive(SimpleObject, Clone, Debug)]
pub struct ScoreChange {
    /// The ID of the previous consultation of the series.
    pub previous_id: ID,
    /// The previous consultation's title, as it is now.
    pub previous_title: String,
    /// Its unweighted score.
    pub previous: ReportScore,
    /// This round's unweighted score less the previous round's.
    pub difference: f64,
    /// Two-sided p-value of the difference (z test of two independent estimates).
    pub p_value: f64,
    /// Whether the change is more than noise at the 5 % level.
    pub significant: bool,
}

/// One option or scale value of a question.
#[derive(SimpleObject, Clone, Debug)]
pub struct ReportOption {
    /// The option's key, or the scale value.
    pub key: String,
    /// What respondents saw.
    pub label: String,
    /// Respondents who chose it (who ranked it first, for a ranking).
    pub count: Option<u64>,
    /// Their share of those who answered.
    pub share: Option<f64>,
    /// The share once respondents are weighted.
    pub weighted_share: Option<f64>,
}

/// A question's results.
#[derive(SimpleObject, Clone, Debug)]
pub struct ReportQuestion {
    /// The question's key (the same across rounds).
    pub key: String,
    /// Its wording.
    pub text: String,
    /// `single_choice`, `multiple_choice`, `agreement`, `rating`, `free_text` or `ranking`
    /// (free-text answers themselves are never in a report).
    pub kind: String,
    /// Respondents who answered it.
    pub answered: Option<u64>,
    /// Options or scale values, unweighted and weighted.
    pub options: Vec<ReportOption>,
    /// Net Promoter Score (0–10 questions: % 9–10 less % 0–6) or net agreement (agreement
    /// scales: % agree less % disagree), unweighted.
    pub score: Option<ReportScore>,
    /// The same, weighted.
    pub weighted_score: Option<ReportScore>,
    /// The unweighted score against the previous round.
    pub change: Option<ScoreChange>,
}

/// How representative a consultation's respondents are, and its weighted results.
#[derive(SimpleObject, Clone, Debug)]
pub struct ConsultationReport {
    /// The ID of the consultation reported on.
    pub consultation_id: ID,
    /// The consultation's title, as it is when the report is made.
    pub title: String,
    /// The benchmark area compared with.
    pub area_code: Option<String>,
    /// Members' ages are worked out on this day (the consultation's opening).
    pub reference_day: NaiveDate,
    /// The disclosure threshold applied (`null` when the reader sees every count).
    pub threshold: Option<u64>,
    /// Whether anything is hidden.
    pub suppressed: bool,
    /// How far every invitation got, with bounces and machine-only opens counted apart.
    pub funnel: ReportFunnel,
    /// By channel: `email`, `sms`, `post`, `open_link`.
    pub by_channel: ReportSplit,
    /// By age band, sex, ethnic group, disability, ward and deprivation decile.
    pub splits: Vec<ReportSplit>,
    /// Young people against everyone else.
    pub young_people: ReportSplit,
    /// Stages reached per day (OFFICER; empty for SCRUTINY).
    pub by_day: Vec<ReportDay>,
    /// The R-indicator.
    pub propensity: ResponsePropensity,
    /// Whether respondents were raked to the population, on what, and at what cost in
    /// precision.
    pub weighting: ReportWeighting,
    /// Per question.
    pub questions: Vec<ReportQuestion>,
}

impl From<reports::Report> for ConsultationReport {
    fn from(report: reports::Report) -> Self {
        let dims = |d: Vec<ReportDimension>| d.into_iter().map(Into::into).collect();
        let w = report.weighting;
        Self {
            consultation_id: id::encode(report.consultation.id),
            title: report.consultation.title,
            area_code: report.area_code,
            reference_day: report.reference_day,
            threshold: report.threshold,
            suppressed: report.suppressed,
            funnel: ReportFunnel {
                counts: report.funnel.totals.into(),
                bounced: report.funnel.bounced,
                machine_opened_only: report.funnel.machine_opened_only,
            },
            by_channel: report.by_channel.into(),
            splits: report.splits.into_iter().map(Into::into).collect(),
            young_people: report.young.into(),
            by_day: report
                .by_day
                .into_iter()
                .map(|d| ReportDay {
                    day: d.day,
                    sent: d.counts[0],
                    opened: d.counts[1],
                    clicked: d.counts[2],
                    started: d.counts[3],
                    completed: d.counts[4],
                })
                .collect(),
            propensity: ResponsePropensity {
                dimensions: dims(report.propensity.dimensions),
                r_indicator: report.propensity.r.and_then(finite),
                propensity_sd: report.propensity.s.and_then(finite),
                mean_propensity: report.propensity.mean.and_then(finite),
                note: report.propensity.note,
            },
            weighting: ReportWeighting {
                dimensions: dims(w.dimensions),
                weighted: w.weighted,
                iterations: w.iterations,
                converged: w.converged,
                max_error: w.max_error.and_then(finite),
                effective_sample_size: w.effective_n.and_then(finite),
                design_effect: w.design_effect.and_then(finite),
                respondents: w.respondents,
                left_out: w.left_out,
                dropped_categories: w.dropped,
                note: w.note,
            },
            questions: report
                .questions
                .into_iter()
                .map(|q| ReportQuestion {
                    key: q.key,
                    text: q.text,
                    kind: q.kind.to_owned(),
                    answered: q.answered,
                    options: q
                        .options
                        .into_iter()
                        .map(|o| ReportOption {
                            key: o.key,
                            label: o.label,
                            count: o.count,
                            share: o.share.and_then(finite),
                            weighted_share: o.weighted_share.and_then(finite),
                        })
                        .collect(),
                    score: q.score.and_then(score),
                    weighted_score: q.weighted_score.and_then(score),
                    change: q.change.and_then(|c| {
                        Some(ScoreChange {
                            previous_id: id::encode(c.previous),
                            previous_title: c.previous_title,
                            previous: score(c.previous_score)?,
                            difference: finite(c.difference)?,
                            p_value: finite(c.p_value)?,
                            significant: c.p_value < 0.05,
                        })
                    }),
                })
                .collect(),
        }
    }
}

/// The `Query` fields for the reports on a consultation, a selection run and a panel.
#[derive(Default)]
pub struct ReportQuery;

#[Object]
impl ReportQuery {
    /// A consultation's report: its funnel, its respondents against the population (young
    /// people called out), response propensities and weighted results (OFFICER; SCRUTINY
    /// with counts below the disclosure threshold, and anything that would reveal them,
    /// `null`).
    #[graphql(guard = "RoleGuard::OFFICER_OR_SCRUTINY")]
    async fn consultation_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation's ID.")] id: ID,
        #[graphql(desc = "How the report is worked out.")] input: Option<ReportInput>,
    ) -> async_graphql::Result<ConsultationReport> {
        let consultation = id::decode::<ConsultationId>(&id, "id")?;
        let state = context::state(ctx)?;
        let mut options = input.unwrap_or_default().options();
        // Weighting and results are worked out only when asked for.
        let wanted = ctx.look_ahead();
        options.results = wanted.field("weighting").exists()
            || wanted.field("questions").exists()
            || wanted
                .field("splits")
                .field("groups")
                .field("weightedShare")
                .exists();
        let report =
            reports::consultation_report(state, &context::caller(ctx), consultation, &options)
                .await?;
        Ok(report.into())
    }

    /// A selection's transparency report: per category value the quota, the population
    /// share, the pool and the probabilities (OFFICER in full, with the selected counts;
    /// SCRUTINY with small counts, the probabilities of small groups and narrow quota
    /// ranges `null`, and no selected counts).
    #[graphql(guard = "RoleGuard::OFFICER_OR_SCRUTINY")]
    async fn selection_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The selection run's ID.")] id: ID,
    ) -> async_graphql::Result<SelectionReport> {
        let run = id::decode::<SelectionRunId>(&id, "id")?;
        let state = context::state(ctx)?;
        Ok(crate::service::selection::selection_report::published(
            state,
            &context::caller(ctx),
            run,
        )
        .await?
        .into())
    }

    /// A panel's health: its members against the population, who has left, who responds
    /// and who has stopped, by group, and each consultation's response by group (OFFICER;
    /// SCRUTINY with small counts hidden).
    #[graphql(guard = "RoleGuard::OFFICER_OR_SCRUTINY")]
    async fn panel_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The panel's ID.")] id: ID,
        #[graphql(
            desc = "The benchmark area, threshold and age settings (weighting is not used)."
        )]
        input: Option<ReportInput>,
        #[graphql(
            desc = "The dimension of the consultation-by-consultation series.",
            default_with = "DimensionValue::AgeBand"
        )]
        series_dimension: DimensionValue,
    ) -> async_graphql::Result<PanelReport> {
        let panel = id::decode::<PanelId>(&id, "id")?;
        let state = context::state(ctx)?;
        let options = input.unwrap_or_default().options();
        let report = crate::service::panels::panel_report::panel_report(
            state,
            &context::caller(ctx),
            panel,
            &options,
            series_dimension.into(),
        )
        .await?;
        Ok(report.into())
    }
}
