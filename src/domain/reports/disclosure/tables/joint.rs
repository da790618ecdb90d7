//! A report's tables as one model of `domain::reports::disclosure`: every table's items over its
//! own base cells, and what ties the tables together.
//!
//! Each population has one unpublished base cell per part, its *part total*: every table
//! of the population adds up to it, part by part (a link per table and part), and the
//! tables' column totals are items over it, so a column total is one figure whichever
//! table shows it. Groups that count the same people in several tables (who answered a
//! multiple-choice question, in each option's table) likewise have a cell per part that
//! each table's group adds up to. Written this way, shown totals pin the part totals and
//! the tables come apart into small independent pieces for the attack.

use std::collections::HashMap;

use super::{DisclosureError, Result};
use crate::domain::reports::disclosure::{Link, Report, Tier};

use super::{CountTable, Hidden, Population};

/// Where a table's items sit in a model: cell items first (row by row, column by
/// column), then group items, then column totals.
pub(super) struct Layout {
    pub(super) rows: usize,
    pub(super) groups: usize,
    pub(super) columns: usize,
}

impl Layout {
    pub(super) fn of(table: &CountTable) -> Self {
        Self {
            rows: table.shown_rows(),
            groups: table.groups.len(),
            columns: table.columns.len(),
        }
    }

    pub(super) fn cell(&self, row: usize, column: usize) -> usize {
        row * self.columns + column
    }

    pub(super) fn group(&self, group: usize, column: usize) -> usize {
        (self.rows + group) * self.columns + column
    }

    pub(super) fn total(&self, column: usize) -> usize {
        (self.rows + self.groups) * self.columns + column
    }

    pub(super) fn len(&self) -> usize {
        (self.rows + self.groups + 1) * self.columns
    }

    /// What is hidden in a table, from its items' marks in this layout.
    pub(super) fn hidden(&self, suppressed: &[bool]) -> Hidden {
        Hidden {
            cells: (0..self.rows)
                .map(|r| {
                    (0..self.columns)
                        .map(|c| suppressed[self.cell(r, c)])
                        .collect()
                })
                .collect(),
            groups: (0..self.groups)
                .map(|g| {
                    (0..self.columns)
                        .map(|c| suppressed[self.group(g, c)])
                        .collect()
                })
                .collect(),
            totals: (0..self.columns)
                .map(|c| suppressed[self.total(c)])
                .collect(),
        }
    }
}

/// The whole report as one model, with each item's tier and each cell's block.
pub(super) struct Model {
    pub(super) report: Report,
    pub(super) tiers: Vec<Tier>,
    pub(super) blocks: Vec<Option<usize>>,
    /// Per table, where its items start.
    pub(super) first_item: Vec<usize>,
}

fn base_cells(table: &CountTable, population: &Population) -> Result<Vec<u64>> {
    let mut cells = Vec::with_capacity(table.counts.len() * population.parts);
    for row in &table.counts {
        if row.len() != population.parts {
            return Err(DisclosureError(format!(
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

/// Cells standing for sums shared by several tables: one per part, made on first use.
#[derive(Default)]
struct Shared {
    /// Key → its cells, one per part.
    cells: HashMap<(usize, usize, usize), Vec<usize>>,
}

/// Kinds of shared sums.
const PART_TOTAL: usize = 0;
const LINKED_GROUP: usize = 1;

impl Shared {
    /// The cells of a shared sum, made with `values` (one per part) if new.
    fn cells(
        &mut self,
        report: &mut Report,
        blocks: &mut Vec<Option<usize>>,
        key: (usize, usize, usize),
        values: &[u64],
        block: Option<usize>,
    ) -> Vec<usize> {
        self.cells
            .entry(key)
            .or_insert_with(|| {
                let first = report.cells.len();
                report.cells.extend_from_slice(values);
                blocks.extend(std::iter::repeat_n(block, values.len()));
                (first..first + values.len()).collect()
            })
            .clone()
    }
}

/// Builds the model of `tables` over `populations`.
pub(super) fn model(populations: &[Population], tables: &[CountTable]) -> Result<Model> {
    let mut report = Report {
        cells: Vec::new(),
        items: Vec::new(),
        links: Vec::new(),
    };
    // Tables of one multiple-choice question are one block.
    let mut block_of_key: HashMap<(usize, usize), usize> = HashMap::new();
    let table_block: Vec<usize> = tables
        .iter()
        .enumerate()
        .map(|(t, table)| {
            let keys = table
                .linked
                .iter()
                .map(|&(_, key)| key)
                .chain(table.ticks.as_ref().map(|k| k.key));
            let mut block = t;
            for key in keys {
                block = *block_of_key.entry((table.population, key)).or_insert(t);
            }
            block
        })
        .collect();
    let mut blocks: Vec<Option<usize>> = Vec::new();
    let mut tiers = Vec::new();
    let mut first_item = Vec::new();
    let mut shared = Shared::default();
    let mut choices: Vec<Choice> = Vec::new();
    for (t, table) in tables.iter().enumerate() {
        let population = &populations[table.population];
        let parts = population.parts;
        let first = report.cells.len();
        report.cells.extend(base_cells(table, population)?);
        blocks.extend(std::iter::repeat_n(
            Some(table_block[t]),
            table.counts.len() * parts,
        ));
        let cell = |row: usize, part: usize| first + row * parts + part;
        let sum_rows = |rows: &[usize]| -> Vec<u64> {
            (0..parts)
                .map(|p| rows.iter().map(|&r| table.counts[r][p]).sum())
                .collect()
        };
        let all: Vec<usize> = (0..table.counts.len()).collect();
        let totals = shared.cells(
            &mut report,
            &mut blocks,
            (PART_TOTAL, table.population, 0),
            &sum_rows(&all),
            None,
        );
        for (part, &total) in totals.iter().enumerate() {
            let rows: Vec<usize> = all.iter().map(|&r| cell(r, part)).collect();
            report.links.push(Link::equal(&rows, &[total]));
        }
        // Linked groups: per group index, the shared cells it adds up to.
        let mut linked_cells: HashMap<usize, Vec<usize>> = HashMap::new();
        for &(group, key) in &table.linked {
            let rows = &table.groups[group];
            let sums = shared.cells(
                &mut report,
                &mut blocks,
                (LINKED_GROUP, table.population, key),
                &sum_rows(rows),
                Some(table_block[t]),
            );
            for (part, &sum) in sums.iter().enumerate() {
                let cells: Vec<usize> = rows.iter().map(|&r| cell(r, part)).collect();
                report.links.push(Link::equal(&cells, &[sum]));
            }
            linked_cells.insert(group, sums);
        }
        if let Some(ticks) = &table.ticks {
            let ticked: Vec<usize> = (0..parts).map(|p| cell(ticks.row, p)).collect();
            let key = (table.population, ticks.key);
            let answered = match linked_cells.get(&ticks.answered) {
                Some(sums) => sums.iter().map(|&c| vec![c]).collect(),
                None => (0..parts)
                    .map(|p| {
                        table.groups[ticks.answered]
                            .iter()
                            .map(|&r| cell(r, p))
                            .collect()
                    })
                    .collect(),
            };
            match choices.iter_mut().find(|c| c.key == key) {
                Some(choice) => choice.ticked.push(ticked),
                None => choices.push(Choice {
                    key,
                    max: ticks.max,
                    answered,
                    ticked: vec![ticked],
                }),
            }
        }
        // Items, in layout order.
        first_item.push(report.items.len());
        let columns: Vec<&[usize]> = table
            .columns
            .iter()
            .map(|&c| population.columns[c].1.as_slice())
            .collect();
        for row in 0..table.shown_rows() {
            for column in &columns {
                report
                    .items
                    .push(column.iter().map(|&p| cell(row, p)).collect());
                tiers.push(Tier::Cell);
            }
        }
        for (g, group) in table.groups.iter().enumerate() {
            for column in &columns {
                let cells = match linked_cells.get(&g) {
                    Some(sums) => column.iter().map(|&p| sums[p]).collect(),
                    None => group
                        .iter()
                        .flat_map(|&r| column.iter().map(move |&p| cell(r, p)))
                        .collect(),
                };
                report.items.push(cells);
                tiers.push(Tier::Group);
            }
        }
        for column in &columns {
            report
                .items
                .push(column.iter().map(|&p| totals[p]).collect());
            tiers.push(Tier::Total);
        }
    }
    for choice in &choices {
        report.links.extend(choice.links());
    }
    Ok(Model {
        report,
        tiers,
        blocks,
        first_item,
    })
}

/// A multiple-choice question's cells in a joint model, for its links.
struct Choice {
    /// Population and question key.
    key: (usize, usize),
    max: Option<usize>,
    /// Per part, the cells of who answered.
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
