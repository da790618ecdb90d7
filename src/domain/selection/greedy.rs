//! The greedy "legacy" method, kept to compare its lowest selection probabilities with the
//! fair methods'.

use super::*;

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
