//! A dense primal revised simplex made for column generation.
//!
//! The programme is `maximise c·x` subject to `A x = b`, each variable either at least 0
//! or free. Columns are added one at a time, at any moment: a new column enters as a
//! nonbasic variable at 0, so the current basis stays feasible and the next solve starts
//! from it, with no refactorization. The caller gives a first feasible basis (column
//! generation usually knows one); there is no phase one.
//!
//! The basis inverse is kept explicitly, as a dense row-major matrix, and updated at each
//! pivot by the elementary row operations of the pivot (the product form applied at
//! once). Every so many pivots (200, or the number of rows if more) it is
//! computed again from the basic columns by Gauss-Jordan elimination with partial
//! pivoting, which bounds the rounding the updates gather. Entering columns are chosen by
//! steepest edge (the norms updated at each pivot), which takes far fewer pivots than the
//! largest reduced cost on the degenerate programmes of column generation; the leaving row
//! by the ratio test with ties going to the largest pivot. After 30 pivots in
//! a row that move nothing, Bland's rule (smallest index entering and leaving) takes over
//! until one does, which rules out cycling.

use std::time::Instant;

/// Why a programme could not be solved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LpError {
    /// The starting basis is not a basis, is singular or is not feasible.
    #[error("the starting basis is singular or infeasible")]
    BadBasis,
    /// The objective can grow without limit.
    #[error("the programme is unbounded")]
    Unbounded,
    /// The deadline passed during the solve.
    #[error("the deadline passed")]
    TimeLimit,
}

/// The fewest pivots between two computations of the basis inverse from scratch; there are
/// at least as many as rows, so that the `O(m³)` computation costs no more than the
/// `O(m²)` pivots since the last.
const REFACTOR_EVERY: usize = 200;

/// Pivots in a row moving no variable before Bland's rule takes over.
const BLAND_AFTER: usize = 30;

/// A reduced cost this large (in the improving direction) lets a column enter.
const OPTIMAL_TOLERANCE: f64 = 1e-9;

/// The smallest pivot element the ratio test accepts.
const PIVOT_TOLERANCE: f64 = 1e-9;

/// How far below 0 a basic value may be in a feasible starting basis (rounding).
const FEASIBLE_TOLERANCE: f64 = 1e-9;

/// One column: its cost, its nonzero entries as `(row, value)`, and whether its variable
/// is free (otherwise at least 0).
#[derive(Clone, Debug)]
struct Column {
    cost: f64,
    entries: Vec<(usize, f64)>,
    free: bool,
}

impl Column {
    /// Its cost less what its entries are worth at `duals`: positive when bringing it into
    /// the basis would raise the objective.
    fn reduced_cost(&self, duals: &[f64]) -> f64 {
        self.cost - self.entries.iter().map(|&(r, v)| duals[r] * v).sum::<f64>()
    }
}

/// A programme `max c·x, A x = b` with its current basis.
#[derive(Clone, Debug)]
pub struct DenseLp {
    rhs: Vec<f64>,
    columns: Vec<Column>,
    /// The basic column at each position of the basis.
    basis: Vec<usize>,
    /// Each column's position in the basis, if basic.
    position: Vec<Option<usize>>,
    /// The basis inverse, row-major, `rows × rows`.
    inverse: Vec<f64>,
    /// The basic variables' values, by basis position.
    values: Vec<f64>,
    /// Pivots since the inverse was last computed from scratch.
    since_refactor: usize,
    /// Each column's steepest-edge norm `1 + ||B⁻¹ a_j||²`, kept up to date for the
    /// nonbasic columns.
    norms: Vec<f64>,
}

impl DenseLp {
    /// A programme with right-hand side `rhs` (one entry per row) and no columns yet.
    pub fn new(rhs: Vec<f64>) -> Self {
        Self {
            rhs,
            columns: Vec::new(),
            basis: Vec::new(),
            position: Vec::new(),
            inverse: Vec::new(),
            values: Vec::new(),
            since_refactor: 0,
            norms: Vec::new(),
        }
    }

    /// The number of constraints, one per entry of the right-hand side.
    pub fn rows(&self) -> usize {
        self.rhs.len()
    }

    /// Adds a column with objective coefficient `cost` and the entries `(row, value)`
    /// (rows out of range are ignored); returns its index. Its variable starts nonbasic
    /// at 0, so a feasible basis stays feasible.
    pub fn add_column(&mut self, cost: f64, entries: &[(usize, f64)], free: bool) -> usize {
        let rows = self.rows();
        let entries = entries
            .iter()
            .copied()
            .filter(|&(r, v)| r < rows && v != 0.0)
            .collect();
        self.columns.push(Column {
            cost,
            entries,
            free,
        });
        self.position.push(None);
        let j = self.columns.len() - 1;
        let norm = if self.inverse.is_empty() {
            1.0
        } else {
            self.edge_norm(j)
        };
        self.norms.push(norm);
        j
    }

    /// `1 + ||B⁻¹ a_j||²`, column `j`'s steepest-edge norm at the current basis.
    fn edge_norm(&self, j: usize) -> f64 {
        let m = self.rows();
        1.0 + (0..m)
            .map(|i| {
                let row = &self.inverse[i * m..(i + 1) * m];
                let x: f64 = self.columns[j]
                    .entries
                    .iter()
                    .map(|&(r, v)| row[r] * v)
                    .sum();
                x * x
            })
            .sum::<f64>()
    }

    /// Makes `basis` (one column per row, all distinct) the current basis. Fails if it is
    /// singular or gives some variable that must be at least 0 a negative value.
    pub fn start(&mut self, basis: &[usize]) -> Result<(), LpError> {
        let rows = self.rows();
        if basis.len() != rows || basis.iter().any(|&j| j >= self.columns.len()) {
            return Err(LpError::BadBasis);
        }
        self.position = vec![None; self.columns.len()];
        for (i, &j) in basis.iter().enumerate() {
            if self.position[j].is_some() {
                return Err(LpError::BadBasis);
            }
            self.position[j] = Some(i);
        }
        self.basis = basis.to_vec();
        self.refactor()?;
        self.norms = (0..self.columns.len()).map(|j| self.edge_norm(j)).collect();
        let infeasible = self
            .basis
            .iter()
            .zip(&self.values)
            .any(|(&j, &x)| !self.columns[j].free && x < -FEASIBLE_TOLERANCE);
        if infeasible {
            return Err(LpError::BadBasis);
        }
        Ok(())
    }

    /// Computes the basis inverse from the basic columns (Gauss-Jordan elimination with
    /// partial pivoting), and the basic values from it.
    fn refactor(&mut self) -> Result<(), LpError> {
        let m = self.rows();
        let width = 2 * m;
        // [B | I], row-major.
        let mut work = vec![0.0; m * width];
        for (i, &j) in self.basis.iter().enumerate() {
            for &(r, v) in &self.columns[j].entries {
                work[r * width + i] = v;
            }
        }
        for r in 0..m {
            work[r * width + m + r] = 1.0;
        }
        let mut pivot_row = vec![0.0; width];
        for k in 0..m {
            let (best, size) = (k..m)
                .map(|r| (r, work[r * width + k].abs()))
                .fold((k, -1.0), |acc, x| if x.1 > acc.1 { x } else { acc });
            if size < 1e-12 {
                return Err(LpError::BadBasis);
            }
            if best != k {
                for c in 0..width {
                    work.swap(k * width + c, best * width + c);
                }
            }
            let pivot = work[k * width + k];
            for c in 0..width {
                work[k * width + c] /= pivot;
            }
            pivot_row.copy_from_slice(&work[k * width..(k + 1) * width]);
            for r in 0..m {
                let factor = work[r * width + k];
                if r == k || factor == 0.0 {
                    continue;
                }
                let row = &mut work[r * width..(r + 1) * width];
                for (x, p) in row[k..].iter_mut().zip(&pivot_row[k..]) {
                    *x -= factor * p;
                }
            }
        }
        self.inverse = vec![0.0; m * m];
        for r in 0..m {
            self.inverse[r * m..(r + 1) * m].copy_from_slice(&work[r * width + m..(r + 1) * width]);
        }
        self.values = (0..m)
            .map(|i| {
                let row = &self.inverse[i * m..(i + 1) * m];
                row.iter().zip(&self.rhs).map(|(a, b)| a * b).sum()
            })
            .collect();
        self.since_refactor = 0;
        Ok(())
    }

    /// The simplex multipliers `π = c_B B⁻¹`, one per row: the duals of the rows at the
    /// current basis.
    pub fn duals(&self) -> Vec<f64> {
        let m = self.rows();
        let mut duals = vec![0.0; m];
        for (i, &j) in self.basis.iter().enumerate() {
            let cost = self.columns[j].cost;
            if cost != 0.0 {
                let row = &self.inverse[i * m..(i + 1) * m];
                for (d, a) in duals.iter_mut().zip(row) {
                    *d += cost * a;
                }
            }
        }
        duals
    }

    /// Column `j`'s value at the current basis.
    pub fn value(&self, j: usize) -> f64 {
        self.position
            .get(j)
            .copied()
            .flatten()
            .map_or(0.0, |i| self.values[i])
    }

    /// The objective at the current basis.
    pub fn objective(&self) -> f64 {
        self.basis
            .iter()
            .zip(&self.values)
            .map(|(&j, x)| self.columns[j].cost * x)
            .sum()
    }

    /// Pivots from the current (feasible) basis to an optimal one, or fails when the
    /// programme is unbounded or `deadline` passes. Returns the optimum.
    pub fn solve(&mut self, deadline: Instant) -> Result<f64, LpError> {
        if self.basis.len() != self.rows() {
            return Err(LpError::BadBasis);
        }
        let m = self.rows();
        let mut stalled = 0;
        let mut direction = vec![0.0; m];
        let mut pivot_row = vec![0.0; m];
        let mut edge = vec![0.0; m];
        loop {
            if Instant::now() >= deadline {
                return Err(LpError::TimeLimit);
            }
            if self.since_refactor >= m.max(REFACTOR_EVERY) {
                self.refactor()?;
            }
            let bland = stalled >= BLAND_AFTER;
            let duals = self.duals();
            // Entering: the steepest edge (the largest reduced cost per unit of movement
            // in the space of all variables), or under Bland's rule the first.
            let mut entering: Option<(usize, f64, f64)> = None;
            for (j, column) in self.columns.iter().enumerate() {
                if self.position[j].is_some() {
                    continue;
                }
                let reduced = column.reduced_cost(&duals);
                let sign = if reduced > OPTIMAL_TOLERANCE {
                    1.0
                } else if column.free && reduced < -OPTIMAL_TOLERANCE {
                    -1.0
                } else {
                    continue;
                };
                let score = reduced * reduced / self.norms[j];
                if entering.is_none_or(|(_, _, best)| score > best) {
                    entering = Some((j, sign, score));
                    if bland {
                        break;
                    }
                }
            }
            let Some((enter, sign, _)) = entering else {
                return Ok(self.objective());
            };
            // The entering column in the basis: B⁻¹ a.
            for (i, d) in direction.iter_mut().enumerate() {
                let row = &self.inverse[i * m..(i + 1) * m];
                *d = self.columns[enter]
                    .entries
                    .iter()
                    .map(|&(r, v)| row[r] * v)
                    .sum();
            }
            // Leaving: the smallest ratio; ties to the largest pivot, or under Bland's
            // rule to the smallest column index.
            let mut leaving: Option<(usize, f64)> = None;
            for (i, &d) in direction.iter().enumerate() {
                let rate = sign * d;
                if rate <= PIVOT_TOLERANCE || self.columns[self.basis[i]].free {
                    continue;
                }
                let ratio = self.values[i].max(0.0) / rate;
                let better = match leaving {
                    None => true,
                    Some((l, best)) => {
                        if ratio < best - 1e-12 {
                            true
                        } else if ratio <= best + 1e-12 {
                            if bland {
                                self.basis[i] < self.basis[l]
                            } else {
                                rate > sign * direction[l]
                            }
                        } else {
                            false
                        }
                    }
                };
                if better {
                    leaving = Some((i, ratio));
                }
            }
            let Some((out, step)) = leaving else {
                return Err(LpError::Unbounded);
            };
            // The basic values move by the step.
            for (x, &d) in self.values.iter_mut().zip(&direction) {
                *x -= step * sign * d;
            }
            self.values[out] = step * sign;
            // The inverse: divide the pivot row, eliminate the others.
            let pivot = direction[out];
            for (p, a) in pivot_row
                .iter_mut()
                .zip(&self.inverse[out * m..(out + 1) * m])
            {
                *p = a / pivot;
            }
            self.update_norms(enter, out, &direction, &pivot_row, &mut edge);
            for (i, &d) in direction.iter().enumerate() {
                let row = &mut self.inverse[i * m..(i + 1) * m];
                if i == out {
                    row.copy_from_slice(&pivot_row);
                } else if d != 0.0 {
                    for (a, p) in row.iter_mut().zip(&pivot_row) {
                        *a -= d * p;
                    }
                }
            }
            self.position[self.basis[out]] = None;
            self.position[enter] = Some(out);
            self.basis[out] = enter;
            self.since_refactor += 1;
            stalled = if step > 1e-12 { 0 } else { stalled + 1 };
        }
    }
}

impl DenseLp {
    /// Updates the steepest-edge norms of the nonbasic columns for the pivot of column
    /// `enter` (whose image `B⁻¹ a` is `direction`) into position `out`, before the
    /// inverse changes; `pivot_row` is row `out` of the inverse divided by the pivot.
    /// With `ᾱ_j = pivot_row · a_j` and `v = B⁻ᵀ B⁻¹ a_enter` (in `edge`), column `j`'s
    /// norm becomes `γ_j - 2 ᾱ_j v·a_j + ᾱ_j² γ_enter`, at least `1 + ᾱ_j²` (Goldfarb and
    /// Reid's update); the leaving column's is `γ_enter / pivot²`.
    fn update_norms(
        &mut self,
        enter: usize,
        out: usize,
        direction: &[f64],
        pivot_row: &[f64],
        edge: &mut [f64],
    ) {
        let m = self.rows();
        let entering = 1.0 + direction.iter().map(|d| d * d).sum::<f64>();
        edge.fill(0.0);
        for (i, &d) in direction.iter().enumerate() {
            if d != 0.0 {
                let row = &self.inverse[i * m..(i + 1) * m];
                for (x, a) in edge.iter_mut().zip(row) {
                    *x += d * a;
                }
            }
        }
        for (j, column) in self.columns.iter().enumerate() {
            if j == enter || self.position[j].is_some() {
                continue;
            }
            let ratio: f64 = column.entries.iter().map(|&(r, v)| pivot_row[r] * v).sum();
            if ratio == 0.0 {
                continue;
            }
            let dot: f64 = column.entries.iter().map(|&(r, v)| edge[r] * v).sum();
            let norm = &mut self.norms[j];
            *norm = (*norm - 2.0 * ratio * dot + ratio * ratio * entering).max(1.0 + ratio * ratio);
        }
        let pivot = direction[out];
        self.norms[self.basis[out]] = (entering / (pivot * pivot)).max(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    /// `max c·x` subject to `A x ≤ b` (`b ≥ 0`), with a slack per row, started from the
    /// slack basis. Returns the programme and the structural columns.
    fn with_slacks(costs: &[f64], rows: &[&[f64]], rhs: &[f64]) -> (DenseLp, Vec<usize>) {
        let mut lp = DenseLp::new(rhs.to_vec());
        let columns: Vec<usize> = (0..costs.len())
            .map(|j| {
                let entries: Vec<(usize, f64)> = rows
                    .iter()
                    .enumerate()
                    .map(|(r, row)| (r, row[j]))
                    .collect();
                lp.add_column(costs[j], &entries, false)
            })
            .collect();
        let slacks: Vec<usize> = (0..rows.len())
            .map(|r| lp.add_column(0.0, &[(r, 1.0)], false))
            .collect();
        lp.start(&slacks).unwrap();
        (lp, columns)
    }

    /// Checks the optimum's certificate: dual feasibility and equal objectives.
    fn check_duals(lp: &DenseLp, optimum: f64) {
        let duals = lp.duals();
        let dual_value: f64 = duals.iter().zip(&lp.rhs).map(|(y, b)| y * b).sum();
        assert!(
            (dual_value - optimum).abs() < 1e-9,
            "{dual_value} {optimum}"
        );
        for column in &lp.columns {
            let reduced = column.reduced_cost(&duals);
            assert!(reduced <= 1e-9, "{reduced}");
            if column.free {
                assert!(reduced >= -1e-9, "{reduced}");
            }
        }
    }

    #[test]
    fn a_textbook_programme_reaches_its_vertex() {
        // max 3x + 5y: x ≤ 4, 2y ≤ 12, 3x + 2y ≤ 18; optimum 36 at (2, 6).
        let (mut lp, x) = with_slacks(
            &[3.0, 5.0],
            &[&[1.0, 0.0], &[0.0, 2.0], &[3.0, 2.0]],
            &[4.0, 12.0, 18.0],
        );
        let optimum = lp.solve(deadline()).unwrap();
        assert!((optimum - 36.0).abs() < 1e-9);
        assert!((lp.value(x[0]) - 2.0).abs() < 1e-9);
        assert!((lp.value(x[1]) - 6.0).abs() < 1e-9);
        check_duals(&lp, optimum);
    }

    #[test]
    fn a_degenerate_vertex_is_left_or_proved_optimal() {
        // max x + y: x ≤ 1, y ≤ 1, x + y ≤ 2, x - y ≤ 0: three constraints meet at (1, 1)
        // and the start (0, 0) is degenerate for x - y ≤ 0.
        let (mut lp, _) = with_slacks(
            &[1.0, 1.0],
            &[&[1.0, 0.0], &[0.0, 1.0], &[1.0, 1.0], &[1.0, -1.0]],
            &[1.0, 1.0, 2.0, 0.0],
        );
        let optimum = lp.solve(deadline()).unwrap();
        assert!((optimum - 2.0).abs() < 1e-9);
        check_duals(&lp, optimum);
    }

    #[test]
    fn beales_cycling_example_terminates_at_its_optimum() {
        // Chvátal's form of the example that cycles under the largest coefficient rule
        // with the smallest index leaving: max 10x1 - 57x2 - 9x3 - 24x4 with two
        // degenerate rows; the optimum is 1 at x = (1, 0, 1, 0).
        let (mut lp, x) = with_slacks(
            &[10.0, -57.0, -9.0, -24.0],
            &[
                &[0.5, -5.5, -2.5, 9.0],
                &[0.5, -1.5, -0.5, 1.0],
                &[1.0, 0.0, 0.0, 0.0],
            ],
            &[0.0, 0.0, 1.0],
        );
        let optimum = lp.solve(deadline()).unwrap();
        assert!((optimum - 1.0).abs() < 1e-9, "{optimum}");
        assert!((lp.value(x[0]) - 1.0).abs() < 1e-9);
        assert!((lp.value(x[2]) - 1.0).abs() < 1e-9);
        check_duals(&lp, optimum);
    }

    #[test]
    fn an_unbounded_programme_is_reported() {
        // max x + y: x - y ≤ 1 lets both grow together.
        let (mut lp, _) = with_slacks(&[1.0, 1.0], &[&[1.0, -1.0]], &[1.0]);
        assert_eq!(lp.solve(deadline()), Err(LpError::Unbounded));
    }

    #[test]
    fn a_singular_or_infeasible_start_is_refused() {
        let mut lp = DenseLp::new(vec![1.0, -1.0]);
        let a = lp.add_column(0.0, &[(0, 1.0)], false);
        let b = lp.add_column(0.0, &[(0, 2.0)], false);
        let c = lp.add_column(0.0, &[(1, 1.0)], false);
        assert_eq!(lp.start(&[a, b]), Err(LpError::BadBasis));
        // x_c = -1 < 0.
        assert_eq!(lp.start(&[a, c]), Err(LpError::BadBasis));
        assert_eq!(lp.start(&[a, a]), Err(LpError::BadBasis));
    }

    /// The margin programme of column generation over panels: `max t` with
    /// `Σ λ_j a_jr - t - s_r = p_r` and `Σ λ_j = 1`, started from the first panel alone.
    struct Margin {
        lp: DenseLp,
        types: usize,
    }

    impl Margin {
        fn new(targets: &[f64], first: &[f64]) -> Self {
            let types = targets.len();
            let mut rhs = targets.to_vec();
            rhs.push(1.0);
            let mut lp = DenseLp::new(rhs);
            let all: Vec<(usize, f64)> = (0..types).map(|r| (r, -1.0)).collect();
            let t = lp.add_column(1.0, &all, true);
            let surplus: Vec<usize> = (0..types)
                .map(|r| lp.add_column(0.0, &[(r, -1.0)], false))
                .collect();
            let mut margin = Self { lp, types };
            let panel = margin.add(first);
            let lowest = (0..types)
                .min_by(|&a, &b| (first[a] - targets[a]).total_cmp(&(first[b] - targets[b])))
                .unwrap();
            let mut basis = surplus.clone();
            basis[lowest] = t;
            basis.push(panel);
            margin.lp.start(&basis).unwrap();
            margin
        }

        fn add(&mut self, panel: &[f64]) -> usize {
            let mut entries: Vec<(usize, f64)> = panel.iter().copied().enumerate().collect();
            entries.push((self.types, 1.0));
            self.lp.add_column(0.0, &entries, false)
        }
    }

    #[test]
    fn columns_added_after_a_solve_are_priced_in_from_the_same_basis() {
        // Two types of 1 person each and panels of one: the best distribution gives each
        // 1/2; then a third type makes it 1/3 each.
        let mut margin = Margin::new(&[0.0, 0.0, 0.0], &[1.0, 0.0, 0.0]);
        let t = 0;
        assert!((margin.lp.solve(deadline()).unwrap() - 0.0).abs() < 1e-12);
        margin.add(&[0.0, 1.0, 0.0]);
        assert!(margin.lp.solve(deadline()).unwrap().abs() < 1e-12);
        margin.add(&[0.0, 0.0, 1.0]);
        let optimum = margin.lp.solve(deadline()).unwrap();
        assert!((optimum - 1.0 / 3.0).abs() < 1e-12, "{optimum}");
        assert!((margin.lp.value(t) - 1.0 / 3.0).abs() < 1e-12);
        check_duals(&margin.lp, optimum);
        // Duals on the type rows are the weights (−π ≥ 0, adding up to 1).
        let duals = margin.lp.duals();
        let weights: f64 = duals[..3].iter().map(|y| -y).sum();
        assert!((weights - 1.0).abs() < 1e-12);
    }

    #[test]
    fn random_margin_programmes_agree_with_microlp() {
        use microlp::{ComparisonOp, OptimizationDirection, Problem};
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        for round in 0..30 {
            // The first rounds are large enough to refactor the inverse on the way.
            let (types, count) = if round < 2 {
                (120, 600)
            } else {
                (rng.random_range(2..25), rng.random_range(1..60))
            };
            let panels: Vec<Vec<f64>> = (0..count)
                .map(|_| {
                    (0..types)
                        .map(|_| {
                            // Many repeated values, so many ties and degenerate pivots.
                            f64::from(rng.random_range(0..4_u8)) / 4.0
                        })
                        .collect()
                })
                .collect();
            let targets: Vec<f64> = (0..types)
                .map(|_| f64::from(rng.random_range(0..3_u8)) / 8.0)
                .collect();
            let mut margin = Margin::new(&targets, &panels[0]);
            // Half the panels at the start, the rest one by one with a solve each.
            for panel in &panels[1..count / 2 + 1] {
                margin.add(panel);
            }
            let mut optimum = margin.lp.solve(deadline()).unwrap();
            for panel in &panels[count / 2 + 1..] {
                margin.add(panel);
                optimum = margin.lp.solve(deadline()).unwrap();
            }
            check_duals(&margin.lp, optimum);
            let mut problem = Problem::new(OptimizationDirection::Maximize);
            let t = problem.add_var(1.0, (f64::NEG_INFINITY, f64::INFINITY));
            let lambdas: Vec<_> = panels
                .iter()
                .map(|_| problem.add_var(0.0, (0.0, f64::INFINITY)))
                .collect();
            let all: Vec<_> = lambdas.iter().map(|&l| (l, 1.0)).collect();
            problem.add_constraint(all.as_slice(), ComparisonOp::Eq, 1.0);
            for (r, target) in targets.iter().enumerate() {
                let mut terms: Vec<_> = panels
                    .iter()
                    .zip(&lambdas)
                    .map(|(panel, &l)| (l, panel[r]))
                    .collect();
                terms.push((t, -1.0));
                problem.add_constraint(terms.as_slice(), ComparisonOp::Ge, *target);
            }
            let expected = problem
                .solve()
                .unwrap()
                .into_solution()
                .unwrap()
                .objective();
            assert!(
                (optimum - expected).abs() < 1e-7,
                "round {round}: {optimum} against {expected}"
            );
            // The λ make a distribution reaching the optimum.
            let lambdas: Vec<f64> = (0..count).map(|j| margin.lp.value(1 + types + j)).collect();
            assert!((lambdas.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            for (r, target) in targets.iter().enumerate() {
                let level: f64 = panels.iter().zip(&lambdas).map(|(p, l)| p[r] * l).sum();
                assert!(level - target >= optimum - 1e-9);
            }
        }
    }
}
