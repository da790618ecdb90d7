//! Survey statistics for the reports: raking respondents to population margins, the
//! effective sample size of weights, R-indicators of representativeness with their partial
//! indicators, goodness of fit against the population, and Net Promoter Score with its
//! confidence interval and the test of a change between rounds.
//!
//! Pure functions over counts and weights; the reports aggregate in the database and call
//! these. Sources: raking is iterative proportional fitting (Deming and Stephan 1940);
//! R-indicators after Schouten, Cobben and Bethlehem, "Indicators for the
//! representativeness of survey response", *Survey Methodology* 35(1), 2009, and
//! Schouten, Shlomo and Skinner, "Indicators for monitoring and improving
//! representativeness of response", *Journal of Official Statistics* 27(2), 2011.

/// One margin to rake to: each unit's category and each category's population total.
#[derive(Clone, Debug, PartialEq)]
pub struct Margin {
    /// The margin's name, for messages (e.g. `age_band`).
    pub name: String,
    /// Each unit's category, as an index into `totals`.
    pub category_of: Vec<usize>,
    /// The population total of each category.
    pub totals: Vec<f64>,
}

/// Raking's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RakeOptions {
    /// Largest relative difference between a weighted margin and its total at convergence.
    pub tolerance: f64,
    /// Sweeps over the margins before giving up.
    pub max_iterations: u32,
    /// Trim weights to this range, as multiples of the mean weight (e.g. 0.3 to 3.0),
    /// after each sweep; `None` for no trimming.
    pub trim: Option<(f64, f64)>,
}

impl Default for RakeOptions {
    fn default() -> Self {
        Self {
            tolerance: 1e-7,
            max_iterations: 100,
            trim: None,
        }
    }
}

/// Raked weights and how the raking went.
#[derive(Clone, Debug, PartialEq)]
pub struct Raked {
    /// One weight per unit.
    pub weights: Vec<f64>,
    /// Sweeps made.
    pub iterations: u32,
    /// Whether every margin met its total within the tolerance.
    pub converged: bool,
    /// The largest relative difference between a weighted margin and its total at the end.
    pub max_error: f64,
}

/// Why raking cannot start.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RakeError {
    /// A margin's units do not match the weights.
    #[error("margin {0}: it gives a category for {1} units, not {2}")]
    Length(String, usize, usize),
    /// A unit names a category the margin has no total for.
    #[error("margin {0}: a unit has category {1}, which has no total")]
    Category(String, usize),
    /// A category with a positive total has no unit (or no weight) to carry it.
    #[error("margin {0}: category {1} has a population total but no respondent")]
    Empty(String, usize),
    /// A category's total is negative or not a number, or the margin's totals add up to
    /// more than a number can hold.
    #[error("margin {0}: the total of category {1} must be a number of zero or more")]
    Total(String, usize),
    /// The margins do not describe the same population.
    #[error("margins {0} and {1} add up to different totals ({2} and {3})")]
    Totals(String, String, f64, f64),
    /// A weight is negative or not a number.
    #[error("the starting weights must be positive numbers")]
    Weights,
    /// The trimming range is not two numbers of zero or more, the lower first.
    #[error("the trimming range must run from a number of zero or more to a larger one")]
    Trim,
}

/// Rakes `weights` (the design weights; 1 for each unit when there are none) to the
/// `margins` by iterative proportional fitting: each margin in turn scales its
/// categories' weights to their totals, sweep after sweep, until every margin is within
/// the tolerance or the sweeps run out (reported, not an error).
///
/// Units with the same category on every margin and the same starting weight are scaled
/// (and trimmed) alike at every step, so they are raked together as one cell of that
/// many units and given the cell's weight at the end: the same weights as raking unit by
/// unit, up to the rounding of the sums, in a fraction of the time when there are many
/// more units than cells.
pub fn rake(weights: &[f64], margins: &[Margin], options: RakeOptions) -> Result<Raked, RakeError> {
    let n = weights.len();
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err(RakeError::Weights);
    }
    if let Some((low, high)) = options.trim
        && !(low.is_finite() && high.is_finite() && 0.0 <= low && low <= high)
    {
        return Err(RakeError::Trim);
    }
    let mut grand: Option<(&str, f64)> = None;
    for margin in margins {
        if margin.category_of.len() != n {
            return Err(RakeError::Length(
                margin.name.clone(),
                margin.category_of.len(),
                n,
            ));
        }
        if let Some(&c) = margin
            .category_of
            .iter()
            .find(|&&c| c >= margin.totals.len())
        {
            return Err(RakeError::Category(margin.name.clone(), c));
        }
        if let Some(c) = margin
            .totals
            .iter()
            .position(|t| !t.is_finite() || *t < 0.0)
        {
            return Err(RakeError::Total(margin.name.clone(), c));
        }
        let total: f64 = margin.totals.iter().sum();
        if !total.is_finite() {
            return Err(RakeError::Total(
                margin.name.clone(),
                margin.totals.len() - 1,
            ));
        }
        let mut carried = vec![0.0; margin.totals.len()];
        for (&c, &w) in margin.category_of.iter().zip(weights) {
            carried[c] += w;
        }
        if let Some(c) =
            (0..margin.totals.len()).find(|&c| margin.totals[c] > 0.0 && carried[c] <= 0.0)
        {
            return Err(RakeError::Empty(margin.name.clone(), c));
        }
        match grand {
            None => grand = Some((&margin.name, total)),
            Some((first, t)) if (total - t).abs() > 1e-6 * t.abs().max(1.0) => {
                return Err(RakeError::Totals(
                    first.to_owned(),
                    margin.name.clone(),
                    t,
                    total,
                ));
            }
            Some(_) => {}
        }
    }
    let cells = Cells::of(weights, margins);
    let raked = cells.rake(margins, options, n);
    Ok(Raked {
        weights: cells.unit_of.iter().map(|&g| raked.weights[g]).collect(),
        ..raked
    })
}

/// Units grouped into cells that raking treats alike: the same category on every margin
/// and the same starting weight.
struct Cells {
    /// Each unit's cell.
    unit_of: Vec<usize>,
    /// Each cell's number of units.
    units: Vec<f64>,
    /// Each cell's starting weight (of each of its units).
    weight: Vec<f64>,
    /// Per margin, each cell's category.
    category_of: Vec<Vec<usize>>,
}

impl Cells {
    /// Groups the units, numbering cells in the order their first unit comes; every unit
    /// a cell of its own when most have a starting weight of their own.
    fn of(weights: &[f64], margins: &[Margin]) -> Self {
        let n = weights.len();
        let Some((distinct, class_of)) = weight_classes(weights) else {
            return Self {
                unit_of: (0..n).collect(),
                units: vec![1.0; n],
                weight: weights.to_vec(),
                category_of: margins.iter().map(|m| m.category_of.clone()).collect(),
            };
        };
        let mut unit_of = vec![0; n];
        let mut count = usize::from(n > 0);
        // Refine by one key after another: a cell of the keys so far, split by the next.
        let mut refine = |count: &mut usize, keys: usize, key_of: &dyn Fn(usize) -> usize| {
            if *count == n {
                // Every unit is a cell of its own already.
                return;
            }
            let mut next = 0;
            match count.checked_mul(keys).filter(|&c| c <= 4 * n + 1_024) {
                Some(slots) => {
                    let mut renumbered = vec![usize::MAX; slots];
                    for (i, cell) in unit_of.iter_mut().enumerate() {
                        let slot = &mut renumbered[*cell * keys + key_of(i)];
                        if *slot == usize::MAX {
                            *slot = next;
                            next += 1;
                        }
                        *cell = *slot;
                    }
                }
                None => {
                    let mut renumbered = std::collections::HashMap::new();
                    for (i, cell) in unit_of.iter_mut().enumerate() {
                        *cell = *renumbered.entry((*cell, key_of(i))).or_insert_with(|| {
                            next += 1;
                            next - 1
                        });
                    }
                }
            }
            *count = next;
        };
        refine(&mut count, distinct, &|i| class_of[i]);
        for margin in margins {
            refine(&mut count, margin.totals.len(), &|i| margin.category_of[i]);
        }
        let mut units = vec![0.0; count];
        let mut weight = vec![0.0; count];
        let mut category_of = vec![vec![0; count]; margins.len()];
        for (i, &cell) in unit_of.iter().enumerate() {
            units[cell] += 1.0;
            weight[cell] = weights[i];
            for (m, margin) in margins.iter().enumerate() {
                category_of[m][cell] = margin.category_of[i];
            }
        }
        Self {
            unit_of,
            units,
            weight,
            category_of,
        }
    }

    /// Rakes the cells' weights (each unit's), `n` units in all; the weights returned are
    /// the cells'.
    fn rake(&self, margins: &[Margin], options: RakeOptions, n: usize) -> Raked {
        let mut w = self.weight.clone();
        let sums_of = |w: &[f64], m: usize| {
            let mut sums = vec![0.0; margins[m].totals.len()];
            for ((&c, &x), &units) in self.category_of[m].iter().zip(w).zip(&self.units) {
                sums[c] += x * units;
            }
            sums
        };
        let error_of = |w: &[f64]| {
            (0..margins.len())
                .flat_map(|m| {
                    sums_of(w, m)
                        .into_iter()
                        .zip(&margins[m].totals)
                        .map(|(s, &t)| if t > 0.0 { (s - t).abs() / t } else { s.abs() })
                        .collect::<Vec<f64>>()
                })
                .fold(0.0, f64::max)
        };
        let mut iterations = 0;
        let mut max_error = error_of(&w);
        while max_error > options.tolerance && iterations < options.max_iterations {
            iterations += 1;
            for (m, margin) in margins.iter().enumerate() {
                let sums = sums_of(&w, m);
                // A unit's weight only ever shrinks to its category's total, so none
                // overflows.
                for (x, &c) in w.iter_mut().zip(&self.category_of[m]) {
                    if sums[c] > 0.0 {
                        *x *= margin.totals[c] / sums[c];
                    }
                }
            }
            if let Some((low, high)) = options.trim {
                let total: f64 = w.iter().zip(&self.units).map(|(x, u)| x * u).sum();
                let mean = total / n.max(1) as f64;
                let (low, high) = (low * mean, high * mean);
                if low.is_finite() && high.is_finite() {
                    for x in &mut w {
                        *x = x.clamp(low, high);
                    }
                }
            }
            max_error = error_of(&w);
        }
        Raked {
            converged: max_error <= options.tolerance,
            weights: w,
            iterations,
            max_error,
        }
    }
}

/// The number of distinct starting weights and each unit's, numbered in the order they
/// first come (a handful of values, as design weights usually take, looked up in a short
/// list) or else in increasing order. `None` when more than half the units have a weight
/// of their own, too many for cells to save anything.
fn weight_classes(weights: &[f64]) -> Option<(usize, Vec<usize>)> {
    const SHORT: usize = 32;
    let mut seen: Vec<u64> = Vec::new();
    let mut class_of = Vec::with_capacity(weights.len());
    for w in weights {
        let bits = w.to_bits();
        match seen.iter().position(|&b| b == bits) {
            Some(class) => class_of.push(class),
            None if seen.len() < SHORT => {
                class_of.push(seen.len());
                seen.push(bits);
            }
            None => {
                let mut sorted: Vec<u64> = weights.iter().map(|w| w.to_bits()).collect();
                sorted.sort_unstable();
                sorted.dedup();
                if sorted.len() > weights.len() / 2 {
                    return None;
                }
                let class_of = weights
                    .iter()
                    .map(|w| sorted.binary_search(&w.to_bits()).unwrap_or_default())
                    .collect();
                return Some((sorted.len(), class_of));
            }
        }
    }
    Some((seen.len(), class_of))
}

/// The weighted mean of `values`.
pub fn weighted_mean(values: &[f64], weights: &[f64]) -> f64 {
    let total: f64 = weights.iter().sum();
    values.iter().zip(weights).map(|(v, w)| v * w).sum::<f64>() / total
}

/// Kish's effective sample size of a set of weights: (Σw)² / Σw².
pub fn effective_sample_size(weights: &[f64]) -> f64 {
    let sum: f64 = weights.iter().sum();
    let squares: f64 = weights.iter().map(|w| w * w).sum();
    if squares > 0.0 {
        sum * sum / squares
    } else {
        0.0
    }
}

/// The design effect of weighting: n ÷ the effective sample size.
pub fn design_effect(weights: &[f64]) -> f64 {
    let effective = effective_sample_size(weights);
    if effective > 0.0 {
        weights.len() as f64 / effective
    } else {
        f64::NAN
    }
}

/// A cell of invited people sharing one category on each dimension.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// The category (index) on each dimension.
    pub categories: Vec<usize>,
    /// People invited.
    pub invited: u64,
    /// People who responded.
    pub responded: u64,
}

/// The R-indicator of a response and its partial indicators.
#[derive(Clone, Debug, PartialEq)]
pub struct Representativity {
    /// R = 1 − 2·S(ρ): 1 when everyone was equally likely to respond.
    pub r: f64,
    /// The standard deviation of the response propensities (divisor N − 1).
    pub s: f64,
    /// The mean propensity (the response rate).
    pub mean: f64,
    /// Per dimension, in the cells' order.
    pub partials: Vec<DimensionPartial>,
}

/// Partial R-indicators of one dimension.
#[derive(Clone, Debug, PartialEq)]
pub struct DimensionPartial {
    /// Unconditional: the spread of propensities between the dimension's categories.
    pub unconditional: f64,
    /// Conditional: the spread the dimension adds given every other dimension.
    pub conditional: f64,
    /// Per category: unconditional (signed: negative is under-represented) and
    /// conditional (unsigned).
    pub categories: Vec<(f64, f64)>,
}

/// The R-indicator of a response from cells of invited people (propensities estimated per
/// cell, the share of each cell that responded), with partial indicators for each
/// dimension: `sizes` gives each dimension's number of categories. `None` when nobody was
/// invited.
pub fn r_indicator(cells: &[Cell], sizes: &[usize]) -> Option<Representativity> {
    let n: f64 = cells.iter().map(|c| c.invited as f64).sum();
    if n <= 0.0 {
        return None;
    }
    let propensity = |c: &Cell| {
        if c.invited > 0 {
            c.responded as f64 / c.invited as f64
        } else {
            0.0
        }
    };
    let mean = cells.iter().map(|c| c.responded as f64).sum::<f64>() / n;
    let squares: f64 = cells
        .iter()
        .map(|c| c.invited as f64 * (propensity(c) - mean).powi(2))
        .sum();
    let s = if n > 1.0 {
        (squares / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    let partials = sizes
        .iter()
        .enumerate()
        .map(|(d, &size)| {
            // Unconditional: category means against the overall mean.
            let mut invited = vec![0.0; size];
            let mut responded = vec![0.0; size];
            for c in cells {
                if let Some(k) = c.categories.get(d).copied().filter(|&k| k < size) {
                    invited[k] += c.invited as f64;
                    responded[k] += c.responded as f64;
                }
            }
            let unconditional_of = |k: usize| {
                if invited[k] > 0.0 {
                    (invited[k] / n).sqrt() * (responded[k] / invited[k] - mean)
                } else {
                    0.0
                }
            };
            // Conditional: propensities against the mean of their cell on every other
            // dimension.
            let others = |c: &Cell| -> Vec<usize> {
                c.categories
                    .iter()
                    .enumerate()
                    .filter(|(e, _)| *e != d)
                    .map(|(_, &k)| k)
                    .collect()
            };
            let mut groups: std::collections::HashMap<Vec<usize>, (f64, f64)> =
                std::collections::HashMap::new();
            for c in cells {
                let entry = groups.entry(others(c)).or_default();
                entry.0 += c.invited as f64;
                entry.1 += c.responded as f64;
            }
            let mut within = vec![0.0; size];
            for c in cells {
                let (gi, gr) = groups[&others(c)];
                let group_mean = if gi > 0.0 { gr / gi } else { 0.0 };
                if let Some(k) = c.categories.get(d).copied().filter(|&k| k < size) {
                    within[k] += c.invited as f64 * (propensity(c) - group_mean).powi(2);
                }
            }
            let categories: Vec<(f64, f64)> = (0..size)
                .map(|k| (unconditional_of(k), (within[k] / n).sqrt()))
                .collect();
            DimensionPartial {
                unconditional: categories.iter().map(|(u, _)| u * u).sum::<f64>().sqrt(),
                conditional: (within.iter().sum::<f64>() / n).sqrt(),
                categories,
            }
        })
        .collect();
    Some(Representativity {
        r: 1.0 - 2.0 * s,
        s,
        mean,
        partials,
    })
}

/// Duncan's index of dissimilarity between two distributions over the same categories
/// (each given as counts or shares): half the sum of the differences of their shares, the
/// share of one group that would have to move category to match the other.
pub fn dissimilarity(a: &[f64], b: &[f64]) -> f64 {
    let (ta, tb): (f64, f64) = (a.iter().sum(), b.iter().sum());
    if ta <= 0.0 || tb <= 0.0 {
        return 0.0;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| (x / ta - y / tb).abs())
        .sum::<f64>()
        / 2.0
}

/// A chi-square goodness-of-fit test of observed counts against population shares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChiSquare {
    /// The statistic.
    pub statistic: f64,
    /// Degrees of freedom (categories with a population share, less one).
    pub degrees_of_freedom: u32,
    /// The chance of a statistic at least this large if the counts were drawn from the
    /// population.
    pub p_value: f64,
}

/// Tests `observed` counts against `expected_shares` (any scale); categories with no
/// expected share are left out. `None` with fewer than two categories or no counts.
pub fn chi_square(observed: &[f64], expected_shares: &[f64]) -> Option<ChiSquare> {
    let total: f64 = observed.iter().sum();
    let share_total: f64 = expected_shares.iter().filter(|s| **s > 0.0).sum();
    let used: Vec<(f64, f64)> = observed
        .iter()
        .zip(expected_shares)
        .filter(|(_, s)| **s > 0.0)
        .map(|(o, s)| (*o, total * s / share_total))
        .collect();
    if used.len() < 2 || total <= 0.0 {
        return None;
    }
    let statistic: f64 = used.iter().map(|(o, e)| (o - e).powi(2) / e).sum();
    let degrees_of_freedom = u32::try_from(used.len() - 1).ok()?;
    Some(ChiSquare {
        statistic,
        degrees_of_freedom,
        p_value: upper_gamma_regularised(f64::from(degrees_of_freedom) / 2.0, statistic / 2.0),
    })
}

/// Net Promoter Score of 0–10 answers with weights: the percentage of promoters (9–10)
/// less that of detractors (0–6), with a 95 % interval from the effective sample size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NetPromoter {
    /// From −100 to 100.
    pub score: f64,
    /// Its standard error, in points.
    pub standard_error: f64,
    /// The 95 % interval's lower end.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
    /// The effective number of answers.
    pub effective_n: f64,
}

/// NPS of `(answer, weight)` pairs (answers outside 0–10 are left out); `None` with no
/// answer.
pub fn net_promoter(answers: &[(u8, f64)]) -> Option<NetPromoter> {
    let valid: Vec<(u8, f64)> = answers
        .iter()
        .copied()
        .filter(|(a, w)| *a <= 10 && *w > 0.0 && w.is_finite())
        .collect();
    let total: f64 = valid.iter().map(|(_, w)| w).sum();
    if total <= 0.0 {
        return None;
    }
    let share = |range: std::ops::RangeInclusive<u8>| {
        valid
            .iter()
            .filter(|(a, _)| range.contains(a))
            .map(|(_, w)| w)
            .sum::<f64>()
            / total
    };
    let (promoters, detractors) = (share(9..=10), share(0..=6));
    let weights: Vec<f64> = valid.iter().map(|(_, w)| *w).collect();
    let effective_n = effective_sample_size(&weights);
    let variance = (promoters + detractors - (promoters - detractors).powi(2)) / effective_n;
    let standard_error = 100.0 * variance.max(0.0).sqrt();
    let score = 100.0 * (promoters - detractors);
    Some(NetPromoter {
        score,
        standard_error,
        low: score - Z95 * standard_error,
        high: score + Z95 * standard_error,
        effective_n,
    })
}

/// Net agreement of 1–5 agreement-scale answers with weights: the percentage agreeing
/// (4–5) less that disagreeing (1–2), with its standard error from the effective sample
/// size; `None` with no answer.
pub fn net_agreement(answers: &[(u8, f64)]) -> Option<(f64, f64)> {
    let valid: Vec<(u8, f64)> = answers
        .iter()
        .copied()
        .filter(|(a, w)| (1..=5).contains(a) && *w > 0.0 && w.is_finite())
        .collect();
    let total: f64 = valid.iter().map(|(_, w)| w).sum();
    if total <= 0.0 {
        return None;
    }
    let share = |range: std::ops::RangeInclusive<u8>| {
        valid
            .iter()
            .filter(|(a, _)| range.contains(a))
            .map(|(_, w)| w)
            .sum::<f64>()
            / total
    };
    let (agree, disagree) = (share(4..=5), share(1..=2));
    let weights: Vec<f64> = valid.iter().map(|(_, w)| *w).collect();
    let variance =
        (agree + disagree - (agree - disagree).powi(2)) / effective_sample_size(&weights);
    Some((100.0 * (agree - disagree), 100.0 * variance.max(0.0).sqrt()))
}

/// A group's representation ratio (its share of respondents ÷ its share of the
/// population) with a 95 % interval from the Wilson interval of the respondent share:
/// `count` of `n` respondents are in the group. `None` without a population share.
pub fn representation_ratio(count: f64, n: f64, population_share: f64) -> Option<(f64, f64, f64)> {
    if population_share <= 0.0 || n <= 0.0 {
        return None;
    }
    let (low, high) = wilson_interval(count, n);
    Some((
        count / n / population_share,
        low / population_share,
        high / population_share,
    ))
}

/// The two-sided p-value of the difference between two independent estimates with their
/// standard errors (a z test): small when the change is more than noise.
pub fn change_p_value(a: f64, se_a: f64, b: f64, se_b: f64) -> f64 {
    let se = (se_a * se_a + se_b * se_b).sqrt();
    if se <= 0.0 {
        return if a == b { 1.0 } else { 0.0 };
    }
    let z = (a - b) / se;
    // P(|Z| ≥ z) = erfc(z / √2) = Q(1/2, z² / 2).
    upper_gamma_regularised(0.5, z * z / 2.0)
}

/// The normal quantile of a 95 % two-sided interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A share's 95 % Wilson score interval, from `successes` of `n`.
pub fn wilson_interval(successes: f64, n: f64) -> (f64, f64) {
    if n <= 0.0 {
        return (0.0, 1.0);
    }
    let p = successes / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Q(a, x) = Γ(a, x) / Γ(a), the regularised upper incomplete gamma function: by its
/// series below x = a + 1 and by its continued fraction above (Lentz's method).
pub fn upper_gamma_regularised(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if a <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    let log_prefix = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        // P(a, x) = e^{-x} x^a / Γ(a) · Σ x^n / (a (a+1) … (a+n)).
        let (mut term, mut sum, mut denominator) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1_000 {
            denominator += 1.0;
            term *= x / denominator;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * log_prefix.exp()).clamp(0.0, 1.0)
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let step = d * c;
            h *= step;
            if (step - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (log_prefix.exp() * h).clamp(0.0, 1.0)
    }
}

/// ln Γ(x) for x > 0, by the Lanczos approximation (g = 7, nine terms).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, c) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    const APICLUS1: &str = include_str!("../../../tests/fixtures/raking/raking_apiclus1.csv");

    #[test]
    fn raking_apiclus1_gives_the_survey_packages_published_answer() {
        let mut reader = csv::Reader::from_reader(APICLUS1.as_bytes());
        let (mut weights, mut api00, mut stype, mut sch_wide) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for record in reader.records() {
            let record = record.unwrap();
            stype.push(
                ["E", "H", "M"]
                    .iter()
                    .position(|s| *s == &record[2])
                    .unwrap(),
            );
            sch_wide.push(["No", "Yes"].iter().position(|s| *s == &record[3]).unwrap());
            api00.push(record[5].parse::<f64>().unwrap());
            weights.push(record[7].parse::<f64>().unwrap());
        }
        assert_eq!(weights.len(), 183);
        let margins = [
            Margin {
                name: "stype".to_owned(),
                category_of: stype,
                totals: vec![4421.0, 755.0, 1018.0],
            },
            Margin {
                name: "sch_wide".to_owned(),
                category_of: sch_wide,
                totals: vec![1072.0, 5122.0],
            },
        ];
        let raked = rake(&weights, &margins, RakeOptions::default()).unwrap();
        assert!(raked.converged, "{raked:?}");
        assert!(raked.max_error <= 1e-7);
        let mean = weighted_mean(&api00, &raked.weights);
        assert!((mean - 641.2303).abs() < 5e-5, "{mean}");
        let effective = effective_sample_size(&raked.weights);
        assert!((effective - 174.011).abs() < 5e-4, "{effective}");
        assert!((design_effect(&raked.weights) - 1.05166).abs() < 5e-6);
        // Before raking the design weights give another answer.
        assert!((weighted_mean(&api00, &weights) - 644.17).abs() < 0.01);
    }

    #[test]
    fn raking_refuses_margins_it_cannot_meet_and_reports_non_convergence() {
        let margin = |totals: Vec<f64>, category_of: Vec<usize>| Margin {
            name: "m".to_owned(),
            category_of,
            totals,
        };
        let weights = [1.0, 1.0, 1.0];
        assert_eq!(
            rake(
                &weights,
                &[margin(vec![2.0, 1.0, 5.0], vec![0, 0, 1])],
                RakeOptions::default()
            ),
            Err(RakeError::Empty("m".to_owned(), 2))
        );
        assert!(matches!(
            rake(
                &weights,
                &[margin(vec![2.0], vec![0, 1, 0])],
                RakeOptions::default()
            ),
            Err(RakeError::Category(_, 1))
        ));
        assert!(matches!(
            rake(
                &weights,
                &[margin(vec![2.0], vec![0, 0])],
                RakeOptions::default()
            ),
            Err(RakeError::Length(_, 2, 3))
        ));
        assert!(matches!(
            rake(
                &weights,
                &[
                    margin(vec![2.0, 1.0], vec![0, 0, 1]),
                    margin(vec![5.0], vec![0, 0, 0])
                ],
                RakeOptions::default()
            ),
            Err(RakeError::Totals(..))
        ));
        assert_eq!(
            rake(&[1.0, -1.0], &[], RakeOptions::default()),
            Err(RakeError::Weights)
        );
        // Trimming to a narrow band keeps the weights from meeting an extreme margin.
        let trimmed = rake(
            &weights,
            &[margin(vec![10.0, 1.0], vec![0, 1, 1])],
            RakeOptions {
                trim: Some((0.5, 1.5)),
                max_iterations: 20,
                ..RakeOptions::default()
            },
        )
        .unwrap();
        assert!(!trimmed.converged);
        assert_eq!(trimmed.iterations, 20);
        assert!(trimmed.max_error > 0.1);
    }

    /// Raking unit by unit, as the textbook does it, to check the cells against.
    fn rake_each_unit(weights: &[f64], margins: &[Margin], options: RakeOptions) -> Vec<f64> {
        let mut w = weights.to_vec();
        let sums = |w: &[f64], margin: &Margin| {
            let mut sums = vec![0.0; margin.totals.len()];
            for (&c, &x) in margin.category_of.iter().zip(w) {
                sums[c] += x;
            }
            sums
        };
        let error = |w: &[f64]| {
            margins
                .iter()
                .flat_map(|m| {
                    let s = sums(w, m);
                    m.totals
                        .iter()
                        .zip(s)
                        .map(|(t, s)| if *t > 0.0 { (s - t).abs() / t } else { s.abs() })
                        .collect::<Vec<_>>()
                })
                .fold(0.0, f64::max)
        };
        let mut iterations = 0;
        while error(&w) > options.tolerance && iterations < options.max_iterations {
            iterations += 1;
            for margin in margins {
                let s = sums(&w, margin);
                for (x, &c) in w.iter_mut().zip(&margin.category_of) {
                    if s[c] > 0.0 {
                        *x *= margin.totals[c] / s[c];
                    }
                }
            }
            if let Some((low, high)) = options.trim {
                let mean = w.iter().sum::<f64>() / w.len() as f64;
                for x in &mut w {
                    *x = x.clamp(low * mean, high * mean);
                }
            }
        }
        w
    }

    #[test]
    fn raking_units_together_gives_the_weights_of_raking_them_one_by_one() {
        // 2,000 units on three margins whose categories go together, with three design
        // weights, a unit of weight 0 and an empty category with a total of 0.
        let n = 2_000;
        let a: Vec<usize> = (0..n).map(|i| (i * 7 + i / 13) % 4).collect();
        let b: Vec<usize> = (0..n).map(|i| usize::from((i % 4 + i % 3) > 2)).collect();
        let c: Vec<usize> = (0..n).map(|i| (i * i + a[i]) % 5).collect();
        let mut weights: Vec<f64> = (0..n).map(|i| [1.0, 1.5, 0.75][i % 3]).collect();
        weights[17] = 0.0;
        let margins = [
            Margin {
                name: "a".to_owned(),
                category_of: a,
                totals: vec![900.0, 1_400.0, 1_100.0, 600.0],
            },
            Margin {
                name: "b".to_owned(),
                category_of: b,
                totals: vec![2_300.0, 1_700.0, 0.0],
            },
            Margin {
                name: "c".to_owned(),
                category_of: c,
                totals: vec![700.0, 800.0, 900.0, 1_000.0, 600.0],
            },
        ];
        for options in [
            RakeOptions::default(),
            RakeOptions {
                trim: Some((0.6, 1.6)),
                max_iterations: 30,
                ..RakeOptions::default()
            },
        ] {
            let raked = rake(&weights, &margins, options).unwrap();
            let each = rake_each_unit(&weights, &margins, options);
            assert_eq!(raked.weights.len(), n);
            for (x, y) in raked.weights.iter().zip(&each) {
                assert!((x - y).abs() <= 1e-12 * y.abs().max(1.0), "{x} {y}");
            }
            // A unit of weight 0 keeps it, unless trimming lifts it to the floor.
            assert_eq!(raked.weights[17] == 0.0, options.trim.is_none());
        }
        // Forty design weights (more than the short list holds), then every unit a
        // different weight (no two units share a cell): the same answers.
        for weights in [
            (0..n)
                .map(|i| 1.0 + (i % 40) as f64 / 40.0)
                .collect::<Vec<f64>>(),
            (0..n).map(|i| 1.0 + i as f64 / n as f64).collect(),
        ] {
            let raked = rake(&weights, &margins, RakeOptions::default()).unwrap();
            let each = rake_each_unit(&weights, &margins, RakeOptions::default());
            assert!(raked.converged);
            for (x, y) in raked.weights.iter().zip(&each) {
                assert!((x - y).abs() <= 1e-12 * y.abs(), "{x} {y}");
            }
        }
    }

    #[test]
    fn raking_refuses_totals_that_are_not_numbers_and_a_trimming_range_upside_down() {
        let margin = |totals: Vec<f64>| Margin {
            name: "m".to_owned(),
            category_of: vec![0, 1, 1],
            totals,
        };
        for totals in [
            vec![f64::NAN, 1.0],
            vec![1.0, f64::INFINITY],
            vec![-1.0, 4.0],
        ] {
            assert!(matches!(
                rake(&[1.0; 3], &[margin(totals)], RakeOptions::default()),
                Err(RakeError::Total(..))
            ));
        }
        assert!(matches!(
            rake(
                &[1.0; 3],
                &[margin(vec![f64::MAX, f64::MAX])],
                RakeOptions::default()
            ),
            Err(RakeError::Total(..))
        ));
        for trim in [
            (2.0, 0.5),
            (f64::NAN, 2.0),
            (-1.0, 2.0),
            (0.5, f64::INFINITY),
        ] {
            assert_eq!(
                rake(
                    &[1.0; 3],
                    &[margin(vec![1.0, 2.0])],
                    RakeOptions {
                        trim: Some(trim),
                        ..RakeOptions::default()
                    }
                ),
                Err(RakeError::Trim)
            );
        }
        // A tolerance that is not a number is never met: reported, with finite weights.
        let raked = rake(
            &[1.0; 3],
            &[margin(vec![1.0, 2.0])],
            RakeOptions {
                tolerance: f64::NAN,
                ..RakeOptions::default()
            },
        )
        .unwrap();
        assert!(!raked.converged);
        assert!(raked.weights.iter().all(|w| w.is_finite()));
    }

    #[test]
    fn the_two_group_r_indicator_matches_the_hand_computed_answer() {
        // 600 invited with propensity 0.5 and 400 with 0.25.
        let cells = [
            Cell {
                categories: vec![0],
                invited: 600,
                responded: 300,
            },
            Cell {
                categories: vec![1],
                invited: 400,
                responded: 100,
            },
        ];
        let r = r_indicator(&cells, &[2]).unwrap();
        assert!((r.mean - 0.4).abs() < 1e-12);
        assert!((r.s - 0.122536).abs() < 5e-7, "{}", r.s);
        assert!((r.r - 0.754928).abs() < 5e-7, "{}", r.r);
        let partial = &r.partials[0];
        assert!((partial.unconditional - 0.122474).abs() < 5e-7);
        assert!((partial.categories[0].0 - 0.077460).abs() < 5e-7);
        assert!((partial.categories[1].0 + 0.094868).abs() < 5e-7);
        // With one dimension, conditioning on the others changes nothing.
        assert!((partial.conditional - partial.unconditional).abs() < 1e-12);
        assert!(r_indicator(&[], &[2]).is_none());
    }

    #[test]
    fn conditional_partials_see_through_a_dimension_that_only_follows_another() {
        // Response depends on age alone; ward is spread evenly over ages. Unconditionally
        // ward shows nothing; given age, neither does ward, while age keeps its effect.
        let mut cells = Vec::new();
        for age in 0..2 {
            for ward in 0..2 {
                cells.push(Cell {
                    categories: vec![age, ward],
                    invited: 100,
                    responded: if age == 0 { 20 } else { 60 },
                });
            }
        }
        let r = r_indicator(&cells, &[2, 2]).unwrap();
        assert!(r.partials[0].unconditional > 0.19);
        assert!(r.partials[0].conditional > 0.19);
        assert!(r.partials[1].unconditional.abs() < 1e-12);
        assert!(r.partials[1].conditional.abs() < 1e-12);
        // The young are under-represented, the old over.
        assert!(r.partials[0].categories[0].0 < 0.0 && r.partials[0].categories[1].0 > 0.0);
    }

    #[test]
    fn chi_square_p_values_match_the_tables() {
        // The 5 % critical values: 3.841 (1 df), 5.991 (2), 11.070 (5), 18.307 (10).
        for (x, df) in [
            (3.841_458_8, 1.0),
            (5.991_464_5, 2.0),
            (11.070_497_7, 5.0),
            (18.307_038, 10.0),
        ] {
            let p = upper_gamma_regularised(df / 2.0, x / 2.0);
            assert!((p - 0.05).abs() < 1e-6, "{x} {df}: {p}");
        }
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
        // 60 and 40 against an even split: X² = 4, 1 df, p = 0.0455.
        let test = chi_square(&[60.0, 40.0], &[0.5, 0.5]).unwrap();
        assert!((test.statistic - 4.0).abs() < 1e-12);
        assert_eq!(test.degrees_of_freedom, 1);
        assert!(
            (test.p_value - 0.045_500_26).abs() < 1e-7,
            "{}",
            test.p_value
        );
        // A category with no population share is left out.
        let test = chi_square(&[50.0, 50.0, 3.0], &[0.5, 0.5, 0.0]).unwrap();
        assert_eq!(test.degrees_of_freedom, 1);
        assert!(chi_square(&[5.0], &[1.0]).is_none());
    }

    #[test]
    fn dissimilarity_is_the_share_that_would_have_to_move() {
        assert!((dissimilarity(&[30.0, 70.0], &[0.5, 0.5]) - 0.2).abs() < 1e-12);
        assert_eq!(dissimilarity(&[1.0, 1.0], &[2.0, 2.0]), 0.0);
        assert_eq!(dissimilarity(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }

    #[test]
    fn nps_and_its_interval_and_the_test_of_a_change() {
        // 50 promoters, 30 passives, 20 detractors: NPS 30; variance (0.5 + 0.2 − 0.09)/100.
        let mut answers = Vec::new();
        answers.extend(std::iter::repeat_n((10u8, 1.0), 50));
        answers.extend(std::iter::repeat_n((8u8, 1.0), 30));
        answers.extend(std::iter::repeat_n((3u8, 1.0), 20));
        let nps = net_promoter(&answers).unwrap();
        assert!((nps.score - 30.0).abs() < 1e-9);
        let se = 100.0 * (0.61f64 / 100.0).sqrt();
        assert!((nps.standard_error - se).abs() < 1e-9);
        assert!((nps.low - (30.0 - Z95 * se)).abs() < 1e-9);
        assert_eq!(nps.effective_n, 100.0);
        assert!(net_promoter(&[(11, 1.0)]).is_none());
        // 19.4 against 16.1 with standard errors of 3 points: no more than noise.
        let p = change_p_value(19.4, 3.0, 16.1, 3.0);
        assert!(p > 0.4 && p < 0.5, "{p}");
        // z = 1.96 gives 0.05.
        assert!((change_p_value(Z95, 1.0, 0.0, 0.0) - 0.05).abs() < 1e-9);
    }

    #[test]
    fn net_agreement_and_representation_ratios() {
        // 40 agree, 35 neither, 25 disagree: +15.
        let mut answers = Vec::new();
        answers.extend(std::iter::repeat_n((5u8, 1.0), 40));
        answers.extend(std::iter::repeat_n((3u8, 1.0), 35));
        answers.extend(std::iter::repeat_n((1u8, 1.0), 25));
        let (net, se) = net_agreement(&answers).unwrap();
        assert!((net - 15.0).abs() < 1e-9);
        assert!((se - 100.0 * ((0.65 - 0.0225) / 100.0f64).sqrt()).abs() < 1e-9);
        assert!(net_agreement(&[(0, 1.0), (6, 1.0)]).is_none());
        // 16-24s are 8 % of respondents and 12 % of the population: ratio 2/3, and its
        // interval is the Wilson interval of the share scaled by 12 %. Of 100
        // respondents that could be chance; of 1,000 it is not.
        let (ratio, low, high) = representation_ratio(8.0, 100.0, 0.12).unwrap();
        assert!((ratio - 2.0 / 3.0).abs() < 1e-12);
        let (wl, wh) = wilson_interval(8.0, 100.0);
        assert!((low - wl / 0.12).abs() < 1e-12 && (high - wh / 0.12).abs() < 1e-12);
        assert!(high > 1.0);
        let (_, _, high) = representation_ratio(80.0, 1000.0, 0.12).unwrap();
        assert!(high < 1.0, "significantly under-represented");
        assert!(representation_ratio(1.0, 10.0, 0.0).is_none());
    }

    #[test]
    fn the_wilson_interval_stays_inside_zero_and_one() {
        let (low, high) = wilson_interval(0.0, 10.0);
        assert_eq!(low, 0.0);
        assert!(high > 0.25 && high < 0.35, "{high}");
        let (low, high) = wilson_interval(50.0, 100.0);
        assert!((low - 0.4038).abs() < 1e-4 && (high - 0.5962).abs() < 1e-4);
    }
}
