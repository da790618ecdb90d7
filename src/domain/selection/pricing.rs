//! One panel at a time: the integer programme of the best panel for given weights (the
//! pricing step of column generation), and the swap search that often finds it first.

use super::*;

impl Instance {
    /// Adds a panel's counts per type to `problem`, each worth `weights[t]`, adding up to
    /// `k`.
    pub(super) fn panel_vars(
        &self,
        problem: &mut Problem,
        weights: &[f64],
    ) -> Vec<microlp::Variable> {
        let vars: Vec<_> = self
            .types
            .iter()
            .zip(weights)
            .map(|(t, &w)| {
                let most = i32::try_from(t.members.len().min(self.k as usize)).unwrap_or(i32::MAX);
                problem.add_integer_var(w, (0, most))
            })
            .collect();
        let all: Vec<_> = vars.iter().map(|&v| (v, 1.0)).collect();
        problem.add_constraint(all.as_slice(), ComparisonOp::Eq, f64::from(self.k));
        vars
    }

    /// The sum of the counts `vars` of the types with value `v` of feature `f`.
    pub(super) fn with_value(
        &self,
        vars: &[microlp::Variable],
        f: usize,
        v: usize,
    ) -> Vec<(microlp::Variable, f64)> {
        self.types
            .iter()
            .zip(vars)
            .filter(|(t, _)| t.values[f] == v)
            .map(|(_, &var)| (var, 1.0))
            .collect()
    }

    /// The composition meeting the quotas that maximises `Σ weight_t c_t`, or the reason
    /// there is none.
    pub(super) fn best_composition(
        &self,
        weights: &[f64],
        limit: Duration,
    ) -> Result<(Composition, f64), SelectionError> {
        let (panel, value, _) = self.best_composition_from(weights, None, 0.0, limit)?;
        Ok((panel, value))
    }

    /// [`Instance::best_composition`], the search starting from `hint` (a panel meeting
    /// the quotas) when given, and content with a panel within the relative gap `gap` of
    /// the best (0 asks for the best): a hint that good ends the search at the root.
    /// Returns the panel, its value and the bound proven on the best value.
    pub(super) fn best_composition_from(
        &self,
        weights: &[f64],
        hint: Option<&Composition>,
        gap: f64,
        limit: Duration,
    ) -> Result<(Composition, f64, f64), SelectionError> {
        let mut problem = Problem::new(OptimizationDirection::Maximize);
        let vars = self.panel_vars(&mut problem, weights);
        self.add_quotas(&mut problem, &vars);
        let mut options = microlp::SolveOptions::default();
        options.time_limit = Some(limit);
        options.mip_gap = gap;
        options.warm_start = hint.map(|panel| {
            vars.iter()
                .zip(panel)
                .map(|(&v, &c)| (v, f64::from(c)))
                .collect()
        });
        let outcome = match problem.solve_with(options) {
            Err(microlp::Error::Infeasible) => {
                return Err(SelectionError::Infeasible {
                    reasons: vec![self.conflict(limit)],
                });
            }
            other => other.map_err(infeasible_quotas)?,
        };
        let bound = outcome.stats().best_bound;
        let solution = outcome
            .into_solution()
            .map_err(|_| SelectionError::TimeLimit {
                seconds: limit.as_secs(),
            })?;
        let counts = vars
            .iter()
            .map(|&v| solution.var_value(v).round().max(0.0) as u32)
            .collect();
        let value = solution.objective();
        Ok((counts, value, bound.unwrap_or(value)))
    }

    /// `panel` improved by swaps, one person of a type for one of another, while a swap
    /// keeps the quotas (and households) and gains `Σ weight_t c_t`: a local search, far
    /// cheaper than [`Instance::best_composition`]'s integer programme, that often finds
    /// a panel nearly as good. Each sweep takes the panel's types from the lowest weight
    /// up and swaps each person for the highest-weighted type that gains and fits, the
    /// types searched in falling weight so the search for one stops at the first fit;
    /// sweeps repeat until one swaps no one.
    pub(super) fn swapped(&self, panel: &Composition, weights: &[f64]) -> Composition {
        let features = &self.features;
        let household_of = self.household_of_types();
        let mut counts = panel.clone();
        let mut chosen: Vec<Vec<u32>> = features.iter().map(|f| vec![0; f.values.len()]).collect();
        let mut taken = vec![0u32; self.households.len()];
        for (t, &c) in counts.iter().enumerate() {
            for (f, &v) in self.types[t].values.iter().enumerate() {
                chosen[f][v] += c;
            }
            if let Some(h) = household_of[t] {
                taken[h] += c;
            }
        }
        let most: Vec<u32> = self
            .types
            .iter()
            .map(|t| (t.members.len() as u32).min(self.k))
            .collect();
        let mut order: Vec<usize> = (0..counts.len()).collect();
        order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]));
        loop {
            let mut members: Vec<usize> = (0..counts.len()).filter(|&u| counts[u] > 0).collect();
            members.sort_by(|&a, &b| weights[a].total_cmp(&weights[b]));
            let mut swapped_any = false;
            for u in members {
                let from = &self.types[u].values;
                'person: while counts[u] > 0 {
                    for &t in &order {
                        if weights[t] - weights[u] <= 1e-15 {
                            break 'person;
                        }
                        if counts[t] >= most[t]
                            || household_of[t]
                                .is_some_and(|h| taken[h] > 0 && household_of[u] != Some(h))
                        {
                            continue;
                        }
                        let values = self.types[t].values.iter().zip(from).enumerate();
                        let fits = values.clone().all(|(f, (&to, &away))| {
                            to == away
                                || (chosen[f][away] > features[f].bounds[away].0
                                    && chosen[f][to] < features[f].bounds[to].1)
                        });
                        if !fits {
                            continue;
                        }
                        counts[u] -= 1;
                        counts[t] += 1;
                        for (f, (&to, &away)) in values {
                            chosen[f][away] -= 1;
                            chosen[f][to] += 1;
                        }
                        if let Some(h) = household_of[u] {
                            taken[h] -= 1;
                        }
                        if let Some(h) = household_of[t] {
                            taken[h] += 1;
                        }
                        swapped_any = true;
                        continue 'person;
                    }
                    break;
                }
            }
            if !swapped_any {
                return counts;
            }
        }
    }

    /// Adds each value's quota on the counts `vars` to `problem`, and each household's
    /// limit of one.
    pub(super) fn add_quotas(&self, problem: &mut Problem, vars: &[microlp::Variable]) {
        for (f, feature) in self.features.iter().enumerate() {
            for (v, &(min, max)) in feature.bounds.iter().enumerate() {
                let terms = self.with_value(vars, f, v);
                problem.add_constraint(terms.as_slice(), ComparisonOp::Ge, f64::from(min));
                problem.add_constraint(terms.as_slice(), ComparisonOp::Le, f64::from(max));
            }
        }
        self.add_households(problem, vars);
    }

    /// Adds each household's limit of one panel member to `problem`.
    pub(super) fn add_households(&self, problem: &mut Problem, vars: &[microlp::Variable]) {
        for group in &self.households {
            let terms: Vec<_> = group.iter().map(|&t| (vars[t], 1.0)).collect();
            problem.add_constraint(terms.as_slice(), ComparisonOp::Le, 1.0);
        }
    }
}
