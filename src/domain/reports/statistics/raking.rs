//! Raking respondents to population margins (iterative proportional fitting, Deming and
//! Stephan 1940) on cells of alike units, and what weights cost: the weighted mean, Kish's
//! effective sample size and the design effect.

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
pub(super) struct Cells {
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
    pub(super) fn of(weights: &[f64], margins: &[Margin]) -> Self {
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
    pub(super) fn rake(&self, margins: &[Margin], options: RakeOptions, n: usize) -> Raked {
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
pub(super) fn weight_classes(weights: &[f64]) -> Option<(usize, Vec<usize>)> {
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
