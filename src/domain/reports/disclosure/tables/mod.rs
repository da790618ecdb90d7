//! Disclosure control of whole reports of count tables, for everything SCRUTINY reads: the
//! one place where small counts are hidden, for GraphQL and for exports alike.
//!
//! A report is a set of count tables. Each table classifies one *population* (the
//! invitations of a consultation, its respondents, a round's letters) by one dimension:
//! its rows are categories, and each row is split into *parts*, disjoint classes of the
//! people counted (an invitation's furthest stage, say). A published column adds up some
//! parts (`sent` is every invitation that got at least as far as being sent); a row group
//! adds up some rows (promoters are the ratings 9 and 10). Tables of one population share
//! their column totals, and the attacker knows that each part has the same total in every
//! one of them, whatever the dimension: both facts go into the linear programmes of
//! [`crate::domain::reports::disclosure`], with what a multiple-choice question makes public
//! ([`Ticks`]: each answer ticks at least one option and at most the maximum).
//!
//! The whole report is one model ([`joint`]) and is protected as one: small counts are
//! hidden, then what loses least beside them (cells before row groups before totals,
//! partners looked for in a small count's own table before anywhere else; see
//! `domain::reports::disclosure::protect`) until the attack on the whole report leaves every
//! hidden count a range at least the threshold wide. The tests attack the result the
//! same way. [`loss`] says how much was hidden.

mod joint;
mod named;

use std::collections::HashSet;

use super::{Costs, DisclosureError, Report, Tier};
use crate::domain::reports::disclosure;

/// What a protection fails with: tables that do not fit together.
type Result<T> = std::result::Result<T, DisclosureError>;

use joint::Layout;
pub use named::{ALGORITHM, Protection, Tables, protect_named};

/// The people a table counts, and how its counts are published.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Population {
    /// Its name in messages (`invitations`, `respondents`).
    pub name: &'static str,
    /// How many parts each row is split into.
    pub parts: usize,
    /// The published columns: a name and the parts it adds up.
    pub columns: Vec<(&'static str, Vec<usize>)>,
}

/// One table: rows of one dimension over one population.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
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
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Ticks {
    /// The question (the same in each of its options' tables).
    pub key: usize,
    /// The row counting who ticked the option.
    pub row: usize,
    /// The group counting who answered the question.
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

    /// How many rows are published: every row but the residual one, if any.
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

/// What to hide in each table so that no count from 1 to `threshold − 1` is shown and
/// no hidden count can be narrowed to a range less than `threshold` wide from anything
/// published in the same report, losing as little as that allows. The same tables always
/// get the same protection.
pub fn protect(
    populations: &[Population],
    tables: &[CountTable],
    threshold: u64,
) -> Result<Vec<Hidden>> {
    let model = joint::model(populations, tables)?;
    let costs = Costs::tiered(&model.report, &model.tiers, model.blocks.clone());
    let suppressed = disclosure::protect(&model.report, &costs, threshold)?;
    Ok(tables
        .iter()
        .zip(&model.first_item)
        .map(|(table, &first)| {
            let layout = Layout::of(table);
            layout.hidden(&suppressed[first..first + layout.len()])
        })
        .collect())
}

/// The whole report as one model, with what `hidden` hides marked: every table's items
/// over its own base cells, each population's part totals and each linked group as cells
/// of their own that the tables add up to (see `joint`). The attack on it
/// ([`disclosure::attack`]) is what an attacker holding the whole published report could
/// work out.
pub fn joint(
    populations: &[Population],
    tables: &[CountTable],
    hidden: &[Hidden],
) -> Result<(Report, Vec<bool>)> {
    let model = joint::model(populations, tables)?;
    let mut suppressed = Vec::with_capacity(model.report.items.len());
    for (table, hidden) in tables.iter().zip(hidden) {
        let layout = Layout::of(table);
        if hidden.cells.len() != layout.rows
            || hidden.groups.len() != layout.groups
            || hidden.totals.len() != layout.columns
        {
            return Err(DisclosureError(
                "hidden marks do not fit their table".to_owned(),
            ));
        }
        suppressed.extend(hidden.cells.iter().flatten().copied());
        suppressed.extend(hidden.groups.iter().flatten().copied());
        suppressed.extend(hidden.totals.iter().copied());
    }
    Ok((model.report, suppressed))
}

/// How much a protection hides, each figure counted once however many tables show it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Loss {
    /// Figures shown elsewhere in the report (every figure, each once).
    pub figures: usize,
    /// Figures hidden because they are small (1 to the threshold less one).
    pub primary: usize,
    /// Figures hidden beside them.
    pub secondary: usize,
    /// The counts of the secondary figures, added up.
    pub secondary_count: u64,
    /// Row groups hidden (who answered, promoters, …), either way.
    pub groups: usize,
    /// Column totals hidden (the headline figures), either way.
    pub totals: usize,
}

/// What `hidden` hides in `tables`, as a [`Loss`].
pub fn loss(
    populations: &[Population],
    tables: &[CountTable],
    hidden: &[Hidden],
    threshold: u64,
) -> Result<Loss> {
    let model = joint::model(populations, tables)?;
    let (report, suppressed) = joint(populations, tables, hidden)?;
    let mut seen: HashSet<Vec<usize>> = HashSet::new();
    let mut loss = Loss::default();
    for (item, cells) in report.items.iter().enumerate() {
        let mut key = cells.clone();
        key.sort_unstable();
        if !seen.insert(key) {
            continue;
        }
        loss.figures += 1;
        if !suppressed[item] {
            continue;
        }
        let value = report.value(item);
        if value > 0 && value < threshold {
            loss.primary += 1;
        } else {
            loss.secondary += 1;
            loss.secondary_count += value;
        }
        match model.tiers[item] {
            Tier::Group => loss.groups += 1,
            Tier::Total => loss.totals += 1,
            Tier::Cell => {}
        }
    }
    Ok(loss)
}

#[cfg(test)]
mod tests;
