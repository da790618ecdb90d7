//! Importing the council's address register.
//!
//! The CSV is parsed on a blocking thread (see `domain::address_csv`) and handed over in
//! batches to the database writer, so parsing and writing overlap. The whole import is one
//! transaction: a file refused part-way (too many rows, an I/O error) leaves nothing
//! behind, while individual bad rows are skipped and reported with their line numbers.
//! Re-importing the same file changes nothing; a row whose fields changed is updated in
//! place (matched by address key).

use std::collections::HashMap;
use std::io::Read;

use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    TransactionTrait,
};
use tokio::sync::mpsc;

use crate::db::entities::address::{self, Column};
use crate::domain::address_csv::{AddressCsvReader, AddressRecord, FatalError, RowRejection};
use crate::error::{AppError, AppResult};
use crate::service::clock::Clock;

/// How an import runs.
#[derive(Clone, Copy, Debug)]
pub struct ImportOptions {
    /// Refuse files with more data rows than this (nothing is written).
    pub max_rows: u64,
    /// Rows written per statement.
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
    let mut receiver = parse_in_background(reader, options, progress);
    let txn = db.begin().await?;
    // An empty register needs no look-ups: every row is new (the parser has already
    // refused duplicate keys within the file).
    let register_was_empty = address::Entity::find().one(&txn).await?.is_none();
    let postgres = txn.get_database_backend() == DbBackend::Postgres;
    if postgres && !register_was_empty {
        // Fresh statistics keep the per-batch key look-ups on the index.
        txn.execute_unprepared("ANALYZE addresses").await?;
    }
    let mut summary = ImportSummary::default();
    let mut finished = false;
    while let Some(message) = receiver.recv().await {
        match message {
            Message::Done => finished = true,
            Message::Failed(err) => {
                txn.rollback().await?;
                return Err(err);
            }
            Message::Batch {
                records,
                rejections,
            } => {
                summary.rejected_count += rejections.len() as u64;
                let room = MAX_LISTED_REJECTIONS.saturating_sub(summary.rejected.len());
                summary.rejected.extend(rejections.into_iter().take(room));
                summary.rows_read += records.len() as u64;
                if register_was_empty {
                    summary.inserted += records.len() as u64;
                    upsert(&txn, clock, &records).await?;
                } else {
                    write_batch(&txn, clock, records, &mut summary).await?;
                }
            }
        }
    }
    if !finished {
        txn.rollback().await?;
        return Err(AppError::internal(anyhow::anyhow!(
            "the CSV parser stopped before the end of the file"
        )));
    }
    summary.rows_read += summary.rejected_count;
    txn.commit().await?;
    if postgres {
        // The planner's statistics still describe the register before this import.
        db.execute_unprepared("ANALYZE addresses").await?;
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

fn differs(existing: &address::Model, record: &AddressRecord) -> bool {
    existing.line1 != record.line1
        || existing.line2 != record.line2
        || existing.line3 != record.line3
        || existing.town != record.town
        || existing.postcode != record.postcode.as_str()
        || existing.ward_code != record.ward_code
        || existing.deprivation_decile != record.deprivation_decile
        || existing.household_key != record.household_key
}

async fn write_batch(
    txn: &impl ConnectionTrait,
    clock: &Clock,
    records: Vec<AddressRecord>,
    summary: &mut ImportSummary,
) -> AppResult<()> {
    if records.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = records.iter().map(|r| r.address_key.as_str()).collect();
    let existing: HashMap<String, address::Model> = address::Entity::find()
        .filter(Column::AddressKey.is_in(keys))
        .all(txn)
        .await?
        .into_iter()
        .map(|model| (model.address_key.clone(), model))
        .collect();
    let mut to_write = Vec::with_capacity(records.len());
    for record in records {
        match existing.get(&record.address_key) {
            None => {
                summary.inserted += 1;
                to_write.push(record);
            }
            Some(model) if differs(model, &record) => {
                summary.updated += 1;
                to_write.push(record);
            }
            Some(_) => summary.unchanged += 1,
        }
    }
    if to_write.is_empty() {
        return Ok(());
    }
    upsert(txn, clock, &to_write).await
}

/// Inserts new rows and overwrites changed ones in one statement (an upsert also keeps
/// two concurrent imports of the same key from failing).
async fn upsert(
    txn: &impl ConnectionTrait,
    clock: &Clock,
    records: &[AddressRecord],
) -> AppResult<()> {
    if records.is_empty() {
        return Ok(());
    }
    let now = clock.now();
    let mut insert = Query::insert();
    insert.into_table(address::Entity).columns([
        Column::AddressKey,
        Column::Line1,
        Column::Line2,
        Column::Line3,
        Column::Town,
        Column::Postcode,
        Column::WardCode,
        Column::DeprivationDecile,
        Column::HouseholdKey,
        Column::CreatedAt,
        Column::UpdatedAt,
    ]);
    for r in records {
        insert
            .values([
                r.address_key.clone().into(),
                r.line1.clone().into(),
                r.line2.clone().into(),
                r.line3.clone().into(),
                r.town.clone().into(),
                r.postcode.as_str().to_owned().into(),
                r.ward_code.clone().into(),
                r.deprivation_decile.into(),
                r.household_key.clone().into(),
                now.into(),
                now.into(),
            ])
            .map_err(AppError::internal)?;
    }
    insert.on_conflict(
        OnConflict::column(Column::AddressKey)
            .update_columns([
                Column::Line1,
                Column::Line2,
                Column::Line3,
                Column::Town,
                Column::Postcode,
                Column::WardCode,
                Column::DeprivationDecile,
                Column::HouseholdKey,
                Column::UpdatedAt,
            ])
            .to_owned(),
    );
    txn.execute(&insert).await?;
    Ok(())
}

/// How many addresses the register holds.
pub async fn count(db: &impl ConnectionTrait) -> AppResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(address::Entity::find().count(db).await?)
}
