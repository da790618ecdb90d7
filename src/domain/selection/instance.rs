//! An instance's construction from people and quotas: types, households, and the checks
//! before any solving.

use super::*;

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
    pub(super) fn household_of_types(&self) -> Vec<Option<usize>> {
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
    pub(super) fn most_on_a_panel(&self) -> usize {
        let sharing: usize = self.households.iter().map(Vec::len).sum();
        self.pool_size() - sharing + self.households.len()
    }

    /// How many people with value `v` of feature `f` could be on one panel together.
    pub(super) fn most_with(&self, f: usize, v: usize) -> u64 {
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
    pub(super) fn count_with(&self, f: usize, v: usize) -> u64 {
        self.types
            .iter()
            .filter(|t| t.values[f] == v)
            .map(|t| t.members.len() as u64)
            .sum()
    }
}
