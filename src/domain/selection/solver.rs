//! Column generation over panels for maximin and leximin: Wolfe's nearest point first, then
//! the simplex on the panels found.

use super::*;

/// How far below a stage's optimum a fixed probability may fall in later stages: room for
/// the solver's rounding, far below what the reports show.
pub(super) const FLOOR_SLACK: f64 = 1e-7;

/// The weight of the best weights seen so far in the weights [`Solver::raised_stage`]
/// prices at: on the synthetic pool of 800 with panels of 60, 0.8 takes about a quarter
/// less time than 0.5.
pub(super) const RAISED_SMOOTHING: f64 = 0.8;

/// The relative gap at which [`Solver::nearest_to`]'s integer programme may stop: a panel
/// gaining at least half what the best could.
pub(super) const NEAREST_GAP: f64 = 1.0;

/// When [`Solver::nearest_to`] hands over to column generation on the primal: once every
/// type is within `CLOSE_SCALE / types²` of the relaxed leximin. Wolfe's last rounds
/// creep (on the synthetic pool of 2,500, three quarters of them go from 5e-5 below to
/// 1e-6 below), while the simplex finishes from the panels found in a few dozen more, but
/// at a cost per pivot growing with the square of the types. Tuned on the synthetic
/// pools: 3e-4 at 800 (447 types) and 8e-5 at 2,500 (845 types) were the quickest of the
/// thresholds tried (1e-3 to 5e-5).
pub(super) const CLOSE_SCALE: f64 = 60.0;

/// How far below the relaxed leximin a distribution may leave anyone and still count as
/// reaching it.
pub(super) const REACHED: f64 = 1e-6;

/// What a stage of column generation asks of a type's selection probability.
#[derive(Clone, Copy, Debug)]
pub(super) enum Goal {
    /// At least the stage's level plus this much: the level is raised as far as it goes.
    Raise(f64),
    /// At least this probability.
    Keep(f64),
}

/// Column generation over compositions, shared by the stages of [`leximin`].
pub(super) struct Solver<'a> {
    instance: &'a Instance,
    sizes: Vec<f64>,
    panels: Vec<Composition>,
    started: Instant,
    limit: Duration,
    stop: &'a AtomicBool,
}

impl<'a> Solver<'a> {
    /// Checks the instance and finds a first panel meeting the quotas.
    pub(super) fn new(
        instance: &'a Instance,
        limit: Duration,
        stop: &'a AtomicBool,
    ) -> Result<Self, SelectionError> {
        instance.check()?;
        let started = Instant::now();
        let sizes: Vec<f64> = instance
            .types
            .iter()
            .map(|t| t.members.len() as f64)
            .collect();
        let (first, _) = instance.best_composition(&vec![0.0; sizes.len()], limit)?;
        let mut solver = Self {
            instance,
            sizes,
            panels: vec![first],
            started,
            limit,
            stop,
        };
        solver.seed_panels()?;
        Ok(solver)
    }

    /// Starts the column generation from varied panels: the best panels for random
    /// per-person weights, which favour small types, until every type is in one. Column
    /// generation from a single panel spends its first hundreds of rounds doing the same,
    /// one type at a time, with a dual solve each.
    pub(super) fn seed_panels(&mut self) -> Result<(), SelectionError> {
        let mut rng = ChaCha20Rng::seed_from_u64(0);
        let types = self.sizes.len();
        let mut covered = vec![false; types];
        for panel in &self.panels {
            for (seen, &c) in covered.iter_mut().zip(panel) {
                *seen |= c > 0;
            }
        }
        for _ in 0..types.max(20) {
            if covered.iter().all(|&c| c) {
                break;
            }
            let weights: Vec<f64> = self
                .sizes
                .iter()
                .zip(&covered)
                .map(|(n, seen)| {
                    let boost = if *seen { 1.0 } else { 10.0 };
                    boost * rng.random::<f64>() / n
                })
                .collect();
            let (panel, _) = self
                .instance
                .best_composition(&weights, self.remaining()?)?;
            for (seen, &c) in covered.iter_mut().zip(&panel) {
                *seen |= c > 0;
            }
            if !self.panels.contains(&panel) {
                self.panels.push(panel);
            }
        }
        Ok(())
    }

    pub(super) fn remaining(&self) -> Result<Duration, SelectionError> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(SelectionError::Stopped);
        }
        let left = self.limit.saturating_sub(self.started.elapsed());
        if left.is_zero() {
            return Err(SelectionError::TimeLimit {
                seconds: self.limit.as_secs(),
            });
        }
        Ok(left)
    }

    /// One maximin stage: the highest level `z` such that every type can have its goal
    /// (at least `z` plus its offset, or at least its fixed probability), and the dual
    /// weight of each type raised (zero for the others). Adds the panels it needs. When
    /// `ceiling` is known to bound the level from above, reaching it ends the stage.
    ///
    /// The dual: weights `y_t` on the raised types adding up to 1 and `w_t` on the others,
    /// making every panel worth at most `bound`, minimising `bound - Σ y_t offset_t -
    /// Σ w_t floor_t`. A panel worth more than `bound` under the weights is added and the
    /// dual solved again; when none is, the dual's value is the stage's optimum.
    pub(super) fn stage(
        &mut self,
        goals: &[Goal],
        ceiling: Option<f64>,
    ) -> Result<(f64, Vec<f64>), SelectionError> {
        let limit = self.remaining()?;
        let mut dual = Problem::new(OptimizationDirection::Minimize);
        dual.set_time_limit(limit);
        let bound = dual.add_var(1.0, (f64::NEG_INFINITY, f64::INFINITY));
        let y: Vec<_> = goals
            .iter()
            .map(|goal| match *goal {
                Goal::Raise(offset) => dual.add_var(-offset, (0.0, 1.0)),
                Goal::Keep(floor) => dual.add_var(-floor, (0.0, f64::INFINITY)),
            })
            .collect();
        let base: Vec<f64> = goals
            .iter()
            .map(|goal| match *goal {
                Goal::Raise(offset) => offset,
                Goal::Keep(floor) => floor,
            })
            .collect();
        let raised: Vec<bool> = goals
            .iter()
            .map(|goal| matches!(goal, Goal::Raise(_)))
            .collect();
        let free: Vec<_> = y
            .iter()
            .zip(&raised)
            .filter(|(_, raised)| **raised)
            .map(|(&v, _)| (v, 1.0))
            .collect();
        dual.add_constraint(free.as_slice(), ComparisonOp::Eq, 1.0);
        let row = |panel: &Composition| {
            let mut terms: Vec<_> = y
                .iter()
                .zip(panel)
                .zip(&self.sizes)
                .filter(|((_, c), _)| **c > 0)
                .map(|((&v, &c), &n)| (v, f64::from(c) / n))
                .collect();
            terms.push((bound, -1.0));
            terms
        };
        for panel in &self.panels {
            dual.add_constraint(row(panel).as_slice(), ComparisonOp::Le, 0.0);
        }
        let mut solution = solved(dual.solve(), limit)?;
        let raised_only = |weights: &[f64]| -> Vec<f64> {
            weights
                .iter()
                .zip(&raised)
                .map(|(w, r)| if *r { *w } else { 0.0 })
                .collect()
        };
        // Weights are smoothed towards the best seen so far (Wentges), which damps the
        // dual's swings between extreme points and saves most rounds; a round where the
        // smoothed weights find nothing new prices at the current ones instead.
        let mut centre = Centre::default();
        let mut smoothing = 0.5;
        loop {
            let weights: Vec<f64> = y.iter().map(|&v| solution.var_value(v)).collect();
            let lower = solution.objective();
            if ceiling.is_some_and(|ceiling| lower >= ceiling - REACHED) {
                return Ok((lower, raised_only(&weights)));
            }
            let priced = centre.priced(&weights, smoothing);
            let per_person: Vec<f64> = priced.iter().zip(&self.sizes).map(|(w, n)| w / n).collect();
            let (panel, value) = self
                .instance
                .best_composition(&per_person, self.remaining()?)?;
            // Any weights bound the stage's optimum from above.
            let upper = value - priced.iter().zip(&base).map(|(w, b)| w * b).sum::<f64>();
            if centre.offer(&priced, upper) - lower <= 1e-7 {
                let optimal = centre.best_or(weights);
                return Ok((lower, raised_only(&optimal)));
            }
            let worth_now: f64 = panel
                .iter()
                .zip(&weights)
                .zip(&self.sizes)
                .map(|((&c, w), n)| f64::from(c) * w / n)
                .sum();
            if worth_now <= solution.var_value(bound) + 1e-9 || self.panels.contains(&panel) {
                // Mispriced: the panel does not cut the current weights.
                if smoothing == 0.0 {
                    // Priced at the current weights and nothing beats them: optimal.
                    return Ok((lower, raised_only(&weights)));
                }
                smoothing = 0.0;
                continue;
            }
            smoothing = 0.5;
            let limit = self.remaining()?;
            solution = solved(
                solution.add_constraint(row(&panel).as_slice(), ComparisonOp::Le, 0.0),
                limit,
            )?;
            self.panels.push(panel);
        }
    }

    /// A distribution over panels whose selection probabilities are `target` (to within
    /// [`REACHED`] below it for every type), found by Wolfe's minimum-norm-point
    /// algorithm ([`lp::min_norm`]), as each panel's weight in the order of the panels;
    /// `None` once every type is within `close` of its target without having reached it,
    /// or when the nearest point of the panels' hull to `target` is not `target` itself
    /// (or rounding stops the search first). Adds the panels it finds.
    ///
    /// A panel is the point of its probabilities less the target, `a_t - target_t` with
    /// `a_t = c_t / n_t`, and the target is reached when the nearest point `x` of the hull
    /// of the panels found has no coordinate below `-REACHED`. Otherwise a panel `q` with
    /// `x·q < x·x` shortens `x`; the one minimising `x·q` is the best panel for per-person
    /// weights `-x_t / n_t` (types short of their target weigh in its favour, those above
    /// it against). There are no dual prices to smooth and no simplex: the corral's small
    /// affine programmes take the place of column generation's master programme.
    ///
    /// Each round first improves the last panel found by swaps ([`Instance::swapped`]),
    /// then asks the integer programme for a panel, started from that one and content
    /// with any panel within a factor of 2 of the best possible gain `x·x - x·q` (every
    /// panel has `k` people, so a constant added to every weight makes the objective that
    /// gain, and a relative gap means what it says). A swapped panel that is good enough
    /// ends the search at the root of branch and bound. The integer programme is skipped
    /// altogether when the swapped panel gains half what the last one's bound promised,
    /// scaled by `x·x` since then: on the synthetic pool of 800 that skips two rounds in
    /// three for a few more rounds. Only when no panel found this way shortens `x` is the
    /// best panel sought exactly, to be sure none does.
    pub(super) fn nearest_to(
        &mut self,
        target: &[f64],
        close: f64,
    ) -> Result<Option<Vec<f64>>, SelectionError> {
        let sizes = &self.sizes;
        let point = |panel: &Composition| -> Vec<f64> {
            panel
                .iter()
                .zip(sizes)
                .zip(target)
                .map(|((&c, n), p)| f64::from(c) / n - p)
                .collect()
        };
        let mut corral = MinNorm::new(sizes.len());
        let mut index: HashMap<Composition, usize> = HashMap::new();
        // The seed panels, each joining if it shortens x.
        for (j, panel) in self.panels.iter().enumerate() {
            index.insert(panel.clone(), j);
            let q = point(panel);
            let x = corral.x();
            if j == 0 || dot(x, &q) < dot(x, x) - 1e-12 * corral.scale() {
                // A seed in the corral's affine hull cannot shorten x: leave it out.
                let _ = corral.add(j, q);
            }
        }
        let mut last = self.panels.first().cloned().unwrap_or_default();
        let mut last_bound: Option<(f64, f64)> = None;
        loop {
            let x = corral.x().to_vec();
            if x.iter().all(|&v| v >= -REACHED) {
                let mut weights = vec![0.0; self.panels.len()];
                for (j, l) in corral.weights() {
                    weights[j] = l;
                }
                return Ok(Some(weights));
            }
            if x.iter().all(|&v| v >= -close) {
                return Ok(None);
            }
            let xx = dot(&x, &x);
            let tolerance = 1e-12 * corral.scale().max(xx);
            let shift = (xx + dot(&x, target)) / f64::from(self.instance.k);
            let gains: Vec<f64> = x
                .iter()
                .zip(&self.sizes)
                .map(|(v, n)| shift - v / n)
                .collect();
            let local = self.instance.swapped(&last, &gains);
            let local_point = point(&local);
            let local_gain = xx - dot(&x, &local_point);
            // The best gain, as the last integer programme bounded it, scaled by how much
            // x has shortened since.
            let expected = last_bound.map_or(f64::INFINITY, |(bound, at)| bound * xx / at);
            let (mut panel, mut q) =
                if local_gain >= expected / (1.0 + NEAREST_GAP) && !index.contains_key(&local) {
                    (local, local_point)
                } else {
                    let (panel, _, bound) = self.instance.best_composition_from(
                        &gains,
                        Some(&local),
                        NEAREST_GAP,
                        self.remaining()?,
                    )?;
                    last_bound = Some((bound, xx)).filter(|(b, _)| b.is_finite() && *b > 0.0);
                    let q = point(&panel);
                    (panel, q)
                };
            if dot(&x, &q) >= xx - tolerance {
                (panel, _) = self.instance.best_composition(&gains, self.remaining()?)?;
                q = point(&panel);
                if dot(&x, &q) >= xx - tolerance {
                    return Ok(None);
                }
            }
            last.clone_from(&panel);
            let j = match index.get(&panel) {
                Some(&j) => j,
                None => {
                    self.panels.push(panel.clone());
                    index.insert(panel, self.panels.len() - 1);
                    self.panels.len() - 1
                }
            };
            if corral.add(j, q).is_err() {
                return Ok(None);
            }
        }
    }

    /// A maximin stage with every type raised: the highest level `z` such that some
    /// distribution over panels gives each type at least `z` plus its offset, with each
    /// type's dual weight and each panel's probability (in the order of the panels) in a
    /// distribution reaching it. Adds the panels it needs. When `ceiling` is known to bound
    /// the level from above, reaching it ends the stage.
    ///
    /// The primal is solved by [`DenseLp`]: `max z` with `Σ_j λ_j c_jt / n_t - z - s_t =
    /// offset_t` for each type, `Σ_j λ_j = 1`, `λ, s ≥ 0`. It starts from the panel alone
    /// whose lowest margin is highest, and each new panel is a column priced in from the
    /// current basis. The rows' duals are the weights (`y_t = -π_t`, adding up to 1) and the
    /// bound every panel must keep under (`π` of the last row), as in [`Solver::stage`].
    pub(super) fn raised_stage(
        &mut self,
        offsets: &[f64],
        ceiling: Option<f64>,
    ) -> Result<(f64, Vec<f64>, Vec<f64>), SelectionError> {
        let types = self.sizes.len();
        let deadline = self.started + self.limit;
        let lp_error = |error: LpError| match error {
            LpError::TimeLimit => SelectionError::TimeLimit {
                seconds: self.limit.as_secs(),
            },
            other => SelectionError::Solver(other.to_string()),
        };
        let mut rhs = offsets.to_vec();
        rhs.push(1.0);
        let mut lp = DenseLp::new(rhs);
        let all: Vec<(usize, f64)> = (0..types).map(|t| (t, -1.0)).collect();
        let level = lp.add_column(1.0, &all, true);
        let surplus: Vec<usize> = (0..types)
            .map(|t| lp.add_column(0.0, &[(t, -1.0)], false))
            .collect();
        let sizes = &self.sizes;
        let column = |panel: &Composition| -> Vec<(usize, f64)> {
            panel
                .iter()
                .zip(sizes)
                .enumerate()
                .filter(|(_, (c, _))| **c > 0)
                .map(|(t, (&c, n))| (t, f64::from(c) / n))
                .chain(std::iter::once((types, 1.0)))
                .collect()
        };
        let mut columns: Vec<usize> = self
            .panels
            .iter()
            .map(|panel| lp.add_column(0.0, &column(panel), false))
            .collect();
        // The start: one panel alone, the level at its lowest margin, which is the row
        // the level is basic in; every other row's surplus is basic.
        let lowest_margin = |panel: &Composition| {
            panel
                .iter()
                .zip(sizes)
                .zip(offsets)
                .map(|((&c, n), offset)| f64::from(c) / n - offset)
                .enumerate()
                .fold(
                    (0, f64::INFINITY),
                    |low, (t, m)| if m < low.1 { (t, m) } else { low },
                )
        };
        let (first, (row, _)) = self.panels.iter().map(lowest_margin).enumerate().fold(
            (0, (0, f64::NEG_INFINITY)),
            |best, (j, low)| {
                if low.1 > best.1.1 { (j, low) } else { best }
            },
        );
        let mut basis = surplus;
        basis[row] = level;
        basis.push(columns[first]);
        lp.start(&basis).map_err(lp_error)?;
        // Weights are smoothed towards the best seen so far (Wentges), as in
        // [`Solver::stage`], but more strongly: the primal's duals jump further.
        let mut centre = Centre::default();
        let mut smoothing = RAISED_SMOOTHING;
        loop {
            let lower = lp.solve(deadline).map_err(lp_error)?;
            let duals = lp.duals();
            let weights: Vec<f64> = duals[..types].iter().map(|y| (-y).max(0.0)).collect();
            let bound = duals[types];
            let done = |weights: Vec<f64>, lp: &DenseLp| {
                let lambdas = columns.iter().map(|&j| lp.value(j)).collect();
                Ok((lower, weights, lambdas))
            };
            if ceiling.is_some_and(|ceiling| lower >= ceiling - REACHED) {
                return done(weights, &lp);
            }
            let priced = centre.priced(&weights, smoothing);
            let per_person: Vec<f64> = priced.iter().zip(sizes).map(|(w, n)| w / n).collect();
            let (panel, value) = self
                .instance
                .best_composition(&per_person, self.remaining()?)?;
            // Any weights bound the stage's optimum from above.
            let upper = value - priced.iter().zip(offsets).map(|(w, b)| w * b).sum::<f64>();
            if centre.offer(&priced, upper) - lower <= 1e-7 {
                let optimal = centre.best_or(weights);
                return done(optimal, &lp);
            }
            let worth_now: f64 = panel
                .iter()
                .zip(&weights)
                .zip(sizes)
                .map(|((&c, w), n)| f64::from(c) * w / n)
                .sum();
            if worth_now <= bound + 1e-9 || self.panels.contains(&panel) {
                // Mispriced: the panel does not cut the current weights.
                if smoothing == 0.0 {
                    // Priced at the current weights and nothing beats them: optimal.
                    return done(weights, &lp);
                }
                smoothing = 0.0;
                continue;
            }
            smoothing = RAISED_SMOOTHING;
            columns.push(lp.add_column(0.0, &column(&panel), false));
            self.panels.push(panel);
        }
    }

    /// A distribution over the panels found that gives every type at least its floor.
    pub(super) fn distribution(self, floors: &[f64]) -> Result<Distribution, SelectionError> {
        let limit = self.remaining()?;
        let mut problem = Problem::new(OptimizationDirection::Maximize);
        problem.set_time_limit(limit);
        // The smallest margin over the floors, as large as possible: it keeps the answer
        // away from the floors' slack.
        let margin = problem.add_var(1.0, (f64::NEG_INFINITY, 1.0));
        let weights: Vec<_> = self
            .panels
            .iter()
            .map(|_| problem.add_var(0.0, (0.0, 1.0)))
            .collect();
        let total: Vec<_> = weights.iter().map(|&v| (v, 1.0)).collect();
        problem.add_constraint(total.as_slice(), ComparisonOp::Eq, 1.0);
        for (t, (&n, &floor)) in self.sizes.iter().zip(floors).enumerate() {
            let mut terms: Vec<_> = self
                .panels
                .iter()
                .zip(&weights)
                .filter(|(panel, _)| panel[t] > 0)
                .map(|(panel, &w)| (w, f64::from(panel[t]) / n))
                .collect();
            terms.push((margin, -1.0));
            problem.add_constraint(terms.as_slice(), ComparisonOp::Ge, floor);
        }
        let solution = solved(problem.solve(), limit)?;
        let weights = weights.iter().map(|&w| solution.var_value(w)).collect();
        self.spread(weights)
    }

    /// The distribution giving each panel found its weight in `weights` (in the order of
    /// the panels), without the negligible ones and scaled to add up to 1.
    pub(super) fn spread(self, weights: Vec<f64>) -> Result<Distribution, SelectionError> {
        let mut chosen: Vec<(Composition, f64)> = self
            .panels
            .into_iter()
            .zip(weights)
            .map(|(panel, w)| (panel, w.max(0.0)))
            .filter(|(_, p)| *p > 1e-9)
            .collect();
        let sum: f64 = chosen.iter().map(|(_, p)| p).sum();
        if chosen.is_empty() || !sum.is_finite() {
            return Err(SelectionError::Solver(
                "the distribution came out empty".to_owned(),
            ));
        }
        for (_, p) in &mut chosen {
            *p /= sum;
        }
        let type_probabilities = (0..self.instance.types.len())
            .map(|t| {
                chosen
                    .iter()
                    .map(|(panel, p)| p * f64::from(panel[t]) / self.sizes[t])
                    .sum()
            })
            .collect();
        Ok(Distribution {
            panels: chosen,
            type_probabilities,
        })
    }
}

/// The inner product of `a` and `b`.
pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The solution of a solve, or the error it stands for.
pub(super) fn solved(
    outcome: Result<microlp::SolveOutcome, microlp::Error>,
    limit: Duration,
) -> Result<microlp::Solution, SelectionError> {
    outcome
        .map_err(|e| SelectionError::Solver(format!("{e:?}")))?
        .into_solution()
        .map_err(|_| SelectionError::TimeLimit {
            seconds: limit.as_secs(),
        })
}

/// The stability centre of Wentges' smoothing for column generation: the duals that gave
/// the best (lowest) upper bound so far. Each round prices at a mix of the centre and the
/// current duals, which keeps the pricing problem from jumping between extreme weights.
#[derive(Default)]
struct Centre {
    best: Option<(Vec<f64>, f64)>,
}

impl Centre {
    /// The weights to price at: `smoothing` of the centre and the rest of `weights` (the
    /// weights themselves before there is a centre, or with `smoothing` 0).
    fn priced(&self, weights: &[f64], smoothing: f64) -> Vec<f64> {
        match &self.best {
            Some((best, _)) => best
                .iter()
                .zip(weights)
                .map(|(c, w)| smoothing * c + (1.0 - smoothing) * w)
                .collect(),
            None => weights.to_vec(),
        }
    }

    /// Takes `priced` as the centre when its upper bound is the best yet; the best upper
    /// bound so far.
    fn offer(&mut self, priced: &[f64], upper: f64) -> f64 {
        if self.best.as_ref().is_none_or(|(_, best)| upper < *best) {
            self.best = Some((priced.to_vec(), upper));
        }
        self.best.as_ref().map_or(upper, |(_, best)| *best)
    }

    /// The centre's weights, or `weights` when there is none.
    fn best_or(self, weights: Vec<f64>) -> Vec<f64> {
        self.best.map_or(weights, |(best, _)| best)
    }
}
