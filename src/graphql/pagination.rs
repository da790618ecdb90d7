//! Relay-style paging arguments with a capped page size.

use crate::error::{AppError, AppResult};
use crate::graphql::id;

/// Page size when `first` is not given.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u64 = 100;

/// Validated paging arguments over rows ordered by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// Rows to return.
    pub first: u64,
    /// Return rows with ids greater than this.
    pub after: Option<i64>,
}

impl Page {
    /// Checks `first` (1 to [`MAX_PAGE_SIZE`]) and decodes the `after` cursor of `kind`.
    pub fn parse(kind: &str, first: Option<i32>, after: Option<&str>) -> AppResult<Self> {
        let first = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if n >= 1 && i64::from(n) <= MAX_PAGE_SIZE as i64 => n.unsigned_abs().into(),
            Some(_) => {
                return Err(AppError::bad_input(
                    "first",
                    format!("first must be between 1 and {MAX_PAGE_SIZE}."),
                ));
            }
        };
        let after = after
            .map(|cursor| id::decode(kind, cursor, "after"))
            .transpose()?;
        Ok(Self { first, after })
    }
}

/// Complexity of a connection field: its children counted once per requested row.
pub fn connection_complexity(first: Option<i32>, child_complexity: usize) -> usize {
    let rows = first.map_or(DEFAULT_PAGE_SIZE, |n| {
        u64::from(n.unsigned_abs()).min(MAX_PAGE_SIZE)
    });
    usize::try_from(rows)
        .unwrap_or(usize::MAX)
        .saturating_mul(child_complexity.max(1))
}
