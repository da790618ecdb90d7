//! What the hand-written statements share: the backend, a driver (sqlx) transaction on
//! either database, and the SQLite statement helpers.
//!
//! The ORM builds every statement and decodes every row generically. That costs little per
//! row but dominates at a million rows, so the few paths that touch that many (importing the
//! register, loading the lottery's frame, writing a round's letters and their codes) run on
//! the driver directly, in the modules beside this one, each operation a named function
//! with its SQLite and PostgreSQL forms side by side. Everything else goes through the ORM.

use sea_orm::sqlx;
use sea_orm::{DatabaseConnection, DbBackend};

use crate::error::{AppError, AppResult};

/// A driver transaction on either database.
pub enum Transaction {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

/// Which database a connection talks to, for the few statements written for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The backend of `db`; anything else is refused (only these two are built in).
    pub fn of(db: &DatabaseConnection) -> AppResult<Self> {
        match db.get_database_backend() {
            DbBackend::Postgres => Ok(Self::Postgres),
            DbBackend::Sqlite => Ok(Self::Sqlite),
            other => Err(AppError::internal(anyhow::anyhow!(
                "{other:?} is not supported"
            ))),
        }
    }
}

impl Transaction {
    /// Begins a transaction on a connection from `db`'s pool.
    pub async fn begin(db: &DatabaseConnection) -> AppResult<Self> {
        Ok(match Backend::of(db)? {
            Backend::Postgres => Self::Postgres(db.get_postgres_connection_pool().begin().await?),
            Backend::Sqlite => Self::Sqlite(db.get_sqlite_connection_pool().begin().await?),
        })
    }

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
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
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
