//! A selection run's report in the API: each value's pool, quota and selection
//! probabilities.

use super::*;

/// Lowest, median and highest selection probability of a group.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct ProbabilityRange {
    /// The lowest chance of being selected, 0 to 1.
    pub minimum: f64,
    /// The middle chance (the mean of the two middle ones for an even count), 0 to 1.
    pub median: f64,
    /// The highest chance of being selected, 0 to 1.
    pub maximum: f64,
}

impl ProbabilityRange {
    pub(super) fn of(range: Option<(f64, f64, f64)>) -> Option<Self> {
        let (minimum, median, maximum) = range?;
        Some(Self {
            minimum: finite(minimum)?,
            median: finite(median)?,
            maximum: finite(maximum)?,
        })
    }
}

/// One category value of a selection report (`null` where hidden from the reader).
#[derive(SimpleObject, Clone, Debug)]
pub struct SelectionReportValue {
    /// The quota's feature, e.g. `age_band`, `ward` or a custom attribute.
    pub feature: String,
    /// One value of the feature, as the quotas spell it.
    pub value: String,
    /// The quota's minimum (after sitting members, in a top-up).
    pub quota_min: Option<u32>,
    /// The quota's maximum.
    pub quota_max: Option<u32>,
    /// The value's share of the population, where benchmarks give one.
    pub population_share: Option<f64>,
    /// Sitting members with it (a top-up; 0 otherwise).
    pub sitting: Option<u32>,
    /// Registrants in the pool with it.
    pub pool: Option<u32>,
    /// Selected by the draw (OFFICER, once drawn).
    pub selected: Option<u32>,
    /// Their selection probabilities.
    pub probabilities: Option<ProbabilityRange>,
}

/// A selection's transparency report as the reader may see it.
#[derive(SimpleObject, Clone, Debug)]
pub struct SelectionReport {
    /// The ID of the selection run reported on.
    pub run_id: ID,
    /// The ID of the panel the run fills.
    pub panel_id: ID,
    /// The panel's name, as it is now.
    pub panel_name: String,
    /// How the selection probabilities were worked out.
    pub method: crate::graphql::selection::MethodValue,
    /// A top-up of a sitting panel.
    pub top_up: bool,
    /// Seats filled.
    pub k: u32,
    /// The moment ages and eligibility were counted on.
    pub as_of: chrono::DateTime<chrono::Utc>,
    /// Registrants in the pool.
    pub pool_size: Option<u32>,
    /// Selection probabilities across the pool.
    pub probabilities: Option<ProbabilityRange>,
    /// SHA-256 of the lottery, published before the draw.
    pub lottery_sha256: Option<String>,
    /// The drawn number, once drawn.
    pub drawn_number: Option<u32>,
    /// How the number was found.
    pub draw_source: Option<String>,
    /// When the draw was recorded.
    pub drawn_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Per category value, in the quotas' order.
    pub values: Vec<SelectionReportValue>,
    /// The disclosure threshold applied (`null` when the reader sees every count).
    pub threshold: Option<u64>,
    /// Whether anything is hidden.
    pub suppressed: bool,
}

impl From<crate::service::selection::selection_report::Published> for SelectionReport {
    fn from(p: crate::service::selection::selection_report::Published) -> Self {
        Self {
            run_id: id::encode(p.run.id),
            panel_id: id::encode(p.run.panel_id),
            panel_name: p.panel_name,
            method: p.run.method.into(),
            top_up: p.run.top_up,
            k: p.run.k,
            as_of: p.run.as_of,
            pool_size: p.pool_size,
            probabilities: ProbabilityRange::of(p.probabilities),
            lottery_sha256: p.run.lottery_sha256,
            drawn_number: p.run.drawn_number,
            draw_source: p.run.draw_source,
            drawn_at: p.run.drawn_at,
            values: p
                .values
                .into_iter()
                .map(|v| SelectionReportValue {
                    feature: v.feature,
                    value: v.value,
                    quota_min: v.quota.map(|q| q.0),
                    quota_max: v.quota.map(|q| q.1),
                    population_share: v.population_share.and_then(finite),
                    sitting: v.sitting,
                    pool: v.pool,
                    selected: v.selected,
                    probabilities: ProbabilityRange::of(v.probabilities),
                })
                .collect(),
            threshold: p.threshold,
            suppressed: p.suppressed,
        }
    }
}
