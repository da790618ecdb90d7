//! A publication's tables by name, and what its protection hides by name.
//!
//! [`Tables`] is what a protection is computed from: canonical (rows are the categories
//! with anyone in them, in a fixed order, whatever options a request names), so the same
//! data always gives the same tables and so, by its [`Tables::digest`], the same stored
//! protection. [`Protection`] answers "is this figure hidden?" by table name and row label;
//! anything it does not know is hidden, except a zero in a row with nobody in it (such
//! rows are left out of the tables: a row of zeros tells an attacker nothing).

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::joint::Layout;
use super::{CountTable, Hidden, Loss, Population};
use super::{DisclosureError, Result};

/// The version of the protection algorithm, part of every stored protection's key: a
/// change that could hide differently gets a new number, and so a fresh protection.
pub const ALGORITHM: u32 = 2;

/// A publication's count tables, each named, with its shown rows' labels.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Tables {
    /// The populations counted.
    pub populations: Vec<Population>,
    /// Each table's counts, in the order of `names`.
    pub tables: Vec<CountTable>,
    /// Per table: its name (unique in the publication) and its shown rows' labels.
    pub names: Vec<(String, Vec<String>)>,
}

impl Tables {
    /// Adds a table.
    pub fn push(&mut self, name: impl Into<String>, labels: Vec<String>, table: CountTable) {
        self.names.push((name.into(), labels));
        self.tables.push(table);
    }

    /// The SHA-256 (hex) of everything a protection of these tables depends on: the
    /// tables, the threshold and [`ALGORITHM`].
    pub fn digest(&self, threshold: u64) -> Result<String> {
        let text = serde_json::to_vec(&(ALGORITHM, threshold, self))
            .map_err(|err| DisclosureError(err.to_string()))?;
        Ok(hex::encode(Sha256::digest(&text)))
    }
}

/// What a publication hides, by table name and row label.
#[derive(Clone, Debug, PartialEq)]
pub struct Protection {
    /// Whether the reader sees everything (OFFICER and ADMIN).
    everything: bool,
    /// Table name → its rows by label, and what it hides.
    tables: HashMap<String, (HashMap<String, usize>, Hidden)>,
    /// How much is hidden.
    pub loss: Loss,
}

impl Protection {
    /// Nothing hidden: the reader sees every figure.
    pub fn none() -> Self {
        Self {
            everything: true,
            tables: HashMap::new(),
            loss: Loss::default(),
        }
    }

    /// `hidden` (one per table of `tables`, in order) by name.
    pub fn of(tables: &Tables, hidden: &[Hidden], loss: Loss) -> Self {
        let tables = tables
            .names
            .iter()
            .zip(hidden)
            .map(|((name, labels), hidden)| {
                let rows = labels
                    .iter()
                    .enumerate()
                    .map(|(r, label)| (label.clone(), r))
                    .collect();
                (name.clone(), (rows, hidden.clone()))
            })
            .collect();
        Self {
            everything: false,
            tables,
            loss,
        }
    }

    /// The protection of one table worked out from protected ones (sums of their rows,
    /// each hidden when any row in it is): `hidden` for the rows `labels`.
    pub fn derived(name: &str, labels: &[String], hidden: Hidden) -> Self {
        let rows = labels
            .iter()
            .enumerate()
            .map(|(r, label)| (label.clone(), r))
            .collect();
        Self {
            everything: false,
            tables: HashMap::from([(name.to_owned(), (rows, hidden))]),
            loss: Loss::default(),
        }
    }

    /// Whether anything is hidden.
    pub fn any(&self) -> bool {
        self.tables.values().any(|(_, hidden)| hidden.any())
    }

    /// A count of row `row` (the column total with `None`) in shown column `column` of
    /// table `table`, as published: `None` when hidden. Fails closed: a table it does
    /// not know hides everything, and a row it does not know hides all but a zero.
    pub fn count(&self, table: &str, row: Option<&str>, column: usize, value: u64) -> Option<u64> {
        (!self.hides(table, row, column, value)).then_some(value)
    }

    /// Whether a count is hidden (see [`Protection::count`]).
    pub fn hides(&self, table: &str, row: Option<&str>, column: usize, value: u64) -> bool {
        if self.everything {
            return false;
        }
        let Some((rows, hidden)) = self.tables.get(table) else {
            return true;
        };
        let marks = match row {
            None => Some(&hidden.totals),
            Some(label) => rows.get(label).and_then(|&r| hidden.cells.get(r)),
        };
        match marks {
            Some(marks) => marks.get(column).copied().unwrap_or(true),
            None => value != 0,
        }
    }

    /// Whether group `group` of table `table` is hidden in shown column `column`.
    pub fn hides_group(&self, table: &str, group: usize, column: usize) -> bool {
        if self.everything {
            return false;
        }
        self.tables
            .get(table)
            .and_then(|(_, hidden)| hidden.groups.get(group))
            .and_then(|marks| marks.get(column).copied())
            .unwrap_or(true)
    }

    /// The hidden marks, one per table of `tables` in order, as stored: each table's
    /// items in layout order (cells row by row, groups, totals), `1` for hidden.
    pub fn encode(&self, tables: &Tables) -> String {
        let marks: Vec<String> = tables
            .names
            .iter()
            .map(|(name, _)| {
                self.tables.get(name).map_or_else(String::new, |(_, h)| {
                    h.cells
                        .iter()
                        .flatten()
                        .chain(h.groups.iter().flatten())
                        .chain(&h.totals)
                        .map(|&b| if b { '1' } else { '0' })
                        .collect()
                })
            })
            .collect();
        serde_json::Value::from(marks).to_string()
    }

    /// Reads back what [`Protection::encode`] wrote for `tables`; `None` when it does not
    /// fit them.
    pub fn decode(tables: &Tables, text: &str, loss: Loss) -> Option<Self> {
        let marks: Vec<String> = serde_json::from_str(text).ok()?;
        if marks.len() != tables.tables.len() {
            return None;
        }
        let mut hidden = Vec::with_capacity(marks.len());
        for (table, bits) in tables.tables.iter().zip(&marks) {
            let layout = Layout::of(table);
            let flags: Vec<bool> = bits.chars().map(|c| c == '1').collect();
            if flags.len() != layout.len() {
                return None;
            }
            hidden.push(layout.hidden(&flags));
        }
        Some(Self::of(tables, &hidden, loss))
    }

    /// The hidden marks in the order of `tables`, for the attack that checks them.
    pub fn hidden(&self, tables: &Tables) -> Vec<Hidden> {
        tables
            .names
            .iter()
            .zip(&tables.tables)
            .map(|((name, _), table)| {
                self.tables
                    .get(name)
                    .map_or_else(|| Hidden::none(table), |(_, h)| h.clone())
            })
            .collect()
    }
}

/// Protects `tables` (see [`super::protect`]) and measures the loss.
pub fn protect_named(tables: &Tables, threshold: u64) -> Result<Protection> {
    let hidden = super::protect(&tables.populations, &tables.tables, threshold)?;
    let loss = super::loss(&tables.populations, &tables.tables, &hidden, threshold)?;
    Ok(Protection::of(tables, &hidden, loss))
}
