//! Bulk reads and writes on the driver (sqlx) itself.
//!
//! The ORM builds every statement and decodes every row generically. That costs little per
//! row but dominates at a million rows, so the few paths that touch that many (importing the
//! register, loading the lottery's frame, writing a round's letters and their codes) run on
//! the driver directly, in a [`Transaction`] of their own taken from the same pool.
//! Everything else goes through the ORM.

use std::sync::Arc;

use sea_orm::sqlx;
use sea_orm::{DatabaseConnection, DbBackend, DbErr, RuntimeErr};

use crate::error::{AppError, AppResult};

/// A driver transaction on either database.
pub enum Transaction {
    /// PostgreSQL.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    /// SQLite.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

/// Runs `$body` with `$conn` bound to the transaction's connection, whichever database it
/// is: the body is compiled once for each, so it may only use what both drivers offer.
macro_rules! on_connection {
    ($txn:expr, $conn:ident => $body:expr) => {
        match $txn {
            $crate::db::bulk::Transaction::Postgres(txn) => {
                let $conn = &mut **txn;
                $body
            }
            $crate::db::bulk::Transaction::Sqlite(txn) => {
                let $conn = &mut **txn;
                $body
            }
        }
    };
}
pub(crate) use on_connection;

impl Transaction {
    /// Begins a transaction on a connection from `db`'s pool.
    pub async fn begin(db: &DatabaseConnection) -> AppResult<Self> {
        Ok(match db.get_database_backend() {
            DbBackend::Postgres => Self::Postgres(db.get_postgres_connection_pool().begin().await?),
            DbBackend::Sqlite => Self::Sqlite(db.get_sqlite_connection_pool().begin().await?),
            other => {
                return Err(AppError::internal(anyhow::anyhow!(
                    "{other:?} is not supported"
                )));
            }
        })
    }

    /// Commits.
    pub async fn commit(self) -> AppResult<()> {
        match self {
            Self::Postgres(txn) => txn.commit().await?,
            Self::Sqlite(txn) => txn.commit().await?,
        }
        Ok(())
    }

    /// Rolls back (dropping the transaction does too, later).
    pub async fn rollback(self) -> AppResult<()> {
        match self {
            Self::Postgres(txn) => txn.rollback().await?,
            Self::Sqlite(txn) => txn.rollback().await?,
        }
        Ok(())
    }

    /// Which database this is.
    pub fn backend(&self) -> DbBackend {
        match self {
            Self::Postgres(_) => DbBackend::Postgres,
            Self::Sqlite(_) => DbBackend::Sqlite,
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        // Through the ORM's error type, so a unique violation still reads as a conflict.
        DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err))).into()
    }
}

/// `rows` tuples of `columns` anonymous SQLite parameters: `(?, ?), (?, ?)`.
///
/// Large SQLite statements use `?` rather than numbered (`?N`) or named (`$N`) parameters:
/// SQLite finds a numbered parameter's name by walking a list, and the driver asks for
/// every parameter's name, which makes binding thousands of them quadratic. The price is
/// binding a repeated value (a time stamp) once per row.
///
/// Each distinct statement text stays prepared in the connection's cache, and one with
/// thousands of parameters holds a megabyte or more there. Callers therefore cache only
/// their full-size statement and run the odd-sized last one uncached
/// (`Query::persistent(false)`).
pub fn sqlite_rows(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
}

/// Rows that SQLite packed into one JSON array of arrays (`json_group_array(json_array(…))`),
/// decoded; no value (an aggregate over no rows) is no rows.
///
/// The SQLite driver copies every value of every row on its own (an allocation each, handed
/// between threads), which at a million values takes seconds. Packing a page of rows into
/// one JSON text costs SQLite little, and JSON keeps any character a value may hold.
pub fn sqlite_json_rows<T: serde::de::DeserializeOwned>(
    packed: Option<String>,
) -> AppResult<Vec<T>> {
    match packed {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text).map_err(AppError::internal),
    }
}
