//! The database: connections, migrations, entities, and every statement written by hand
//! (because it touches a million rows, needs a backend's own feature, or counts by groups);
//! services call these by name and hold no SQL (`tests/api/layers.rs` checks).
//!
//! SQLite is the default (a file, created on first start) and PostgreSQL what a council
//! runs in production. Services never branch on which one it is: where the two need
//! different SQL, the operation is a named function in a module here with both forms side
//! by side (`register`, `frame`, `letters`, `round_status`, `queue`, `files`, `reports`).

pub mod bulk;
pub mod counts;
pub mod entities;
pub mod files;
pub mod frame;
pub mod group_commit;
pub mod invitations;
pub mod letters;
pub mod locks;
pub mod pages;
pub mod panels;
pub mod publications;
pub mod queue;
pub mod register;
pub mod reports;
pub mod responses;
pub mod round_status;
pub mod sql;
pub mod submissions;
pub mod tracking;
pub mod values;
pub mod views;

use std::sync::Arc;
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
///
/// A file database also gets a [`Checkpointer`], so that the writer's commits rarely wait
/// for the disk.
#[derive(Clone, Debug)]
pub struct Db {
    writer: DatabaseConnection,
    reader: DatabaseConnection,
    /// Stops when the last handle is dropped.
    checkpointer: Option<Arc<Checkpointer>>,
}

/// How often the [`Checkpointer`] copies the write-ahead log into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// Copies an SQLite file's write-ahead log into the database from a connection of its own.
///
/// SQLite otherwise does it at the end of the commit that takes the log past 1,000 pages,
/// on the writer's connection: that commit then waits for two flushes to the disk, and
/// every write queued behind it with it (under 10,000 tracking events a second, one batch
/// in two hundred took 5–10 ms that way). A passive checkpoint every 50 ms, beside the
/// writer, keeps the log short without holding the writer up; SQLite's own checkpoint at
/// 1,000 pages stays as the backstop. Checkpoints never block readers or the writer, and
/// one that finds the log in use simply copies what it can.
#[derive(Debug)]
struct Checkpointer {
    task: tokio::task::JoinHandle<()>,
}

impl Checkpointer {
    async fn start(url: &str) -> Result<Self, DbErr> {
        let mut options = base_options(url);
        options
            .max_connections(1)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|opts| opts.busy_timeout(SQLITE_BUSY_TIMEOUT));
        let connection = Database::connect(options).await?;
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECKPOINT_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(error) = connection
                    .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                    .await
                {
                    tracing::debug!(error = %error, "a background checkpoint failed");
                }
            }
        });
        Ok(Self { task })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Its connection goes with the task.
        self.task.abort();
    }
}

impl Db {
    /// A handle whose reads and writes share one connection pool (tests that build their
    /// own connection, an in-memory database).
    pub fn single(connection: DatabaseConnection) -> Self {
        Self {
            reader: connection.clone(),
            writer: connection,
            checkpointer: None,
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

    /// Closes both pools (and stops the checkpointer, once no other handle holds it).
    pub async fn close(self) {
        drop(self.checkpointer);
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
    let checkpointer = Checkpointer::start(url).await?;
    Ok(Db {
        writer,
        reader,
        checkpointer: Some(Arc::new(checkpointer)),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes some 50 pages to a fresh table: far below the 1,000 pages at which the
    /// writer's own commit would copy the log into the database file.
    async fn write_pages(writer: &DatabaseConnection) {
        writer
            .execute_unprepared("CREATE TABLE filler (x TEXT)")
            .await
            .unwrap();
        writer
            .execute_unprepared(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) \
                 INSERT INTO filler SELECT hex(randomblob(1000)) FROM n",
            )
            .await
            .unwrap();
    }

    /// How big the database file (not its log) is once `for_up_to` has passed, or as soon
    /// as it reaches `enough` bytes.
    async fn file_len(path: &std::path::Path, enough: u64, for_up_to: Duration) -> u64 {
        let until = tokio::time::Instant::now() + for_up_to;
        loop {
            let len = std::fs::metadata(path).map_or(0, |m| m.len());
            if len >= enough || tokio::time::Instant::now() >= until {
                return len;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_file_database_copies_its_log_beside_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let enough = 150_000;
        // Without the checkpointer, the rows stay in the log.
        let alone = dir.path().join("alone.db");
        let mut options = base_options(&format!("sqlite://{}?mode=rwc", alone.display()));
        options.max_connections(1).map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        });
        let writer = Database::connect(options).await.unwrap();
        write_pages(&writer).await;
        let len = file_len(&alone, enough, Duration::from_millis(500)).await;
        assert!(len < enough, "{len} bytes copied with no checkpointer");
        // With it, they reach the database file within moments.
        let served = dir.path().join("served.db");
        let config = DatabaseConfig {
            database_url: format!("sqlite://{}?mode=rwc", served.display()),
            db_max_connections: 2,
        };
        let db = connect(&config).await.unwrap();
        write_pages(db.writer()).await;
        let len = file_len(&served, enough, Duration::from_secs(10)).await;
        assert!(len >= enough, "only {len} bytes in the database file");
        db.close().await;
    }
}
