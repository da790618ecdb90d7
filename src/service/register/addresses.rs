//! Importing the council's address register.
//!
//! The file is first checked whole for what would refuse it (a header without the needed
//! columns, more rows than allowed, unreadable bytes), so a refused file writes nothing.
//! Then the CSV is parsed on a blocking thread (see `domain::register::address_csv`) and handed over
//! in batches to the database writer (see `db::register`), so parsing and writing overlap.
//! Individual bad rows are skipped and reported with their line numbers. Re-importing the
//! same file changes nothing; a row whose fields changed is updated in place (matched by
//! address key), so an import interrupted part-way is finished by running it again.
//!
//! Through the API an import is a job ([`request_import`]): the upload is kept in the
//! database and imported by a worker, and the summary is the job's result.

use std::io::{Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::db::entities::address;
use crate::db::files::{self, CHUNK_BYTES, NewFile};
use crate::db::register::{self, RecordBatches};
use crate::domain::accounts::role::Role;
use crate::domain::ids::{FileId, JobId};
use crate::domain::job::{Job, JobKind};
use crate::domain::register::address_csv::{
    AddressCsvReader, AddressRecord, FatalError, RowRejection,
};
use crate::domain::text_input::TextEncoding;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::service::jobs;
use crate::state::AppState;
use crate::state::progress::Progress;

/// Who may import the register.
const OFFICERS: &[Role] = &[Role::Officer];

/// How an import runs.
#[derive(Clone, Copy, Debug)]
pub struct ImportOptions {
    /// Refuse files with more data rows than this (nothing is written).
    pub max_rows: u64,
    /// Rows handed from the parser to the writer at a time (one statement on SQLite, one
    /// `COPY` message on PostgreSQL).
    pub batch_size: usize,
    /// The file's character encoding.
    pub encoding: TextEncoding,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            max_rows: 2_000_000,
            batch_size: 1_000,
            encoding: TextEncoding::Utf8,
        }
    }
}

/// At most this many rejected rows are listed in a summary (all are counted).
pub const MAX_LISTED_REJECTIONS: usize = 1_000;

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Every refused row as a CSV file to download, when an import job refused any.
    #[serde(default)]
    pub rejections_file: Option<FileId>,
}

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

/// Every refused row, written as CSV (`line,key,column,reason`) as the file is read.
struct RejectionList(csv::Writer<std::io::BufWriter<std::fs::File>>);

impl RejectionList {
    fn new(file: std::fs::File) -> AppResult<Self> {
        let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(file));
        writer
            .write_record(RowRejection::CSV_HEADER)
            .map_err(AppError::internal)?;
        Ok(Self(writer))
    }

    fn add(&mut self, rejection: &RowRejection) -> AppResult<()> {
        self.0
            .write_record(rejection.csv_record())
            .map_err(AppError::internal)
    }

    fn finish(mut self) -> AppResult<()> {
        self.0.flush().map_err(AppError::internal)
    }
}

/// Parses on a blocking thread, sending batches until the file ends or fails; writes
/// every rejection to `rejections`, when given.
fn parse_in_background<R: Read + Send + 'static>(
    reader: R,
    options: ImportOptions,
    progress: Progress,
    rejections: Option<std::fs::File>,
) -> mpsc::Receiver<Message> {
    let (sender, receiver) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let fail = |err: AppError| {
            let _ = sender.blocking_send(Message::Failed(err));
        };
        let mut csv = match AddressCsvReader::new(reader, options.max_rows, options.encoding) {
            Ok(csv) => csv,
            Err(err) => return fail(file_error(err.to_string())),
        };
        let mut list = match rejections.map(RejectionList::new).transpose() {
            Ok(list) => list,
            Err(err) => return fail(err),
        };
        let mut records = Vec::with_capacity(options.batch_size);
        let mut rejections = Vec::new();
        loop {
            match csv.next_row() {
                Ok(Some(Ok(record))) => records.push(record),
                Ok(Some(Err(rejection))) => {
                    if let Some(Err(err)) = list.as_mut().map(|list| list.add(&rejection)) {
                        return fail(err);
                    }
                    rejections.push(rejection);
                }
                Ok(None) => break,
                Err(fatal) => return fail(file_error(fatal_message(fatal))),
            }
            if records.len() >= options.batch_size {
                progress.set_done(csv.bytes_read());
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
        progress.set_done(csv.bytes_read());
        if let Some(Err(err)) = list.map(RejectionList::finish) {
            return fail(err);
        }
        let _ = sender.blocking_send(Message::Batch {
            records,
            rejections,
        });
        let _ = sender.blocking_send(Message::Done);
    });
    receiver
}

/// Checks, before anything is written, that the file is not longer than `max_rows` data
/// rows; leaves the reader at its start.
///
/// Counting line breaks is enough almost always (a file has at most as many rows as line
/// breaks, and reading them costs milliseconds); only a file with more line breaks than
/// the limit, which quoted multi-line fields could explain, is parsed to count its rows.
fn check_length<R: Read + Seek>(reader: &mut R, options: ImportOptions) -> AppResult<()> {
    let max_rows = options.max_rows;
    let unreadable = |e: std::io::Error| file_error(format!("The file could not be read: {e}."));
    let mut breaks = 0u64;
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buffer).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        breaks += buffer[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
    reader.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    if breaks <= max_rows {
        return Ok(());
    }
    let refusal = {
        let mut csv = match AddressCsvReader::new(&mut *reader, max_rows, options.encoding) {
            Ok(csv) => csv,
            // A bad header is reported by the import itself.
            Err(_) => {
                return reader
                    .seek(SeekFrom::Start(0))
                    .map(|_| ())
                    .map_err(unreadable);
            }
        };
        loop {
            match csv.next_row() {
                Ok(Some(_)) => {}
                Ok(None) => break None,
                Err(fatal) => break Some(fatal),
            }
        }
    };
    if let Some(fatal) = refusal {
        return Err(file_error(fatal_message(fatal)));
    }
    reader.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    Ok(())
}

fn fatal_message(fatal: FatalError) -> String {
    match fatal {
        FatalError::TooManyRows { limit } => format!(
            "The file has more than {limit} rows; nothing was imported. Split it, or raise \
             the limit."
        ),
        other => format!("The file could not be read: {other}."),
    }
}

/// Imports an address register CSV (see the module documentation). `progress` counts
/// bytes of the file read. Every refused row is written to `rejections`, when given, as
/// CSV (`line,key,column,reason`); the summary lists only the first ones.
pub async fn import<R: Read + Seek + Send + 'static>(
    state: &AppState,
    mut reader: R,
    options: ImportOptions,
    progress: &Progress,
    rejections: Option<std::fs::File>,
) -> AppResult<ImportSummary> {
    let mut reader =
        tokio::task::spawn_blocking(move || check_length(&mut reader, options).map(|()| reader))
            .await
            .map_err(AppError::internal)??;
    let size = reader.seek(SeekFrom::End(0)).map_err(AppError::internal)?;
    reader
        .seek(SeekFrom::Start(0))
        .map_err(AppError::internal)?;
    progress.set_total(size);
    let mut batches = Batches {
        receiver: parse_in_background(reader, options, progress.clone(), rejections),
        summary: ImportSummary::default(),
    };
    let counts = register::write(state.db.writer(), &mut batches, state.clock.now()).await?;
    let mut summary = batches.summary;
    summary.inserted = counts.inserted;
    summary.updated = counts.updated;
    summary.unchanged = counts.unchanged;
    summary.rows_read += summary.rejected_count;
    if counts.inserted + counts.updated > 0 {
        register::refresh_statistics(state.db.writer());
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

impl RecordBatches for Batches {
    async fn next_batch(&mut self) -> AppResult<Option<Vec<AddressRecord>>> {
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

/// What an import job is asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRequest {
    /// The uploaded file.
    pub file_id: FileId,
    /// Its character encoding.
    #[serde(default)]
    pub encoding: TextEncoding,
}

/// How long an upload waits for its import before it is deleted.
const UPLOAD_RETENTION_HOURS: i64 = 24;

/// Keeps an uploaded register in the database and queues its import; the summary is the
/// job's result.
pub async fn request_import(
    state: &AppState,
    caller: &Caller,
    mut upload: std::fs::File,
    encoding: TextEncoding,
) -> AppResult<Job> {
    caller.require(OFFICERS)?;
    let size = upload
        .seek(SeekFrom::End(0))
        .and_then(|size| upload.seek(SeekFrom::Start(0)).map(|_| size))
        .map_err(AppError::internal)?;
    if size == 0 {
        return Err(AppError::bad_input("input.file", "The file is empty."));
    }
    let now = state.clock.now();
    let db = state.db.writer();
    let file = files::create(
        db,
        NewFile {
            purpose: "upload",
            name: "address-register.csv".to_owned(),
            content_type: "text/csv",
            job_id: None,
            created_by: caller.account(),
            expires_at: now + chrono::Duration::hours(UPLOAD_RETENTION_HOURS),
        },
        now,
    )
    .await?;
    let stored = store_local_file(state, file, upload).await;
    if let Err(err) = stored {
        files::delete(db, file).await?;
        return Err(err);
    }
    jobs::enqueue(
        state,
        jobs::Request {
            kind: JobKind::AddressImport,
            payload: &ImportRequest {
                file_id: file,
                encoding,
            },
            created_by: caller.account(),
            singleton_key: None,
        },
    )
    .await
}

/// Copies a local file (an upload, a rejection list) into a stored file, a chunk at a
/// time, and completes it.
async fn store_local_file(state: &AppState, file: FileId, upload: std::fs::File) -> AppResult<()> {
    let (sender, mut receiver) = mpsc::channel::<std::io::Result<Vec<u8>>>(2);
    tokio::task::spawn_blocking(move || {
        let mut upload = upload;
        loop {
            let mut chunk = Vec::with_capacity(CHUNK_BYTES);
            match (&mut upload)
                .take(CHUNK_BYTES as u64)
                .read_to_end(&mut chunk)
            {
                Ok(0) => return,
                Ok(_) => {
                    if sender.blocking_send(Ok(chunk)).is_err() {
                        return;
                    }
                }
                Err(err) => {
                    let _ = sender.blocking_send(Err(err));
                    return;
                }
            }
        }
    });
    let mut seq = 0;
    let mut size = 0u64;
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    while let Some(chunk) = receiver.recv().await {
        let chunk = chunk.map_err(AppError::internal)?;
        size += chunk.len() as u64;
        sha2::Digest::update(&mut hasher, &chunk);
        files::write_chunk(state.db.writer(), file, seq, chunk).await?;
        seq += 1;
    }
    let sha256 = hex::encode(sha2::Digest::finalize(hasher));
    files::complete(state.db.writer(), file, size, sha256).await
}

/// The import job's work: copies the stored upload to a temporary file (the import reads
/// it twice), imports it, keeps the full list of refused rows for download, and deletes
/// the upload.
pub async fn import_upload(
    state: &AppState,
    job: JobId,
    request: &ImportRequest,
    progress: &Progress,
) -> AppResult<ImportSummary> {
    let file = request.file_id;
    let stored = files::find(state.db.reader(), file)
        .await?
        .filter(|f| f.complete)
        .ok_or(AppError::NotFound {
            what: "uploaded file",
        })?;
    let mut local = tempfile::tempfile().map_err(AppError::internal)?;
    let mut seq = 0;
    while let Some(chunk) = files::read_chunk(state.db.reader(), file, seq).await? {
        std::io::Write::write_all(&mut local, &chunk).map_err(AppError::internal)?;
        seq += 1;
    }
    local.seek(SeekFrom::Start(0)).map_err(AppError::internal)?;
    tracing::debug!(file_id = %file, bytes = stored.size, "importing an uploaded register");
    let options = ImportOptions {
        max_rows: state.config.import_max_rows,
        encoding: request.encoding,
        ..ImportOptions::default()
    };
    let list = tempfile::tempfile().map_err(AppError::internal)?;
    let list_copy = list.try_clone().map_err(AppError::internal)?;
    let mut summary = import(state, local, options, progress, Some(list_copy)).await?;
    if summary.rejected_count > 0 {
        summary.rejections_file = Some(keep_rejections(state, job, stored.created_by, list).await?);
    }
    files::delete(state.db.writer(), file).await?;
    Ok(summary)
}

/// Stores an import's rejection list for officers to download, as long as an export.
async fn keep_rejections(
    state: &AppState,
    job: JobId,
    created_by: Option<crate::domain::ids::AccountId>,
    mut list: std::fs::File,
) -> AppResult<FileId> {
    list.seek(SeekFrom::Start(0)).map_err(AppError::internal)?;
    let now = state.clock.now();
    let db = state.db.writer();
    let file = files::create(
        db,
        NewFile {
            purpose: files::EXPORT,
            name: format!("address-import-{job}-rejected-rows.csv"),
            content_type: "text/csv",
            job_id: Some(job),
            created_by,
            expires_at: now + state.config.worker.export_retention(),
        },
        now,
    )
    .await?;
    if let Err(err) = store_local_file(state, file, list).await {
        files::delete(db, file).await?;
        return Err(err);
    }
    Ok(file)
}

/// How many addresses the register holds.
pub async fn count(state: &AppState, caller: &Caller) -> AppResult<u64> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    caller.require(OFFICERS)?;
    Ok(address::Entity::find().count(state.db.reader()).await?)
}
