//! Disclosure control for aggregate tables shown to people who may not see individuals:
//! small counts are suppressed, and further counts beside them (secondary suppression) so
//! that no suppressed count can be worked out, or narrowed to a small range, from what is
//! published around it.
//!
//! A report is modelled as *base cells* (the finest counts, e.g. respondents per age band
//! and ward) and *items*, each a published count that is the sum of some base cells: the
//! cells of a table, its row and column totals, the cells of another table over the same
//! people. An item is either shown or suppressed. The attacker knows every shown item,
//! that counts are not negative, and the report's [`Link`]s (sums known to be equal, or
//! bounded, without being published); for a suppressed item, the smallest and largest values
//! consistent with that are two linear programmes ([`attack`]). [`protect`] suppresses
//! every item from 1 to `threshold − 1`, then adds secondary suppressions until the
//! attack leaves every suppressed item a range at least `threshold` wide.

mod presolve;
mod suppress;
pub mod tables;

use microlp::{ComparisonOp, OptimizationDirection, Problem};

pub use suppress::{Costs, Tier, protect};

/// The default threshold: counts from 1 to 9 are not shown.
pub const DEFAULT_THRESHOLD: u64 = 10;

/// Published counts over base cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The true count of each base cell.
    pub cells: Vec<u64>,
    /// Each published item, as the base cells it adds up.
    pub items: Vec<Vec<usize>>,
    /// What the attacker knows of the base cells without it being published: two tables
    /// classifying the same people, each by its own base cells, have the same total
    /// within each part; the options ticked on a multiple-choice question are at least
    /// as many as those who answered it, and at most its maximum times them (see
    /// `domain::reports::disclosure::tables`).
    pub links: Vec<Link>,
}

/// A weighted sum of base cells known to be zero, or known to be at least zero.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// Each base cell and its weight (a cell may appear more than once: its weights add).
    pub terms: Vec<(usize, f64)>,
    /// Whether the sum is at least zero rather than exactly zero.
    pub at_least: bool,
}

impl Link {
    /// The sum of the `left` cells equals the sum of the `right` ones.
    pub fn equal(left: &[usize], right: &[usize]) -> Self {
        Self {
            terms: left
                .iter()
                .map(|&c| (c, 1.0))
                .chain(right.iter().map(|&c| (c, -1.0)))
                .collect(),
            at_least: false,
        }
    }

    /// The weighted sum of `terms` is at least zero.
    pub fn at_least(terms: Vec<(usize, f64)>) -> Self {
        Self {
            terms,
            at_least: true,
        }
    }

    /// Whether the cells' true values satisfy the link.
    pub fn holds(&self, cells: &[u64]) -> bool {
        let sum: f64 = self.terms.iter().map(|&(c, w)| w * cells[c] as f64).sum();
        if self.at_least {
            sum >= -1e-9
        } else {
            sum.abs() < 1e-9
        }
    }

    /// Each cell once with its weights added, cells whose weights cancel left out (the
    /// solver takes each variable at most once in a constraint).
    pub(crate) fn merged(&self) -> Vec<(usize, f64)> {
        let mut weights: std::collections::BTreeMap<usize, f64> = Default::default();
        for &(c, w) in &self.terms {
            *weights.entry(c).or_default() += w;
        }
        weights.into_iter().filter(|&(_, w)| w != 0.0).collect()
    }
}

impl Report {
    /// A two-way table of `rows × columns` counts (row by row) with its row totals, column
    /// totals and grand total: items are the cells (row by row), then the row totals, then
    /// the column totals, then the grand total.
    pub fn two_way(counts: &[Vec<u64>]) -> Self {
        let rows = counts.len();
        let columns = counts.first().map_or(0, Vec::len);
        let cells: Vec<u64> = counts
            .iter()
            .flat_map(|row| (0..columns).map(move |c| row.get(c).copied().unwrap_or(0)))
            .collect();
        let mut items: Vec<Vec<usize>> = (0..rows * columns).map(|i| vec![i]).collect();
        items.extend((0..rows).map(|r| (0..columns).map(|c| r * columns + c).collect()));
        items.extend((0..columns).map(|c| (0..rows).map(|r| r * columns + c).collect()));
        items.push((0..rows * columns).collect());
        Self {
            cells,
            items,
            links: Vec::new(),
        }
    }

    /// An item's true value.
    pub fn value(&self, item: usize) -> u64 {
        self.items[item].iter().map(|&c| self.cells[c]).sum()
    }
}

/// Why the attack could not be run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("the disclosure check failed: {0}")]
pub struct DisclosureError(pub(crate) String);

/// The range each suppressed item can take given everything shown (`None` for shown
/// items); an unbounded maximum is `f64::INFINITY`. Solved over the presolved model (see
/// `presolve`): the same ranges as [`attack_plain`], found much faster.
pub fn attack(
    report: &Report,
    suppressed: &[bool],
) -> Result<Vec<Option<(f64, f64)>>, DisclosureError> {
    let model = presolve::Model::new(report, suppressed);
    let mut ranges = vec![None; report.items.len()];
    for (item, range) in ranges.iter_mut().enumerate() {
        if suppressed[item] {
            let (low, _) = model.bound(item, OptimizationDirection::Minimize)?;
            let (high, _) = model.bound(item, OptimizationDirection::Maximize)?;
            *range = Some((low, high));
        }
    }
    Ok(ranges)
}

/// [`attack`] the plain way: for each bound of each suppressed item, one linear programme
/// over every base cell, every shown item and every link. The reference the fast attack
/// is checked against.
pub fn attack_plain(
    report: &Report,
    suppressed: &[bool],
) -> Result<Vec<Option<(f64, f64)>>, DisclosureError> {
    let mut ranges = vec![None; report.items.len()];
    for (item, cells) in report.items.iter().enumerate() {
        if !suppressed[item] {
            continue;
        }
        let low = bound(report, suppressed, cells, OptimizationDirection::Minimize)?;
        let high = bound(report, suppressed, cells, OptimizationDirection::Maximize)?;
        ranges[item] = Some((low, high));
    }
    Ok(ranges)
}

/// Whether a range leaves fewer than `threshold` whole numbers between its ends. Counts
/// are whole numbers: the attacker's range is from the least whole number above the
/// lower bound to the greatest below the upper one.
pub fn narrow((low, high): (f64, f64), threshold: u64) -> bool {
    (high + 1e-6).floor() - (low - 1e-6).ceil() < threshold as f64
}

/// The suppressed items that the attack narrows to fewer than `threshold` whole numbers.
pub fn weak(
    report: &Report,
    suppressed: &[bool],
    threshold: u64,
) -> Result<Vec<usize>, DisclosureError> {
    Ok(attack(report, suppressed)?
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.filter(|&r| narrow(r, threshold)).map(|_| i))
        .collect())
}

/// The least or greatest value of the sum of `target` cells under the shown items.
fn bound(
    report: &Report,
    suppressed: &[bool],
    target: &[usize],
    direction: OptimizationDirection,
) -> Result<f64, DisclosureError> {
    let mut problem = Problem::new(direction);
    let mut weights = vec![0.0; report.cells.len()];
    for &c in target {
        weights[c] += 1.0;
    }
    let vars: Vec<_> = weights
        .iter()
        .map(|&weight| problem.add_var(weight, (0.0, f64::INFINITY)))
        .collect();
    for (item, cells) in report.items.iter().enumerate() {
        if suppressed[item] {
            continue;
        }
        let terms: Vec<_> = cells.iter().map(|&c| (vars[c], 1.0)).collect();
        problem.add_constraint(
            terms.as_slice(),
            ComparisonOp::Eq,
            report.value(item) as f64,
        );
    }
    for link in &report.links {
        let terms: Vec<_> = link
            .merged()
            .into_iter()
            .map(|(c, w)| (vars[c], w))
            .collect();
        if terms.is_empty() {
            continue;
        }
        let op = if link.at_least {
            ComparisonOp::Ge
        } else {
            ComparisonOp::Eq
        };
        problem.add_constraint(terms.as_slice(), op, 0.0);
    }
    match problem.solve() {
        Ok(outcome) => match outcome.into_solution() {
            Ok(solution) => Ok(solution.objective()),
            Err(_) => Err(DisclosureError("the solver stopped early".to_owned())),
        },
        Err(microlp::Error::Unbounded) => Ok(f64::INFINITY),
        Err(other) => Err(DisclosureError(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests;
