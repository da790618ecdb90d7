use super::*;
use crate::domain::reports::disclosure;
use crate::domain::reports::disclosure::tests::Numbers;

fn stages() -> Population {
    // Parts: furthest stage reached, 0 = invited only, 1 = sent, 2 = completed.
    Population {
        name: "invitations",
        parts: 3,
        columns: vec![
            ("invited", vec![0, 1, 2]),
            ("sent", vec![1, 2]),
            ("completed", vec![2]),
        ],
    }
}

fn assert_safe(populations: &[Population], tables: &[CountTable], hidden: &[Hidden]) {
    let (report, suppressed) = joint(populations, tables, hidden).unwrap();
    for (item, &h) in suppressed.iter().enumerate() {
        let value = report.value(item);
        assert!(h || value == 0 || value >= 10, "item {item} shows {value}");
    }
    for range in disclosure::attack(&report, &suppressed)
        .unwrap()
        .iter()
        .flatten()
    {
        assert!(range.1 - range.0 >= 10.0 - 1e-6, "pinned to {range:?}");
    }
}

#[test]
fn two_dimensions_of_the_same_invitations_are_protected_together() {
    let populations = [stages()];
    let by_age = CountTable::full(
        &populations[0],
        0,
        vec![vec![2, 30, 3], vec![5, 40, 25], vec![1, 12, 30]],
    );
    let by_sex = CountTable::full(&populations[0], 0, vec![vec![4, 50, 30], vec![4, 32, 28]]);
    let tables = [by_age, by_sex];
    let hidden = protect(&populations, &tables, 10).unwrap();
    assert!(
        hidden[0].cells[0][2],
        "3 completions in the first age band are hidden"
    );
    assert!(!hidden[1].any(), "nothing small by sex: {:?}", hidden[1]);
    assert_safe(&populations, &tables, &hidden);
}

#[test]
fn a_small_total_is_hidden_in_every_table_of_its_population() {
    let populations = [stages()];
    let tables = [
        CountTable::full(&populations[0], 0, vec![vec![20, 30, 2], vec![15, 40, 3]]),
        CountTable::full(&populations[0], 0, vec![vec![35, 70, 5]]),
    ];
    let hidden = protect(&populations, &tables, 10).unwrap();
    assert!(
        hidden[0].totals[2] && hidden[1].totals[2],
        "5 completions in all"
    );
    assert_safe(&populations, &tables, &hidden);
}

#[test]
fn row_groups_are_published_items_too() {
    // Ratings 0..=3 of 40 respondents; "top two" published beside them.
    let populations = [Population {
        name: "respondents",
        parts: 1,
        columns: vec![("respondents", vec![0])],
    }];
    let tables = [CountTable {
        population: 0,
        counts: vec![vec![12], vec![14], vec![11], vec![3]],
        residual: false,
        columns: vec![0],
        groups: vec![vec![2, 3]],
        linked: Vec::new(),
        ticks: None,
    }];
    let hidden = protect(&populations, &tables, 10).unwrap();
    assert!(hidden[0].cells[3][0]);
    // Shown alone, the group (14) less the rating 2 (11) would give away the 3.
    assert!(hidden[0].cells[2][0] || hidden[0].groups[0][0]);
    assert_safe(&populations, &tables, &hidden);
}

#[test]
fn a_question_table_keeps_its_unanswered_rest_out_of_sight_but_in_the_model() {
    // Invitations: parts 0 not completed, 1 completed; a question answered "yes" by
    // 3 and "no" by 25 of 28 completions, shown with the invited and completed totals.
    let populations = [Population {
        name: "invitations",
        parts: 2,
        columns: vec![("invited", vec![0, 1]), ("completed", vec![1])],
    }];
    let by_sex = CountTable::full(&populations[0], 0, vec![vec![20, 15], vec![30, 13]]);
    let question = CountTable {
        population: 0,
        counts: vec![vec![0, 3], vec![0, 25], vec![50, 0]],
        residual: true,
        columns: vec![1],
        groups: vec![vec![0, 1]],
        linked: Vec::new(),
        ticks: None,
    };
    let tables = [by_sex, question];
    let hidden = protect(&populations, &tables, 10).unwrap();
    assert_eq!(hidden[1].cells.len(), 2, "the rest is not a shown row");
    assert!(hidden[1].cells[0][0], "the 3 is hidden");
    assert!(hidden[1].cells[1][0] || hidden[1].groups[0][0]);
    assert_safe(&populations, &tables, &hidden);
}

#[test]
fn three_tables_of_the_same_invitations_are_protected_as_one_report() {
    // Three tables of the same invitations (found by a random search): protected one
    // at a time with their totals shared, the attack on all three at once, each part's
    // total linked across them, still narrowed some hidden counts. Protected as one
    // report, none.
    let populations = [stages()];
    let grouped = |counts: Vec<Vec<u64>>| CountTable {
        groups: vec![vec![0, 1]],
        ..CountTable::full(&populations[0], 0, counts)
    };
    let tables = [
        CountTable::full(
            &populations[0],
            0,
            vec![vec![0, 1, 13], vec![6, 0, 4], vec![6, 6, 11]],
        ),
        grouped(vec![vec![11, 2, 10], vec![0, 0, 0], vec![1, 5, 18]]),
        grouped(vec![
            vec![11, 3, 28],
            vec![0, 0, 0],
            vec![0, 1, 0],
            vec![1, 3, 0],
        ]),
    ];
    let hidden = protect(&populations, &tables, 10).unwrap();
    assert_safe(&populations, &tables, &hidden);
    assert!(
        hidden.iter().all(|h| !h.totals.iter().any(|&t| t)),
        "every total is at least 10 and stays shown: {hidden:?}"
    );
}

/// One option's table of a multiple-choice question answered by `answered` of 40:
/// those who ticked it, those who answered without, the rest; who answered linked.
fn option(chose: u64, answered: u64) -> CountTable {
    ticking(chose, answered, None)
}

/// [`option`] of a question allowing at most `max` ticks.
fn ticking(chose: u64, answered: u64, max: Option<usize>) -> CountTable {
    CountTable {
        population: 0,
        counts: vec![vec![chose], vec![answered - chose], vec![40 - answered]],
        residual: true,
        columns: vec![0],
        groups: vec![vec![0, 1]],
        linked: vec![(0, 7)],
        ticks: Some(Ticks {
            key: 7,
            row: 0,
            answered: 0,
            max,
        }),
    }
}

fn respondents() -> Population {
    Population {
        name: "respondents",
        parts: 1,
        columns: vec![("respondents", vec![0])],
    }
}

#[test]
fn those_who_answered_without_ticking_an_option_are_protected_too() {
    // 16 answered: 14 ticked one option (so 2 did not), 11 the other (5 did not).
    let populations = [respondents()];
    let tables = [option(14, 16), option(11, 16)];
    let hidden = protect(&populations, &tables, 10).unwrap();
    for (table, without) in hidden.iter().zip([2, 5]) {
        assert!(table.cells[1][0], "the {without} who did not tick it");
        assert!(
            table.cells[0][0] || table.groups[0][0],
            "or {without} = answered − ticked"
        );
    }
    assert_eq!(hidden[0].groups[0][0], hidden[1].groups[0][0]);
    assert_safe(&populations, &tables, &hidden);
}

#[test]
fn a_linked_figure_is_hidden_in_every_table_that_holds_it() {
    // 16 answered, nothing small: the number who answered is one figure in both
    // tables, so hiding it in the first only hides nothing.
    let populations = [respondents()];
    let tables = [option(14, 16), option(11, 16)];
    let mut hidden: Vec<Hidden> = tables.iter().map(Hidden::none).collect();
    hidden[0].groups[0][0] = true;
    let (report, suppressed) = joint(&populations, &tables, &hidden).unwrap();
    let first = Layout::of(&tables[0]);
    let answered = first.group(0, 0);
    assert_eq!(
        report.items[answered],
        report.items[first.len() + Layout::of(&tables[1]).group(0, 0)],
        "one figure"
    );
    let (low, high) = disclosure::attack(&report, &suppressed).unwrap()[answered].unwrap();
    assert!((low - 16.0).abs() < 1e-6 && (high - 16.0).abs() < 1e-6);
    // A small one is hidden everywhere from the start.
    let tables = [option(5, 7), option(0, 7)];
    let hidden = protect(&populations, &tables, 10).unwrap();
    assert!(hidden[0].groups[0][0] && hidden[1].groups[0][0]);
    assert_safe(&populations, &tables, &hidden);
}

#[test]
fn the_most_ticks_an_answer_may_have_is_known_to_the_attacker() {
    // 30 of 40 answered, each ticking at most 3 of 5 options: everyone ticked the
    // first two, 10 and 11 the next, 5 the last. The 5 and the 25 who answered
    // without ticking it are hidden, but with three ticks each at most, the ticks
    // left for the last option are 90 − 30 − 30 − 10 − 11 = 9: it is at most 9.
    let populations = [respondents()];
    let question = |max| -> Vec<CountTable> {
        [30, 30, 10, 11, 5]
            .iter()
            .map(|&n| ticking(n, 30, max))
            .collect()
    };
    let tables = question(Some(3));
    let mut hidden: Vec<Hidden> = tables.iter().map(Hidden::none).collect();
    hidden[4].cells[0][0] = true;
    hidden[4].cells[1][0] = true;
    let (report, suppressed) = joint(&populations, &tables, &hidden).unwrap();
    let ranges = disclosure::attack(&report, &suppressed).unwrap();
    let last = Layout::of(&tables[0]).len() * 4 + Layout::of(&tables[4]).cell(0, 0);
    let (low, high) = ranges[last].unwrap();
    assert!(
        low.abs() < 1e-6 && (high - 9.0).abs() < 1e-6,
        "{low}..{high}"
    );
    // Without a maximum, nothing narrows it below who answered.
    let tables = question(None);
    let (report, suppressed) = joint(&populations, &tables, &hidden).unwrap();
    let (_, high) = disclosure::attack(&report, &suppressed).unwrap()[last].unwrap();
    assert!((high - 30.0).abs() < 1e-6, "{high}");
    // Protected, more than those two is hidden.
    let tables = question(Some(3));
    let protected = protect(&populations, &tables, 10).unwrap();
    assert!(protected[4].cells[0][0]);
    assert_ne!(protected, hidden);
    let hidden = protected;
    assert_safe(&populations, &tables, &hidden);
}

#[test]
fn that_every_answer_ticks_an_option_is_known_to_the_attacker() {
    // 30 answered; no one ticked the second or third option, so everyone ticked the
    // first: hidden, with who answered without ticking it, it is still 30.
    let populations = [respondents()];
    let tables: Vec<CountTable> = [30, 0, 0].iter().map(|&n| option(n, 30)).collect();
    let mut hidden: Vec<Hidden> = tables.iter().map(Hidden::none).collect();
    hidden[0].cells[0][0] = true;
    hidden[0].cells[1][0] = true;
    let (report, suppressed) = joint(&populations, &tables, &hidden).unwrap();
    let (low, high) = disclosure::attack(&report, &suppressed).unwrap()[0].unwrap();
    assert!((low - 30.0).abs() < 1e-6 && (high - 30.0).abs() < 1e-6);
}

/// Pseudo-random multiple-choice questions of 2 to 6 options, with a maximum of 1 up
/// to every option or none, answered by 20 to 40 people each ticking between one
/// option and the maximum, some options far more popular than others.
fn random_questions(seed: u64, count: usize) -> Vec<Vec<CountTable>> {
    let mut state = seed;
    let mut next = |below: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % below
    };
    (0..count)
        .map(|_| {
            let options = 2 + next(5) as usize;
            let max = match next(options as u64 + 1) as usize {
                0 => None,
                m => Some(m),
            };
            let weights: Vec<u64> = (0..options)
                .map(|_| [1, 3, 30, 300][next(4) as usize])
                .collect();
            let answered = 20 + next(21);
            let mut ticked = vec![0u64; options];
            for _ in 0..answered {
                let ticks = 1 + next(max.unwrap_or(options) as u64) as usize;
                let mut left: Vec<usize> = (0..options).collect();
                for _ in 0..ticks {
                    let total: u64 = left.iter().map(|&o| weights[o]).sum();
                    let mut at = next(total);
                    let i = left
                        .iter()
                        .position(|&o| {
                            let hit = at < weights[o];
                            at = at.saturating_sub(weights[o]);
                            hit
                        })
                        .unwrap_or(0);
                    ticked[left.remove(i)] += 1;
                }
            }
            ticked.iter().map(|&n| ticking(n, answered, max)).collect()
        })
        .collect()
}

#[test]
fn multiple_choice_questions_of_every_shape_are_protected() {
    let populations = [respondents()];
    let mut given_away = 0;
    for tables in random_questions(99_991, 200) {
        let hidden = protect(&populations, &tables, 10).unwrap();
        assert_safe(&populations, &tables, &hidden);
        // Protected as if the ticks were not bounded, some give a count away (all of
        // them questions of at most one tick, which reports show as one table).
        let blind: Vec<CountTable> = tables
            .iter()
            .map(|t| CountTable {
                ticks: None,
                ..t.clone()
            })
            .collect();
        let hidden = protect(&populations, &blind, 10).unwrap();
        let (report, suppressed) = joint(&populations, &tables, &hidden).unwrap();
        if !disclosure::weak(&report, &suppressed, 10)
            .unwrap()
            .is_empty()
        {
            given_away += 1;
        }
    }
    assert!(given_away > 0);
}

/// A consultation's people as reports count them: parts 0 to 5 are an invitation's
/// furthest stage (invited only, sent, opened, clicked, started, completed), part 6 an
/// open-link response; each column counts those that got at least that far.
fn funnel_people() -> Population {
    let from = |stage: usize| (stage..6).collect::<Vec<_>>();
    Population {
        name: "people",
        parts: 7,
        columns: vec![
            ("invited", from(0)),
            ("sent", from(1)),
            ("opened", from(2)),
            ("clicked", from(3)),
            ("started", from(4)),
            ("completed", from(5)),
            ("open_link", vec![6]),
            ("respondents", vec![5, 6]),
        ],
    }
}

/// A random consultation: `members` invitations with a funnel that loses people at
/// every stage, `open` open-link responses, split by dimensions of `sizes` categories
/// (some categories far more common than others) and by channel (email, text message,
/// post, the open link).
fn random_consultation(
    numbers: &mut Numbers,
    members: usize,
    open: usize,
    sizes: &[usize],
) -> Vec<CountTable> {
    let people = funnel_people();
    // Each person: a part and a category per dimension and channel.
    let mut persons: Vec<(usize, Vec<usize>)> = Vec::new();
    for i in 0..members + open {
        let part = if i >= members {
            6
        } else {
            let mut stage = 0;
            while stage < 5 && numbers.below(100) < 70 {
                stage += 1;
            }
            stage
        };
        let mut categories: Vec<usize> = sizes
            .iter()
            .map(|&n| {
                let skewed = numbers.below(n as u64) * numbers.below(n as u64) / n as u64;
                skewed as usize
            })
            .collect();
        categories.push(if part == 6 {
            3
        } else {
            [0, 0, 0, 0, 0, 0, 1, 2][numbers.below(8) as usize]
        });
        persons.push((part, categories));
    }
    sizes
        .iter()
        .copied()
        .chain([4])
        .enumerate()
        .map(|(d, rows)| {
            let mut counts = vec![vec![0u64; 7]; rows];
            for (part, categories) in &persons {
                counts[categories[d]][*part] += 1;
            }
            CountTable::full(&people, 0, counts)
        })
        .collect()
}

#[test]
fn a_report_whose_headline_counts_are_all_at_least_the_threshold_always_shows_them() {
    let populations = [funnel_people()];
    let mut numbers = Numbers(280);
    let mut tried = 0;
    while tried < 25 {
        let members = 60 + numbers.below(300) as usize;
        let open = [0, 12, 40][numbers.below(3) as usize];
        let sizes: Vec<usize> = (0..1 + numbers.below(3))
            .map(|_| 2 + numbers.below(14) as usize)
            .collect();
        let tables = random_consultation(&mut numbers, members, open, &sizes);
        let totals: Vec<u64> = (0..8)
            .map(|c| tables[0].value(&populations[0], None, c))
            .collect();
        if totals.iter().any(|&t| t > 0 && t < 10) {
            continue;
        }
        tried += 1;
        let hidden = protect(&populations, &tables, 10).unwrap();
        for h in &hidden {
            assert!(
                !h.totals.iter().any(|&t| t),
                "a headline count is hidden: totals {totals:?}, {hidden:?}"
            );
        }
        assert!(hidden.iter().any(Hidden::any), "small counts are hidden");
        assert_safe(&populations, &tables, &hidden);
    }
}

#[test]
fn two_text_message_completions_take_cells_beside_them_not_the_funnel() {
    // 275 invited: 245 by email, 30 by text message (2 of them completed), 64 by email
    // completed; nobody by post, no open link.
    let populations = [funnel_people()];
    let channel = CountTable::full(
        &populations[0],
        0,
        vec![vec![20, 61, 40, 30, 30, 64, 0], vec![4, 18, 0, 4, 2, 2, 0]],
    );
    let by_sex = CountTable::full(
        &populations[0],
        0,
        vec![
            vec![12, 41, 22, 19, 17, 38, 0],
            vec![12, 38, 18, 15, 15, 28, 0],
        ],
    );
    let tables = [by_sex, channel];
    let hidden = protect(&populations, &tables, 10).unwrap();
    assert!(hidden[1].cells[1][5], "the 2 completions are hidden");
    for h in &hidden {
        assert!(
            !h.totals.iter().any(|&t| t),
            "the funnel is shown: {hidden:?}"
        );
    }
    assert_safe(&populations, &tables, &hidden);
    let lost = loss(&populations, &tables, &hidden, 10).unwrap();
    assert_eq!(lost.totals, 0);
    assert!(
        lost.secondary > 0 && lost.secondary <= lost.primary + 8,
        "{lost:?}"
    );
}
