use super::*;

/// A seeded stream of numbers (a linear congruential generator).
pub(super) struct Numbers(pub(super) u64);

impl Numbers {
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// The costs of a [`Report::two_way`] table of `rows` rows: cells, row totals as groups,
/// column and grand totals as totals; one block.
fn two_way_costs(report: &Report, rows: usize) -> Costs {
    let cells = report.cells.len();
    let columns = cells / rows.max(1);
    let tiers: Vec<Tier> = (0..report.items.len())
        .map(|i| {
            if i < cells {
                Tier::Cell
            } else if i < cells + rows {
                Tier::Group
            } else {
                Tier::Total
            }
        })
        .collect();
    let _ = columns;
    Costs::tiered(report, &tiers, vec![Some(0); cells])
}

/// Every item a cell, one block.
fn flat_costs(report: &Report) -> Costs {
    Costs::tiered(
        report,
        &vec![Tier::Cell; report.items.len()],
        vec![Some(0); report.cells.len()],
    )
}

/// Checks the protection as an attacker would: every small shown count is absent and
/// every suppressed item's range is at least `threshold` wide.
fn assert_protected(report: &Report, suppressed: &[bool], threshold: u64) {
    for (item, &hidden) in suppressed.iter().enumerate() {
        let value = report.value(item);
        assert!(
            hidden || value == 0 || value >= threshold,
            "item {item} shows {value}"
        );
    }
    for (item, range) in attack_plain(report, suppressed).unwrap().iter().enumerate() {
        if let Some((low, high)) = range {
            assert!(
                high - low >= threshold as f64 - 1e-6,
                "item {item} ({}) is pinned to {low}..{high}",
                report.value(item)
            );
            let value = report.value(item) as f64;
            assert!(*low <= value + 1e-6 && value <= high + 1e-6);
        }
    }
}

#[test]
fn one_small_cell_takes_a_rectangle_of_partners_with_it() {
    let report = Report::two_way(&[vec![40, 3, 25], vec![30, 22, 18], vec![15, 12, 50]]);
    let suppressed = protect(&report, &two_way_costs(&report, 3), 10).unwrap();
    assert!(suppressed[1], "the 3 is hidden");
    // Hiding only the 3 would reveal it from its row total; its row and column each
    // need another hidden cell, and the fourth corner closes the rectangle.
    let hidden_cells = suppressed[..9].iter().filter(|&&s| s).count();
    assert_eq!(hidden_cells, 4, "{suppressed:?}");
    assert!(!suppressed[9..].iter().any(|&s| s), "the totals stay shown");
    assert_protected(&report, &suppressed, 10);
}

#[test]
fn the_attack_recovers_a_cell_hidden_alone() {
    let report = Report::two_way(&[vec![40, 3], vec![30, 22]]);
    let mut alone = vec![false; report.items.len()];
    alone[1] = true;
    for ranges in [attack(&report, &alone), attack_plain(&report, &alone)] {
        let (low, high) = ranges.unwrap()[1].unwrap();
        assert!((low - 3.0).abs() < 1e-6 && (high - 3.0).abs() < 1e-6);
    }
}

#[test]
fn small_totals_are_hidden_too_and_every_table_shape_is_protected() {
    // A row of small counts: its total (7) is small as well.
    let report = Report::two_way(&[vec![2, 5, 0], vec![40, 35, 20], vec![12, 30, 16]]);
    let suppressed = protect(&report, &two_way_costs(&report, 3), 10).unwrap();
    assert!(suppressed[9], "the row total of 7 is hidden");
    assert_protected(&report, &suppressed, 10);
    // Pseudo-random tables of many shapes, with many small counts.
    let mut numbers = Numbers(12_345);
    for _ in 0..24 {
        let rows = 2 + numbers.below(4) as usize;
        let columns = 2 + numbers.below(4) as usize;
        let counts: Vec<Vec<u64>> = (0..rows)
            .map(|_| (0..columns).map(|_| numbers.below(30)).collect())
            .collect();
        let report = Report::two_way(&counts);
        let suppressed = protect(&report, &two_way_costs(&report, rows), 10).unwrap();
        assert_protected(&report, &suppressed, 10);
    }
}

#[test]
fn two_tables_over_the_same_people_are_protected_together() {
    // Base cells: age (2) × sex (2) × ward (2). Published: age × sex and age × ward,
    // each with its totals; a cell of one can be narrowed through the other.
    let cells = vec![3, 20, 14, 9, 25, 11, 6, 30];
    let index = |age: usize, sex: usize, ward: usize| age * 4 + sex * 2 + ward;
    let mut items: Vec<Vec<usize>> = Vec::new();
    for age in 0..2 {
        for sex in 0..2 {
            items.push((0..2).map(|w| index(age, sex, w)).collect());
        }
        for ward in 0..2 {
            items.push((0..2).map(|s| index(age, s, ward)).collect());
        }
        items.push((0..4).map(|k| age * 4 + k).collect());
    }
    let report = Report {
        cells,
        items,
        links: Vec::new(),
    };
    let suppressed = protect(&report, &flat_costs(&report), 10).unwrap();
    assert_protected(&report, &suppressed, 10);
}

#[test]
fn a_link_between_two_tables_lets_the_attacker_recover_a_cell() {
    // Table A (cells 0, 1) publishes only its second cell; table B (cells 2, 3) is
    // over the same people and publishes its total.
    let mut report = Report {
        cells: vec![3, 30, 20, 13],
        items: vec![vec![0], vec![1], vec![2, 3]],
        links: Vec::new(),
    };
    let hidden = [true, false, false];
    let (low, high) = attack(&report, &hidden).unwrap()[0].unwrap();
    assert_eq!((low, high), (0.0, f64::INFINITY), "alone, A's cell is free");
    report.links.push(Link::equal(&[0, 1], &[2, 3]));
    let (low, high) = attack(&report, &hidden).unwrap()[0].unwrap();
    assert!((low - 3.0).abs() < 1e-6 && (high - 3.0).abs() < 1e-6);
    // Protection sees the link too and hides a partner.
    let suppressed = protect(&report, &flat_costs(&report), 10).unwrap();
    assert!(suppressed[0] && suppressed[1..].iter().any(|&s| s));
    assert_protected(&report, &suppressed, 10);
}

#[test]
fn a_weak_cell_is_partnered_within_its_block_before_a_total_is_touched() {
    // Two tables of the same 100 people, each row split in two parts; the part totals
    // (cells 8 and 9) are the headline. Table A has a small cell; its partners must be
    // A's own cells, never the totals, while A can move on its own.
    //        part 0 part 1
    // A: r0    3     40
    //    r1   30     27
    // B: r0   20     30
    //    r1   13     37
    let mut report = Report {
        cells: vec![3, 40, 30, 27, 20, 30, 13, 37, 33, 67],
        items: Vec::new(),
        links: Vec::new(),
    };
    let mut tiers = Vec::new();
    for cell in 0..8 {
        report.items.push(vec![cell]);
        tiers.push(Tier::Cell);
    }
    for part in 0..2 {
        report.items.push(vec![8 + part]);
        tiers.push(Tier::Total);
        for table in 0..2 {
            let rows: Vec<usize> = (0..2).map(|r| table * 4 + r * 2 + part).collect();
            report.links.push(Link::equal(&rows, &[8 + part]));
        }
    }
    let blocks = vec![
        Some(0),
        Some(0),
        Some(0),
        Some(0),
        Some(1),
        Some(1),
        Some(1),
        Some(1),
        None,
        None,
    ];
    let suppressed = protect(&report, &Costs::tiered(&report, &tiers, blocks), 10).unwrap();
    assert_eq!(
        suppressed,
        [
            true, false, true, false, false, false, false, false, false, false
        ],
        "the 30 beside the 3 in A (no row totals), nothing in B, the totals shown"
    );
    assert_protected(&report, &suppressed, 10);
}

/// A random report: a few tables of one population, each with rows split into parts,
/// cells and column totals shown, each part's totals linked across tables; some
/// multiple-choice-like bounds as at-least links.
fn random_report(numbers: &mut Numbers) -> Report {
    let parts = 1 + numbers.below(3) as usize;
    let tables = 1 + numbers.below(3) as usize;
    let people: Vec<usize> = (0..20 + numbers.below(60))
        .map(|_| numbers.below(parts as u64) as usize)
        .collect();
    let mut report = Report {
        cells: Vec::new(),
        items: Vec::new(),
        links: Vec::new(),
    };
    let mut first_totals: Option<Vec<Vec<usize>>> = None;
    for _ in 0..tables {
        let rows = 2 + numbers.below(4) as usize;
        let first = report.cells.len();
        let mut counts = vec![0u64; rows * parts];
        for &part in &people {
            let row = (numbers.below(rows as u64) + numbers.below(rows as u64)) as usize / 2;
            counts[row * parts + part] += 1;
        }
        report.cells.extend(counts);
        for row in 0..rows {
            for part in 0..parts {
                report.items.push(vec![first + row * parts + part]);
            }
            report
                .items
                .push((0..parts).map(|p| first + row * parts + p).collect());
        }
        let totals: Vec<Vec<usize>> = (0..parts)
            .map(|p| (0..rows).map(|r| first + r * parts + p).collect())
            .collect();
        report.items.extend(totals.iter().cloned());
        match &first_totals {
            None => first_totals = Some(totals),
            Some(earlier) => {
                for (a, b) in earlier.iter().zip(&totals) {
                    report.links.push(Link::equal(a, b));
                }
            }
        }
    }
    let bound = Link::at_least(vec![(0, 1.0), (1, 1.0), (2, -1.0)]);
    if numbers.below(2) == 0 && report.cells.len() >= 3 && bound.holds(&report.cells) {
        report.links.push(bound);
    }
    report
}

#[test]
fn the_fast_attack_finds_the_ranges_of_one_programme_over_everything() {
    let mut numbers = Numbers(2_026);
    for _ in 0..60 {
        let report = random_report(&mut numbers);
        let suppressed: Vec<bool> = (0..report.items.len())
            .map(|_| numbers.below(3) == 0)
            .collect();
        let fast = attack(&report, &suppressed).unwrap();
        let plain = attack_plain(&report, &suppressed).unwrap();
        for (item, (a, b)) in fast.iter().zip(&plain).enumerate() {
            match (a, b) {
                (None, None) => {}
                (Some((al, ah)), Some((bl, bh))) => {
                    assert!((al - bl).abs() < 1e-6, "item {item}: low {al} against {bl}");
                    assert!(
                        (ah.is_infinite() && bh.is_infinite()) || (ah - bh).abs() < 1e-6,
                        "item {item}: high {ah} against {bh}"
                    );
                }
                _ => panic!("item {item}: {a:?} against {b:?}"),
            }
        }
    }
}

#[test]
fn random_reports_of_linked_tables_are_protected() {
    let mut numbers = Numbers(77);
    for _ in 0..30 {
        let report = random_report(&mut numbers);
        let suppressed = protect(&report, &flat_costs(&report), 10).unwrap();
        assert_protected(&report, &suppressed, 10);
    }
}
