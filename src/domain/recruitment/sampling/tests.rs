//! The lottery's unit tests: known answers, golden draws and properties.

use super::*;
use std::collections::{HashMap, HashSet};

/// `sizes[i]` units in stratum `W{i}`, keys `W{i}-{n}`, ids counting down.
#[test]
fn the_fingerprint_ignores_order_sees_weights_and_matches_the_draw() {
    let units = frame(&[5, 4, 3]);
    let mut reversed = units.clone();
    reversed.reverse();
    assert_eq!(fingerprint(&units), fingerprint(&reversed));
    let drawn = draw(&units, 3, Seed(1)).unwrap();
    assert_eq!(drawn.frame_fingerprint, fingerprint(&units));
    let mut reweighted = units.clone();
    reweighted[0].weight = 1.5;
    assert_ne!(fingerprint(&reweighted), fingerprint(&units));
    assert_eq!(fingerprint(&units).len(), 64);
}

fn frame(sizes: &[usize]) -> Vec<FrameUnit> {
    let mut units = Vec::new();
    for (s, &size) in sizes.iter().enumerate() {
        for n in 0..size {
            let id = 10_000 - units.len() as i64;
            units.push(FrameUnit::new(id, format!("W{s}-{n:02}"), format!("W{s}")));
        }
    }
    units
}

fn weigh(mut units: Vec<FrameUnit>, stratum: &str, weight: f64) -> Vec<FrameUnit> {
    for unit in units.iter_mut().filter(|u| &*u.stratum == stratum) {
        unit.weight = weight;
    }
    units
}

fn allocated(units: &[FrameUnit], n: u64) -> Vec<u64> {
    let draw = draw(units, n, Seed(1)).unwrap();
    draw.allocations.iter().map(|a| a.allocated).collect()
}

fn keys(units: &[FrameUnit], n: u64, seed: u64) -> Vec<String> {
    let draw = draw(units, n, Seed(seed)).unwrap();
    draw.selected.into_iter().map(|u| u.key).collect()
}

fn shares(sizes: &[(&str, f64)]) -> Vec<(String, f64)> {
    sizes.iter().map(|&(n, s)| (n.into(), s)).collect()
}

#[test]
fn ward_shares_by_addresses_keep_each_wards_share_while_weights_act_within_it() {
    // Two wards of 100; half of W0's addresses weigh 3 (a deprived estate).
    let mut units = frame(&[100, 100]);
    for unit in units.iter_mut().filter(|u| &*u.stratum == "W0").take(50) {
        unit.weight = 3.0;
    }
    let by = |shares| {
        let drawn = draw_with_shares(&units, 40, Seed(3), shares).unwrap();
        let split: Vec<u64> = drawn.allocations.iter().map(|a| a.allocated).collect();
        let heavy = drawn.selected.iter().filter(|u| u.weight == 3.0).count();
        (split, heavy)
    };
    // By weight, W0 weighs 200 against 100: two thirds of the letters.
    let (split, _) = by(WardShares::ByWeight);
    assert_eq!(split, [27, 13]);
    // By addresses, each ward keeps half, and within W0 the heavy half still wins
    // most of its 20 letters (3 to 1 odds per address; 15 expected).
    let (split, heavy) = by(WardShares::ByAddresses);
    assert_eq!(split, [20, 20]);
    assert!(
        heavy >= 11,
        "{heavy} of W0's 20 letters went to weighted addresses"
    );
    // Without weights the two modes are one and the same draw.
    let plain = frame(&[7, 30, 12]);
    assert_eq!(
        draw_with_shares(&plain, 20, Seed(9), WardShares::ByAddresses),
        draw(&plain, 20, Seed(9))
    );
    for shares in [WardShares::ByWeight, WardShares::ByAddresses] {
        assert_eq!(WardShares::of_algorithm(shares.algorithm()), Some(shares));
    }
    assert_eq!(WardShares::of_algorithm("simple-random-v0"), None);
}

#[test]
fn proportional_shares_are_rounded_by_largest_remainder_with_ties_by_name() {
    let hundred = shares(&[("A", 50.0), ("B", 30.0), ("C", 20.0)]);
    assert_eq!(largest_remainder(&hundred, 10), [5, 3, 2]);
    // 3.5, 2.1 and 1.4 floor to 6 seats; the seventh goes to the remainder of 0.5.
    let forty = shares(&[("A", 20.0), ("B", 12.0), ("C", 8.0)]);
    assert_eq!(largest_remainder(&forty, 7), [4, 2, 1]);
    let sevens = shares(&[("C", 7.0), ("A", 7.0), ("B", 7.0)]);
    assert_eq!(largest_remainder(&sevens, 10), [3, 4, 3]);
    assert_eq!(largest_remainder(&shares(&[("A", 0.0)]), 5), [0]);
}

#[test]
fn allocations_always_add_up_to_the_number_requested() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    for total in 0..200 {
        let random: Vec<(String, f64)> = (0..7)
            .map(|i| (format!("S{i}"), unit_interval(&mut rng) * 1000.0))
            .collect();
        assert_eq!(largest_remainder(&random, total).iter().sum::<u64>(), total);
    }
    let units = frame(&[23, 11, 5, 1]);
    for n in 1..=40 {
        assert_eq!(allocated(&units, n).iter().sum::<u64>(), n);
        assert_eq!(keys(&units, n, n).len() as u64, n);
    }
}

#[test]
fn an_oversampling_weight_of_one_and_a_half_raises_a_strata_share() {
    assert_eq!(allocated(&frame(&[10, 10]), 10), [5, 5]);
    let weighted = weigh(frame(&[10, 10]), "W0", 1.5);
    assert_eq!(allocated(&weighted, 10), [6, 4]);
    let draw = draw(&weighted, 10, Seed(1)).unwrap();
    assert_eq!(draw.allocations[0].weight_sum, 15.0);
    assert_eq!(draw.allocations[0].population, 10);
}

#[test]
fn a_stratum_is_never_given_more_than_its_size() {
    // W0 would get 20 × 20/100 = 4 but has 2 units; the other 18 split 50:30.
    let units = weigh(frame(&[2, 50, 30]), "W0", 10.0);
    assert_eq!(allocated(&units, 20), [2, 11, 7]);
}

#[test]
fn the_same_seed_gives_the_same_draw_whatever_the_frame_order() {
    let units = frame(&[30, 20, 10]);
    let mut reversed = units.clone();
    reversed.reverse();
    assert_eq!(draw(&reversed, 12, Seed(42)), draw(&units, 12, Seed(42)));
    assert_ne!(keys(&units, 12, 43), keys(&units, 12, 42));
}

#[test]
fn no_unit_is_selected_twice_and_each_comes_from_its_own_stratum() {
    let units = frame(&[30, 20, 10]);
    for seed in 0..50 {
        let draw = draw(&units, 25, Seed(seed)).unwrap();
        let distinct: HashSet<&str> = draw.selected.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(distinct.len(), 25);
        for allocation in &draw.allocations {
            let mine = |u: &&FrameUnit| *u.stratum == *allocation.stratum;
            assert_eq!(
                draw.selected.iter().filter(mine).count() as u64,
                allocation.allocated
            );
        }
    }
    let mut units = frame(&[4]);
    (units[0].weight, units[2].weight) = (0.0, 0.0);
    assert!((0..50).all(|seed| keys(&units, 2, seed) == ["W0-01", "W0-03"]));
}

#[test]
fn golden_draw_of_7_from_40_units_with_seed_20261123() {
    // Pins ALGORITHM: if this output changes, the draw changed and needs a new name.
    // Cross-checked against an independent re-implementation of the documented steps.
    let units = frame(&[20, 12, 8]);
    assert_eq!(allocated(&units, 7), [4, 2, 1]);
    let golden = "W0-03 W0-08 W0-10 W0-12 W1-04 W1-06 W2-00";
    assert_eq!(keys(&units, 7, 20261123).join(" "), golden);
    let weighted: Vec<FrameUnit> = (units.into_iter().enumerate())
        .map(|(n, unit)| FrameUnit {
            weight: 1.0 + (n % 3) as f64 * 0.5,
            ..unit
        })
        .collect();
    let golden = "W0-03 W0-08 W0-10 W0-17 W1-04 W1-06 W2-00";
    assert_eq!(keys(&weighted, 7, 20261123).join(" "), golden);
}

#[test]
fn each_unit_is_selected_about_as_often_as_its_inclusion_probability() {
    // 6 + 4 units, N = 4: quotas 2.4 and 1.6 round to 2 and 2, so 1/3 and 1/2.
    let units = frame(&[6, 4]);
    let mut hits: HashMap<String, u32> = HashMap::new();
    for seed in 0..6000 {
        for key in keys(&units, 4, seed) {
            *hits.entry(key).or_default() += 1;
        }
    }
    for unit in &units {
        let expected = if &*unit.stratum == "W0" {
            1.0 / 3.0
        } else {
            0.5
        };
        let observed = f64::from(hits[&unit.key]) / 6000.0;
        let close = (observed - expected).abs() < 0.03;
        assert!(close, "{}: {observed}", unit.key);
    }
    // With weights 1 and 3 and one draw, the heavier unit should win 3 times in 4.
    let mut pair = frame(&[2]);
    pair[1].weight = 3.0;
    let heavy = (0..4000)
        .filter(|&s| keys(&pair, 1, s) == ["W0-01"])
        .count();
    assert!((2880..=3120).contains(&heavy), "{heavy}");
}

#[test]
fn impossible_draws_are_rejected_naming_the_offending_value() {
    let message = |frame: &[FrameUnit], n| draw(frame, n, Seed(0)).unwrap_err().to_string();
    let units = frame(&[3]);
    assert_eq!(draw(&[], 1, Seed(0)), Err(SamplingError::EmptyFrame));
    assert_eq!(draw(&units, 0, Seed(0)), Err(SamplingError::ZeroRequested));
    let expected = "4 addresses are needed but only 3 are eligible";
    assert_eq!(message(&units, 4), expected);
    let negative = weigh(frame(&[1]), "W0", -1.0);
    let expected =
        "address \"W0-00\" has weight -1; a weight must be a finite number of at least 0";
    assert_eq!(message(&negative, 1), expected);
    let twice = [FrameUnit::new(1, "u1", "A"), FrameUnit::new(2, "u1", "B")];
    let expected = "address \"u1\" appears more than once in the sampling frame";
    assert_eq!(message(&twice, 1), expected);
}

#[test]
fn frames_are_walked_in_stratum_then_key_order_even_when_keys_share_long_prefixes() {
    // Keys longer than the 8-byte prefix the sort compares first, some of them
    // prefixes of others, in strata given out of order.
    let mut units = Vec::new();
    for n in 0..300u32 {
        let key = match n % 3 {
            0 => format!("10009{:07}", n * 7919 % 1000),
            1 => format!("10009{:07}-{n}", n * 7919 % 1000),
            _ => format!("1000{n}"),
        };
        let stratum = ["E05", "E05010", "A"][(n % 5) as usize % 3];
        let mut unit = FrameUnit::new(i64::from(n), key, stratum);
        unit.weight = if n % 4 == 0 { 1.5 } else { 1.0 };
        units.push(unit);
    }
    let mut naive: Vec<&FrameUnit> = units.iter().collect();
    naive.sort_by(|a, b| (&a.stratum, &a.key, a.id).cmp(&(&b.stratum, &b.key, b.id)));
    let canonical = Canonical::of(&units);
    let walked: Vec<&FrameUnit> = canonical.order.iter().map(|&i| &units[i]).collect();
    assert_eq!(walked, naive);
    assert_eq!(canonical.duplicate, None);
    let lines: String = naive
        .iter()
        .map(|u| format!("{}\t{}\t{}\n", u.key, u.stratum, u.weight))
        .collect();
    use sha2::{Digest, Sha256};
    let expected = hex::encode(Sha256::digest(lines.as_bytes()));
    assert_eq!(fingerprint(&units), expected);
}

#[test]
fn a_seed_is_written_and_read_as_a_decimal_number() {
    assert_eq!(Seed(20261123).to_string(), "20261123");
    assert_eq!(" 20261123 ".parse::<Seed>(), Ok(Seed(20261123)));
    let error = "-1".parse::<Seed>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "seed \"-1\" is not a whole number from 0 to 18446744073709551615"
    );
}

#[test]
fn letters_needed_divides_the_target_by_the_rate_and_rounds_up() {
    assert_eq!(letters_needed(100, DEFAULT_RESPONSE_RATE), Ok(2500));
    assert_eq!(letters_needed(101, DEFAULT_RESPONSE_RATE), Ok(2525));
    assert_eq!(letters_needed(7, 0.3), Ok(24));
    assert_eq!(letters_needed(21, 0.35), Ok(60));
    assert_eq!(letters_needed(5, 1.0), Ok(5));
    assert_eq!(letters_needed(0, 0.5), Err(SamplingError::ZeroRequested));
    for rate in [0.0, -0.1, 1.5, f64::NAN] {
        let error = letters_needed(10, rate).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("response rate {rate} must be more than 0 and at most 1")
        );
    }
}

#[test]
fn a_plan_shares_the_letters_over_strata_like_a_draw() {
    let strata = [("E1", 5000), ("E2", 3000), ("E3", 2000)].map(|(n, s)| (n.into(), s));
    let plan = plan_by_stratum(&strata, 100, DEFAULT_RESPONSE_RATE).unwrap();
    let letters: Vec<u64> = plan.iter().map(|(_, letters)| *letters).collect();
    assert_eq!((plan[0].0.as_str(), letters), ("E1", vec![1250, 750, 500]));
    let small = plan_by_stratum(&strata[..1], 1, 0.0001).unwrap_err();
    let expected = "10000 addresses are needed but only 5000 are eligible";
    assert_eq!(small.to_string(), expected);
}
