//! Choosing a panel from a pool of registrants against quotas, with every person's chance
//! of selection known.
//!
//! A pool of people, each with one value per feature (age band, sex, ward, …), quotas
//! giving each value a minimum and maximum number of panel members, and a panel size `k`
//! make an [`Instance`]. Two methods choose panels:
//!
//! - [`greedy`]: the "legacy" method citizens' assembly tools used, filling the most urgent
//!   quota one random person at a time. Its selection probabilities are not known in
//!   advance; [`estimate_greedy`] measures them by repeating it, which shows how unfairly it
//!   can treat some people.
//! - [`maximin`]: a probability distribution over quota-satisfying panels that makes the
//!   smallest selection probability of anyone in the pool as large as possible, after
//!   Flanigan, Gölz, Gupta, Hennig and Procaccia, "Fair algorithms for selecting citizens'
//!   assemblies", *Nature* 596 (2021) 548–552 (implemented from the paper); [`leximin`]
//!   then raises the second smallest as far as it can, and so on.
//!
//! People whose values are all the same are interchangeable: any fair distribution gives
//! them the same probability, so both methods work on *types* (groups of identical people)
//! and panels are *compositions* (how many of each type). An instance of 2,000 people with
//! two binary features has at most four types.
//!
//! Maximin is solved by column generation on the dual linear programme: with weights `y`
//! on types (summing to 1), the best response is the composition maximising
//! `Σ y_t c_t / n_t` (an integer programme over the quotas); while a composition beats the
//! current bound it is added and the weights solved again. The primal is then solved over
//! the compositions found, giving the distribution. Both programmes are solved with the
//! pure-Rust `microlp`, each with a time limit.
//!
//! Leximin starts from the leximin of the linear relaxation (compositions of fractional
//! people, a programme with a column per type), which no distribution can beat, and looks
//! for a distribution that reaches it: the nearest point to those probabilities in the
//! convex hull of the panels' probabilities, by Wolfe's minimum-norm-point algorithm
//! ([`lp::min_norm`]), which needs no master programme, only small affine ones, and
//! whose pricing panels come from a swap search and a branch and bound stopped early.
//! Wolfe's method creeps at the end, so once every type is close to its target, column
//! generation on the primal finishes from the panels it found, with the dense simplex of
//! [`lp::dense`] (a new panel is a column added to the current basis). If the
//! target cannot be reached, a maximin stage per probability level gives the leximin.
//!
//! People may be grouped in households, at most one of each on a panel: someone who shares
//! a household with another person in the pool is a type alone, and every panel counts at
//! most one of each household's types.

pub mod lp;
pub mod seats;
pub mod synthetic_pool;

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use microlp::{ComparisonOp, OptimizationDirection, Problem};

use lp::dense::{DenseLp, LpError};
use lp::min_norm::MinNorm;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// One feature the quotas name, with its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feature {
    /// Its name as the quota file writes it, e.g. `gender`.
    pub name: String,
    /// Its values, in the order the quota file lists them.
    pub values: Vec<String>,
    /// The bounds on each value's number of panel members, in `values` order.
    pub bounds: Vec<(u32, u32)>,
}

/// People with identical values for every feature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Type {
    /// The value (index into the feature's `values`) of each feature.
    pub values: Vec<usize>,
    /// The people of this type, as positions in [`Instance::ids`].
    pub members: Vec<usize>,
}

/// A selection problem: the pool grouped into types, the quotas and the panel size.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// The features and their quotas.
    pub features: Vec<Feature>,
    /// Everyone's id, in the order of the people file.
    pub ids: Vec<String>,
    /// The pool grouped by values.
    pub types: Vec<Type>,
    /// Panel size.
    pub k: u32,
    /// Types (each of one person) whose people share a household, at most one of whom may
    /// be on a panel: one group per household of two or more in the pool.
    pub households: Vec<Vec<usize>>,
}

/// A panel as counts per type, in [`Instance::types`] order.
pub type Composition = Vec<u32>;

/// Why an instance cannot be built or solved.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SelectionError {
    /// A file is malformed.
    #[error("{file}: {message}")]
    File {
        /// `people` or `quotas`.
        file: &'static str,
        /// What is wrong, with the line.
        message: String,
    },
    /// The quotas cannot be met by any panel; each reason names the quotas at fault.
    #[error("no panel meets the quotas: {}", .reasons.join("; "))]
    Infeasible {
        /// Every conflict found.
        reasons: Vec<String>,
    },
    /// The solver ran out of time.
    #[error("the solver reached its time limit of {seconds} s")]
    TimeLimit {
        /// The limit.
        seconds: u64,
    },
    /// The solver failed.
    #[error("the solver failed: {0}")]
    Solver(String),
    /// Asked to stop before it finished.
    #[error("the selection was stopped")]
    Stopped,
}

fn file_error(file: &'static str, message: impl Into<String>) -> SelectionError {
    SelectionError::File {
        file,
        message: message.into(),
    }
}

/// Lower case with spaces trimmed, so `Female ` and `female` are one value.
fn normal(text: &str) -> String {
    text.trim().to_lowercase()
}

/// Reads quotas as CSV: `feature,value,min,max` (the Sortition Foundation's columns) or
/// `category,feature,min,max` (the same in the paper's data).
pub fn read_quotas(reader: impl Read) -> Result<Vec<Feature>, SelectionError> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let header: Vec<String> = csv
        .headers()
        .map_err(|e| file_error("quotas", e.to_string()))?
        .iter()
        .map(normal)
        .collect();
    let named = |names: [&str; 4]| -> Option<[usize; 4]> {
        let mut found = [0; 4];
        for (slot, name) in found.iter_mut().zip(names) {
            *slot = header.iter().position(|h| h == name)?;
        }
        Some(found)
    };
    let [feature, value, min, max] = named(["feature", "value", "min", "max"])
        .or_else(|| named(["category", "feature", "min", "max"]))
        .ok_or_else(|| {
            file_error(
                "quotas",
                "the header must name feature,value,min,max (or category,feature,min,max)",
            )
        })?;
    let mut features: Vec<Feature> = Vec::new();
    for (row, record) in csv.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| file_error("quotas", e.to_string()))?;
        let cell = |i: usize| record.get(i).unwrap_or("").trim();
        let bound = |i: usize| {
            cell(i).parse::<u32>().map_err(|_| {
                file_error(
                    "quotas",
                    format!(
                        "line {line}: {:?} is not a whole number of 0 or more",
                        cell(i)
                    ),
                )
            })
        };
        let (name, value_name) = (cell(feature), cell(value));
        if name.is_empty() || value_name.is_empty() {
            return Err(file_error(
                "quotas",
                format!("line {line}: the feature or value is empty"),
            ));
        }
        let (low, high) = (bound(min)?, bound(max)?);
        if low > high {
            return Err(file_error(
                "quotas",
                format!("line {line}: {name} {value_name}: min {low} is more than max {high}"),
            ));
        }
        let index = match features
            .iter()
            .position(|f| normal(&f.name) == normal(name))
        {
            Some(index) => index,
            None => {
                features.push(Feature {
                    name: name.to_owned(),
                    values: Vec::new(),
                    bounds: Vec::new(),
                });
                features.len() - 1
            }
        };
        let entry = &mut features[index];
        if entry.values.iter().any(|v| normal(v) == normal(value_name)) {
            return Err(file_error(
                "quotas",
                format!("line {line}: {name} {value_name} is listed twice"),
            ));
        }
        entry.values.push(value_name.to_owned());
        entry.bounds.push((low, high));
    }
    if features.is_empty() {
        return Err(file_error("quotas", "there are no quotas"));
    }
    Ok(features)
}

/// Quotas as CSV in the Sortition Foundation's `feature,value,min,max`.
pub fn quotas_csv(features: &[Feature]) -> String {
    let mut text = String::from("feature,value,min,max\n");
    for feature in features {
        for (value, (min, max)) in feature.values.iter().zip(&feature.bounds) {
            let quote = |s: &str| {
                if s.contains([',', '"', '\n']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.to_owned()
                }
            };
            text.push_str(&format!(
                "{},{},{min},{max}\n",
                quote(&feature.name),
                quote(value)
            ));
        }
    }
    text
}

/// Reads the pool as CSV with a column per quota feature (other columns are ignored) and
/// an `id` column (without one, a person's id is their row number, from 1), and groups it
/// into types for a panel of `k`.
pub fn read_people(
    reader: impl Read,
    features: Vec<Feature>,
    k: u32,
) -> Result<Instance, SelectionError> {
    read_people_in_households(reader, features, k, None)
}

/// [`read_people`], with each person's household in the column named `household` when
/// given: people with the same household there may not both be on a panel (an empty cell
/// is a household of one).
pub fn read_people_in_households(
    reader: impl Read,
    features: Vec<Feature>,
    k: u32,
    household: Option<&str>,
) -> Result<Instance, SelectionError> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let header: Vec<String> = csv
        .headers()
        .map_err(|e| file_error("people", e.to_string()))?
        .iter()
        .map(normal)
        .collect();
    let id_column = header.iter().position(|h| h == "id");
    let household_column = household
        .map(|name| {
            header
                .iter()
                .position(|h| *h == normal(name))
                .ok_or_else(|| file_error("people", format!("there is no column {name:?}")))
        })
        .transpose()?;
    let columns = features
        .iter()
        .map(|f| {
            header
                .iter()
                .position(|h| *h == normal(&f.name))
                .ok_or_else(|| file_error("people", format!("there is no column {:?}", f.name)))
        })
        .collect::<Result<Vec<usize>, _>>()?;
    let lookup: Vec<HashMap<String, usize>> = features
        .iter()
        .map(|f| {
            f.values
                .iter()
                .enumerate()
                .map(|(i, v)| (normal(v), i))
                .collect()
        })
        .collect();
    let mut people = Vec::new();
    for (row, record) in csv.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| file_error("people", e.to_string()))?;
        let mut values = Vec::with_capacity(features.len());
        for ((feature, &column), known) in features.iter().zip(&columns).zip(&lookup) {
            let given = record.get(column).unwrap_or("");
            let value = known.get(&normal(given)).ok_or_else(|| {
                file_error(
                    "people",
                    format!(
                        "line {line}: {} {given:?} is not a value the quotas list ({})",
                        feature.name,
                        feature.values.join(", ")
                    ),
                )
            })?;
            values.push(*value);
        }
        let id = match id_column {
            Some(column) => record.get(column).unwrap_or("").trim().to_owned(),
            None => (row + 1).to_string(),
        };
        if id.is_empty() {
            return Err(file_error(
                "people",
                format!("line {line}: the id is empty"),
            ));
        }
        let household = household_column
            .map(|column| record.get(column).unwrap_or("").trim())
            .filter(|h| !h.is_empty())
            .map(str::to_owned);
        people.push(Person {
            id,
            values,
            household,
        });
    }
    Ok(Instance::new(features, people, k))
}

/// One person in the pool: an id and the value (index into the feature's `values`) of each
/// feature, in the features' order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// How the person is known outside the selection (a registrant's id, a file's id).
    pub id: String,
    /// The index of the person's value for each feature.
    pub values: Vec<usize>,
    /// The person's household, if it matters: two people with the same one may not both
    /// be on a panel.
    pub household: Option<String>,
}

impl Instance {
    /// Groups `people` into types for a panel of `k` under the quotas of `features`.
    /// Someone who shares a household with another person in the pool is not
    /// interchangeable with the others of their values, and is a type alone.
    pub fn new(features: Vec<Feature>, people: Vec<Person>, k: u32) -> Self {
        let mut sharing: HashMap<&str, usize> = HashMap::new();
        for household in people.iter().filter_map(|p| p.household.as_deref()) {
            *sharing.entry(household).or_insert(0) += 1;
        }
        let shared: Vec<Option<String>> = people
            .iter()
            .map(|p| {
                p.household
                    .clone()
                    .filter(|h| sharing.get(h.as_str()).is_some_and(|&n| n > 1))
            })
            .collect();
        let mut ids = Vec::with_capacity(people.len());
        let mut types: Vec<Type> = Vec::new();
        let mut type_of: HashMap<Vec<usize>, usize> = HashMap::new();
        let mut households: Vec<Vec<usize>> = Vec::new();
        let mut household_of: HashMap<String, usize> = HashMap::new();
        for (person, (Person { id, values, .. }, shared)) in
            people.into_iter().zip(shared).enumerate()
        {
            ids.push(id);
            let next = types.len();
            let index = match shared {
                Some(household) => {
                    let group = *household_of.entry(household).or_insert(households.len());
                    if group == households.len() {
                        households.push(Vec::new());
                    }
                    households[group].push(next);
                    next
                }
                None => *type_of.entry(values.clone()).or_insert(next),
            };
            if index == next {
                types.push(Type {
                    values,
                    members: Vec::new(),
                });
            }
            types[index].members.push(person);
        }
        Instance {
            features,
            ids,
            types,
            k,
            households,
        }
    }

    /// The household (index into [`Instance::households`]) of each type's people, for
    /// those who share one.
    fn household_of_types(&self) -> Vec<Option<usize>> {
        let mut of = vec![None; self.types.len()];
        for (h, group) in self.households.iter().enumerate() {
            for &t in group {
                of[t] = Some(h);
            }
        }
        of
    }

    /// How many of the pool could be on one panel together: everyone, but one per
    /// household.
    fn most_on_a_panel(&self) -> usize {
        let sharing: usize = self.households.iter().map(Vec::len).sum();
        self.pool_size() - sharing + self.households.len()
    }

    /// How many people with value `v` of feature `f` could be on one panel together.
    fn most_with(&self, f: usize, v: usize) -> u64 {
        let household_of = self.household_of_types();
        let alone: u64 = self
            .types
            .iter()
            .zip(&household_of)
            .filter(|(t, h)| t.values[f] == v && h.is_none())
            .map(|(t, _)| t.members.len() as u64)
            .sum();
        let households = self
            .households
            .iter()
            .filter(|group| group.iter().any(|&t| self.types[t].values[f] == v))
            .count() as u64;
        alone + households
    }

    /// People in the pool.
    pub fn pool_size(&self) -> usize {
        self.ids.len()
    }

    /// Checks the conditions any panel must meet that can be seen without solving: the
    /// panel fits in the pool (one person per household), each feature's minimums fit in
    /// `k` and its maximums reach it, and each value has as many people as its minimum, in
    /// as many households.
    pub fn check(&self) -> Result<(), SelectionError> {
        let mut reasons = Vec::new();
        if self.k == 0 {
            reasons.push("the panel size must be at least 1".to_owned());
        }
        if self.k as usize > self.pool_size() {
            reasons.push(format!(
                "a panel of {} needs at least {} people, and the pool has {}",
                self.k,
                self.k,
                self.pool_size()
            ));
        } else if self.k as usize > self.most_on_a_panel() {
            reasons.push(format!(
                "a panel of {} needs {} households, one person from each, and the pool's \
                 {} people live in {}",
                self.k,
                self.k,
                self.pool_size(),
                self.most_on_a_panel()
            ));
        }
        for (f, feature) in self.features.iter().enumerate() {
            let mut mins = 0u64;
            let mut maxes = 0u64;
            for (v, (value, &(min, max))) in feature.values.iter().zip(&feature.bounds).enumerate()
            {
                let available = self.count_with(f, v);
                let together = self.most_with(f, v);
                if u64::from(min) > available {
                    reasons.push(format!(
                        "{} {value}: the minimum is {min} but the pool has {available}",
                        feature.name
                    ));
                } else if u64::from(min) > together {
                    reasons.push(format!(
                        "{} {value}: the minimum is {min} but the pool's {available} live in \
                         {together} households, and only one per household can be selected",
                        feature.name
                    ));
                }
                mins += u64::from(min);
                maxes += u64::from(max).min(together);
            }
            if mins > u64::from(self.k) {
                reasons.push(format!(
                    "{}: the minimums add up to {mins}, more than the panel of {}",
                    feature.name, self.k
                ));
            }
            if maxes < u64::from(self.k) {
                reasons.push(format!(
                    "{}: at most {maxes} can be selected within the maximums and the pool, \
                     fewer than the panel of {}",
                    feature.name, self.k
                ));
            }
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(SelectionError::Infeasible { reasons })
        }
    }

    /// People in the pool with value `v` of feature `f`.
    fn count_with(&self, f: usize, v: usize) -> u64 {
        self.types
            .iter()
            .filter(|t| t.values[f] == v)
            .map(|t| t.members.len() as u64)
            .sum()
    }

    /// Adds a panel's counts per type to `problem`, each worth `weights[t]`, adding up to
    /// `k`.
    fn panel_vars(&self, problem: &mut Problem, weights: &[f64]) -> Vec<microlp::Variable> {
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
    fn with_value(
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

    /// The composition meeting the quotas that maximises `Σ weight_t c_t`, or the reason
    /// there is none.
    fn best_composition(
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
    fn best_composition_from(
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
    fn swapped(&self, panel: &Composition, weights: &[f64]) -> Composition {
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
    fn add_quotas(&self, problem: &mut Problem, vars: &[microlp::Variable]) {
        for (f, feature) in self.features.iter().enumerate() {
            for (v, &(min, max)) in feature.bounds.iter().enumerate() {
                let terms = self.with_value(vars, f, v);
                problem.add_constraint(terms.as_slice(), ComparisonOp::Ge, f64::from(min));
                problem.add_constraint(terms.as_slice(), ComparisonOp::Le, f64::from(max));
            }
        }
        self.add_households(problem, vars);
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

    fn named_conflict(&self, deadline: Instant) -> Option<String> {
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
    fn meets(&self, bounds: &[Bound], deadline: Instant) -> Option<bool> {
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

    /// Adds each household's limit of one panel member to `problem`.
    fn add_households(&self, problem: &mut Problem, vars: &[microlp::Variable]) {
        for group in &self.households {
            let terms: Vec<_> = group.iter().map(|&t| (vars[t], 1.0)).collect();
            problem.add_constraint(terms.as_slice(), ComparisonOp::Le, 1.0);
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
    fn relaxed_leximin(&self, limit: Duration) -> Result<Vec<f64>, SelectionError> {
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
    fn relaxed_stage(
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

/// How far each type may rise at once in [`Instance::relaxed_leximin`]'s test of which can:
/// small against the gaps between probability levels, large against the solver's
/// rounding.
const RISE: f64 = 1e-5;

/// How far below a settled level the relaxation may keep a type: room for the solver's
/// rounding.
const RELAXED_SLACK: f64 = 1e-9;

/// The longest naming the quotas that conflict may take, in all.
const NAMING_LIMIT: Duration = Duration::from_secs(10);

/// One quota bound: a feature's value at least, or at most, so many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bound {
    Min(usize, usize, u32),
    Max(usize, usize, u32),
}

/// The quotas' infeasibility, or the solver's failure.
fn infeasible_quotas(error: microlp::Error) -> SelectionError {
    match error {
        microlp::Error::Infeasible => SelectionError::Infeasible {
            reasons: vec!["the quotas of different features cannot be met together".into()],
        },
        other => SelectionError::Solver(format!("{other:?}")),
    }
}

/// A probability distribution over panels, as compositions with their probabilities.
#[derive(Clone, Debug, PartialEq)]
pub struct Distribution {
    /// Compositions and their probabilities (positive, adding up to 1).
    pub panels: Vec<(Composition, f64)>,
    /// Each type's selection probability (the same for all its members).
    pub type_probabilities: Vec<f64>,
}

impl Distribution {
    /// Each person's selection probability, in [`Instance::ids`] order.
    pub fn person_probabilities(&self, instance: &Instance) -> Vec<f64> {
        let mut probabilities = vec![0.0; instance.pool_size()];
        for (t, p) in instance.types.iter().zip(&self.type_probabilities) {
            for &m in &t.members {
                probabilities[m] = *p;
            }
        }
        probabilities
    }

    /// The lowest selection probability of anyone in the pool.
    pub fn minimum(&self) -> f64 {
        self.type_probabilities
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
    }

    /// Draws a panel from the distribution with `seed`: a composition by its probability,
    /// then its members uniformly within each type. Returns positions in
    /// [`Instance::ids`], sorted.
    pub fn draw(&self, instance: &Instance, seed: u64) -> Vec<usize> {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut point: f64 = rng.random();
        let mut chosen = &self.panels[self.panels.len() - 1].0;
        for (composition, p) in &self.panels {
            if point < *p {
                chosen = composition;
                break;
            }
            point -= p;
        }
        let mut panel = Vec::new();
        for (t, &count) in instance.types.iter().zip(chosen) {
            let picked = rand::seq::index::sample(&mut rng, t.members.len(), count as usize);
            panel.extend(picked.into_iter().map(|i| t.members[i]));
        }
        panel.sort_unstable();
        panel
    }
}

/// A distribution rounded to a uniform lottery over numbered tickets, each a panel, after
/// Flanigan, Kehne and Procaccia, "Fair Sortition Made Transparent" (NeurIPS 2021): the
/// final draw is a number from 1 to the number of tickets, which can be drawn in public.
#[derive(Clone, Debug, PartialEq)]
pub struct Lottery {
    /// Each ticket's panel, as positions in [`Instance::ids`], sorted; ticket `i` is
    /// `tickets[i - 1]`.
    pub tickets: Vec<Vec<usize>>,
    /// SHA-256 of [`Lottery::text`]: publish it before the draw, and nobody can change the
    /// tickets once the number is known.
    pub sha256: String,
    /// The largest change of anyone's selection probability from the distribution's.
    pub largest_shift: f64,
}

impl Lottery {
    /// The lottery as text: a first line naming the format, then one line per ticket,
    /// `number:id,id,…` with the ids in the order of the people file. Its SHA-256 is the
    /// commitment.
    pub fn text(&self, instance: &Instance) -> String {
        let mut text = String::from("civic-panel-lottery/1\n");
        for (number, ticket) in self.tickets.iter().enumerate() {
            text.push_str(&(number + 1).to_string());
            text.push(':');
            let ids: Vec<&str> = ticket.iter().map(|&p| instance.ids[p].as_str()).collect();
            text.push_str(&ids.join(","));
            text.push('\n');
        }
        text
    }

    /// Each person's probability of selection under the lottery, in [`Instance::ids`]
    /// order.
    pub fn person_probabilities(&self, instance: &Instance) -> Vec<f64> {
        let mut counts = vec![0u32; instance.pool_size()];
        for ticket in &self.tickets {
            for &person in ticket {
                counts[person] += 1;
            }
        }
        let tickets = self.tickets.len() as f64;
        counts.iter().map(|&c| f64::from(c) / tickets).collect()
    }
}

impl Distribution {
    /// Rounds the distribution to `tickets` equally likely panels: each composition gets
    /// its probability's share of the tickets, rounded by largest remainder, and each
    /// type's places on those tickets go round its members in a random order fixed by
    /// `seed`, so that every member holds as nearly the same number of tickets as the
    /// others.
    pub fn lottery(&self, instance: &Instance, tickets: u32, seed: u64) -> Lottery {
        let shares: Vec<(String, f64)> = self
            .panels
            .iter()
            .enumerate()
            .map(|(i, (_, p))| (format!("{i:08}"), *p))
            .collect();
        let counts =
            crate::domain::recruitment::sampling::largest_remainder(&shares, u64::from(tickets));
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut rounds: Vec<(Vec<usize>, usize)> = instance
            .types
            .iter()
            .map(|t| {
                let mut order = t.members.clone();
                rand::seq::SliceRandom::shuffle(order.as_mut_slice(), &mut rng);
                (order, 0)
            })
            .collect();
        let mut drawn = Vec::with_capacity(tickets as usize);
        for ((composition, _), &count) in self.panels.iter().zip(&counts) {
            for _ in 0..count {
                let mut panel = Vec::new();
                for ((order, next), &c) in rounds.iter_mut().zip(composition) {
                    for _ in 0..c {
                        panel.push(order[*next % order.len()]);
                        *next += 1;
                    }
                }
                panel.sort_unstable();
                drawn.push(panel);
            }
        }
        let mut lottery = Lottery {
            tickets: drawn,
            sha256: String::new(),
            largest_shift: 0.0,
        };
        lottery.sha256 = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(lottery.text(instance).as_bytes()))
        };
        lottery.largest_shift = lottery
            .person_probabilities(instance)
            .iter()
            .zip(self.person_probabilities(instance))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        lottery
    }
}

/// The maximin distribution (see the module documentation), within `limit`.
pub fn maximin(instance: &Instance, limit: Duration) -> Result<Distribution, SelectionError> {
    maximin_stoppable(instance, limit, &AtomicBool::new(false))
}

/// [`maximin`], stopping with [`SelectionError::Stopped`] soon after `stop` is set (the
/// server sets it when a selection job is cancelled).
pub fn maximin_stoppable(
    instance: &Instance,
    limit: Duration,
    stop: &AtomicBool,
) -> Result<Distribution, SelectionError> {
    maximin_within(instance, limit, stop).map_err(|error| overall(error, limit))
}

/// [`maximin`], with a time limit reported as the part's that reached it.
fn maximin_within(
    instance: &Instance,
    limit: Duration,
    stop: &AtomicBool,
) -> Result<Distribution, SelectionError> {
    let mut solver = Solver::new(instance, limit, stop)?;
    let goals = vec![Goal::Raise(0.0); instance.types.len()];
    let (lowest, _) = solver.stage(&goals, None)?;
    solver.distribution(&vec![lowest - FLOOR_SLACK; instance.types.len()])
}

/// The leximin distribution, within `limit`: the lowest selection probability as high as
/// possible, then the second lowest, and so on (Flanigan et al., 2021).
///
/// First the leximin of the panels' linear relaxation ([`Instance::relaxed_leximin`]),
/// which no distribution can beat; then panels whose hull comes near it, by the nearest
/// point of the hull to it ([`Solver::nearest_to`]), and from them a distribution giving
/// every type at least that relaxed probability less a margin, the margin as small as
/// column generation can make it. On pools like councils' it reaches the relaxation, and
/// is then the leximin. If it cannot, the leximin is found a level at a time: each stage
/// solves a maximin over the types not yet fixed, keeping the fixed ones at their values,
/// and fixes the types whose dual weight is positive: no distribution can give them more
/// without giving someone fixed less.
pub fn leximin(instance: &Instance, limit: Duration) -> Result<Distribution, SelectionError> {
    leximin_stoppable(instance, limit, &AtomicBool::new(false))
}

/// [`leximin`], stopping with [`SelectionError::Stopped`] soon after `stop` is set.
pub fn leximin_stoppable(
    instance: &Instance,
    limit: Duration,
    stop: &AtomicBool,
) -> Result<Distribution, SelectionError> {
    leximin_within(instance, limit, stop).map_err(|error| overall(error, limit))
}

/// [`leximin`], with a time limit reported as the part's that reached it.
fn leximin_within(
    instance: &Instance,
    limit: Duration,
    stop: &AtomicBool,
) -> Result<Distribution, SelectionError> {
    let mut solver = Solver::new(instance, limit, stop)?;
    let relaxed = instance.relaxed_leximin(solver.remaining()?)?;
    let types = instance.types.len() as f64;
    if let Some(weights) = solver.nearest_to(&relaxed, CLOSE_SCALE / (types * types))? {
        return solver.spread(weights);
    }
    // No distribution gives everyone more than the relaxation: the margin is at most 0.
    let (margin, _, weights) = solver.raised_stage(&relaxed, Some(0.0))?;
    if margin >= -REACHED {
        return solver.spread(weights);
    }
    let mut floors: Vec<Option<f64>> = vec![None; instance.types.len()];
    while floors.iter().any(Option::is_none) {
        let goals: Vec<Goal> = floors
            .iter()
            .map(|f| f.map_or(Goal::Raise(0.0), Goal::Keep))
            .collect();
        let (lowest, weights) = solver.stage(&goals, None)?;
        let mut fixed_any = false;
        for (floor, weight) in floors.iter_mut().zip(&weights) {
            if floor.is_none() && *weight > 1e-7 {
                *floor = Some(lowest - FLOOR_SLACK);
                fixed_any = true;
            }
        }
        if !fixed_any {
            // Degenerate duals: fix everyone left at the level reached.
            for floor in floors.iter_mut().filter(|f| f.is_none()) {
                *floor = Some(lowest - FLOOR_SLACK);
            }
        }
    }
    let floors: Vec<f64> = floors.into_iter().map(|f| f.unwrap_or(0.0)).collect();
    solver.distribution(&floors)
}

/// `error`, with a time limit reached by any part of a solve (each given what was left of
/// the whole) reported as `limit`, the limit that was set.
fn overall(error: SelectionError, limit: Duration) -> SelectionError {
    match error {
        SelectionError::TimeLimit { .. } => SelectionError::TimeLimit {
            seconds: limit.as_secs(),
        },
        other => other,
    }
}

/// How far below a stage's optimum a fixed probability may fall in later stages: room for
/// the solver's rounding, far below what the reports show.
const FLOOR_SLACK: f64 = 1e-7;

/// The weight of the best weights seen so far in the weights [`Solver::raised_stage`]
/// prices at: on the synthetic pool of 800 with panels of 60, 0.8 takes about a quarter
/// less time than 0.5.
const RAISED_SMOOTHING: f64 = 0.8;

/// The relative gap at which [`Solver::nearest_to`]'s integer programme may stop: a panel
/// gaining at least half what the best could.
const NEAREST_GAP: f64 = 1.0;

/// When [`Solver::nearest_to`] hands over to column generation on the primal: once every
/// type is within `CLOSE_SCALE / types²` of the relaxed leximin. Wolfe's last rounds
/// creep (on the synthetic pool of 2,500, three quarters of them go from 5e-5 below to
/// 1e-6 below), while the simplex finishes from the panels found in a few dozen more, but
/// at a cost per pivot growing with the square of the types. Tuned on the synthetic
/// pools: 3e-4 at 800 (447 types) and 8e-5 at 2,500 (845 types) were the quickest of the
/// thresholds tried (1e-3 to 5e-5).
const CLOSE_SCALE: f64 = 60.0;

/// How far below the relaxed leximin a distribution may leave anyone and still count as
/// reaching it.
const REACHED: f64 = 1e-6;

/// What a stage of column generation asks of a type's selection probability.
#[derive(Clone, Copy, Debug)]
enum Goal {
    /// At least the stage's level plus this much: the level is raised as far as it goes.
    Raise(f64),
    /// At least this probability.
    Keep(f64),
}

/// Column generation over compositions, shared by the stages of [`leximin`].
struct Solver<'a> {
    instance: &'a Instance,
    sizes: Vec<f64>,
    panels: Vec<Composition>,
    started: Instant,
    limit: Duration,
    stop: &'a AtomicBool,
}

impl<'a> Solver<'a> {
    /// Checks the instance and finds a first panel meeting the quotas.
    fn new(
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
    fn seed_panels(&mut self) -> Result<(), SelectionError> {
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

    fn remaining(&self) -> Result<Duration, SelectionError> {
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
    fn stage(
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
        let mut center: Option<(Vec<f64>, f64)> = None;
        let mut smoothing = 0.5;
        loop {
            let weights: Vec<f64> = y.iter().map(|&v| solution.var_value(v)).collect();
            let lower = solution.objective();
            if ceiling.is_some_and(|ceiling| lower >= ceiling - REACHED) {
                return Ok((lower, raised_only(&weights)));
            }
            let priced: Vec<f64> = match &center {
                Some((best, _)) => best
                    .iter()
                    .zip(&weights)
                    .map(|(c, w)| smoothing * c + (1.0 - smoothing) * w)
                    .collect(),
                None => weights.clone(),
            };
            let per_person: Vec<f64> = priced.iter().zip(&self.sizes).map(|(w, n)| w / n).collect();
            let (panel, value) = self
                .instance
                .best_composition(&per_person, self.remaining()?)?;
            // Any weights bound the stage's optimum from above.
            let upper = value - priced.iter().zip(&base).map(|(w, b)| w * b).sum::<f64>();
            if center.as_ref().is_none_or(|(_, best)| upper < *best) {
                center = Some((priced.clone(), upper));
            }
            let best_upper = center.as_ref().map_or(upper, |(_, best)| *best);
            if best_upper - lower <= 1e-7 {
                let optimal = center.map_or(weights, |(best, _)| best);
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
    fn nearest_to(
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
    fn raised_stage(
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
        let mut center: Option<(Vec<f64>, f64)> = None;
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
            let priced: Vec<f64> = match &center {
                Some((best, _)) => best
                    .iter()
                    .zip(&weights)
                    .map(|(c, w)| smoothing * c + (1.0 - smoothing) * w)
                    .collect(),
                None => weights.clone(),
            };
            let per_person: Vec<f64> = priced.iter().zip(sizes).map(|(w, n)| w / n).collect();
            let (panel, value) = self
                .instance
                .best_composition(&per_person, self.remaining()?)?;
            // Any weights bound the stage's optimum from above.
            let upper = value - priced.iter().zip(offsets).map(|(w, b)| w * b).sum::<f64>();
            if center.as_ref().is_none_or(|(_, best)| upper < *best) {
                center = Some((priced.clone(), upper));
            }
            let best_upper = center.as_ref().map_or(upper, |(_, best)| *best);
            if best_upper - lower <= 1e-7 {
                let optimal = center.map_or(weights, |(best, _)| best);
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
    fn distribution(self, floors: &[f64]) -> Result<Distribution, SelectionError> {
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
    fn spread(self, weights: Vec<f64>) -> Result<Distribution, SelectionError> {
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
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The solution of a solve, or the error it stands for.
fn solved(
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

/// One run of the greedy "legacy" method with `rng`: while the panel is short, take the
/// value whose unmet minimum is most urgent (the largest share of its still-selectable
/// people needed), or any value when every minimum is met, and select a random
/// selectable person with it; a person is selectable while none of their values is at its
/// maximum and no one of their household is selected. Returns the composition, or `None`
/// when the run got stuck.
pub fn greedy(instance: &Instance, rng: &mut impl Rng) -> Option<Composition> {
    let features = &instance.features;
    let mut chosen: Vec<Vec<u32>> = features.iter().map(|f| vec![0; f.values.len()]).collect();
    let mut left: Vec<u32> = instance
        .types
        .iter()
        .map(|t| t.members.len() as u32)
        .collect();
    let mut counts = vec![0u32; instance.types.len()];
    let household_of = instance.household_of_types();
    let mut household_taken = vec![false; instance.households.len()];
    for _ in 0..instance.k {
        let open = |t: usize, chosen: &Vec<Vec<u32>>| {
            left[t] > 0
                && household_of[t].is_none_or(|h| !household_taken[h])
                && instance.types[t]
                    .values
                    .iter()
                    .enumerate()
                    .all(|(f, &v)| chosen[f][v] < features[f].bounds[v].1)
        };
        let selectable: Vec<usize> = (0..instance.types.len())
            .filter(|&t| open(t, &chosen))
            .collect();
        // The most urgent unmet minimum: needed ÷ selectable people with the value.
        let mut urgent: Option<(f64, usize, usize)> = None;
        for (f, feature) in features.iter().enumerate() {
            for (v, &(min, _)) in feature.bounds.iter().enumerate() {
                let needed = min.saturating_sub(chosen[f][v]);
                if needed == 0 {
                    continue;
                }
                let available: u32 = selectable
                    .iter()
                    .filter(|&&t| instance.types[t].values[f] == v)
                    .map(|&t| left[t])
                    .sum();
                if available == 0 {
                    return None;
                }
                let ratio = f64::from(needed) / f64::from(available);
                if urgent.is_none_or(|(best, _, _)| ratio > best) {
                    urgent = Some((ratio, f, v));
                }
            }
        }
        let pool: Vec<usize> = match urgent {
            Some((_, f, v)) => selectable
                .into_iter()
                .filter(|&t| instance.types[t].values[f] == v)
                .collect(),
            None => selectable,
        };
        let people: u32 = pool.iter().map(|&t| left[t]).sum();
        if people == 0 {
            return None;
        }
        // A random person among the pool's types, each type in proportion to its people.
        let mut pick = rng.random_range(0..people);
        let t = *pool
            .iter()
            .find(|&&t| {
                if pick < left[t] {
                    true
                } else {
                    pick -= left[t];
                    false
                }
            })
            .unwrap_or(&pool[pool.len() - 1]);
        left[t] -= 1;
        counts[t] += 1;
        if let Some(h) = household_of[t] {
            household_taken[h] = true;
        }
        for (f, &v) in instance.types[t].values.iter().enumerate() {
            chosen[f][v] += 1;
        }
    }
    let met = features.iter().enumerate().all(|(f, feature)| {
        feature
            .bounds
            .iter()
            .enumerate()
            .all(|(v, &(min, max))| (min..=max).contains(&chosen[f][v]))
    });
    met.then_some(counts)
}

/// Each type's selection probability under [`greedy`], estimated from `runs` successful
/// runs seeded from `seed` (a run that gets stuck is run again, up to `runs` extra
/// times).
pub fn estimate_greedy(
    instance: &Instance,
    runs: u32,
    seed: u64,
) -> Result<Vec<f64>, SelectionError> {
    instance.check()?;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut totals = vec![0u64; instance.types.len()];
    let (mut done, mut stuck) = (0, 0);
    while done < runs {
        match greedy(instance, &mut rng) {
            Some(counts) => {
                for (total, c) in totals.iter_mut().zip(counts) {
                    *total += u64::from(c);
                }
                done += 1;
            }
            None if stuck < runs => stuck += 1,
            None => {
                return Err(SelectionError::Infeasible {
                    reasons: vec![format!(
                        "the greedy method got stuck in {stuck} runs of {}",
                        stuck + done
                    )],
                });
            }
        }
    }
    Ok(totals
        .iter()
        .zip(&instance.types)
        .map(|(&total, t)| total as f64 / f64::from(runs) / t.members.len() as f64)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL_QUOTAS: &str =
        include_str!("../../../tests/fixtures/selection/example_small_20/categories.csv");
    const SMALL_PEOPLE: &str =
        include_str!("../../../tests/fixtures/selection/example_small_20/respondents.csv");
    const LARGE_QUOTAS: &str =
        include_str!("../../../tests/fixtures/selection/example_large_200/categories.csv");
    const LARGE_PEOPLE: &str =
        include_str!("../../../tests/fixtures/selection/example_large_200/respondents.csv");

    fn instance(quotas: &str, people: &str, k: u32) -> Instance {
        let features = read_quotas(quotas.as_bytes()).unwrap();
        read_people(people.as_bytes(), features, k).unwrap()
    }

    const LIMIT: Duration = Duration::from_secs(60);

    #[test]
    fn a_stopped_solve_ends_with_stopped_not_a_distribution() {
        let (people, quotas) = super::synthetic_pool::pool(200, 20, 0.1, 4);
        let pool = instance(&quotas, &people, 20);
        let stop = AtomicBool::new(true);
        assert_eq!(
            leximin_stoppable(&pool, LIMIT, &stop),
            Err(SelectionError::Stopped)
        );
        assert_eq!(
            maximin_stoppable(&pool, LIMIT, &stop),
            Err(SelectionError::Stopped)
        );
        // Unstopped, the same pool solves.
        assert!(maximin_stoppable(&pool, LIMIT, &AtomicBool::new(false)).is_ok());
    }

    #[test]
    fn maximin_gives_everyone_one_tenth_on_the_papers_instances() {
        for (quotas, people, k, n) in [
            (SMALL_QUOTAS, SMALL_PEOPLE, 20, 200),
            (LARGE_QUOTAS, LARGE_PEOPLE, 200, 2_000),
        ] {
            let instance = instance(quotas, people, k);
            assert_eq!(instance.pool_size(), n);
            // One female conservative, the rest female liberals and male conservatives.
            assert_eq!(instance.types.len(), 3);
            let fair = maximin(&instance, LIMIT).unwrap();
            let probabilities = fair.person_probabilities(&instance);
            for p in &probabilities {
                assert!((p - 0.1).abs() <= 0.001, "{p}");
            }
            let total: f64 = fair.panels.iter().map(|(_, p)| p).sum();
            assert!((total - 1.0).abs() < 1e-9);
            // Every panel in the distribution meets the quotas and has k members.
            for (panel, _) in &fair.panels {
                assert_eq!(panel.iter().sum::<u32>(), k);
                for (f, feature) in instance.features.iter().enumerate() {
                    for (v, &(min, max)) in feature.bounds.iter().enumerate() {
                        let count: u32 = instance
                            .types
                            .iter()
                            .zip(panel)
                            .filter(|(t, _)| t.values[f] == v)
                            .map(|(_, c)| c)
                            .sum();
                        assert!((min..=max).contains(&count));
                    }
                }
            }
            // The draw is reproducible from its seed and has k distinct people.
            let drawn = fair.draw(&instance, 42);
            assert_eq!(drawn.len(), k as usize);
            assert_eq!(drawn, fair.draw(&instance, 42));
            let mut distinct = drawn.clone();
            distinct.dedup();
            assert_eq!(distinct.len(), drawn.len());
        }
    }

    #[test]
    fn leximin_gives_one_tenth_on_the_papers_instances_too() {
        for (quotas, people, k) in [
            (SMALL_QUOTAS, SMALL_PEOPLE, 20),
            (LARGE_QUOTAS, LARGE_PEOPLE, 200),
        ] {
            let instance = instance(quotas, people, k);
            let fair = leximin(&instance, LIMIT).unwrap();
            for p in fair.person_probabilities(&instance) {
                assert!((p - 0.1).abs() <= 0.001, "{p}");
            }
        }
    }

    #[test]
    fn leximin_raises_the_second_lowest_where_maximin_need_not() {
        // A panel of 2: one of the ten in group a, and one of b's and c's only member.
        // Everyone in a gets 0.1 whatever happens; maximin is content with any split of
        // the other seat, leximin splits it evenly.
        let quotas = "feature,value,min,max\ngroup,a,1,1\ngroup,b,0,1\ngroup,c,0,1\n";
        let people = "id,group\n".to_owned()
            + &(0..10).map(|n| format!("a{n},a\n")).collect::<String>()
            + "b0,b\nc0,c\n";
        let instance = instance(quotas, &people, 2);
        let level = |fair: &Distribution, id: &str| {
            let person = instance.ids.iter().position(|i| i == id).unwrap();
            fair.person_probabilities(&instance)[person]
        };
        let fair = leximin(&instance, LIMIT).unwrap();
        assert!((level(&fair, "a3") - 0.1).abs() < 1e-6);
        assert!((level(&fair, "b0") - 0.5).abs() < 1e-6, "{fair:?}");
        assert!((level(&fair, "c0") - 0.5).abs() < 1e-6, "{fair:?}");
        let plain = maximin(&instance, LIMIT).unwrap();
        assert!((plain.minimum() - 0.1).abs() < 1e-6);
    }

    #[test]
    fn a_lottery_of_a_thousand_tickets_keeps_everyone_near_their_probability() {
        let instance = instance(LARGE_QUOTAS, LARGE_PEOPLE, 200);
        let fair = leximin(&instance, LIMIT).unwrap();
        let lottery = fair.lottery(&instance, 1_000, 5);
        assert_eq!(lottery.tickets.len(), 1_000);
        for ticket in &lottery.tickets {
            assert_eq!(ticket.len(), 200);
            assert!(ticket.windows(2).all(|w| w[0] < w[1]), "distinct, sorted");
        }
        // 2,000 people, each on 100 of the 1,000 tickets: no one moves at all here.
        assert!(lottery.largest_shift <= 0.001, "{}", lottery.largest_shift);
        // The commitment is the SHA-256 of the published text, and the same seed makes
        // the same lottery.
        let text = lottery.text(&instance);
        assert!(text.starts_with("civic-panel-lottery/1\n1:"));
        assert_eq!(text.lines().count(), 1_001);
        use sha2::Digest;
        assert_eq!(
            lottery.sha256,
            hex::encode(sha2::Sha256::digest(text.as_bytes()))
        );
        assert_eq!(fair.lottery(&instance, 1_000, 5), lottery);
        assert_ne!(fair.lottery(&instance, 1_000, 6).sha256, lottery.sha256);

        // On a distribution over several panels the shift is what rounding costs.
        let quotas = "feature,value,min,max\ngroup,a,1,1\ngroup,b,0,1\ngroup,c,0,1\n";
        let people = "id,group\n".to_owned()
            + &(0..10).map(|n| format!("a{n},a\n")).collect::<String>()
            + "b0,b\nc0,c\n";
        let small = self::instance(quotas, &people, 2);
        let seven = leximin(&small, LIMIT).unwrap().lottery(&small, 7, 1);
        // Seven tickets cannot give ten people a tenth each, nor split b's and c's seat
        // evenly: seven of a hold one ticket and three none, b and c hold four and three.
        let mut held: Vec<f64> = seven.person_probabilities(&small);
        let (a, rest) = held.split_at_mut(10);
        a.sort_by(f64::total_cmp);
        assert_eq!(a[..3], [0.0; 3]);
        assert!(a[3..].iter().all(|&p| (p - 1.0 / 7.0).abs() < 1e-12));
        rest.sort_by(f64::total_cmp);
        assert!((rest[0] - 3.0 / 7.0).abs() < 1e-12 && (rest[1] - 4.0 / 7.0).abs() < 1e-12);
        assert!(
            (seven.largest_shift - 0.1).abs() < 1e-9,
            "{}",
            seven.largest_shift
        );
    }

    #[test]
    fn the_greedy_method_treats_some_people_far_worse_than_maximin() {
        let instance = instance(SMALL_QUOTAS, SMALL_PEOPLE, 20);
        let greedy = estimate_greedy(&instance, 2_000, 7).unwrap();
        let lowest = greedy.iter().copied().fold(f64::INFINITY, f64::min);
        // The paper: at most 1.21 % for someone, where maximin gives everyone 10 %.
        assert!(lowest < 0.03, "{greedy:?}");
        // Probabilities still add up to the panel size.
        let expected: f64 = greedy
            .iter()
            .zip(&instance.types)
            .map(|(p, t)| p * t.members.len() as f64)
            .sum();
        assert!((expected - 20.0).abs() < 1e-9);
    }

    /// A pool of 30, `p0`…`p29`: five women, young and old alternately.
    fn five_women_of_thirty() -> String {
        let mut people = String::from("id,sex,age\n");
        for n in 0..30 {
            let sex = if n < 5 { "female" } else { "male" };
            let age = if n % 2 == 0 { "young" } else { "old" };
            people.push_str(&format!("p{n},{sex},{age}\n"));
        }
        people
    }

    #[test]
    fn quotas_that_conflict_across_features_are_named_with_their_bounds() {
        // Every woman is young: four women need four young people, and at most two may be.
        let mut people = String::from("id,sex,age,area\n");
        for n in 0..12 {
            let (sex, age) = if n < 5 {
                ("female", "young")
            } else {
                ("male", "old")
            };
            let area = if n % 2 == 0 { "north" } else { "south" };
            people.push_str(&format!("p{n},{sex},{age},{area}\n"));
        }
        let quotas = "feature,value,min,max\nsex,female,4,6\nsex,male,0,6\n\
                      age,young,0,2\nage,old,0,6\narea,north,2,4\narea,south,2,4\n";
        let pool = instance(quotas, &people, 6);
        assert_eq!(pool.check(), Ok(()));
        let Err(SelectionError::Infeasible { reasons }) = maximin(&pool, LIMIT) else {
            panic!("must be infeasible");
        };
        assert_eq!(
            reasons,
            vec![
                "the quotas of sex and age cannot be met together in a panel of 6 from this pool \
                 (sex female at least 4; age young at most 2)"
                    .to_owned()
            ]
        );
        let Err(SelectionError::Infeasible { reasons }) = leximin(&pool, LIMIT) else {
            panic!("must be infeasible");
        };
        assert!(
            reasons[0].starts_with("the quotas of sex and age"),
            "{reasons:?}"
        );
    }

    #[test]
    fn quotas_that_cannot_be_met_are_named_before_any_solve() {
        let quotas =
            "feature,value,min,max\nsex,female,8,10\nsex,male,8,10\nage,young,0,1\nage,old,0,20\n";
        let people = five_women_of_thirty();
        let features = read_quotas(quotas.as_bytes()).unwrap();
        let small = read_people(people.as_bytes(), features.clone(), 25).unwrap();
        let Err(SelectionError::Infeasible { reasons }) = small.check() else {
            panic!("must be infeasible");
        };
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("sex female: the minimum is 8 but the pool has 5"))
        );
        assert!(reasons.iter().any(|r| r.contains("sex: at most 15")));
        let big = read_people(people.as_bytes(), features, 40).unwrap();
        assert!(matches!(
            maximin(&big, LIMIT),
            Err(SelectionError::Infeasible { .. })
        ));
    }

    #[test]
    fn infeasible_quotas_get_the_smallest_relaxation_that_a_panel_can_meet() {
        // Eight women wanted, five in the pool; and age quotas that cannot fill 25 seats.
        let quotas = "feature,value,min,max\nsex,female,8,10\nsex,male,8,20\n\
                      age,young,0,5\nage,old,0,15\n";
        let people = five_women_of_thirty();
        let features = read_quotas(quotas.as_bytes()).unwrap();
        let instance = read_people(people.as_bytes(), features, 25).unwrap();
        assert!(instance.check().is_err());
        let relaxed = instance.relaxed_quotas(LIMIT).unwrap();
        // Women's minimum comes down to the five there are; the age maximums go up by
        // the five seats they cannot fill between them.
        assert_eq!(relaxed[0].bounds, [(5, 10), (8, 20)]);
        let added: u32 = relaxed[1]
            .bounds
            .iter()
            .zip(&instance.features[1].bounds)
            .map(|(new, old)| new.1 - old.1)
            .sum();
        assert_eq!(added, 5);
        let fixed = Instance {
            features: relaxed,
            ..instance.clone()
        };
        assert!(maximin(&fixed, LIMIT).is_ok());
        let written = quotas_csv(&fixed.features);
        assert!(written.contains("sex,female,5,10\n"), "{written}");
        assert_eq!(read_quotas(written.as_bytes()).unwrap(), fixed.features);
        // Quotas that can be met are left as they are.
        let fine = self::instance(SMALL_QUOTAS, SMALL_PEOPLE, 20);
        assert_eq!(fine.relaxed_quotas(LIMIT).unwrap(), fine.features);
    }

    #[test]
    fn leximin_keeps_maximins_minimum_and_is_lexicographically_fairer_on_a_synthetic_pool() {
        let (people, quotas) = super::synthetic_pool::pool(150, 15, 0.1, 3);
        let instance = instance(&quotas, &people, 15);
        assert!(instance.types.len() > 50, "{}", instance.types.len());
        let plain = maximin(&instance, LIMIT).unwrap();
        let fair = leximin(&instance, LIMIT).unwrap();
        assert!(
            (fair.minimum() - plain.minimum()).abs() <= 0.0005,
            "{} {}",
            fair.minimum(),
            plain.minimum()
        );
        let sorted = |d: &Distribution| {
            let mut p = d.person_probabilities(&instance);
            p.sort_by(f64::total_cmp);
            p
        };
        let (fairer, plainer) = (sorted(&fair), sorted(&plain));
        // The first place where the sorted probabilities differ favours leximin.
        if let Some((a, b)) = fairer
            .iter()
            .zip(&plainer)
            .find(|(a, b)| (*a - *b).abs() > 1e-4)
        {
            assert!(a > b, "leximin {a} against maximin {b}");
        }
        // Both are distributions over panels of 15.
        for d in [&fair, &plain] {
            assert!((d.person_probabilities(&instance).iter().sum::<f64>() - 15.0).abs() < 1e-6);
        }
        // No distribution is fairer than the relaxation, and leximin reaches it.
        let relaxed = instance.relaxed_leximin(LIMIT).unwrap();
        for (p, q) in fair.type_probabilities.iter().zip(&relaxed) {
            assert!((p - q).abs() < 1e-4, "{p} {q}");
        }
    }

    #[test]
    fn swaps_keep_the_quotas_and_reach_a_panel_no_single_swap_improves() {
        let (people, quotas) = super::synthetic_pool::pool(300, 30, 0.1, 5);
        let instance = instance(&quotas, &people, 30);
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let meets = |panel: &Composition| {
            panel.iter().sum::<u32>() == instance.k
                && panel
                    .iter()
                    .zip(&instance.types)
                    .all(|(&c, t)| c as usize <= t.members.len())
                && instance.features.iter().enumerate().all(|(f, feature)| {
                    feature.bounds.iter().enumerate().all(|(v, &(min, max))| {
                        let with: u32 = panel
                            .iter()
                            .zip(&instance.types)
                            .filter(|(_, t)| t.values[f] == v)
                            .map(|(&c, _)| c)
                            .sum();
                        (min..=max).contains(&with)
                    })
                })
        };
        let worth = |panel: &Composition, weights: &[f64]| -> f64 {
            panel
                .iter()
                .zip(weights)
                .map(|(&c, w)| f64::from(c) * w)
                .sum()
        };
        let (start, _) = instance
            .best_composition(&vec![0.0; instance.types.len()], LIMIT)
            .unwrap();
        for _ in 0..10 {
            let weights: Vec<f64> = (0..instance.types.len())
                .map(|_| rng.random::<f64>() - 0.5)
                .collect();
            let better = instance.swapped(&start, &weights);
            assert!(meets(&better));
            assert!(worth(&better, &weights) >= worth(&start, &weights) - 1e-12);
            // No single swap of one person for another gains and keeps the quotas.
            for u in (0..better.len()).filter(|&u| better[u] > 0) {
                for t in 0..better.len() {
                    if t == u || weights[t] <= weights[u] + 1e-12 {
                        continue;
                    }
                    let mut moved = better.clone();
                    moved[u] -= 1;
                    moved[t] += 1;
                    assert!(!meets(&moved), "swapping {u} for {t} gains");
                }
            }
            // The integer programme's best is at least as good.
            let (best, _) = instance.best_composition(&weights, LIMIT).unwrap();
            assert!(worth(&best, &weights) >= worth(&better, &weights) - 1e-9);
        }
    }

    #[test]
    fn the_nearest_point_alone_reaches_the_relaxation_on_a_synthetic_pool() {
        let (people, quotas) = super::synthetic_pool::pool(150, 15, 0.1, 3);
        let instance = instance(&quotas, &people, 15);
        let stop = AtomicBool::new(false);
        let mut solver = Solver::new(&instance, LIMIT, &stop).unwrap();
        let relaxed = instance.relaxed_leximin(LIMIT).unwrap();
        // Never close enough to hand over: Wolfe's method must reach the target itself.
        let weights = solver.nearest_to(&relaxed, 0.0).unwrap().unwrap();
        assert!((weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(weights.iter().all(|&w| w >= 0.0));
        let fair = solver.spread(weights).unwrap();
        for (p, q) in fair.type_probabilities.iter().zip(&relaxed) {
            assert!(*p >= q - 2.0 * REACHED, "{p} {q}");
        }
    }

    /// Quotas on one feature, `group`, with the bounds given for values a and b.
    fn two_groups(a: (u32, u32), b: (u32, u32)) -> Vec<Feature> {
        let quotas = format!(
            "feature,value,min,max\ngroup,a,{},{}\ngroup,b,{},{}\n",
            a.0, a.1, b.0, b.1
        );
        read_quotas(quotas.as_bytes()).unwrap()
    }

    #[test]
    fn two_households_of_two_share_a_panel_of_two_evenly_and_never_send_two() {
        let people = "id,group,home\np1,a,h1\np2,a,h1\np3,a,h2\np4,b,h2\n";
        let features = two_groups((0, 2), (0, 2));
        let instance =
            read_people_in_households(people.as_bytes(), features, 2, Some("Home")).unwrap();
        // The household members are no longer interchangeable: four types of one.
        assert_eq!(instance.types.len(), 4);
        assert_eq!(instance.households, [vec![0, 1], vec![2, 3]]);
        for fair in [
            maximin(&instance, LIMIT).unwrap(),
            leximin(&instance, LIMIT).unwrap(),
        ] {
            for p in fair.person_probabilities(&instance) {
                assert!((p - 0.5).abs() < 1e-6, "{fair:?}");
            }
            for (panel, _) in &fair.panels {
                assert_eq!(panel[0] + panel[1], 1, "{panel:?}");
                assert_eq!(panel[2] + panel[3], 1, "{panel:?}");
            }
            for seed in 0..20 {
                let drawn = fair.draw(&instance, seed);
                assert_eq!(drawn.len(), 2);
                assert!(drawn[0] < 2 && drawn[1] >= 2, "{drawn:?}");
            }
            for ticket in fair.lottery(&instance, 10, 1).tickets {
                assert!(ticket[0] < 2 && ticket[1] >= 2, "{ticket:?}");
            }
        }
        // Without households, p1 and p2 could be chosen together.
        let alone = read_people(people.as_bytes(), two_groups((0, 2), (0, 2)), 2).unwrap();
        assert_eq!(alone.types.len(), 2);
        assert!(alone.households.is_empty());
        // A household of one, or an empty cell, changes nothing.
        let single = "id,group,home\np1,a,h1\np2,a,\np3,a,h3\np4,b,\n";
        let instance = read_people_in_households(
            single.as_bytes(),
            two_groups((0, 2), (0, 2)),
            2,
            Some("home"),
        )
        .unwrap();
        assert_eq!(instance.types.len(), 2);
        assert!(instance.households.is_empty());
        let err = read_people_in_households(
            single.as_bytes(),
            two_groups((0, 2), (0, 2)),
            2,
            Some("flat"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("no column \"flat\""), "{err}");
    }

    #[test]
    fn a_minimum_only_one_household_could_meet_is_named_as_infeasible() {
        // The only two in group b live together, and b needs two seats.
        let people = "id,group,home\np1,a,h1\np2,a,h2\np3,a,h3\np4,b,h4\np5,b,h4\n";
        let instance = read_people_in_households(
            people.as_bytes(),
            two_groups((0, 3), (2, 2)),
            3,
            Some("home"),
        )
        .unwrap();
        let Err(SelectionError::Infeasible { reasons }) = instance.check() else {
            panic!("must be infeasible");
        };
        assert!(
            reasons
                .iter()
                .any(|r| r
                    .contains("group b: the minimum is 2 but the pool's 2 live in 1 households")),
            "{reasons:?}"
        );
        assert!(matches!(
            leximin(&instance, LIMIT),
            Err(SelectionError::Infeasible { .. })
        ));
        // The relaxation brings b's minimum down to the one that can be met.
        let relaxed = instance.relaxed_quotas(LIMIT).unwrap();
        assert_eq!(relaxed[0].bounds[1], (1, 2));
        // Five people in four households cannot fill five seats.
        let full = read_people_in_households(
            people.as_bytes(),
            two_groups((0, 5), (0, 5)),
            5,
            Some("home"),
        )
        .unwrap();
        let Err(SelectionError::Infeasible { reasons }) = full.check() else {
            panic!("must be infeasible");
        };
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("needs 5 households") && r.contains("live in 4")),
            "{reasons:?}"
        );
        assert!(full.relaxed_quotas(LIMIT).is_err());
    }

    #[test]
    fn the_greedy_method_never_takes_two_from_one_household() {
        // Six pairs of flatmates and four people alone; a panel of eight.
        let mut people = String::from("id,group,home\n");
        for n in 0..16 {
            let home = if n < 12 {
                format!("h{}", n / 2)
            } else {
                String::new()
            };
            let group = if n % 3 == 0 { "b" } else { "a" };
            people.push_str(&format!("p{n},{group},{home}\n"));
        }
        let instance = read_people_in_households(
            people.as_bytes(),
            two_groups((2, 8), (2, 8)),
            8,
            Some("home"),
        )
        .unwrap();
        let household_of = instance.household_of_types();
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut runs = 0;
        for _ in 0..300 {
            let Some(counts) = greedy(&instance, &mut rng) else {
                continue;
            };
            runs += 1;
            assert_eq!(counts.iter().sum::<u32>(), 8);
            let mut seen = vec![0; instance.households.len()];
            for (t, &c) in counts.iter().enumerate() {
                if let Some(h) = household_of[t] {
                    seen[h] += c;
                }
            }
            assert!(seen.iter().all(|&n| n <= 1), "{counts:?}");
        }
        assert!(runs > 200, "{runs}");
        // Each pair's members share what one seat gets between them.
        let estimated = estimate_greedy(&instance, 2_000, 4).unwrap();
        for group in &instance.households {
            let together: f64 = group.iter().map(|&t| estimated[t]).sum();
            assert!(together <= 1.0 + 1e-9, "{together}");
        }
    }

    #[test]
    fn files_with_unknown_values_or_missing_columns_are_refused_with_their_line() {
        let features = read_quotas(SMALL_QUOTAS.as_bytes()).unwrap();
        let unknown = "gender,leaning\nfemale,liberal\nnonbinary,liberal\n";
        let err = read_people(unknown.as_bytes(), features.clone(), 1).unwrap_err();
        assert!(
            err.to_string().contains("line 3: gender \"nonbinary\""),
            "{err}"
        );
        let missing = "gender\nfemale\n";
        let err = read_people(missing.as_bytes(), features, 1).unwrap_err();
        assert!(err.to_string().contains("no column \"leaning\""), "{err}");
        let reversed = "feature,value,min,max\nsex,female,5,2\n";
        let err = read_quotas(reversed.as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("min 5 is more than max 2"),
            "{err}"
        );
        let bad_header = "a,b,c\n";
        assert!(read_quotas(bad_header.as_bytes()).is_err());
    }
}
