//! Synthetic pools of the kind a council's recruitment produces, for benchmarks and tests
//! of panel selection: six features, and self-selection skewed the way it usually is
//! (older, less deprived and white residents register more often).
//!
//! The population shares are round figures of the order of England's (Census 2021 age
//! bands from 16, sex, five broad ethnic groups, disability under the Equality Act) with six
//! equal areas and deprivation quintiles; the skew is invented for the purpose. None of it
//! is anyone's data.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// A value, its population share, and how much more (or less) likely than average someone
/// with it is to register.
type Value = (&'static str, f64, f64);

/// Each feature's values.
const FEATURES: [(&str, &[Value]); 6] = [
    (
        "age",
        &[
            ("16-24", 0.14, 0.45),
            ("25-34", 0.17, 0.7),
            ("35-44", 0.16, 0.9),
            ("45-54", 0.17, 1.1),
            ("55-64", 0.16, 1.3),
            ("65+", 0.20, 1.5),
        ],
    ),
    ("sex", &[("female", 0.51, 1.1), ("male", 0.49, 0.9)]),
    (
        "ethnic_group",
        &[
            ("white", 0.81, 1.15),
            ("asian", 0.10, 0.7),
            ("black", 0.04, 0.6),
            ("mixed", 0.03, 0.8),
            ("other", 0.02, 0.6),
        ],
    ),
    (
        "disability",
        &[("disabled", 0.18, 0.9), ("not_disabled", 0.82, 1.0)],
    ),
    (
        "area",
        &[
            ("north", 1.0 / 6.0, 1.0),
            ("south", 1.0 / 6.0, 1.1),
            ("east", 1.0 / 6.0, 0.9),
            ("west", 1.0 / 6.0, 1.0),
            ("centre", 1.0 / 6.0, 1.2),
            ("rural", 1.0 / 6.0, 0.8),
        ],
    ),
    (
        "deprivation_quintile",
        &[
            ("1", 0.2, 0.6),
            ("2", 0.2, 0.8),
            ("3", 0.2, 1.0),
            ("4", 0.2, 1.2),
            ("5", 0.2, 1.4),
        ],
    ),
];

/// A pool of `size` registrants as a people CSV (`id` and the six features), and quotas
/// for a panel of `k` at each value's population share of `k`, ± `tolerance` (0.1 for
/// ± 10 %) rounded outwards, as a `feature,value,min,max` CSV.
pub fn pool(size: usize, k: u32, tolerance: f64, seed: u64) -> (String, String) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let most: f64 = FEATURES
        .iter()
        .map(|(_, values)| values.iter().map(|v| v.2).fold(0.0, f64::max))
        .product();
    let mut people = String::from("id");
    for (name, _) in FEATURES {
        people.push(',');
        people.push_str(name);
    }
    people.push('\n');
    let mut made = 0;
    while made < size {
        let mut propensity = 1.0;
        let mut row = format!("R{:05}", made + 1);
        for (_, values) in FEATURES {
            let mut point: f64 = rng.random();
            let chosen = values
                .iter()
                .find(|(_, share, _)| {
                    point -= share;
                    point < 0.0
                })
                .unwrap_or(&values[values.len() - 1]);
            propensity *= chosen.2;
            row.push(',');
            row.push_str(chosen.0);
        }
        // Rejection sampling: a resident registers with probability in proportion to the
        // product of their values' propensities.
        if rng.random::<f64>() < propensity / most {
            people.push_str(&row);
            people.push('\n');
            made += 1;
        }
    }
    let mut quotas = String::from("feature,value,min,max\n");
    for (name, values) in FEATURES {
        for (value, share, _) in values {
            let target = share * f64::from(k);
            let min = (target * (1.0 - tolerance)).floor();
            let max = (target * (1.0 + tolerance)).ceil();
            quotas.push_str(&format!("{name},{value},{min},{max}\n"));
        }
    }
    (people, quotas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_is_skewed_towards_older_residents_and_its_quotas_follow_the_population() {
        let (people, quotas) = pool(2_000, 100, 0.1, 1);
        assert_eq!(people.lines().count(), 2_001);
        let young = people.lines().filter(|l| l.contains(",16-24,")).count() as f64;
        let old = people.lines().filter(|l| l.contains(",65+,")).count() as f64;
        // 14 % and 20 % of residents, but registrations lean to the old.
        assert!(
            young / 2_000.0 < 0.10 && old / 2_000.0 > 0.25,
            "{young} {old}"
        );
        assert!(quotas.contains("age,16-24,12,16\n"), "{quotas}");
        assert!(quotas.contains("sex,female,45,57\n"), "{quotas}");
        assert_eq!(pool(50, 10, 0.1, 9), pool(50, 10, 0.1, 9));
    }
}
