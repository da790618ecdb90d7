//! The `SelectionRun` type and the values it shows. Declared here, apart from its fields
//! (`fields.rs`), so that panels and jobs can return a run without importing what a run
//! leads to (its panel, its job).

use async_graphql::{Enum, SimpleObject};

use crate::service::selection::{Run, ValueReport};

/// How a selection chooses.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
#[graphql(name = "SelectionMethod", remote = "crate::service::selection::Method")]
pub enum MethodValue {
    /// Leximin (Flanigan et al., 2021): the lowest selection probability as high as the
    /// quotas allow, then the second lowest, and so on.
    #[default]
    Leximin,
    /// Maximin: the lowest selection probability as high as the quotas allow.
    Maximin,
    /// The legacy greedy method, for comparison: fills the most urgent quota one random
    /// person at a time; its probabilities are estimated by repeating it.
    Greedy,
}

/// One category value of a selection's transparency report.
#[derive(SimpleObject)]
pub struct SelectionValueReport {
    /// The quota's feature (column of the pool), e.g. `age_band`.
    pub feature: String,
    /// The feature's value this row is about, e.g. `16-24`.
    pub value: String,
    /// The quota's minimum for this selection (after sitting members, in a top-up).
    pub min: u32,
    /// The quota's maximum for this selection.
    pub max: u32,
    /// Sitting members with it (a top-up).
    pub sitting: u32,
    /// Registrants in the pool with it.
    pub pool: u32,
    /// Selected by the draw (null until drawn).
    pub selected: Option<u32>,
    /// The value's share of the population (census benchmarks of the panel's area; the
    /// register's addresses for wards and deprivation); null where there is none.
    pub population_share: Option<f64>,
    /// Lowest selection probability among them.
    pub probability_min: f64,
    /// Median selection probability among them.
    pub probability_median: f64,
    /// Highest selection probability among them.
    pub probability_max: f64,
}

impl From<ValueReport> for SelectionValueReport {
    fn from(v: ValueReport) -> Self {
        Self {
            feature: v.feature,
            value: v.value,
            min: v.min,
            max: v.max,
            sitting: v.sitting,
            pool: v.pool,
            selected: v.selected,
            population_share: v.population_share,
            probability_min: v.probability_min,
            probability_median: v.probability_median,
            probability_max: v.probability_max,
        }
    }
}

/// A selection: the pool, everyone's probability, the lottery and its public draw.
pub struct SelectionRunNode(pub Run);
