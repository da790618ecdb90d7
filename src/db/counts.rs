//! One set of rows counted by several groupings at once: a consultation's invitations by
//! age band, by sex, by ward and so on, each with the stage reached.
//!
//! On PostgreSQL this is one query with `GROUPING SETS`: the rows are read once and
//! counted into every grouping together. SQLite has no grouping sets, so each grouping is
//! its own query, and the queries run side by side on the read pool's connections. Either
//! way the database does the counting; a few rows per category come back.

use sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult, Value};

use crate::db::sql::{count_of, query};
use crate::error::AppResult;

/// One grouping: what each row's category is, as text (`NULL` for unknown).
#[derive(Clone, Debug)]
pub(crate) struct Key {
    /// The category as selected (text).
    pub(crate) select: String,
    /// What SQLite groups by: the same, or the raw column `select` is worked out from
    /// (grouping an integer column and casting it afterwards spares a sort of text).
    /// PostgreSQL groups by `select` itself.
    pub(crate) group: String,
}

impl Key {
    /// A key selected and grouped by the same text expression.
    pub(crate) fn text(sql: impl Into<String>) -> Self {
        let sql = sql.into();
        Self {
            select: sql.clone(),
            group: sql,
        }
    }
}

/// One counted group: which key it belongs to, its category under that key, and the
/// row (the `by` columns follow the keys; see [`Grouped::by`]).
pub(crate) struct Grouped {
    pub(crate) key: usize,
    pub(crate) category: Option<String>,
    row: QueryResult,
    keys: usize,
}

impl Grouped {
    /// The `j`-th of the shared `by` columns.
    pub(crate) fn by<T: sea_orm::TryGetable>(&self, j: usize) -> AppResult<T> {
        Ok(self.row.try_get_by_index(1 + self.keys + j)?)
    }

    /// The number of rows in the group.
    pub(crate) fn count(&self, by: usize) -> AppResult<u64> {
        count_of(&self.row, 1 + self.keys + by)
    }
}

/// The bit `GROUPING(k0, …, kn-1)` leaves clear for the grouping set of key `k`: every
/// other key is not grouped (set), the first argument being the highest bit.
fn mask(keys: usize, k: usize) -> i64 {
    let all = (1_i64 << keys) - 1;
    all ^ (1 << (keys - 1 - k))
}

/// Counts the rows of `from` (a `FROM … WHERE …` clause, parameters in `values`) by
/// each key, each together with the `by` columns. Every result row is laid out as: the
/// grouping tag, one column per key (only its own key's set), the `by` columns, the count.
pub(crate) async fn count_by_each(
    db: &impl ConnectionTrait,
    keys: &[Key],
    by: &[&str],
    from: &str,
    values: Vec<Value>,
) -> AppResult<Vec<Grouped>> {
    let n = keys.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let by_select: String = by.iter().map(|b| format!(", {b}")).collect();
    let rows = match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let selects: Vec<String> = keys.iter().map(|k| k.select.clone()).collect();
            // Group by output positions: a key's expression is written once.
            let shared: String = (0..by.len()).map(|j| format!(", {}", n + 2 + j)).collect();
            let sets: Vec<String> = (0..n).map(|k| format!("({}{shared})", k + 2)).collect();
            query(
                db,
                format!(
                    "SELECT GROUPING({}), {}{by_select}, COUNT(*) {from} \
                     GROUP BY GROUPING SETS ({})",
                    selects.join(", "),
                    selects.join(", "),
                    sets.join(", ")
                ),
                values,
            )
            .await?
        }
        _ => {
            let statements = keys.iter().enumerate().map(|(k, key)| {
                let columns: Vec<&str> = (0..n)
                    .map(|j| if j == k { key.select.as_str() } else { "NULL" })
                    .collect();
                let shared: String = (0..by.len()).map(|j| format!(", {}", n + 2 + j)).collect();
                let group = if key.group == key.select {
                    (k + 2).to_string()
                } else {
                    key.group.clone()
                };
                query(
                    db,
                    format!(
                        "SELECT {}, {}{by_select}, COUNT(*) {from} GROUP BY {}{shared}",
                        mask(n, k),
                        columns.join(", "),
                        group
                    ),
                    values.clone(),
                )
            });
            futures_util::future::try_join_all(statements)
                .await?
                .into_iter()
                .flatten()
                .collect()
        }
    };
    let mut grouped = Vec::with_capacity(rows.len());
    for row in rows {
        let tag: i64 = match row.try_get_by_index::<i64>(0) {
            Ok(tag) => tag,
            Err(_) => i64::from(row.try_get_by_index::<i32>(0)?),
        };
        let Some(key) = (0..n).find(|&k| mask(n, k) == tag) else {
            continue;
        };
        let category: Option<String> = row.try_get_by_index(1 + key)?;
        grouped.push(Grouped {
            key,
            category,
            row,
            keys: n,
        });
    }
    Ok(grouped)
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn each_key_clears_its_own_bit_first_argument_highest() {
        assert_eq!(mask(3, 0), 0b011);
        assert_eq!(mask(3, 1), 0b101);
        assert_eq!(mask(3, 2), 0b110);
        assert_eq!(mask(1, 0), 0);
    }
}
