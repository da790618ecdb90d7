//! Relay connections with a capped page size. Rows are paged by id (keyset paging: a
//! cursor is the last row's global ID), so a page costs the same however deep it is and
//! rows added meanwhile never shift a page.

use async_graphql::OutputType;
use async_graphql::connection::{Connection, Edge};

use crate::error::{AppError, AppResult};
use crate::graphql::id::{self, GlobalId};

/// Page size when `first` is not given.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u64 = 100;

/// Validated paging arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// Rows to return.
    pub first: u64,
    /// Return rows after this one (in the list's order).
    pub after: Option<T>,
}

impl<T: GlobalId> Page<T> {
    /// Checks `first` (1 to [`MAX_PAGE_SIZE`]) and decodes the `after` cursor.
    pub fn parse(first: Option<i32>, after: Option<&str>) -> AppResult<Self> {
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
            .map(|cursor| id::decode::<T>(cursor, "after"))
            .transpose()?;
        Ok(Self { first, after })
    }

    /// The connection for rows fetched with `limit = first` (so up to `first + 1` rows:
    /// one more than the page tells that another page follows), each row becoming a node
    /// whose cursor is its ID.
    pub fn connection<R, N: OutputType>(
        &self,
        mut rows: Vec<R>,
        id_of: impl Fn(&R) -> T,
        node: impl Fn(R) -> N,
    ) -> Connection<String, N> {
        let has_next = rows.len() as u64 > self.first;
        rows.truncate(usize::try_from(self.first).unwrap_or(usize::MAX));
        let mut connection = Connection::new(self.after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(id::encode(id_of(&row)).0, node(row))),
        );
        connection
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
