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

use std::time::Duration;

use microlp::{ComparisonOp, OptimizationDirection, Problem};

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
    /// `service::disclosure`).
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
    fn merged(&self) -> Vec<(usize, f64)> {
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
pub struct DisclosureError(String);

/// The range each suppressed item can take given everything shown (`None` for shown
/// items); an unbounded maximum is `f64::INFINITY`.
pub fn attack(
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

/// The suppressed items that the attack narrows to fewer than `threshold` whole numbers.
/// Counts are whole numbers: the attacker's range is from the least whole number above
/// the lower bound to the greatest below the upper one.
pub fn weak(
    report: &Report,
    suppressed: &[bool],
    threshold: u64,
) -> Result<Vec<usize>, DisclosureError> {
    Ok(attack(report, suppressed)?
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.filter(|(low, high)| (high + 1e-6).floor() - (low - 1e-6).ceil() < threshold as f64)
                .map(|_| i)
        })
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
    problem.set_time_limit(Duration::from_secs(10));
    let mut weights = vec![0.0; report.cells.len()];
    for &c in target {
        weights[c] = 1.0;
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
            Err(_) => Err(DisclosureError(
                "the solver reached its time limit".to_owned(),
            )),
        },
        Err(microlp::Error::Unbounded) => Ok(f64::INFINITY),
        Err(other) => Err(DisclosureError(format!("{other:?}"))),
    }
}

/// Which items to suppress so that no count from 1 to `threshold − 1` is shown and no
/// suppressed item can be narrowed to a range less than `threshold` wide. Zeros are shown
/// (unless needed as secondary suppressions).
pub fn protect(report: &Report, threshold: u64) -> Result<Vec<bool>, DisclosureError> {
    protect_beside(report, threshold, &vec![false; report.items.len()])
}

/// [`protect`], with the items marked in `already` suppressed from the start (hidden
/// because another table of the same report hides them).
pub fn protect_beside(
    report: &Report,
    threshold: u64,
    already: &[bool],
) -> Result<Vec<bool>, DisclosureError> {
    let values: Vec<u64> = (0..report.items.len()).map(|i| report.value(i)).collect();
    let mut suppressed: Vec<bool> = values
        .iter()
        .zip(already)
        .map(|(&v, &hidden)| hidden || (v > 0 && v < threshold))
        .collect();
    loop {
        let weak = weak(report, &suppressed, threshold)?;
        if weak.is_empty() {
            return Ok(suppressed);
        }
        let mut added = false;
        for item in weak {
            if let Some(partner) = partner(report, &suppressed, &values, item, threshold)
                && !suppressed[partner]
            {
                suppressed[partner] = true;
                added = true;
            }
        }
        if !added {
            // Nothing left that could widen the ranges: hide everything.
            if suppressed.iter().all(|&s| s) {
                return Ok(suppressed);
            }
            suppressed.fill(true);
        }
    }
}

/// A shown item to suppress beside weak `item`: one that shares base cells with an item
/// overlapping it (a cell of the same row or column), preferring the smallest count of at
/// least `threshold`, then the largest smaller one. When its own table has none left, one
/// from the tables that a link ties it to, the closest link (fewest cells) first.
fn partner(
    report: &Report,
    suppressed: &[bool],
    values: &[u64],
    item: usize,
    threshold: u64,
) -> Option<usize> {
    let cells = &report.items[item];
    let overlaps = |a: &[usize], b: &[usize]| a.iter().any(|c| b.contains(c));
    // A shown item with cells in `near`, other than the weak item and those that hold it.
    let pick = |near: &[usize]| -> Option<usize> {
        let mut is_near = vec![false; report.cells.len()];
        for &c in near {
            is_near[c] = true;
        }
        let candidates: Vec<usize> = (0..report.items.len())
            .filter(|&j| !suppressed[j] && j != item)
            .filter(|&j| report.items[j].iter().any(|&c| is_near[c]))
            .filter(|&j| !overlaps(&report.items[j], cells) || report.items[j].len() < cells.len())
            .collect();
        let big = candidates
            .iter()
            .copied()
            .filter(|&j| values[j] >= threshold)
            .min_by_key(|&j| (values[j], report.items[j].len()));
        big.or_else(|| {
            candidates
                .iter()
                .copied()
                .filter(|&j| values[j] > 0)
                .max_by_key(|&j| (values[j], std::cmp::Reverse(report.items[j].len())))
        })
        .or_else(|| candidates.first().copied())
    };
    // The cells of the items (shown or not) that overlap the weak item: its row, its
    // column, its totals.
    let around: Vec<usize> = (0..report.items.len())
        .filter(|&j| j != item && overlaps(&report.items[j], cells))
        .flat_map(|j| report.items[j].iter().copied())
        .collect();
    pick(&around).or_else(|| {
        let mut linked: Vec<Vec<usize>> = report
            .links
            .iter()
            .map(|link| link.merged().into_iter().map(|(c, _)| c).collect())
            .filter(|link: &Vec<usize>| overlaps(link, cells))
            .collect();
        linked.sort_by_key(Vec::len);
        linked.iter().find_map(|near| pick(near))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the protection as an attacker would: every small shown count is absent and
    /// every suppressed item's range is at least `threshold` wide.
    fn assert_protected(report: &Report, suppressed: &[bool], threshold: u64) {
        for (item, &hidden) in suppressed.iter().enumerate() {
            let value = report.value(item);
            assert!(
                hidden || value == 0 || value >= threshold,
                "item {item} shows {value}"
            );
        }
        for (item, range) in attack(report, suppressed).unwrap().iter().enumerate() {
            if let Some((low, high)) = range {
                assert!(
                    high - low >= threshold as f64 - 1e-6,
                    "item {item} ({}) is pinned to {low}..{high}",
                    report.value(item)
                );
                let value = report.value(item) as f64;
                assert!(*low <= value + 1e-6 && value <= high + 1e-6);
            }
        }
    }

    #[test]
    fn one_small_cell_takes_a_rectangle_of_partners_with_it() {
        let report = Report::two_way(&[vec![40, 3, 25], vec![30, 22, 18], vec![15, 12, 50]]);
        let suppressed = protect(&report, 10).unwrap();
        assert!(suppressed[1], "the 3 is hidden");
        // Hiding only the 3 would reveal it from its row total; its row and column each
        // need another hidden cell.
        let hidden_cells = suppressed[..9].iter().filter(|&&s| s).count();
        assert!(hidden_cells >= 4, "{suppressed:?}");
        assert!(!suppressed[9..].iter().any(|&s| s), "the totals stay shown");
        assert_protected(&report, &suppressed, 10);
    }

    #[test]
    fn the_attack_recovers_a_cell_hidden_alone() {
        let report = Report::two_way(&[vec![40, 3], vec![30, 22]]);
        let mut alone = vec![false; report.items.len()];
        alone[1] = true;
        let ranges = attack(&report, &alone).unwrap();
        let (low, high) = ranges[1].unwrap();
        assert!((low - 3.0).abs() < 1e-6 && (high - 3.0).abs() < 1e-6);
    }

    #[test]
    fn small_totals_are_hidden_too_and_every_table_shape_is_protected() {
        // A row of small counts: its total (7) is small as well.
        let report = Report::two_way(&[vec![2, 5, 0], vec![40, 35, 20], vec![12, 30, 16]]);
        let suppressed = protect(&report, 10).unwrap();
        assert!(suppressed[9], "the row total of 7 is hidden");
        assert_protected(&report, &suppressed, 10);
        // Pseudo-random tables of many shapes, with many small counts.
        let mut state = 12_345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            state >> 33
        };
        for _ in 0..12 {
            let rows = 2 + (next() % 4) as usize;
            let columns = 2 + (next() % 4) as usize;
            let counts: Vec<Vec<u64>> = (0..rows)
                .map(|_| (0..columns).map(|_| next() % 30).collect())
                .collect();
            let report = Report::two_way(&counts);
            let suppressed = protect(&report, 10).unwrap();
            assert_protected(&report, &suppressed, 10);
        }
    }

    #[test]
    fn two_tables_over_the_same_people_are_protected_together() {
        // Base cells: age (2) × sex (2) × ward (2). Published: age × sex and age × ward,
        // each with its totals; a cell of one can be narrowed through the other.
        let cells = vec![3, 20, 14, 9, 25, 11, 6, 30];
        let index = |age: usize, sex: usize, ward: usize| age * 4 + sex * 2 + ward;
        let mut items: Vec<Vec<usize>> = Vec::new();
        for age in 0..2 {
            for sex in 0..2 {
                items.push((0..2).map(|w| index(age, sex, w)).collect());
            }
            for ward in 0..2 {
                items.push((0..2).map(|s| index(age, s, ward)).collect());
            }
            items.push((0..4).map(|k| age * 4 + k).collect());
        }
        let report = Report {
            cells,
            items,
            links: Vec::new(),
        };
        let suppressed = protect(&report, 10).unwrap();
        assert_protected(&report, &suppressed, 10);
    }

    #[test]
    fn a_link_between_two_tables_lets_the_attacker_recover_a_cell() {
        // Table A (cells 0, 1) publishes only its second cell; table B (cells 2, 3) is
        // over the same people and publishes its total.
        let mut report = Report {
            cells: vec![3, 30, 20, 13],
            items: vec![vec![0], vec![1], vec![2, 3]],
            links: Vec::new(),
        };
        let hidden = [true, false, false];
        let (low, high) = attack(&report, &hidden).unwrap()[0].unwrap();
        assert_eq!((low, high), (0.0, f64::INFINITY), "alone, A's cell is free");
        report.links.push(Link::equal(&[0, 1], &[2, 3]));
        let (low, high) = attack(&report, &hidden).unwrap()[0].unwrap();
        assert!((low - 3.0).abs() < 1e-6 && (high - 3.0).abs() < 1e-6);
        // Protection sees the link too and hides a partner.
        let suppressed = protect(&report, 10).unwrap();
        assert!(suppressed[0] && suppressed[1..].iter().any(|&s| s));
        assert_protected(&report, &suppressed, 10);
    }

    #[test]
    fn items_hidden_elsewhere_stay_hidden_and_are_protected() {
        let report = Report::two_way(&[vec![40, 30], vec![25, 22]]);
        let mut already = vec![false; report.items.len()];
        already[0] = true; // the 40, hidden by another table of the report
        let suppressed = protect_beside(&report, 10, &already).unwrap();
        assert!(suppressed[0]);
        assert_protected(&report, &suppressed, 10);
    }
}
