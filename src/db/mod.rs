//! Database connection and migrations. SQLite by default, PostgreSQL when the URL says so.

pub mod bulk;
pub mod entities;

use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};

use crate::config::DatabaseConfig;

/// Opens a connection pool.
///
/// SQLite gets one pooled connection: SQLite allows one writer at a time, and a single
/// connection turns would-be `SQLITE_BUSY` failures into an orderly queue. WAL mode keeps
/// readers of the file (backups, the CLI) from blocking it. Foreign keys are switched on,
/// which SQLite does not do by default.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    connect_with(config, None).await
}

/// Like [`connect`], but PostgreSQL connections use `schema` as their search path (each
/// test gets a schema of its own).
pub async fn connect_with(
    config: &DatabaseConfig,
    schema: Option<&str>,
) -> Result<DatabaseConnection, DbErr> {
    let url = &config.database_url;
    let mut options = ConnectOptions::new(url.clone());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if is_sqlite(url) {
        options
            .max_connections(1)
            .min_connections(1)
            // An in-memory database lives only as long as its connection.
            .idle_timeout(None::<Duration>)
            .max_lifetime(None::<Duration>)
            .map_sqlx_sqlite_opts(|opts| {
                opts.foreign_keys(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    // Rows cross from the driver's SQLite thread in a bounded channel; a
                    // deep one lets a million-row read run without a hand-off per row.
                    .row_buffer_size(4_096)
            });
    } else {
        options.max_connections(config.db_max_connections.max(1));
        if let Some(schema) = schema {
            options.set_schema_search_path(schema.to_owned());
        }
    }
    Database::connect(options).await
}

/// Whether a URL names an SQLite database.
pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Brings the schema up to date. Safe to run on every start: applied migrations are skipped.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Whether the database answers (for `/readyz`).
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}
