//! The continuous relaxation: quotas relaxed until they can be met, the quotas that
//! conflict named, and the relaxed leximin that the column generation aims at.

use super::*;

/// How far each type may rise at once in [`Instance::relaxed_leximin`]'s test of which can:
/// small against the gaps between probability levels, large against the solver's
/// rounding.
pub(super) const RISE: f64 = 1e-5;

/// How far below a settled level the relaxation may keep a type: room for the solver's
/// rounding.
pub(super) const RELAXED_SLACK: f64 = 1e-9;

/// The longest naming the quotas that conflict may take, in all.
pub(super) const NAMING_LIMIT: Duration = Duration::from_secs(10);

/// One quota bound: a feature's value at least, or at most, so many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Bound {
    Min(usize, usize, u32),
    Max(usize, usize, u32),
}

/// The quotas' infeasibility, or the solver's failure.
pub(super) fn infeasible_quotas(error: microlp::Error) -> SelectionError {
    match error {
        microlp::Error::Infeasible => SelectionError::Infeasible {
            reasons: vec!["the quotas of different features cannot be met together".into()],
        },
        other => SelectionError::Solver(format!("{other:?}")),
    }
}

impl Instance {
    /// The smallest change to the quotas that some panel of `k` from this pool can meet:
    /// each feature's bounds, with every minimum lowered and every maximum raised by as
    /// little as possible in total (an integer programme over the types). Nothing changes
    /// for quotas that can already be met. `Err` only when no relaxation helps, because
    /// the pool is smaller than the panel (counting one person per household).
    pub fn relaxed_quotas(&self, limit: Duration) -> Result<Vec<Feature>, SelectionError> {
        if self.k as usize > self.most_on_a_panel() || self.k == 0 {
            return Err(SelectionError::Infeasible {
                reasons: vec![format!(
                    "a panel of {} cannot be drawn from a pool of {} in {} households",
                    self.k,
                    self.pool_size(),
                    self.most_on_a_panel()
                )],
            });
        }
        let mut problem = Problem::new(OptimizationDirection::Minimize);
        problem.set_time_limit(limit);
        let vars = self.panel_vars(&mut problem, &vec![0.0; self.types.len()]);
        let mut slack = Vec::new();
        for (f, feature) in self.features.iter().enumerate() {
            for (v, &(min, max)) in feature.bounds.iter().enumerate() {
                let below = problem.add_var(1.0, (0.0, f64::from(min)));
                let above = problem.add_var(1.0, (0.0, f64::from(self.k)));
                let mut terms = self.with_value(&vars, f, v);
                terms.push((below, 1.0));
                problem.add_constraint(terms.as_slice(), ComparisonOp::Ge, f64::from(min));
                terms.pop();
                terms.push((above, -1.0));
                problem.add_constraint(terms.as_slice(), ComparisonOp::Le, f64::from(max));
                slack.push((f, v, below, above));
            }
        }
        self.add_households(&mut problem, &vars);
        let solution = solved(problem.solve(), limit)?;
        let mut relaxed = self.features.clone();
        for (f, v, below, above) in slack {
            let (min, max) = relaxed[f].bounds[v];
            let lower = solution.var_value(below).round() as u32;
            let raise = solution.var_value(above).round() as u32;
            relaxed[f].bounds[v] = (min.saturating_sub(lower), max.saturating_add(raise));
        }
        Ok(relaxed)
    }

    /// Names quotas that cannot be met together, for a pool that passed
    /// [`Instance::check`] yet has no panel meeting every quota: the smallest set of
    /// features whose quotas conflict (each feature left out in turn, and kept out when
    /// the rest still conflict), then within them the bounds that conflict, found the same
    /// way. Each step is one small integer programme over the types; should they not all
    /// finish within `limit` (and [`NAMING_LIMIT`] at most, in all), the conflict is
    /// described without names.
    pub fn conflict(&self, limit: Duration) -> String {
        let deadline = Instant::now() + limit.min(NAMING_LIMIT);
        self.named_conflict(deadline)
            .unwrap_or_else(|| "the quotas of different features cannot be met together".to_owned())
    }

    pub(super) fn named_conflict(&self, deadline: Instant) -> Option<String> {
        let all: Vec<Bound> = self
            .features
            .iter()
            .enumerate()
            .flat_map(|(f, feature)| {
                feature
                    .bounds
                    .iter()
                    .enumerate()
                    .flat_map(move |(v, &(min, max))| {
                        [
                            (min > 0).then_some(Bound::Min(f, v, min)),
                            (max < self.k).then_some(Bound::Max(f, v, max)),
                        ]
                    })
            })
            .flatten()
            .collect();
        let feature_of = |b: &Bound| match *b {
            Bound::Min(f, _, _) | Bound::Max(f, _, _) => f,
        };
        let mut features: Vec<usize> = (0..self.features.len()).collect();
        for f in 0..self.features.len() {
            let without: Vec<Bound> = all
                .iter()
                .filter(|b| feature_of(b) != f && features.contains(&feature_of(b)))
                .copied()
                .collect();
            if !self.meets(&without, deadline)? {
                features.retain(|&g| g != f);
            }
        }
        let mut bounds: Vec<Bound> = all
            .into_iter()
            .filter(|b| features.contains(&feature_of(b)))
            .collect();
        if self.meets(&bounds, deadline)? {
            return None;
        }
        let mut i = 0;
        while i < bounds.len() {
            let mut without = bounds.clone();
            without.remove(i);
            if self.meets(&without, deadline)? {
                i += 1;
            } else {
                bounds = without;
            }
        }
        let names: Vec<&str> = features
            .iter()
            .map(|&f| self.features[f].name.as_str())
            .collect();
        let named = match names.as_slice() {
            [one] => format!("the quotas of {one} cannot be met"),
            [rest @ .., last] => format!(
                "the quotas of {} and {last} cannot be met together",
                rest.join(", ")
            ),
            [] => return None,
        };
        let detail: Vec<String> = bounds
            .iter()
            .map(|b| match *b {
                Bound::Min(f, v, min) => format!(
                    "{} {} at least {min}",
                    self.features[f].name, self.features[f].values[v]
                ),
                Bound::Max(f, v, max) => format!(
                    "{} {} at most {max}",
                    self.features[f].name, self.features[f].values[v]
                ),
            })
            .collect();
        Some(format!(
            "{named} in a panel of {} from this pool ({})",
            self.k,
            detail.join("; ")
        ))
    }

    /// Whether some panel of `k` from the pool (one per household) meets `bounds`, or
    /// `None` when the solver could not tell by `deadline`.
    pub(super) fn meets(&self, bounds: &[Bound], deadline: Instant) -> Option<bool> {
        let limit = deadline.checked_duration_since(Instant::now())?;
        let mut problem = Problem::new(OptimizationDirection::Minimize);
        let vars = self.panel_vars(&mut problem, &vec![0.0; self.types.len()]);
        for bound in bounds {
            let (f, v, op, n) = match *bound {
                Bound::Min(f, v, n) => (f, v, ComparisonOp::Ge, n),
                Bound::Max(f, v, n) => (f, v, ComparisonOp::Le, n),
            };
            let terms = self.with_value(&vars, f, v);
            problem.add_constraint(terms.as_slice(), op, f64::from(n));
        }
        self.add_households(&mut problem, &vars);
        let mut options = microlp::SolveOptions::default();
        options.time_limit = Some(limit);
        match problem.solve_with(options) {
            Err(microlp::Error::Infeasible) => Some(false),
            Err(_) => None,
            Ok(outcome) => outcome.into_solution().ok().map(|_| true),
        }
    }

    /// The leximin of the panels' linear relaxation, as a probability per type: the
    /// fairest probabilities if a panel could hold fractions of people. Any distribution
    /// over panels gives a fractional composition on average, so no distribution is
    /// lexicographically fairer than this; one that reaches it is the leximin.
    ///
    /// Stage by stage: the highest level `z` every unsettled type can reach while the
    /// settled ones keep theirs ([`Instance::relaxed_stage`]), then how far above `z` each
    /// unsettled type can rise, all at once, by up to [`RISE`] each with the rises' sum as
    /// large as it can be. A type that cannot rise is settled at `z`. The relaxation has a
    /// column per type rather than per panel, so a stage is two small linear programmes.
    pub(super) fn relaxed_leximin(&self, limit: Duration) -> Result<Vec<f64>, SelectionError> {
        let started = Instant::now();
        let mut settled: Vec<Option<f64>> = vec![None; self.types.len()];
        while settled.iter().any(Option::is_none) {
            let left = |started: Instant| {
                let left = limit.saturating_sub(started.elapsed());
                if left.is_zero() {
                    Err(SelectionError::TimeLimit {
                        seconds: limit.as_secs(),
                    })
                } else {
                    Ok(left)
                }
            };
            let (level, _) = self.relaxed_stage(&settled, None, left(started)?)?;
            let (_, rises) = self.relaxed_stage(&settled, Some(level), left(started)?)?;
            let mut settled_any = false;
            for (t, rise) in rises.iter().enumerate() {
                if settled[t].is_none() && *rise < RISE / 2.0 {
                    settled[t] = Some(level);
                    settled_any = true;
                }
            }
            if !settled_any {
                // Every type rose above a level that was the highest all could reach:
                // only rounding can do that; settle them all there.
                for slot in settled.iter_mut().filter(|s| s.is_none()) {
                    *slot = Some(level);
                }
            }
        }
        Ok(settled.into_iter().map(|s| s.unwrap_or(0.0)).collect())
    }

    /// One stage of [`Instance::relaxed_leximin`] with the types in `settled` kept at their
    /// probabilities. Without `above`: the highest level all the others can reach. With
    /// `above`: each other type's rise above that level (at most [`RISE`]), their sum as
    /// large as it can be. Returns the optimum and the rises (zero for the settled).
    pub(super) fn relaxed_stage(
        &self,
        settled: &[Option<f64>],
        above: Option<f64>,
        limit: Duration,
    ) -> Result<(f64, Vec<f64>), SelectionError> {
        let mut problem = Problem::new(OptimizationDirection::Maximize);
        problem.set_time_limit(limit);
        let level = problem.add_var(if above.is_none() { 1.0 } else { 0.0 }, (0.0, 1.0));
        let vars: Vec<_> = self
            .types
            .iter()
            .map(|t| problem.add_var(0.0, (0.0, t.members.len().min(self.k as usize) as f64)))
            .collect();
        let all: Vec<_> = vars.iter().map(|&v| (v, 1.0)).collect();
        problem.add_constraint(all.as_slice(), ComparisonOp::Eq, f64::from(self.k));
        self.add_quotas(&mut problem, &vars);
        let mut rises = Vec::new();
        for ((t, &count), floor) in self.types.iter().zip(&vars).zip(settled) {
            let n = t.members.len() as f64;
            match (floor, above) {
                (Some(floor), _) => {
                    let floor = (floor - RELAXED_SLACK) * n;
                    problem.add_constraint(&[(count, 1.0)][..], ComparisonOp::Ge, floor);
                    rises.push(None);
                }
                (None, None) => {
                    let terms = [(count, 1.0), (level, -n)];
                    problem.add_constraint(&terms[..], ComparisonOp::Ge, 0.0);
                    rises.push(None);
                }
                (None, Some(z)) => {
                    let rise = problem.add_var(1.0, (0.0, RISE));
                    let terms = [(count, 1.0), (rise, -n)];
                    let floor = (z - RELAXED_SLACK) * n;
                    problem.add_constraint(&terms[..], ComparisonOp::Ge, floor);
                    rises.push(Some(rise));
                }
            }
        }
        let solution = problem
            .solve()
            .map_err(infeasible_quotas)?
            .into_solution()
            .map_err(|_| SelectionError::TimeLimit {
                seconds: limit.as_secs(),
            })?;
        let rises = rises
            .iter()
            .map(|r| r.map_or(0.0, |r| solution.var_value(r)))
            .collect();
        Ok((solution.objective(), rises))
    }
}
