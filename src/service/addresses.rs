//! Importing the council's address register.
//!
//! The CSV is parsed on a blocking thread (see `domain::address_csv`) and handed over in
//! batches to the database writer, so parsing and writing overlap. The whole import is one
//! transaction: a file refused part-way (too many rows, an I/O error) leaves nothing
//! behind, while individual bad rows are skipped and reported with their line numbers.
//! Re-importing the same file changes nothing; a row whose fields changed is updated in
//! place (matched by address key).
//!
//! Writing goes through the driver itself (see `db::bulk`): PostgreSQL receives the rows
//! by `COPY`, SQLite in multi-row statements.

use std::io::Read;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, sqlx};
use tokio::sync::mpsc;

use crate::db::bulk;
use crate::db::entities::address;
use crate::domain::address_csv::{AddressCsvReader, AddressRecord, FatalError, RowRejection};
use crate::error::{AppError, AppResult};
use crate::service::clock::Clock;

/// How an import runs.
#[derive(Clone, Copy, Debug)]
pub struct ImportOptions {
    /// Refuse files with more data rows than this (nothing is written).
    pub max_rows: u64,
    /// Rows handed from the parser to the writer at a time (one statement on SQLite, one
    /// `COPY` message on PostgreSQL).
    pub batch_size: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            max_rows: 2_000_000,
            batch_size: 1_000,
        }
    }
}

/// At most this many rejected rows are listed in a summary (all are counted).
pub const MAX_LISTED_REJECTIONS: usize = 1_000;

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Data rows read.
    pub rows_read: u64,
    /// New addresses.
    pub inserted: u64,
    /// Existing addresses whose fields changed.
    pub updated: u64,
    /// Existing addresses re-imported as they were.
    pub unchanged: u64,
    /// Rows refused.
    pub rejected_count: u64,
    /// The first [`MAX_LISTED_REJECTIONS`] refused rows, with line numbers and reasons.
    pub rejected: Vec<RowRejection>,
}

/// Progress callback: bytes read so far, rows read so far.
pub type Progress = Box<dyn Fn(u64, u64) + Send>;

enum Message {
    Batch {
        records: Vec<AddressRecord>,
        rejections: Vec<RowRejection>,
    },
    Failed(AppError),
    /// The whole file was read; without it the parser stopped early (it panicked).
    Done,
}

fn file_error(message: impl Into<String>) -> AppError {
    AppError::bad_input("file", message)
}

/// Parses on a blocking thread, sending batches until the file ends or fails.
fn parse_in_background<R: Read + Send + 'static>(
    reader: R,
    options: ImportOptions,
    progress: Option<Progress>,
) -> mpsc::Receiver<Message> {
    let (sender, receiver) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut csv = match AddressCsvReader::new(reader, options.max_rows) {
            Ok(csv) => csv,
            Err(err) => {
                let _ = sender.blocking_send(Message::Failed(file_error(err.to_string())));
                return;
            }
        };
        let mut records = Vec::with_capacity(options.batch_size);
        let mut rejections = Vec::new();
        loop {
            match csv.next_row() {
                Ok(Some(Ok(record))) => records.push(record),
                Ok(Some(Err(rejection))) => rejections.push(rejection),
                Ok(None) => break,
                Err(fatal) => {
                    let message = match fatal {
                        FatalError::TooManyRows { limit } => format!(
                            "The file has more than {limit} rows; nothing was imported. \
                             Split it, or raise the limit."
                        ),
                        other => format!("The file could not be read: {other}."),
                    };
                    let _ = sender.blocking_send(Message::Failed(file_error(message)));
                    return;
                }
            }
            if records.len() >= options.batch_size {
                if let Some(progress) = &progress {
                    progress(csv.bytes_read(), csv.rows_read());
                }
                let batch = Message::Batch {
                    records: std::mem::replace(
                        &mut records,
                        Vec::with_capacity(options.batch_size),
                    ),
                    rejections: std::mem::take(&mut rejections),
                };
                if sender.blocking_send(batch).is_err() {
                    return;
                }
            }
        }
        if let Some(progress) = &progress {
            progress(csv.bytes_read(), csv.rows_read());
        }
        let _ = sender.blocking_send(Message::Batch {
            records,
            rejections,
        });
        let _ = sender.blocking_send(Message::Done);
    });
    receiver
}

/// Imports an address register CSV. See the module documentation.
pub async fn import(
    db: &DatabaseConnection,
    clock: &Clock,
    reader: impl Read + Send + 'static,
    options: ImportOptions,
    progress: Option<Progress>,
) -> AppResult<ImportSummary> {
    let mut batches = Batches {
        receiver: parse_in_background(reader, options, progress),
        summary: ImportSummary::default(),
    };
    let now = clock.now();
    let mut txn = bulk::Transaction::begin(db).await?;
    let written = match &mut txn {
        bulk::Transaction::Postgres(conn) => write_postgres(conn, &mut batches, now).await,
        bulk::Transaction::Sqlite(conn) => write_sqlite(conn, &mut batches, now).await,
    };
    let mut summary = match written {
        Ok(()) => batches.summary,
        Err(err) => {
            // The refusal is what the caller needs to see; a failed rollback (the
            // connection broke) still discards the transaction.
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!(error = ?rollback, "rolling back an import failed");
            }
            return Err(err);
        }
    };
    summary.rows_read += summary.rejected_count;
    let postgres = txn.backend() == DbBackend::Postgres;
    txn.commit().await?;
    if postgres && summary.inserted + summary.updated > 0 {
        // The planner's statistics still describe the register before this import. The
        // import is done, so they are refreshed in the background (autovacuum would get
        // there too, within a minute or so).
        let db = db.clone();
        tokio::spawn(async move {
            if let Err(err) = db.execute_unprepared("ANALYZE addresses").await {
                tracing::warn!(error = %err, "refreshing the register's statistics failed");
            }
        });
    }
    tracing::info!(
        inserted = summary.inserted,
        updated = summary.updated,
        unchanged = summary.unchanged,
        rejected = summary.rejected_count,
        "address register imported"
    );
    Ok(summary)
}

/// The parser's batches, with the rows read and rejected so far.
struct Batches {
    receiver: mpsc::Receiver<Message>,
    summary: ImportSummary,
}

impl Batches {
    /// The next batch of valid rows, or `None` once the whole file was read.
    async fn next(&mut self) -> AppResult<Option<Vec<AddressRecord>>> {
        match self.receiver.recv().await {
            Some(Message::Batch {
                records,
                rejections,
            }) => {
                let summary = &mut self.summary;
                summary.rejected_count += rejections.len() as u64;
                let room = MAX_LISTED_REJECTIONS.saturating_sub(summary.rejected.len());
                summary.rejected.extend(rejections.into_iter().take(room));
                summary.rows_read += records.len() as u64;
                Ok(Some(records))
            }
            Some(Message::Done) => Ok(None),
            Some(Message::Failed(err)) => Err(err),
            None => Err(AppError::internal(anyhow::anyhow!(
                "the CSV parser stopped before the end of the file"
            ))),
        }
    }
}

/// The columns a row fills, in the order they are written.
const COLUMNS: &str = "address_key, line1, line2, line3, town, postcode, ward_code, \
                       deprivation_decile, household_key";

/// The columns an import may change in an existing address.
const UPDATED: [&str; 8] = [
    "line1",
    "line2",
    "line3",
    "town",
    "postcode",
    "ward_code",
    "deprivation_decile",
    "household_key",
];

/// `INSERT … SELECT`/`VALUES` tail that updates an existing address only when one of its
/// fields differs (`distinct` is the database's null-safe inequality), so rows affected
/// counts exactly the inserted and the changed addresses.
fn upsert_clause(distinct: &str) -> String {
    let set: Vec<String> = UPDATED
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let changed: Vec<String> = UPDATED
        .iter()
        .map(|c| format!("addresses.{c} {distinct} excluded.{c}"))
        .collect();
    format!(
        " ON CONFLICT (address_key) DO UPDATE SET {}, updated_at = excluded.updated_at WHERE {}",
        set.join(", "),
        changed.join(" OR ")
    )
}

/// Counts a batch's outcome from how many of its keys already existed and how many rows
/// the upsert inserted or changed.
fn tally(summary: &mut ImportSummary, rows: u64, existing: u64, affected: u64) {
    let inserted = rows - existing.min(rows);
    let updated = affected.saturating_sub(inserted);
    summary.inserted += inserted;
    summary.updated += updated;
    summary.unchanged += existing.saturating_sub(updated);
}

/// The advisory lock key that serialises register imports on PostgreSQL ("addr" in ASCII).
const IMPORT_LOCK: i64 = 0x6164_6472;

/// PostgreSQL: `COPY` straight into an empty register; otherwise `COPY` into a temporary
/// table and one upsert from it.
async fn write_postgres(
    conn: &mut sqlx::PgConnection,
    batches: &mut Batches,
    now: DateTime<Utc>,
) -> AppResult<()> {
    // One import at a time, by a transaction-scoped advisory lock (only imports write the
    // register): its emptiness and the counts below stay true until this import commits,
    // while readers, the lottery and the statistics refresh carry on.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(IMPORT_LOCK)
        .execute(&mut *conn)
        .await?;
    let empty: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM addresses)")
        .fetch_one(&mut *conn)
        .await?;
    let stamp = now.to_rfc3339();
    let copy = if empty {
        format!("COPY addresses ({COLUMNS}, created_at, updated_at) FROM STDIN")
    } else {
        sqlx::query(
            "CREATE TEMPORARY TABLE address_import (address_key text, line1 text, \
             line2 text, line3 text, town text, postcode text, ward_code text, \
             deprivation_decile smallint, household_key text) ON COMMIT DROP",
        )
        .execute(&mut *conn)
        .await?;
        format!("COPY address_import ({COLUMNS}) FROM STDIN")
    };
    let mut sink = conn.copy_in_raw(&copy).await?;
    let mut rows = 0u64;
    let mut buffer = Vec::new();
    loop {
        let records = match batches.next().await {
            Ok(Some(records)) => records,
            Ok(None) => break,
            Err(err) => {
                // The refusal is the error to report, even if the connection broke.
                if let Err(abort) = sink.abort("the import was refused").await {
                    tracing::warn!(error = %abort, "abandoning the COPY failed");
                }
                return Err(err);
            }
        };
        buffer.clear();
        for record in &records {
            copy_text_row(&mut buffer, record, empty.then_some(stamp.as_str()));
        }
        rows += records.len() as u64;
        sink.send(buffer.as_slice()).await?;
    }
    sink.finish().await?;
    if empty {
        batches.summary.inserted += rows;
        return Ok(());
    }
    let existing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM address_import JOIN addresses USING (address_key)",
    )
    .fetch_one(&mut *conn)
    .await?;
    let sql = format!(
        "INSERT INTO addresses ({COLUMNS}, created_at, updated_at) \
         SELECT {COLUMNS}, $1, $1 FROM address_import{}",
        upsert_clause("IS DISTINCT FROM")
    );
    let affected = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    tally(
        &mut batches.summary,
        rows,
        u64::try_from(existing).unwrap_or(0),
        affected,
    );
    Ok(())
}

/// Appends one row in `COPY`'s text format: tab-separated, `\N` for NULL, with
/// backslashes, tabs and line breaks escaped.
fn copy_text_row(buffer: &mut Vec<u8>, record: &AddressRecord, stamp: Option<&str>) {
    fn field(buffer: &mut Vec<u8>, value: Option<&str>) {
        let Some(value) = value else {
            buffer.extend_from_slice(b"\\N");
            return;
        };
        for byte in value.bytes() {
            match byte {
                b'\\' => buffer.extend_from_slice(b"\\\\"),
                b'\t' => buffer.extend_from_slice(b"\\t"),
                b'\n' => buffer.extend_from_slice(b"\\n"),
                b'\r' => buffer.extend_from_slice(b"\\r"),
                other => buffer.push(other),
            }
        }
    }
    let decile = record.deprivation_decile.map(|d| d.to_string());
    let fields = [
        Some(record.address_key.as_str()),
        Some(record.line1.as_str()),
        record.line2.as_deref(),
        record.line3.as_deref(),
        record.town.as_deref(),
        Some(record.postcode.as_str()),
        Some(record.ward_code.as_str()),
        decile.as_deref(),
        Some(record.household_key.as_str()),
    ];
    for (i, value) in fields.into_iter().enumerate() {
        if i > 0 {
            buffer.push(b'\t');
        }
        field(buffer, value);
    }
    if let Some(stamp) = stamp {
        for _ in 0..2 {
            buffer.push(b'\t');
            field(buffer, Some(stamp));
        }
    }
    buffer.push(b'\n');
}

/// SQLite: multi-row upserts, one per batch (or per 2,978 rows, SQLite's limit of 32,766
/// parameters at 11 a row). Into an empty register every row is new (the parser has refused
/// keys repeated within the file); otherwise each statement first counts its existing keys.
async fn write_sqlite(
    conn: &mut sqlx::SqliteConnection,
    batches: &mut Batches,
    now: DateTime<Utc>,
) -> AppResult<()> {
    const MAX_ROWS: usize = 32_766 / 11;
    let empty: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM addresses)")
        .fetch_one(&mut *conn)
        .await?;
    // Still an upsert when the register was empty: another process importing into the
    // same file at the same moment then updates rather than fails.
    let upsert = upsert_clause("IS NOT");
    // The time stamp as the driver would write it, formatted once.
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
    // The same text for every full batch, so SQLite prepares it once; only that size is
    // kept in the connection's statement cache (see `bulk::sqlite_rows`).
    let mut statements: Option<(usize, String, String)> = None;
    let mut full_size = None;
    while let Some(mut records) = batches.next().await? {
        while !records.is_empty() {
            let rest = records.split_off(records.len().min(MAX_ROWS));
            let chunk = std::mem::replace(&mut records, rest);
            let rows = chunk.len();
            let cached = *full_size.get_or_insert(rows) == rows;
            let (_, insert, count) = match &mut statements {
                Some(built) if built.0 == rows => built,
                slot => slot.insert((rows, insert_sql(rows, &upsert), count_sql(rows))),
            };
            let existing: i64 = if empty {
                0
            } else {
                let mut query =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(count.clone())).persistent(cached);
                for record in &chunk {
                    query = query.bind(record.address_key.as_str());
                }
                query.fetch_one(&mut *conn).await?
            };
            let mut query = sqlx::query(sqlx::AssertSqlSafe(insert.clone())).persistent(cached);
            for r in chunk {
                query = query
                    .bind(r.address_key)
                    .bind(r.line1)
                    .bind(r.line2)
                    .bind(r.line3)
                    .bind(r.town)
                    .bind(r.postcode.as_str().to_owned())
                    .bind(r.ward_code)
                    .bind(r.deprivation_decile)
                    .bind(r.household_key)
                    .bind(stamp.clone())
                    .bind(stamp.clone());
            }
            let affected = query.execute(&mut *conn).await?.rows_affected();
            let existing = u64::try_from(existing).unwrap_or(0);
            tally(&mut batches.summary, rows as u64, existing, affected);
        }
    }
    Ok(())
}

/// `INSERT` of `rows` addresses, 11 values a row (see [`bulk::sqlite_rows`]).
fn insert_sql(rows: usize, upsert: &str) -> String {
    format!(
        "INSERT INTO addresses ({COLUMNS}, created_at, updated_at) VALUES {}{upsert}",
        bulk::sqlite_rows(rows, 11)
    )
}

/// How many of `rows` address keys exist already.
fn count_sql(rows: usize) -> String {
    format!(
        "SELECT count(*) FROM addresses WHERE address_key IN {}",
        bulk::sqlite_rows(1, rows)
    )
}

/// How many addresses the register holds.
pub async fn count(db: &impl ConnectionTrait) -> AppResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(address::Entity::find().count(db).await?)
}
