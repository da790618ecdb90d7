//! Writing the address register: the one operation that stores a million rows at a time.
//!
//! Both forms take the parser's batches as they come, so parsing and writing overlap, and
//! count each row as inserted, updated (a field changed) or unchanged.
//!
//! - **PostgreSQL** receives the rows by `COPY` in one transaction: straight into an empty
//!   register, otherwise into a temporary table and then one upsert from it. A long
//!   transaction there holds no lock that logins or registrations wait for.
//! - **SQLite** has one writer for the whole file, so a transaction held for the whole
//!   import would stall every login and registration behind it. Each batch is written in
//!   a transaction of its own (multi-row upserts), and the writer is free between batches.
//!   The caller checks the whole file first (`service::register::addresses`), so a file refused as a
//!   whole still writes nothing.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, sqlx};

use crate::db::bulk;
use crate::domain::register::address_csv::AddressRecord;
use crate::error::AppResult;

/// Where the rows come from: the parser's batches, in file order.
pub trait RecordBatches {
    /// The next batch of valid rows, or `None` once the whole file was read.
    fn next_batch(&mut self) -> impl Future<Output = AppResult<Option<Vec<AddressRecord>>>> + Send;
}

/// What writing the rows did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// New addresses.
    pub inserted: u64,
    /// Existing addresses whose fields changed.
    pub updated: u64,
    /// Existing addresses written again as they were.
    pub unchanged: u64,
}

impl WriteCounts {
    /// Counts a statement's outcome from how many of its keys already existed and how many
    /// rows the upsert inserted or changed.
    fn add(&mut self, rows: u64, existing: u64, affected: u64) {
        let inserted = rows - existing.min(rows);
        let updated = affected.saturating_sub(inserted);
        self.inserted += inserted;
        self.updated += updated;
        self.unchanged += existing.saturating_sub(updated);
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

/// Writes every batch into the register (see the module documentation).
pub async fn write(
    db: &DatabaseConnection,
    batches: &mut impl RecordBatches,
    now: DateTime<Utc>,
) -> AppResult<WriteCounts> {
    match bulk::Backend::of(db)? {
        bulk::Backend::Postgres => write_postgres(db, batches, now).await,
        bulk::Backend::Sqlite => write_sqlite(db, batches, now).await,
    }
}

/// The advisory lock key that serialises register imports on PostgreSQL ("addr" in ASCII).
const IMPORT_LOCK: i64 = 0x6164_6472;

/// PostgreSQL: `COPY` straight into an empty register; otherwise `COPY` into a temporary
/// table and one upsert from it. One transaction.
async fn write_postgres(
    db: &DatabaseConnection,
    batches: &mut impl RecordBatches,
    now: DateTime<Utc>,
) -> AppResult<WriteCounts> {
    let mut txn = db.get_postgres_connection_pool().begin().await?;
    match copy_postgres(&mut txn, batches, now).await {
        Ok(counts) => {
            txn.commit().await?;
            Ok(counts)
        }
        Err(err) => {
            // The refusal is what the caller needs to see; a failed rollback (the
            // connection broke) still discards the transaction.
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!(error = ?rollback, "rolling back an import failed");
            }
            Err(err)
        }
    }
}

async fn copy_postgres(
    conn: &mut sqlx::PgConnection,
    batches: &mut impl RecordBatches,
    now: DateTime<Utc>,
) -> AppResult<WriteCounts> {
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
        let records = match batches.next_batch().await {
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
    let mut counts = WriteCounts::default();
    if empty {
        counts.inserted = rows;
        return Ok(counts);
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
    counts.add(rows, u64::try_from(existing).unwrap_or(0), affected);
    Ok(counts)
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

/// Rows in one SQLite statement at most: its limit of 32,766 parameters at 11 a row.
const SQLITE_MAX_ROWS: usize = 32_766 / 11;

/// Rows written in one SQLite transaction before the writer is let go: about a fiftieth
/// of a second's work, so a login waits at most that long, while commits stay few enough
/// not to slow the import.
const SQLITE_SLICE_ROWS: usize = 10_000;

/// SQLite: short transactions of about [`SQLITE_SLICE_ROWS`] rows, each made of
/// multi-row upserts (split at [`SQLITE_MAX_ROWS`]). Into a register that was empty every row is new (the parser has
/// refused keys repeated within the file); otherwise each statement first counts its
/// existing keys.
async fn write_sqlite(
    db: &DatabaseConnection,
    batches: &mut impl RecordBatches,
    now: DateTime<Utc>,
) -> AppResult<WriteCounts> {
    let pool = db.get_sqlite_connection_pool();
    let empty: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM addresses)")
        .fetch_one(pool)
        .await?;
    // Still an upsert when the register was empty: another process importing into the
    // same file at the same moment then updates rather than fails.
    let upsert = upsert_clause("IS NOT");
    // The time stamp as the driver would write it, formatted once.
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
    let mut statements = SqliteStatements::new(upsert);
    let mut counts = WriteCounts::default();
    let mut slice: Option<(sqlx::Transaction<'static, sqlx::Sqlite>, usize)> = None;
    while let Some(mut records) = batches.next_batch().await? {
        let (txn, written) = match &mut slice {
            Some(open) => open,
            None => slice.insert((pool.begin().await?, 0)),
        };
        *written += records.len();
        while !records.is_empty() {
            let rest = records.split_off(records.len().min(SQLITE_MAX_ROWS));
            let chunk = std::mem::replace(&mut records, rest);
            let rows = chunk.len();
            let (cached, insert, count) = statements.for_rows(rows);
            let existing: i64 = if empty {
                0
            } else {
                let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(count)).persistent(cached);
                for record in &chunk {
                    query = query.bind(record.address_key.as_str());
                }
                query.fetch_one(&mut **txn).await?
            };
            let mut query = sqlx::query(sqlx::AssertSqlSafe(insert)).persistent(cached);
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
            let affected = query.execute(&mut **txn).await?.rows_affected();
            counts.add(rows as u64, u64::try_from(existing).unwrap_or(0), affected);
        }
        if *written >= SQLITE_SLICE_ROWS
            && let Some((txn, _)) = slice.take()
        {
            txn.commit().await?;
        }
    }
    if let Some((txn, _)) = slice {
        txn.commit().await?;
    }
    Ok(counts)
}

/// The SQLite statements for a number of rows, built once per size.
///
/// The same text for every full batch lets SQLite prepare it once; only the first size
/// seen (the full batch) is kept in the connection's statement cache, since a statement
/// with thousands of parameters holds megabytes there (see [`bulk::sqlite_rows`]).
struct SqliteStatements {
    upsert: String,
    full_size: Option<usize>,
    built: Option<(usize, String, String)>,
}

impl SqliteStatements {
    fn new(upsert: String) -> Self {
        Self {
            upsert,
            full_size: None,
            built: None,
        }
    }

    /// Whether to cache, the upsert and the count of existing keys, for `rows` rows.
    fn for_rows(&mut self, rows: usize) -> (bool, String, String) {
        let cached = *self.full_size.get_or_insert(rows) == rows;
        if self.built.as_ref().is_some_and(|built| built.0 != rows) {
            self.built = None;
        }
        let upsert = &self.upsert;
        let (_, insert, count) = self.built.get_or_insert_with(|| {
            let insert = format!(
                "INSERT INTO addresses ({COLUMNS}, created_at, updated_at) VALUES {}{upsert}",
                bulk::sqlite_rows(rows, 11),
            );
            let count = format!(
                "SELECT count(*) FROM addresses WHERE address_key IN {}",
                bulk::sqlite_rows(1, rows)
            );
            (rows, insert, count)
        });
        (cached, insert.clone(), count.clone())
    }
}

/// Refreshes the planner's statistics of the register after an import that changed it
/// (PostgreSQL; SQLite plans without them). Runs in the background: the import is done,
/// and autovacuum would get there too within a minute or so.
pub fn refresh_statistics(db: &DatabaseConnection) {
    if !matches!(bulk::Backend::of(db), Ok(bulk::Backend::Postgres)) {
        return;
    }
    let db = db.clone();
    tokio::spawn(async move {
        use sea_orm::ConnectionTrait;
        if let Err(err) = db.execute_unprepared("ANALYZE addresses").await {
            tracing::warn!(error = %err, "refreshing the register's statistics failed");
        }
    });
}
