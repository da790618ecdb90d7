//! Wolfe's minimum-norm-point algorithm, the corrective part: the point of smallest
//! Euclidean norm in the convex hull of the points given so far.
//!
//! P. Wolfe, "Finding the nearest point in a polytope", *Mathematical Programming* 11
//! (1976) 128–149. The caller runs the major cycle: it asks for the current point `x`,
//! finds a point `q` of its polytope with `x·q < x·x` (the vertex minimising `x·q` is
//! always one when `x` is not yet the nearest point) and [`MinNorm::add`]s it. Adding
//! runs the minor cycles: the nearest point of the affine hull of the *corral* (the
//! affinely independent points in use) is found; when it lies inside their convex hull
//! it is the new `x`, otherwise `x` moves towards it until a coefficient reaches zero,
//! that point leaves the corral, and the affine step is tried again. Every added point
//! shortens `x`, and no corral repeats, so the cycles end.
//!
//! The affine minimiser solves `(e eᵀ + PᵀP) u = e` and scales `u` to add up to 1, where
//! the columns of `P` are the corral's points; an upper-triangular `R` with
//! `RᵀR = e eᵀ + PᵀP` is kept, grown by a column when a point joins and mended by Givens
//! rotations when one leaves, so a step costs `O(s²)` for a corral of `s` points besides
//! the `O(s d)` inner products with a point joining in `d` dimensions.

/// A joining point this close to the corral's affine hull (relative to its squared norm)
/// is refused as dependent.
const DEPENDENT: f64 = 1e-12;

/// A coefficient of the affine minimiser at most this counts as outside the hull.
const POSITIVE: f64 = 1e-12;

/// Why a point could not join the corral.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MinNormError {
    /// The point lies (to rounding) in the affine hull of the corral, so it cannot
    /// shorten `x`: the caller's `x·q < x·x` was rounding.
    #[error("the point is affinely dependent on the corral")]
    Dependent,
}

/// The corral, its coefficients and the current point `x`.
#[derive(Clone, Debug)]
pub struct MinNorm {
    dim: usize,
    /// The corral's points.
    points: Vec<Vec<f64>>,
    /// Their squared norms.
    norms: Vec<f64>,
    /// The caller's name for each point of the corral.
    ids: Vec<usize>,
    /// The coefficients of `x` in the corral's points (positive, adding up to 1).
    lambdas: Vec<f64>,
    /// `R`, upper triangular, column by column: `r[j][i]` for `i ≤ j`.
    r: Vec<Vec<f64>>,
    /// `Σ λ_i p_i`.
    x: Vec<f64>,
}

impl MinNorm {
    /// An empty corral in `dim` dimensions.
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            points: Vec::new(),
            norms: Vec::new(),
            ids: Vec::new(),
            lambdas: Vec::new(),
            r: Vec::new(),
            x: vec![0.0; dim],
        }
    }

    /// The current point: the point of the corral's convex hull nearest the origin.
    pub fn x(&self) -> &[f64] {
        &self.x
    }

    /// The corral as the caller's ids of its points and their coefficients in `x`.
    pub fn weights(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.ids.iter().copied().zip(self.lambdas.iter().copied())
    }

    /// The largest squared norm of a point in the corral: the scale of Wolfe's stopping
    /// test `x·x - x·q ≤ ε · max ||p||²`.
    pub fn scale(&self) -> f64 {
        self.norms.iter().copied().fold(0.0, f64::max)
    }

    /// Adds `point` (called `id` by the caller) to the corral and moves `x` to the
    /// nearest point of the new hull. A first point becomes `x` itself.
    pub fn add(&mut self, id: usize, point: Vec<f64>) -> Result<(), MinNormError> {
        debug_assert_eq!(point.len(), self.dim);
        // The new column of R: Rᵀ r = 1 + Pᵀq, ρ² = 1 + q·q - r·r.
        let qq = dot(&point, &point);
        let mut column: Vec<f64> = self.points.iter().map(|p| 1.0 + dot(p, &point)).collect();
        self.forward(&mut column);
        let rho2 = 1.0 + qq - dot(&column, &column);
        if rho2 <= DEPENDENT * (1.0 + qq) {
            return Err(MinNormError::Dependent);
        }
        column.push(rho2.sqrt());
        self.r.push(column);
        self.points.push(point);
        self.norms.push(qq);
        self.ids.push(id);
        self.lambdas.push(0.0);
        if self.points.len() == 1 {
            self.lambdas[0] = 1.0;
            self.x.clone_from(&self.points[0]);
            return Ok(());
        }
        self.minor_cycles();
        Ok(())
    }

    /// Moves `x` to the nearest point of the corral's hull, dropping points as needed.
    fn minor_cycles(&mut self) {
        loop {
            let mu = self.affine_minimiser();
            if mu.iter().all(|&m| m > POSITIVE) {
                self.lambdas = mu;
                break;
            }
            // Towards the affine minimiser until the first coefficient reaches zero.
            let theta = self
                .lambdas
                .iter()
                .zip(&mu)
                .filter(|(_, m)| **m <= POSITIVE)
                .map(|(l, m)| l / (l - m))
                .fold(1.0, f64::min)
                .clamp(0.0, 1.0);
            for (l, m) in self.lambdas.iter_mut().zip(&mu) {
                *l = (1.0 - theta) * *l + theta * m;
            }
            // The point whose coefficient fell furthest leaves, and any at zero with it.
            let worst = self
                .lambdas
                .iter()
                .enumerate()
                .fold(
                    (0, f64::INFINITY),
                    |w, (i, &l)| if l < w.1 { (i, l) } else { w },
                )
                .0;
            let mut i = self.points.len();
            while i > 0 {
                i -= 1;
                if i == worst || self.lambdas[i] <= POSITIVE {
                    self.remove(i);
                }
            }
            let total: f64 = self.lambdas.iter().sum();
            for l in &mut self.lambdas {
                *l /= total;
            }
            if self.points.len() <= 1 {
                break;
            }
        }
        self.x = vec![0.0; self.dim];
        for (p, &l) in self.points.iter().zip(&self.lambdas) {
            for (x, v) in self.x.iter_mut().zip(p) {
                *x += l * v;
            }
        }
    }

    /// The coefficients of the nearest point of the corral's affine hull: `u` solving
    /// `RᵀR u = e`, scaled to add up to 1.
    fn affine_minimiser(&self) -> Vec<f64> {
        let mut u = vec![1.0; self.points.len()];
        self.forward(&mut u);
        self.backward(&mut u);
        let total: f64 = u.iter().sum();
        u.iter().map(|v| v / total).collect()
    }

    /// Solves `Rᵀ y = b` in place.
    fn forward(&self, b: &mut [f64]) {
        for j in 0..b.len() {
            let column = &self.r[j];
            let known: f64 = column[..j].iter().zip(&b[..j]).map(|(r, y)| r * y).sum();
            b[j] = (b[j] - known) / column[j];
        }
    }

    /// Solves `R y = b` in place.
    fn backward(&self, b: &mut [f64]) {
        for j in (0..b.len()).rev() {
            b[j] /= self.r[j][j];
            let y = b[j];
            for (bi, r) in b[..j].iter_mut().zip(&self.r[j][..j]) {
                *bi -= r * y;
            }
        }
    }

    /// Removes the corral's `i`-th point, restoring `R` to triangular form with Givens
    /// rotations on the rows from `i` on.
    fn remove(&mut self, i: usize) {
        self.points.remove(i);
        self.norms.remove(i);
        self.ids.remove(i);
        self.lambdas.remove(i);
        self.r.remove(i);
        // Columns j ≥ i now have one entry below the diagonal, at row j + 1.
        for j in i..self.r.len() {
            let (a, b) = (self.r[j][j], self.r[j][j + 1]);
            let norm = a.hypot(b);
            let (c, s) = if norm == 0.0 {
                (1.0, 0.0)
            } else {
                (a / norm, b / norm)
            };
            for column in &mut self.r[j..] {
                let (u, v) = (column[j], column[j + 1]);
                column[j] = c * u + s * v;
                column[j + 1] = -s * u + c * v;
            }
            self.r[j].truncate(j + 1);
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Wolfe's major cycle over a finite set of points: the nearest point of their hull.
    fn nearest(points: &[Vec<f64>]) -> MinNorm {
        let mut corral = MinNorm::new(points[0].len());
        corral.add(0, points[0].clone()).unwrap();
        loop {
            let x = corral.x().to_vec();
            let (best, value) = points
                .iter()
                .enumerate()
                .map(|(j, p)| (j, dot(&x, p)))
                .fold((0, f64::INFINITY), |b, c| if c.1 < b.1 { c } else { b });
            if dot(&x, &x) - value <= 1e-12 * corral.scale() {
                return corral;
            }
            if corral.add(best, points[best].clone()).is_err() {
                return corral;
            }
        }
    }

    /// `x` is the nearest point of the hull of `points`: `x·p ≥ x·x` for every `p`, and
    /// `x` is the combination its weights say.
    fn check(corral: &MinNorm, points: &[Vec<f64>]) {
        let x = corral.x();
        let xx = dot(x, x);
        for p in points {
            assert!(dot(x, p) >= xx - 1e-9, "{} < {xx}", dot(x, p));
        }
        let mut combined = vec![0.0; x.len()];
        let mut total = 0.0;
        for (id, l) in corral.weights() {
            assert!(l > 0.0);
            total += l;
            for (c, v) in combined.iter_mut().zip(&points[id]) {
                *c += l * v;
            }
        }
        assert!((total - 1.0).abs() < 1e-9);
        for (c, v) in combined.iter().zip(x) {
            assert!((c - v).abs() < 1e-9);
        }
    }

    #[test]
    fn the_nearest_point_of_a_segment_and_of_a_triangle() {
        // The segment from (1, 1) to (1, -1): nearest (1, 0).
        let segment = [vec![1.0, 1.0], vec![1.0, -1.0]];
        let corral = nearest(&segment);
        assert!((corral.x()[0] - 1.0).abs() < 1e-12 && corral.x()[1].abs() < 1e-12);
        check(&corral, &segment);
        // A triangle around the origin: nearest is the origin itself.
        let triangle = [vec![1.0, 0.0], vec![-1.0, 1.0], vec![-1.0, -1.0]];
        let corral = nearest(&triangle);
        assert!(dot(corral.x(), corral.x()) < 1e-20);
        check(&corral, &triangle);
        // Wolfe's example: (0, 2), (3, 0), (-2, 1), whose hull misses the origin.
        let wolfe = [vec![0.0, 2.0], vec![3.0, 0.0], vec![-2.0, 1.0]];
        let corral = nearest(&wolfe);
        check(&corral, &wolfe);
        assert!(dot(corral.x(), corral.x()) > 0.1);
    }

    #[test]
    fn random_polytopes_give_the_nearest_point_and_points_leave_the_corral() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
        for round in 0..40 {
            let dim = rng.random_range(2..30);
            let count = rng.random_range(1..80);
            // Half the rounds shifted away from the origin, half around it.
            let shift = if round % 2 == 0 { 0.7 } else { 0.0 };
            let points: Vec<Vec<f64>> = (0..count)
                .map(|_| {
                    (0..dim)
                        .map(|_| f64::from(rng.random_range(0..5_u8)) / 4.0 - 0.5 + shift)
                        .collect()
                })
                .collect();
            let corral = nearest(&points);
            check(&corral, &points);
        }
    }

    #[test]
    fn the_kept_factor_agrees_with_the_corral_after_points_join_and_leave() {
        // RᵀR = e eᵀ + PᵀP, checked entry by entry after every addition (and the removals
        // its minor cycles make), against the corral as it then is.
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let dim = 12;
        let points: Vec<Vec<f64>> = (0..60)
            .map(|_| (0..dim).map(|_| rng.random::<f64>() - 0.3).collect())
            .collect();
        let mut corral = MinNorm::new(dim);
        let mut removed_any = false;
        for (id, p) in points.iter().enumerate() {
            let before = corral.points.len();
            if corral.add(id, p.clone()).is_err() {
                continue;
            }
            removed_any |= corral.points.len() <= before;
            let s = corral.points.len();
            for i in 0..s {
                for j in 0..s {
                    let rr: f64 = (0..=i.min(j))
                        .map(|l| corral.r[i][l] * corral.r[j][l])
                        .sum();
                    let m = 1.0 + dot(&corral.points[i], &corral.points[j]);
                    assert!((rr - m).abs() < 1e-9, "{i} {j}: {rr} against {m}");
                }
            }
            assert_eq!(corral.norms.len(), s);
        }
        assert!(removed_any);
    }

    #[test]
    fn a_point_in_the_corrals_affine_hull_is_refused() {
        let mut corral = MinNorm::new(2);
        corral.add(0, vec![1.0, 1.0]).unwrap();
        corral.add(1, vec![1.0, -1.0]).unwrap();
        assert_eq!(corral.add(2, vec![1.0, 3.0]), Err(MinNormError::Dependent));
    }
}
