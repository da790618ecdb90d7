//! The selection's unit tests: known answers, properties, and the methods against each
//! other.

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
    let instance = read_people_in_households(people.as_bytes(), features, 2, Some("Home")).unwrap();
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
            .any(|r| r.contains("group b: the minimum is 2 but the pool's 2 live in 1 households")),
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
