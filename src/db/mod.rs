//! The database: connections, migrations, entities, and the statements that are written
//! by hand because they touch a million rows or need a backend's own feature.
//!
//! SQLite is the default (a file, created on first start) and PostgreSQL what a council
//! runs in production. Services never branch on which one it is: where the two need
//! different SQL, the operation is a named function in a module here with both forms side
//! by side (`register`, `frame`, `letters`, `round_status`, `queue`, `files`).

pub mod bulk;
pub mod entities;
pub mod files;
pub mod frame;
pub mod letters;
pub mod locks;
pub mod pages;
pub mod queue;
pub mod register;
pub mod round_status;

use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};

use crate::config::DatabaseConfig;

/// How long a statement waits for another process's write lock on an SQLite file.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a caller waits for a pooled connection before giving up with `UNAVAILABLE`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The database, as a writer and readers.
///
/// On PostgreSQL both are the same pool: the server runs many writers at once. SQLite
/// allows one writer at a time, so it gets a pool of exactly one writing connection (a
/// queue instead of `SQLITE_BUSY` failures) beside a pool of read-only connections. In
/// WAL mode readers see the last committed state without waiting for the writer, so
/// `/readyz`, logins' look-ups and reports keep answering while a slice of an import is
/// being written. Writes, and reads that decide a write, go to [`Db::writer`]; pure reads
/// to [`Db::reader`].
#[derive(Clone, Debug)]
pub struct Db {
    writer: DatabaseConnection,
    reader: DatabaseConnection,
}

impl Db {
    /// A handle whose reads and writes share one connection pool (tests that build their
    /// own connection, an in-memory database).
    pub fn single(connection: DatabaseConnection) -> Self {
        Self {
            reader: connection.clone(),
            writer: connection,
        }
    }

    /// For writes, and for reads whose answer decides a write.
    pub fn writer(&self) -> &DatabaseConnection {
        &self.writer
    }

    /// For reads only. On SQLite these connections are opened read-only.
    pub fn reader(&self) -> &DatabaseConnection {
        &self.reader
    }

    /// Which database this is.
    pub fn backend(&self) -> DbBackend {
        self.writer.get_database_backend()
    }

    /// Calls `callback` after every statement either pool runs (the tests count queries
    /// with it). Set it before the handle is cloned: clones made earlier keep none.
    pub fn set_metric_callback<F>(&mut self, callback: F)
    where
        F: Fn(&sea_orm::metric::Info<'_>) + Send + Sync + Clone + 'static,
    {
        self.writer.set_metric_callback(callback.clone());
        self.reader.set_metric_callback(callback);
    }

    /// Closes both pools.
    pub async fn close(self) {
        if let Err(err) = self.reader.close().await {
            tracing::warn!(error = %err, "closing the read pool failed");
        }
        if let Err(err) = self.writer.close().await {
            tracing::warn!(error = %err, "closing the write pool failed");
        }
    }
}

/// Opens the database.
pub async fn connect(config: &DatabaseConfig) -> Result<Db, DbErr> {
    connect_with(config, None).await
}

/// Like [`connect`], but PostgreSQL connections use `schema` as their search path (each
/// test gets a schema of its own).
pub async fn connect_with(config: &DatabaseConfig, schema: Option<&str>) -> Result<Db, DbErr> {
    let url = &config.database_url;
    if !is_sqlite(url) {
        let mut options = base_options(url);
        options.max_connections(config.db_max_connections.max(1));
        if let Some(schema) = schema {
            options.set_schema_search_path(schema.to_owned());
        }
        return Ok(Db::single(Database::connect(options).await?));
    }
    let mut writer = base_options(url);
    writer
        .max_connections(1)
        .min_connections(1)
        // An in-memory database lives only as long as its connection.
        .idle_timeout(None::<Duration>)
        .max_lifetime(None::<Duration>)
        .map_sqlx_sqlite_opts(|opts| {
            opts.foreign_keys(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                // Rows cross from the driver's SQLite thread in a bounded channel; a deep
                // one lets a million-row read run without a hand-off per row.
                .row_buffer_size(4_096)
        });
    // The writer opens (and creates) the file and switches it to WAL before any reader.
    let writer = Database::connect(writer).await?;
    if is_in_memory(url) {
        return Ok(Db::single(writer));
    }
    let mut reader = base_options(url);
    reader
        .max_connections(config.db_max_connections.max(1))
        .min_connections(1)
        .map_sqlx_sqlite_opts(|opts| {
            opts.read_only(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .row_buffer_size(4_096)
        });
    let reader = Database::connect(reader).await?;
    Ok(Db { writer, reader })
}

fn base_options(url: &str) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(ACQUIRE_TIMEOUT);
    options
}

/// Whether a URL names an SQLite database.
pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Whether an SQLite URL names an in-memory database (which has no file for readers).
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// The file of an SQLite URL (`sqlite://path?mode=rwc` → `path`), if it names one.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if !is_sqlite(url) || is_in_memory(url) {
        return None;
    }
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split(['?', '#']).next().unwrap_or(rest);
    (!path.is_empty()).then(|| std::path::PathBuf::from(path))
}

/// Brings the schema up to date. Safe to run on every start: applied migrations are skipped.
pub async fn migrate(db: &Db) -> Result<(), DbErr> {
    Migrator::up(db.writer(), None).await
}

/// Whether the database answers (for `/readyz`), through a read connection.
pub async fn ping(db: &Db) -> Result<(), DbErr> {
    db.reader().execute_unprepared("SELECT 1").await.map(|_| ())
}
