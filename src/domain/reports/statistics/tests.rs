//! The statistics' unit tests, against published answers where there are some.

use super::*;

const APICLUS1: &str = include_str!("../../../../tests/fixtures/raking/raking_apiclus1.csv");

#[test]
fn raking_apiclus1_gives_the_survey_packages_published_answer() {
    let mut reader = csv::Reader::from_reader(APICLUS1.as_bytes());
    let (mut weights, mut api00, mut stype, mut sch_wide) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for record in reader.records() {
        let record = record.unwrap();
        stype.push(
            ["E", "H", "M"]
                .iter()
                .position(|s| *s == &record[2])
                .unwrap(),
        );
        sch_wide.push(["No", "Yes"].iter().position(|s| *s == &record[3]).unwrap());
        api00.push(record[5].parse::<f64>().unwrap());
        weights.push(record[7].parse::<f64>().unwrap());
    }
    assert_eq!(weights.len(), 183);
    let margins = [
        Margin {
            name: "stype".to_owned(),
            category_of: stype,
            totals: vec![4421.0, 755.0, 1018.0],
        },
        Margin {
            name: "sch_wide".to_owned(),
            category_of: sch_wide,
            totals: vec![1072.0, 5122.0],
        },
    ];
    let raked = rake(&weights, &margins, RakeOptions::default()).unwrap();
    assert!(raked.converged, "{raked:?}");
    assert!(raked.max_error <= 1e-7);
    let mean = weighted_mean(&api00, &raked.weights);
    assert!((mean - 641.2303).abs() < 5e-5, "{mean}");
    let effective = effective_sample_size(&raked.weights);
    assert!((effective - 174.011).abs() < 5e-4, "{effective}");
    assert!((design_effect(&raked.weights) - 1.05166).abs() < 5e-6);
    // Before raking the design weights give another answer.
    assert!((weighted_mean(&api00, &weights) - 644.17).abs() < 0.01);
}

#[test]
fn raking_refuses_margins_it_cannot_meet_and_reports_non_convergence() {
    let margin = |totals: Vec<f64>, category_of: Vec<usize>| Margin {
        name: "m".to_owned(),
        category_of,
        totals,
    };
    let weights = [1.0, 1.0, 1.0];
    assert_eq!(
        rake(
            &weights,
            &[margin(vec![2.0, 1.0, 5.0], vec![0, 0, 1])],
            RakeOptions::default()
        ),
        Err(RakeError::Empty("m".to_owned(), 2))
    );
    assert!(matches!(
        rake(
            &weights,
            &[margin(vec![2.0], vec![0, 1, 0])],
            RakeOptions::default()
        ),
        Err(RakeError::Category(_, 1))
    ));
    assert!(matches!(
        rake(
            &weights,
            &[margin(vec![2.0], vec![0, 0])],
            RakeOptions::default()
        ),
        Err(RakeError::Length(_, 2, 3))
    ));
    assert!(matches!(
        rake(
            &weights,
            &[
                margin(vec![2.0, 1.0], vec![0, 0, 1]),
                margin(vec![5.0], vec![0, 0, 0])
            ],
            RakeOptions::default()
        ),
        Err(RakeError::Totals(..))
    ));
    assert_eq!(
        rake(&[1.0, -1.0], &[], RakeOptions::default()),
        Err(RakeError::Weights)
    );
    // Trimming to a narrow band keeps the weights from meeting an extreme margin.
    let trimmed = rake(
        &weights,
        &[margin(vec![10.0, 1.0], vec![0, 1, 1])],
        RakeOptions {
            trim: Some((0.5, 1.5)),
            max_iterations: 20,
            ..RakeOptions::default()
        },
    )
    .unwrap();
    assert!(!trimmed.converged);
    assert_eq!(trimmed.iterations, 20);
    assert!(trimmed.max_error > 0.1);
}

/// Raking unit by unit, as the textbook does it, to check the cells against.
fn rake_each_unit(weights: &[f64], margins: &[Margin], options: RakeOptions) -> Vec<f64> {
    let mut w = weights.to_vec();
    let sums = |w: &[f64], margin: &Margin| {
        let mut sums = vec![0.0; margin.totals.len()];
        for (&c, &x) in margin.category_of.iter().zip(w) {
            sums[c] += x;
        }
        sums
    };
    let error = |w: &[f64]| {
        margins
            .iter()
            .flat_map(|m| {
                let s = sums(w, m);
                m.totals
                    .iter()
                    .zip(s)
                    .map(|(t, s)| if *t > 0.0 { (s - t).abs() / t } else { s.abs() })
                    .collect::<Vec<_>>()
            })
            .fold(0.0, f64::max)
    };
    let mut iterations = 0;
    while error(&w) > options.tolerance && iterations < options.max_iterations {
        iterations += 1;
        for margin in margins {
            let s = sums(&w, margin);
            for (x, &c) in w.iter_mut().zip(&margin.category_of) {
                if s[c] > 0.0 {
                    *x *= margin.totals[c] / s[c];
                }
            }
        }
        if let Some((low, high)) = options.trim {
            let mean = w.iter().sum::<f64>() / w.len() as f64;
            for x in &mut w {
                *x = x.clamp(low * mean, high * mean);
            }
        }
    }
    w
}

#[test]
fn raking_units_together_gives_the_weights_of_raking_them_one_by_one() {
    // 2,000 units on three margins whose categories go together, with three design
    // weights, a unit of weight 0 and an empty category with a total of 0.
    let n = 2_000;
    let a: Vec<usize> = (0..n).map(|i| (i * 7 + i / 13) % 4).collect();
    let b: Vec<usize> = (0..n).map(|i| usize::from((i % 4 + i % 3) > 2)).collect();
    let c: Vec<usize> = (0..n).map(|i| (i * i + a[i]) % 5).collect();
    let mut weights: Vec<f64> = (0..n).map(|i| [1.0, 1.5, 0.75][i % 3]).collect();
    weights[17] = 0.0;
    let margins = [
        Margin {
            name: "a".to_owned(),
            category_of: a,
            totals: vec![900.0, 1_400.0, 1_100.0, 600.0],
        },
        Margin {
            name: "b".to_owned(),
            category_of: b,
            totals: vec![2_300.0, 1_700.0, 0.0],
        },
        Margin {
            name: "c".to_owned(),
            category_of: c,
            totals: vec![700.0, 800.0, 900.0, 1_000.0, 600.0],
        },
    ];
    for options in [
        RakeOptions::default(),
        RakeOptions {
            trim: Some((0.6, 1.6)),
            max_iterations: 30,
            ..RakeOptions::default()
        },
    ] {
        let raked = rake(&weights, &margins, options).unwrap();
        let each = rake_each_unit(&weights, &margins, options);
        assert_eq!(raked.weights.len(), n);
        for (x, y) in raked.weights.iter().zip(&each) {
            assert!((x - y).abs() <= 1e-12 * y.abs().max(1.0), "{x} {y}");
        }
        // A unit of weight 0 keeps it, unless trimming lifts it to the floor.
        assert_eq!(raked.weights[17] == 0.0, options.trim.is_none());
    }
    // Forty design weights (more than the short list holds), then every unit a
    // different weight (no two units share a cell): the same answers.
    for weights in [
        (0..n)
            .map(|i| 1.0 + (i % 40) as f64 / 40.0)
            .collect::<Vec<f64>>(),
        (0..n).map(|i| 1.0 + i as f64 / n as f64).collect(),
    ] {
        let raked = rake(&weights, &margins, RakeOptions::default()).unwrap();
        let each = rake_each_unit(&weights, &margins, RakeOptions::default());
        assert!(raked.converged);
        for (x, y) in raked.weights.iter().zip(&each) {
            assert!((x - y).abs() <= 1e-12 * y.abs(), "{x} {y}");
        }
    }
}

#[test]
fn raking_refuses_totals_that_are_not_numbers_and_a_trimming_range_upside_down() {
    let margin = |totals: Vec<f64>| Margin {
        name: "m".to_owned(),
        category_of: vec![0, 1, 1],
        totals,
    };
    for totals in [
        vec![f64::NAN, 1.0],
        vec![1.0, f64::INFINITY],
        vec![-1.0, 4.0],
    ] {
        assert!(matches!(
            rake(&[1.0; 3], &[margin(totals)], RakeOptions::default()),
            Err(RakeError::Total(..))
        ));
    }
    assert!(matches!(
        rake(
            &[1.0; 3],
            &[margin(vec![f64::MAX, f64::MAX])],
            RakeOptions::default()
        ),
        Err(RakeError::Total(..))
    ));
    for trim in [
        (2.0, 0.5),
        (f64::NAN, 2.0),
        (-1.0, 2.0),
        (0.5, f64::INFINITY),
    ] {
        assert_eq!(
            rake(
                &[1.0; 3],
                &[margin(vec![1.0, 2.0])],
                RakeOptions {
                    trim: Some(trim),
                    ..RakeOptions::default()
                }
            ),
            Err(RakeError::Trim)
        );
    }
    // A tolerance that is not a number is never met: reported, with finite weights.
    let raked = rake(
        &[1.0; 3],
        &[margin(vec![1.0, 2.0])],
        RakeOptions {
            tolerance: f64::NAN,
            ..RakeOptions::default()
        },
    )
    .unwrap();
    assert!(!raked.converged);
    assert!(raked.weights.iter().all(|w| w.is_finite()));
}

#[test]
fn the_two_group_r_indicator_matches_the_hand_computed_answer() {
    // 600 invited with propensity 0.5 and 400 with 0.25.
    let cells = [
        Cell {
            categories: vec![0],
            invited: 600,
            responded: 300,
        },
        Cell {
            categories: vec![1],
            invited: 400,
            responded: 100,
        },
    ];
    let r = r_indicator(&cells, &[2]).unwrap();
    assert!((r.mean - 0.4).abs() < 1e-12);
    assert!((r.s - 0.122536).abs() < 5e-7, "{}", r.s);
    assert!((r.r - 0.754928).abs() < 5e-7, "{}", r.r);
    let partial = &r.partials[0];
    assert!((partial.unconditional - 0.122474).abs() < 5e-7);
    assert!((partial.categories[0].0 - 0.077460).abs() < 5e-7);
    assert!((partial.categories[1].0 + 0.094868).abs() < 5e-7);
    // With one dimension, conditioning on the others changes nothing.
    assert!((partial.conditional - partial.unconditional).abs() < 1e-12);
    assert!(r_indicator(&[], &[2]).is_none());
}

#[test]
fn conditional_partials_see_through_a_dimension_that_only_follows_another() {
    // Response depends on age alone; ward is spread evenly over ages. Unconditionally
    // ward shows nothing; given age, neither does ward, while age keeps its effect.
    let mut cells = Vec::new();
    for age in 0..2 {
        for ward in 0..2 {
            cells.push(Cell {
                categories: vec![age, ward],
                invited: 100,
                responded: if age == 0 { 20 } else { 60 },
            });
        }
    }
    let r = r_indicator(&cells, &[2, 2]).unwrap();
    assert!(r.partials[0].unconditional > 0.19);
    assert!(r.partials[0].conditional > 0.19);
    assert!(r.partials[1].unconditional.abs() < 1e-12);
    assert!(r.partials[1].conditional.abs() < 1e-12);
    // The young are under-represented, the old over.
    assert!(r.partials[0].categories[0].0 < 0.0 && r.partials[0].categories[1].0 > 0.0);
}

#[test]
fn chi_square_p_values_match_the_tables() {
    // The 5 % critical values: 3.841 (1 df), 5.991 (2), 11.070 (5), 18.307 (10).
    for (x, df) in [
        (3.841_458_8, 1.0),
        (5.991_464_5, 2.0),
        (11.070_497_7, 5.0),
        (18.307_038, 10.0),
    ] {
        let p = upper_gamma_regularised(df / 2.0, x / 2.0);
        assert!((p - 0.05).abs() < 1e-6, "{x} {df}: {p}");
    }
    assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
    assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    // 60 and 40 against an even split: X² = 4, 1 df, p = 0.0455.
    let test = chi_square(&[60.0, 40.0], &[0.5, 0.5]).unwrap();
    assert!((test.statistic - 4.0).abs() < 1e-12);
    assert_eq!(test.degrees_of_freedom, 1);
    assert!(
        (test.p_value - 0.045_500_26).abs() < 1e-7,
        "{}",
        test.p_value
    );
    // A category with no population share is left out.
    let test = chi_square(&[50.0, 50.0, 3.0], &[0.5, 0.5, 0.0]).unwrap();
    assert_eq!(test.degrees_of_freedom, 1);
    assert!(chi_square(&[5.0], &[1.0]).is_none());
}

#[test]
fn dissimilarity_is_the_share_that_would_have_to_move() {
    assert!((dissimilarity(&[30.0, 70.0], &[0.5, 0.5]) - 0.2).abs() < 1e-12);
    assert_eq!(dissimilarity(&[1.0, 1.0], &[2.0, 2.0]), 0.0);
    assert_eq!(dissimilarity(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
}

#[test]
fn nps_and_its_interval_and_the_test_of_a_change() {
    // 50 promoters, 30 passives, 20 detractors: NPS 30; variance (0.5 + 0.2 − 0.09)/100.
    let mut answers = Vec::new();
    answers.extend(std::iter::repeat_n((10u8, 1.0), 50));
    answers.extend(std::iter::repeat_n((8u8, 1.0), 30));
    answers.extend(std::iter::repeat_n((3u8, 1.0), 20));
    let nps = net_promoter(&answers).unwrap();
    assert!((nps.score - 30.0).abs() < 1e-9);
    let se = 100.0 * (0.61f64 / 100.0).sqrt();
    assert!((nps.standard_error - se).abs() < 1e-9);
    assert!((nps.low - (30.0 - Z95 * se)).abs() < 1e-9);
    assert_eq!(nps.effective_n, 100.0);
    assert!(net_promoter(&[(11, 1.0)]).is_none());
    // 19.4 against 16.1 with standard errors of 3 points: no more than noise.
    let p = change_p_value(19.4, 3.0, 16.1, 3.0);
    assert!(p > 0.4 && p < 0.5, "{p}");
    // z = 1.96 gives 0.05.
    assert!((change_p_value(Z95, 1.0, 0.0, 0.0) - 0.05).abs() < 1e-9);
}

#[test]
fn net_agreement_and_representation_ratios() {
    // 40 agree, 35 neither, 25 disagree: +15.
    let mut answers = Vec::new();
    answers.extend(std::iter::repeat_n((5u8, 1.0), 40));
    answers.extend(std::iter::repeat_n((3u8, 1.0), 35));
    answers.extend(std::iter::repeat_n((1u8, 1.0), 25));
    let (net, se) = net_agreement(&answers).unwrap();
    assert!((net - 15.0).abs() < 1e-9);
    assert!((se - 100.0 * ((0.65 - 0.0225) / 100.0f64).sqrt()).abs() < 1e-9);
    assert!(net_agreement(&[(0, 1.0), (6, 1.0)]).is_none());
    // 16-24s are 8 % of respondents and 12 % of the population: ratio 2/3, and its
    // interval is the Wilson interval of the share scaled by 12 %. Of 100
    // respondents that could be chance; of 1,000 it is not.
    let (ratio, low, high) = representation_ratio(8.0, 100.0, 0.12).unwrap();
    assert!((ratio - 2.0 / 3.0).abs() < 1e-12);
    let (wl, wh) = wilson_interval(8.0, 100.0);
    assert!((low - wl / 0.12).abs() < 1e-12 && (high - wh / 0.12).abs() < 1e-12);
    assert!(high > 1.0);
    let (_, _, high) = representation_ratio(80.0, 1000.0, 0.12).unwrap();
    assert!(high < 1.0, "significantly under-represented");
    assert!(representation_ratio(1.0, 10.0, 0.0).is_none());
}

#[test]
fn the_wilson_interval_stays_inside_zero_and_one() {
    let (low, high) = wilson_interval(0.0, 10.0);
    assert_eq!(low, 0.0);
    assert!(high > 0.25 && high < 0.35, "{high}");
    let (low, high) = wilson_interval(50.0, 100.0);
    assert!((low - 0.4038).abs() < 1e-4 && (high - 0.5962).abs() < 1e-4);
}
