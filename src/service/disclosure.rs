//! Disclosure control for everything SCRUTINY reads: the one place where small counts are
//! hidden, for GraphQL and for exports alike.
//!
//! A report is a set of count tables. Each table classifies one *population* (the
//! invitations of a consultation, its respondents, a round's letters) by one dimension:
//! its rows are categories, and each row is split into *parts*, disjoint classes of the
//! people counted (an invitation's furthest stage, say). A published column adds up some
//! parts (`sent` is every invitation that got at least as far as being sent); a row group
//! adds up some rows (promoters are the ratings 9 and 10). Tables of one population share
//! their column totals, and the attacker knows that each part has the same total in every
//! one of them, whatever the dimension: both facts go into the linear programmes of
//! [`crate::domain::disclosure`], with what a multiple-choice question makes public
//! ([`Ticks`]: each answer ticks at least one option and at most the maximum).
//!
//! Tables are protected one at a time (small programmes), with totals hidden by one table
//! hidden in all of them, until nothing changes; then the whole report, built as one model
//! by [`joint`], is attacked, and protected as a whole where the attack still narrows a
//! hidden count. The tests attack the result the same way.

use std::collections::HashMap;

use crate::domain::disclosure::{self, Link, Report};
use crate::error::{AppError, AppResult};

/// The people a table counts, and how its counts are published.
#[derive(Clone, Debug, PartialEq)]
pub struct Population {
    /// Its name in messages (`invitations`, `respondents`).
    pub name: &'static str,
    /// How many parts each row is split into.
    pub parts: usize,
    /// The published columns: a name and the parts it adds up.
    pub columns: Vec<(&'static str, Vec<usize>)>,
}

/// One table: rows of one dimension over one population.
#[derive(Clone, Debug, PartialEq)]
pub struct CountTable {
    /// The population counted (an index into the report's populations).
    pub population: usize,
    /// Count of each row in each part. Every person of the population is in exactly one
    /// row, so a table that does not show everyone ends with a *residual* row.
    pub counts: Vec<Vec<u64>>,
    /// Whether the last row is the unpublished rest of the population (those who did not
    /// answer a question, say): counted in the model, never shown.
    pub residual: bool,
    /// The population's columns this table shows (indexes into its `columns`).
    pub columns: Vec<usize>,
    /// Published sums of rows (each a list of rows), shown in every column.
    pub groups: Vec<Vec<usize>>,
    /// Groups that count the same people as groups of other tables of the population
    /// (those who answered a multiple-choice question, in each of its options' tables):
    /// a group index and a key. Groups with one key are one published figure, hidden in
    /// every table when hidden in one, and the attacker knows that their parts are equal.
    pub linked: Vec<(usize, usize)>,
    /// Set when the table is one option's of a multiple-choice question (see [`Ticks`]).
    pub ticks: Option<Ticks>,
}

/// One option's table of a multiple-choice question, whose options each have a table
/// (those of one question share `key`): the row that counts who ticked the option, and the
/// linked group that counts who answered the question. The attacker knows that every
/// answer ticks at least one option (an empty answer is not stored) and at most `max`, so
/// the options' ticks add up to between who answered and `max` times them.
#[derive(Clone, Debug, PartialEq)]
pub struct Ticks {
    pub key: usize,
    pub row: usize,
    pub answered: usize,
    /// The most options an answer may tick (`None` for any number).
    pub max: Option<usize>,
}

impl CountTable {
    /// A table showing every column of its population, every row, and no groups.
    pub fn full(population: &Population, index: usize, counts: Vec<Vec<u64>>) -> Self {
        Self {
            population: index,
            counts,
            residual: false,
            columns: (0..population.columns.len()).collect(),
            groups: Vec::new(),
            linked: Vec::new(),
            ticks: None,
        }
    }

    /// The rows shown.
    pub fn shown_rows(&self) -> usize {
        self.counts.len() - usize::from(self.residual && !self.counts.is_empty())
    }

    /// The value of a shown row (or a group of rows, or every row with `None`) in one of
    /// the shown columns.
    pub fn value(&self, population: &Population, rows: Option<&[usize]>, column: usize) -> u64 {
        let parts = &population.columns[self.columns[column]].1;
        let sum_row = |r: usize| parts.iter().map(|&p| self.counts[r][p]).sum::<u64>();
        match rows {
            Some(rows) => rows.iter().map(|&r| sum_row(r)).sum(),
            None => (0..self.counts.len()).map(sum_row).sum(),
        }
    }
}

/// What is hidden in one table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hidden {
    /// Per row, per column.
    pub cells: Vec<Vec<bool>>,
    /// Per row group, per column.
    pub groups: Vec<Vec<bool>>,
    /// Per column, the total over all rows.
    pub totals: Vec<bool>,
}

impl Hidden {
    /// Nothing hidden (for OFFICER and ADMIN), shaped like `table`.
    pub fn none(table: &CountTable) -> Self {
        let columns = table.columns.len();
        Self {
            cells: vec![vec![false; columns]; table.shown_rows()],
            groups: vec![vec![false; columns]; table.groups.len()],
            totals: vec![false; columns],
        }
    }

    /// Whether anything is hidden.
    pub fn any(&self) -> bool {
        self.totals.iter().any(|&h| h)
            || self.cells.iter().flatten().any(|&h| h)
            || self.groups.iter().flatten().any(|&h| h)
    }
}

/// Where a table's items sit in a model: cell items first (row by row, column by
/// column), then group items, then column totals.
struct Layout {
    rows: usize,
    groups: usize,
    columns: usize,
}

impl Layout {
    fn cell(&self, row: usize, column: usize) -> usize {
        row * self.columns + column
    }

    fn group(&self, group: usize, column: usize) -> usize {
        (self.rows + group) * self.columns + column
    }

    fn total(&self, column: usize) -> usize {
        (self.rows + self.groups) * self.columns + column
    }

    fn len(&self) -> usize {
        (self.rows + self.groups + 1) * self.columns
    }
}

/// The items of one table over base cells numbered from `first` (row by row, part by
/// part), in [`Layout`] order.
fn items_of(table: &CountTable, population: &Population, first: usize) -> Vec<Vec<usize>> {
    let parts = population.parts;
    let columns: Vec<&[usize]> = table
        .columns
        .iter()
        .map(|&c| population.columns[c].1.as_slice())
        .collect();
    let cells_of = |rows: &[usize], column: &[usize]| -> Vec<usize> {
        rows.iter()
            .flat_map(|&r| column.iter().map(move |&p| first + r * parts + p))
            .collect()
    };
    let mut items = Vec::new();
    for row in 0..table.shown_rows() {
        for column in &columns {
            items.push(cells_of(&[row], column));
        }
    }
    for group in &table.groups {
        for column in &columns {
            items.push(cells_of(group, column));
        }
    }
    let all: Vec<usize> = (0..table.counts.len()).collect();
    for column in &columns {
        items.push(cells_of(&all, column));
    }
    items
}

fn base_cells(table: &CountTable, population: &Population) -> AppResult<Vec<u64>> {
    let mut cells = Vec::with_capacity(table.counts.len() * population.parts);
    for row in &table.counts {
        if row.len() != population.parts {
            return Err(AppError::internal(anyhow::anyhow!(
                "a {} table row has {} parts, not {}",
                population.name,
                row.len(),
                population.parts
            )));
        }
        cells.extend_from_slice(row);
    }
    Ok(cells)
}

fn layout(table: &CountTable) -> Layout {
    Layout {
        rows: table.shown_rows(),
        groups: table.groups.len(),
        columns: table.columns.len(),
    }
}

/// What to hide in each table so that no count from 1 to `threshold − 1` is shown and
/// no hidden count can be narrowed to a range less than `threshold` wide from anything
/// published in the same report.
///
/// The tables are protected one at a time, then the whole report is attacked as one
/// model ([`joint`]): where that narrows a hidden count, what the whole-report protection
/// adds is hidden too, and the tables are protected again, until the attack finds
/// nothing (at worst, everything is hidden).
pub fn protect(
    populations: &[Population],
    tables: &[CountTable],
    threshold: u64,
) -> AppResult<Vec<Hidden>> {
    let mut extra: Vec<Vec<bool>> = tables
        .iter()
        .map(|t| vec![false; layout(t).len()])
        .collect();
    loop {
        let hidden = protect_tables(populations, tables, threshold, &extra)?;
        let (report, suppressed) = joint(populations, tables, &hidden)?;
        let weak = disclosure::weak(&report, &suppressed, threshold);
        if weak.as_ref().is_ok_and(Vec::is_empty) {
            return Ok(hidden);
        }
        // A solver that gives up hides everything rather than failing the report.
        let more = match weak {
            Ok(_) => disclosure::protect_beside(&report, threshold, &suppressed)
                .unwrap_or_else(|_| vec![true; suppressed.len()]),
            Err(_) => vec![true; suppressed.len()],
        };
        let mut grew = false;
        let mut at = 0;
        for marks in &mut extra {
            for mark in marks.iter_mut() {
                if more[at] && !*mark {
                    *mark = true;
                    grew = true;
                }
                at += 1;
            }
        }
        if !grew {
            // The tables already hide all that the whole report's protection would:
            // nothing further can be done but hiding everything.
            for marks in &mut extra {
                marks.fill(true);
            }
            return protect_tables(populations, tables, threshold, &extra);
        }
    }
}

/// Each table protected on its own, with totals (and linked groups) hidden by one table
/// hidden in all of them, and the items in `extra` hidden from the start.
fn protect_tables(
    populations: &[Population],
    tables: &[CountTable],
    threshold: u64,
    extra: &[Vec<bool>],
) -> AppResult<Vec<Hidden>> {
    let mut hidden_totals: Vec<Vec<bool>> = populations
        .iter()
        .map(|p| vec![false; p.columns.len()])
        .collect();
    // Per (population, key) of linked groups, per column.
    let mut hidden_links: HashMap<(usize, usize), Vec<bool>> = HashMap::new();
    let mut hidden: Vec<Vec<bool>> = vec![Vec::new(); tables.len()];
    loop {
        let mut changed = false;
        for (t, table) in tables.iter().enumerate() {
            let population = &populations[table.population];
            let layout = layout(table);
            let report = Report {
                cells: base_cells(table, population)?,
                items: items_of(table, population, 0),
                links: Vec::new(),
            };
            let shared = &mut hidden_totals[table.population];
            let mut already = extra[t].clone();
            for (column, &c) in table.columns.iter().enumerate() {
                already[layout.total(column)] |= shared[c];
            }
            for &(group, key) in &table.linked {
                let linked = hidden_links
                    .entry((table.population, key))
                    .or_insert_with(|| vec![false; layout.columns]);
                for (column, &h) in linked.iter().enumerate() {
                    already[layout.group(group, column)] |= h;
                }
            }
            // A solver that gives up hides the whole table rather than failing the report.
            let suppressed = disclosure::protect_beside(&report, threshold, &already)
                .unwrap_or_else(|_| vec![true; layout.len()]);
            for (column, &c) in table.columns.iter().enumerate() {
                if suppressed[layout.total(column)] && !shared[c] {
                    shared[c] = true;
                    changed = true;
                }
            }
            for &(group, key) in &table.linked {
                if let Some(linked) = hidden_links.get_mut(&(table.population, key)) {
                    for (column, h) in linked.iter_mut().enumerate() {
                        if suppressed[layout.group(group, column)] && !*h {
                            *h = true;
                            changed = true;
                        }
                    }
                }
            }
            hidden[t] = suppressed;
        }
        if !changed {
            break;
        }
    }
    Ok(tables
        .iter()
        .zip(hidden)
        .map(|(table, suppressed)| {
            let layout = layout(table);
            Hidden {
                cells: (0..layout.rows)
                    .map(|r| {
                        (0..layout.columns)
                            .map(|c| suppressed[layout.cell(r, c)])
                            .collect()
                    })
                    .collect(),
                groups: (0..layout.groups)
                    .map(|g| {
                        (0..layout.columns)
                            .map(|c| suppressed[layout.group(g, c)])
                            .collect()
                    })
                    .collect(),
                totals: (0..layout.columns)
                    .map(|c| suppressed[layout.total(c)])
                    .collect(),
            }
        })
        .collect())
}

/// The whole report as one model, with what `hidden` hides marked: every table's items
/// over its own base cells, and each part's totals linked across the tables of a
/// population. The attack on it ([`disclosure::attack`]) is what an attacker holding the
/// whole published report could work out.
pub fn joint(
    populations: &[Population],
    tables: &[CountTable],
    hidden: &[Hidden],
) -> AppResult<(Report, Vec<bool>)> {
    let mut report = Report {
        cells: Vec::new(),
        items: Vec::new(),
        links: Vec::new(),
    };
    let mut suppressed = Vec::new();
    // The first table of each population: its cells in each part.
    let mut first_of: Vec<Option<Vec<Vec<usize>>>> = vec![None; populations.len()];
    // The first of each (population, key) of linked groups: its cells in each part.
    let mut first_link: HashMap<(usize, usize), Vec<Vec<usize>>> = HashMap::new();
    // Per multiple-choice question: who answered and each option's ticks, per part.
    let mut choices: Vec<Choice> = Vec::new();
    for (table, hidden) in tables.iter().zip(hidden) {
        let population = &populations[table.population];
        let first = report.cells.len();
        report.cells.extend(base_cells(table, population)?);
        // The table's cells of `rows`, in each part.
        let by_part = |rows: &[usize]| -> Vec<Vec<usize>> {
            (0..population.parts)
                .map(|part| {
                    rows.iter()
                        .map(|&r| first + r * population.parts + part)
                        .collect()
                })
                .collect()
        };
        let all: Vec<usize> = (0..table.counts.len()).collect();
        let totals = by_part(&all);
        match &first_of[table.population] {
            None => first_of[table.population] = Some(totals),
            Some(earlier) => report.links.extend(
                earlier
                    .iter()
                    .zip(&totals)
                    .map(|(left, right)| Link::equal(left, right)),
            ),
        }
        for &(group, key) in &table.linked {
            let parts = by_part(&table.groups[group]);
            match first_link.get(&(table.population, key)) {
                None => {
                    first_link.insert((table.population, key), parts);
                }
                Some(earlier) => report.links.extend(
                    earlier
                        .iter()
                        .zip(&parts)
                        .map(|(left, right)| Link::equal(left, right)),
                ),
            }
        }
        if let Some(ticks) = &table.ticks {
            // One cell in each part.
            let ticked: Vec<usize> = by_part(&[ticks.row]).into_iter().flatten().collect();
            let key = (table.population, ticks.key);
            match choices.iter_mut().find(|c| c.key == key) {
                Some(choice) => choice.ticked.push(ticked),
                None => choices.push(Choice {
                    key,
                    max: ticks.max,
                    answered: by_part(&table.groups[ticks.answered]),
                    ticked: vec![ticked],
                }),
            }
        }
        report.items.extend(items_of(table, population, first));
        suppressed.extend(hidden.cells.iter().flatten().copied());
        suppressed.extend(hidden.groups.iter().flatten().copied());
        suppressed.extend(hidden.totals.iter().copied());
    }
    for choice in &choices {
        report.links.extend(choice.links());
    }
    Ok((report, suppressed))
}

/// A multiple-choice question's cells in a joint model, for its links.
struct Choice {
    /// Population and question key.
    key: (usize, usize),
    max: Option<usize>,
    /// Per part, the cells of who answered (in the question's first option table).
    answered: Vec<Vec<usize>>,
    /// Per option, per part, the cell of who ticked it.
    ticked: Vec<Vec<usize>>,
}

impl Choice {
    /// In each part, the options' ticks are at least who answered, and at most the
    /// maximum times them (said only when below the number of options: otherwise each
    /// option being at most who answered says it already).
    fn links(&self) -> Vec<Link> {
        let mut links = Vec::new();
        for (part, answered) in self.answered.iter().enumerate() {
            let ticks = || self.ticked.iter().map(move |option| option[part]);
            links.push(Link::at_least(
                ticks()
                    .map(|c| (c, 1.0))
                    .chain(answered.iter().map(|&c| (c, -1.0)))
                    .collect(),
            ));
            if let Some(max) = self.max.filter(|&m| m < self.ticked.len()) {
                links.push(Link::at_least(
                    answered
                        .iter()
                        .map(|&c| (c, max as f64))
                        .chain(ticks().map(|c| (c, -1.0)))
                        .collect(),
                ));
            }
        }
        links
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn what_the_tables_hide_one_at_a_time_is_checked_against_the_whole_report() {
        // Three tables of the same invitations (found by a random search): protected one
        // at a time with their totals shared, the attack on all three at once, each part's
        // total linked across them, still narrows some hidden counts.
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
        let none: Vec<Vec<bool>> = tables
            .iter()
            .map(|t| vec![false; layout(t).len()])
            .collect();
        let one_at_a_time = protect_tables(&populations, &tables, 10, &none).unwrap();
        let (report, suppressed) = joint(&populations, &tables, &one_at_a_time).unwrap();
        assert!(
            !disclosure::weak(&report, &suppressed, 10)
                .unwrap()
                .is_empty(),
            "the tables alone leave something to recover"
        );
        let hidden = protect(&populations, &tables, 10).unwrap();
        assert_safe(&populations, &tables, &hidden);
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
        // 16 answered, nothing small: the number who answered, hidden in the first table
        // only (as the whole-report step may ask), is hidden in the second as well.
        let populations = [respondents()];
        let tables = [option(14, 16), option(11, 16)];
        let mut extra: Vec<Vec<bool>> = tables
            .iter()
            .map(|t| vec![false; layout(t).len()])
            .collect();
        extra[0][layout(&tables[0]).group(0, 0)] = true;
        let hidden = protect_tables(&populations, &tables, 10, &extra).unwrap();
        assert!(
            hidden[0].groups[0][0] && hidden[1].groups[0][0],
            "{hidden:?}"
        );
        // And the attack knows both tables hold one figure: their totals (one part) and
        // who answered, each linked.
        let (report, _) = joint(&populations, &tables, &hidden).unwrap();
        assert_eq!(report.links.iter().filter(|l| !l.at_least).count(), 2);
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
        let last = layout(&tables[0]).len() * 4 + layout(&tables[4]).cell(0, 0);
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
        // Each table protected on its own hides just those two; the whole report's
        // protection hides more.
        let tables = question(Some(3));
        let none: Vec<Vec<bool>> = tables
            .iter()
            .map(|t| vec![false; layout(t).len()])
            .collect();
        let one_at_a_time = protect_tables(&populations, &tables, 10, &none).unwrap();
        assert_eq!(one_at_a_time, hidden);
        let hidden = protect(&populations, &tables, 10).unwrap();
        assert!(hidden[4].cells[0][0]);
        assert_ne!(hidden, one_at_a_time);
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
}
