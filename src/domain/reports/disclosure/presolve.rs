//! The attacker's model made small before any linear programme is solved.
//!
//! Whatever is shown pins some base cells outright: a shown item of one cell, a shown item
//! whose other cells are pinned, a shown zero (counts are not negative, so each of its
//! cells is zero). Pinned cells take their true value in every point the attacker
//! cannot rule out, so they are left out of the programmes, and what remains splits into
//! independent *components* (cells tied together by a remaining constraint). The least
//! and greatest value of a hidden item are then found over the components its free cells
//! are in, never over the whole report. The result is exactly that of one programme over
//! everything (`super::attack_plain`), which the tests check.

use microlp::{ComparisonOp, OptimizationDirection, Problem, SolveOptions};

use super::{DisclosureError, Report};

/// A constraint the attacker knows: the weighted sum of `terms` equals `rhs`, or is at
/// least `rhs`.
struct Row {
    terms: Vec<(usize, f64)>,
    rhs: f64,
    at_least: bool,
}

/// A feasible point found by a programme: each free cell it moved, and by how much
/// from its true value.
pub(super) type Point = Vec<(usize, f64)>;

/// The attacker's model with pinned cells taken out and the rest split into components.
pub(super) struct Model<'a> {
    report: &'a Report,
    /// Whether each cell is pinned to its true value.
    fixed: Vec<bool>,
    rows: Vec<Row>,
    /// Each free cell's component (cells in no constraint have one of their own).
    component: Vec<usize>,
    /// Per component: its free cells and its constraints.
    cells_of: Vec<Vec<usize>>,
    rows_of: Vec<Vec<usize>>,
}

impl<'a> Model<'a> {
    /// The model of what is known when `suppressed` items are hidden and the rest shown.
    pub(super) fn new(report: &'a Report, suppressed: &[bool]) -> Self {
        let mut rows: Vec<Row> = Vec::new();
        for (item, cells) in report.items.iter().enumerate() {
            if !suppressed[item] {
                rows.push(Row {
                    terms: cells.iter().map(|&c| (c, 1.0)).collect(),
                    rhs: report.value(item) as f64,
                    at_least: false,
                });
            }
        }
        for link in &report.links {
            let terms = link.merged();
            if !terms.is_empty() {
                rows.push(Row {
                    terms,
                    rhs: 0.0,
                    at_least: link.at_least,
                });
            }
        }
        let cell_count = report.cells.len();
        let mut rows_with: Vec<Vec<usize>> = vec![Vec::new(); cell_count];
        for (r, row) in rows.iter().enumerate() {
            for &(c, _) in &row.terms {
                rows_with[c].push(r);
            }
        }
        let mut fixed = vec![false; cell_count];
        let mut queue: Vec<usize> = (0..rows.len()).collect();
        let mut queued = vec![true; rows.len()];
        while let Some(r) = queue.pop() {
            queued[r] = false;
            let row = &rows[r];
            if row.at_least {
                continue;
            }
            let mut free = Vec::new();
            let mut rest = row.rhs;
            for &(c, w) in &row.terms {
                if fixed[c] {
                    rest -= w * report.cells[c] as f64;
                } else {
                    free.push((c, w));
                }
            }
            let pins = match free.len() {
                0 => false,
                1 => true,
                // Cells of one sign adding up to nothing are each nothing.
                _ => {
                    rest.abs() < 1e-9
                        && (free.iter().all(|&(_, w)| w > 0.0)
                            || free.iter().all(|&(_, w)| w < 0.0))
                }
            };
            if !pins {
                continue;
            }
            for &(c, _) in &free {
                fixed[c] = true;
                for &other in &rows_with[c] {
                    if !queued[other] {
                        queued[other] = true;
                        queue.push(other);
                    }
                }
            }
        }
        // Components: union-find over the free cells of each remaining constraint.
        let mut parent: Vec<usize> = (0..cell_count).collect();
        fn root(parent: &mut [usize], mut c: usize) -> usize {
            while parent[c] != c {
                parent[c] = parent[parent[c]];
                c = parent[c];
            }
            c
        }
        for row in &rows {
            let mut first = None;
            for &(c, _) in &row.terms {
                if fixed[c] {
                    continue;
                }
                match first {
                    None => first = Some(root(&mut parent, c)),
                    Some(f) => {
                        let rc = root(&mut parent, c);
                        if rc != f {
                            parent[rc] = f;
                        }
                    }
                }
            }
        }
        let mut component = vec![usize::MAX; cell_count];
        let mut number_of_root: Vec<usize> = vec![usize::MAX; cell_count];
        let mut cells_of: Vec<Vec<usize>> = Vec::new();
        for c in 0..cell_count {
            if fixed[c] {
                continue;
            }
            let r = root(&mut parent, c);
            if number_of_root[r] == usize::MAX {
                number_of_root[r] = cells_of.len();
                cells_of.push(Vec::new());
            }
            component[c] = number_of_root[r];
            cells_of[number_of_root[r]].push(c);
        }
        let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); cells_of.len()];
        for (r, row) in rows.iter().enumerate() {
            if let Some(&(c, _)) = row.terms.iter().find(|&&(c, _)| !fixed[c]) {
                rows_of[component[c]].push(r);
            }
        }
        Self {
            report,
            fixed,
            rows,
            component,
            cells_of,
            rows_of,
        }
    }

    /// The components holding `item`'s free cells, in order (none when it is pinned).
    pub(super) fn components(&self, item: usize) -> Vec<usize> {
        let mut components: Vec<usize> = self.report.items[item]
            .iter()
            .filter(|&&c| !self.fixed[c])
            .map(|&c| self.component[c])
            .collect();
        components.sort_unstable();
        components.dedup();
        components
    }

    /// The least (or greatest) value `item` can take, with a point reaching it; an
    /// unbounded greatest value is `f64::INFINITY`, with no point.
    pub(super) fn bound(
        &self,
        item: usize,
        direction: OptimizationDirection,
    ) -> Result<(f64, Option<Point>), DisclosureError> {
        let target = &self.report.items[item];
        let mut constant = 0.0;
        let mut components: Vec<usize> = Vec::new();
        for &c in target {
            if self.fixed[c] {
                constant += self.report.cells[c] as f64;
            } else if !components.contains(&self.component[c]) {
                components.push(self.component[c]);
            }
        }
        if components.is_empty() {
            return Ok((constant, Some(Vec::new())));
        }
        components.sort_unstable();
        let mut problem = Problem::new(direction);
        let mut var_of: std::collections::HashMap<usize, microlp::Variable> =
            std::collections::HashMap::new();
        let mut weights: std::collections::HashMap<usize, f64> = std::collections::HashMap::new();
        for &c in target {
            *weights.entry(c).or_default() += 1.0;
        }
        let mut cells = Vec::new();
        for &k in &components {
            for &c in &self.cells_of[k] {
                let weight = weights.get(&c).copied().unwrap_or(0.0);
                var_of.insert(c, problem.add_var(weight, (0.0, f64::INFINITY)));
                cells.push(c);
            }
        }
        for &k in &components {
            for &r in &self.rows_of[k] {
                let row = &self.rows[r];
                let mut rest = row.rhs;
                let mut terms = Vec::new();
                for &(c, w) in &row.terms {
                    if self.fixed[c] {
                        rest -= w * self.report.cells[c] as f64;
                    } else {
                        terms.push((var_of[&c], w));
                    }
                }
                let op = if row.at_least {
                    ComparisonOp::Ge
                } else {
                    ComparisonOp::Eq
                };
                problem.add_constraint(terms.as_slice(), op, rest);
            }
        }
        let mut options = SolveOptions::default();
        // The model is presolved already.
        options.presolve = false;
        match problem.solve_with(options) {
            Ok(outcome) => {
                let solution = outcome
                    .into_solution()
                    .map_err(|_| DisclosureError("the solver stopped early".to_owned()))?;
                let point = cells
                    .iter()
                    .map(|&c| {
                        (
                            c,
                            solution.var_value(var_of[&c]) - self.report.cells[c] as f64,
                        )
                    })
                    .filter(|(_, d)| d.abs() > 1e-9)
                    .collect();
                Ok((solution.objective() + constant, Some(point)))
            }
            Err(microlp::Error::Unbounded) => Ok((f64::INFINITY, None)),
            Err(other) => Err(DisclosureError(format!("{other:?}"))),
        }
    }
}
