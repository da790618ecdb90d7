//! A balanced sub-sample of a panel: a consultation sent to `n` of a panel's members
//! rather than all of them, balanced on the panel's quotas.
//!
//! The panel's quotas were written for its target size; a sample of `n` takes each of them
//! scaled to `n` ([`scaled_quotas`]): the minimum times `n` over the target size rounded
//! down, the maximum rounded up. A sample so keeps each category's share of the panel's
//! quotas to within one person, and the rounding only ever widens a range, so quotas a
//! panel could meet never contradict each other once scaled.
//!
//! The members are the pool of a selection ([`crate::domain::selection`]) for a panel of `n`:
//! the leximin distribution gives everyone as equal a chance of being sampled as the
//! quotas allow, and one sample is drawn from it with a stored seed
//! ([`crate::domain::selection::Distribution::draw`], ChaCha20), so the same members and the same
//! seed always give the same sample.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::domain::selection::{self, Feature, Instance, SelectionError};

/// The quotas of a panel of `target` members scaled to a sample of `size`: each minimum
/// × `size` ÷ `target` rounded down, each maximum rounded up (and at most `size`). A
/// target of 0 scales nothing: the bounds are only kept within `size`.
pub fn scaled_quotas(features: &[Feature], target: u32, size: u32) -> Vec<Feature> {
    let scale = |bound: u32, up: bool| -> u32 {
        if target == 0 {
            return bound;
        }
        let (product, target) = (u64::from(bound) * u64::from(size), u64::from(target));
        let scaled = if up {
            product.div_ceil(target)
        } else {
            product / target
        };
        u32::try_from(scaled).unwrap_or(u32::MAX)
    };
    features
        .iter()
        .map(|feature| Feature {
            name: feature.name.clone(),
            values: feature.values.clone(),
            bounds: feature
                .bounds
                .iter()
                .map(|&(min, max)| {
                    let max = scale(max, true).min(size);
                    (scale(min, false).min(max), max)
                })
                .collect(),
        })
        .collect()
}

/// A drawn sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    /// The members sampled, as positions in [`Instance::ids`], sorted.
    pub members: Vec<usize>,
    /// The lowest chance anyone in the pool had of being sampled.
    pub minimum_probability: f64,
}

/// Draws a sample of `instance.k` from `instance`'s pool with `seed`: the leximin
/// distribution over samples meeting the quotas, then one sample drawn from it. Quotas no
/// sample can meet are [`SelectionError::Infeasible`], each reason naming the categories at
/// fault and, where one is found within `limit`, the smallest change that would work.
pub fn draw(
    instance: &Instance,
    seed: u64,
    limit: Duration,
    stop: &AtomicBool,
) -> Result<Drawn, SelectionError> {
    instance.check()?;
    let distribution = match selection::leximin_stoppable(instance, limit, stop) {
        Err(SelectionError::Infeasible { mut reasons }) => {
            reasons.extend(relaxation(instance, limit));
            return Err(SelectionError::Infeasible { reasons });
        }
        other => other?,
    };
    Ok(Drawn {
        members: distribution.draw(instance, seed),
        minimum_probability: distribution.minimum(),
    })
}

/// The smallest change to `instance`'s quotas that a sample could meet, as one reason
/// naming each category it changes (nothing when none is found).
fn relaxation(instance: &Instance, limit: Duration) -> Option<String> {
    let relaxed = instance.relaxed_quotas(limit).ok()?;
    let mut changes = Vec::new();
    for (feature, wider) in instance.features.iter().zip(&relaxed) {
        for ((value, &(min, max)), &(low, high)) in feature
            .values
            .iter()
            .zip(&feature.bounds)
            .zip(&wider.bounds)
        {
            if (min, max) != (low, high) {
                changes.push(format!(
                    "{} {value} from {min}–{max} to {low}–{high}",
                    feature.name
                ));
            }
        }
    }
    (!changes.is_empty()).then(|| {
        format!(
            "the smallest change a sample could meet: {}",
            changes.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::selection::Person;

    fn feature(name: &str, values: &[(&str, u32, u32)]) -> Feature {
        Feature {
            name: name.to_owned(),
            values: values.iter().map(|(v, _, _)| (*v).to_owned()).collect(),
            bounds: values.iter().map(|&(_, min, max)| (min, max)).collect(),
        }
    }

    /// Forty members: sex alternating, age band in turn.
    fn members() -> Vec<Person> {
        (0..40)
            .map(|i| Person {
                id: format!("r{i}"),
                values: vec![i % 2, i % 3],
                household: None,
            })
            .collect()
    }

    fn quotas() -> Vec<Feature> {
        vec![
            feature("sex", &[("female", 20, 20), ("male", 20, 20)]),
            feature(
                "age_band",
                &[("25-29", 10, 14), ("35-39", 12, 16), ("65-69", 12, 16)],
            ),
        ]
    }

    #[test]
    fn quotas_scale_to_the_sample_rounding_minimums_down_and_maximums_up() {
        let scaled = scaled_quotas(&quotas(), 40, 10);
        assert_eq!(scaled[0].bounds, vec![(5, 5), (5, 5)]);
        assert_eq!(scaled[1].bounds, vec![(2, 4), (3, 4), (3, 4)]);
        // A maximum never passes the sample, and a target of 0 scales nothing.
        assert_eq!(
            scaled_quotas(&[feature("sex", &[("female", 0, 40)])], 40, 3)[0].bounds,
            vec![(0, 3)]
        );
        assert_eq!(
            scaled_quotas(&quotas(), 0, 12)[1].bounds,
            vec![(10, 12), (12, 12), (12, 12)]
        );
    }

    #[test]
    fn a_sample_meets_its_quotas_and_the_same_seed_draws_the_same_members() {
        let features = scaled_quotas(&quotas(), 40, 10);
        let people = members();
        let instance = Instance::new(features.clone(), people.clone(), 10);
        let stop = AtomicBool::new(false);
        let drawn = draw(&instance, 7, Duration::from_secs(60), &stop).unwrap();
        assert_eq!(drawn.members.len(), 10);
        for (f, feature) in features.iter().enumerate() {
            for (v, &(min, max)) in feature.bounds.iter().enumerate() {
                let with = drawn
                    .members
                    .iter()
                    .filter(|&&p| people[p].values[f] == v)
                    .count() as u32;
                assert!((min..=max).contains(&with), "{} {v}: {with}", feature.name);
            }
        }
        assert!(drawn.minimum_probability > 0.0);
        // Pinned: a seed must draw the same sample in every version.
        assert_eq!(drawn.members, [1, 8, 13, 14, 15, 19, 30, 31, 32, 38]);
        let again = draw(&instance, 7, Duration::from_secs(60), &stop).unwrap();
        assert_eq!(again, drawn);
        let other = draw(&instance, 8, Duration::from_secs(60), &stop).unwrap();
        assert_ne!(other.members, drawn.members);
    }

    #[test]
    fn quotas_a_sample_cannot_meet_together_name_the_categories_to_change() {
        // Every woman is 25-29: five women cannot make six people of 25-29.
        let features = vec![
            feature("sex", &[("female", 5, 5), ("male", 5, 5)]),
            feature("age_band", &[("25-29", 6, 10), ("65-69", 0, 10)]),
        ];
        let people: Vec<Person> = (0..40)
            .map(|i| Person {
                id: i.to_string(),
                values: vec![i % 2, i % 2],
                household: None,
            })
            .collect();
        let instance = Instance::new(features, people, 10);
        let err = draw(
            &instance,
            1,
            Duration::from_secs(60),
            &AtomicBool::new(false),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cannot be met together"), "{err}");
        assert!(
            err.contains("the smallest change a sample could meet: "),
            "{err}"
        );
        assert!(
            err.contains("age_band 25-29") || err.contains("sex female"),
            "{err}"
        );
    }
}
