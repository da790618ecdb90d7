//! Letters: minting invitation codes for printing, and the files the printer and the
//! auditor need.
//!
//! A code exists in plain text only in the printer's bundle: the letter keeps a keyed hash
//! of it (see `domain::recruitment::code_key`). Exporting again mints codes only for letters not yet
//! exported; `reissue` replaces the codes of every unredeemed letter (the old ones stop
//! working), for a lost print file.
//!
//! An export is long work, so through the API it is a job ([`request_export`]): it reads
//! the letters from a read connection, mints the codes, renders the bundle on every core
//! while streaming it into a stored file, and only then, in one short transaction, stores
//! the codes' hashes and marks the file complete. If anything fails before that, no code
//! changes and nothing is lost; if a registration or another export got there first,
//! nothing is stored and the export is refused.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::db::entities::{address, letter};
use crate::db::files::{self, CHUNK_BYTES, NewFile};
use crate::db::letters::{self as letter_rows, CompletedFile};
use crate::domain::accounts::role::Role;
use crate::domain::ids::{AccountId, FileId, JobId, LetterId, RoundId};
use crate::domain::job::{Job, JobKind};
use crate::domain::recruitment::invitation_code::InvitationCode;
use crate::domain::recruitment::letter_bundle::{self, LetterAddress, PrintedLetter};
use crate::domain::recruitment::round::Round;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::service::{jobs, recruitment};
use crate::state::AppState;
use crate::state::progress::Progress;

/// Who may export letters and read the audit list.
const OFFICERS: &[Role] = &[Role::Officer];

/// Most letters one bundle holds: a printer's batch, and a ZIP of three entries a letter
/// stays well inside the 65,535 entries of a ZIP without its 64-bit extension.
pub const MAX_LETTERS_PER_BUNDLE: usize = 20_000;

/// What an export job is asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    /// The round whose letters are bundled.
    pub round_id: RoundId,
    /// Replace the codes of every unredeemed letter.
    pub reissue: bool,
}

/// What an export job hands back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportResult {
    /// The bundle to download.
    pub file_id: FileId,
    /// Letters in the bundle: at most [`MAX_LETTERS_PER_BUNDLE`].
    pub letters: u64,
}

/// The personal URL for a code.
pub fn personal_url(public_url: &str, code: &InvitationCode) -> String {
    format!(
        "{}/join?code={}",
        public_url.trim_end_matches('/'),
        code.display()
    )
}

/// Checks that a round's letters can be exported and queues the export. One export of a
/// round runs at a time; asking again while one is queued or running is `CONFLICT`.
pub async fn request_export(
    state: &AppState,
    caller: &Caller,
    round_id: RoundId,
    reissue: bool,
) -> AppResult<Job> {
    caller.require(OFFICERS)?;
    let round = recruitment::find_round(state.db.reader(), round_id).await?;
    refuse_expired(&round, state.clock.now())?;
    jobs::enqueue(
        state,
        jobs::Request {
            kind: JobKind::LetterExport,
            payload: &ExportRequest { round_id, reissue },
            created_by: caller.account(),
            singleton_key: Some(format!("letters-export:round:{round_id}")),
        },
    )
    .await
}

fn refuse_expired(round: &Round, now: DateTime<Utc>) -> AppResult<()> {
    if recruitment::codes_expired(round, now) {
        return Err(AppError::conflict(
            "This round's codes have expired; draw a new round.",
        ));
    }
    Ok(())
}

/// Letters with freshly minted codes, and the hashes to store for them.
struct Minted {
    printed: Vec<PrintedLetter>,
    codes: Vec<(LetterId, String)>,
}

/// Reads up to `limit` letters to print and mints a code for each (not yet stored).
async fn mint(state: &AppState, round: &Round, reissue: bool, limit: usize) -> AppResult<Minted> {
    let rows = letter_rows::to_print(state.db.reader(), round.id, reissue, limit).await?;
    let mut minted = Minted {
        printed: Vec::with_capacity(rows.len()),
        codes: Vec::with_capacity(rows.len()),
    };
    let mut rng = rand::rng();
    for (letter_id, address) in rows {
        // The thread-local CSPRNG, never the seeded lottery RNG.
        let code = InvitationCode::generate(&mut rng);
        minted
            .codes
            .push((letter_id, state.codes.stored_hash(&code)));
        minted.printed.push(PrintedLetter {
            reference: format!("L{letter_id}"),
            url: personal_url(&state.config.public_url, &code),
            code: code.display(),
            address: letter_address(address),
        });
    }
    Ok(minted)
}

fn letter_address(address: address::Model) -> LetterAddress {
    LetterAddress {
        line1: address.line1,
        line2: address.line2,
        line3: address.line3,
        town: address.town,
        postcode: address.postcode,
    }
}

/// Stores the minted codes (and completes `file`), or refuses if the letters changed.
async fn store(
    state: &AppState,
    codes: &[(LetterId, String)],
    reissue: bool,
    file: Option<CompletedFile<'_>>,
) -> AppResult<()> {
    let stored =
        letter_rows::store_codes(state.db.writer(), codes, state.clock.now(), reissue, file)
            .await?;
    if !stored {
        return Err(AppError::conflict(
            "The round's letters changed during the export (another export or a \
             registration); export again.",
        ));
    }
    Ok(())
}

/// The export job's work: the bundle of up to [`MAX_LETTERS_PER_BUNDLE`] letters, stored
/// for download (see the module documentation). A job that runs again after its worker
/// died finds the bundle its first attempt completed, if it did.
pub async fn export_bundle(
    state: &AppState,
    job: JobId,
    request: &ExportRequest,
    created_by: Option<AccountId>,
    progress: &Progress,
) -> AppResult<ExportResult> {
    if let Some(done) = files::of_job(state.db.reader(), job, files::EXPORT).await? {
        let letters = count_letters_in(&done.name);
        return Ok(ExportResult {
            file_id: done.id,
            letters,
        });
    }
    let round = recruitment::find_round(state.db.reader(), request.round_id).await?;
    let now = state.clock.now();
    refuse_expired(&round, now)?;
    let started = std::time::Instant::now();
    let minted = mint(state, &round, request.reissue, MAX_LETTERS_PER_BUNDLE).await?;
    let count = minted.printed.len();
    progress.set_total(count as u64);
    let minted_at = started.elapsed();
    let file = files::create(
        state.db.writer(),
        NewFile {
            purpose: files::EXPORT,
            name: format!("round-{}-letters-{count}.zip", round.id),
            content_type: "application/zip",
            job_id: Some(job),
            created_by,
            expires_at: now + state.config.worker.export_retention(),
        },
        now,
    )
    .await?;
    let written = write_bundle(state, file, minted.printed, progress.clone()).await;
    let (size, sha256) = match written {
        Ok(done) => done,
        Err(err) => {
            files::delete(state.db.writer(), file).await?;
            return Err(if progress.is_cancelled() {
                AppError::Cancelled
            } else {
                err
            });
        }
    };
    let rendered_at = started.elapsed();
    progress.check()?;
    let completed = CompletedFile {
        id: file,
        size,
        sha256: &sha256,
    };
    if let Err(err) = store(state, &minted.codes, request.reissue, Some(completed)).await {
        files::delete(state.db.writer(), file).await?;
        return Err(err);
    }
    tracing::info!(
        round_id = %round.id,
        letters = count,
        bytes = size,
        reissue = request.reissue,
        mint_ms = minted_at.as_millis(),
        render_ms = (rendered_at - minted_at).as_millis(),
        store_ms = (started.elapsed() - rendered_at).as_millis(),
        "letters exported"
    );
    Ok(ExportResult {
        file_id: file,
        letters: count as u64,
    })
}

/// The letter count in a bundle's name (`round-3-letters-250.zip`).
fn count_letters_in(name: &str) -> u64 {
    name.rsplit('-')
        .next()
        .and_then(|tail| tail.trim_end_matches(".zip").parse().ok())
        .unwrap_or(0)
}

/// Renders the bundle on a blocking thread (itself using every core) and writes it into
/// `file` chunk by chunk as it comes; returns its size and SHA-256.
async fn write_bundle(
    state: &AppState,
    file: FileId,
    printed: Vec<PrintedLetter>,
    progress: Progress,
) -> AppResult<(u64, String)> {
    let (chunks, mut receiver) = mpsc::channel::<Vec<u8>>(4);
    let render = tokio::task::spawn_blocking(move || {
        let sink = ChunkSink::new(chunks, progress.clone());
        let threads = letter_bundle::available_threads();
        letter_bundle::write_zip(&printed, sink, threads, |done| {
            progress.set_done(done as u64);
        })
        .and_then(|sink| sink.finish().map_err(Into::into))
    });
    let mut seq = 0;
    while let Some(chunk) = receiver.recv().await {
        files::write_chunk(state.db.writer(), file, seq, chunk).await?;
        seq += 1;
    }
    render
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))
}

/// A `Write` that cuts what it is given into chunks for the database, hashing as it goes,
/// and stops the bundle (with an error) once the job is cancelled.
struct ChunkSink {
    sender: mpsc::Sender<Vec<u8>>,
    buffer: Vec<u8>,
    hasher: Sha256,
    size: u64,
    progress: Progress,
}

impl ChunkSink {
    fn new(sender: mpsc::Sender<Vec<u8>>, progress: Progress) -> Self {
        Self {
            sender,
            buffer: Vec::with_capacity(CHUNK_BYTES),
            hasher: Sha256::new(),
            size: 0,
            progress,
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.progress.is_cancelled() {
            return Err(std::io::Error::other("the export was cancelled"));
        }
        let full = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES));
        self.sender
            .blocking_send(full)
            .map_err(|_| std::io::Error::other("the bundle's reader stopped"))
    }

    /// Sends the last chunk; the total size and SHA-256.
    fn finish(mut self) -> std::io::Result<(u64, String)> {
        if !self.buffer.is_empty() {
            self.send()?;
        }
        Ok((self.size, hex::encode(self.hasher.finalize())))
    }
}

impl std::io::Write for ChunkSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK_BYTES - self.buffer.len();
        let taken = &bytes[..bytes.len().min(room)];
        self.buffer.extend_from_slice(taken);
        self.hasher.update(taken);
        self.size += taken.len() as u64;
        if self.buffer.len() == CHUNK_BYTES {
            self.send()?;
        }
        Ok(taken.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the command line's export wrote.
#[derive(Debug)]
pub struct FolderExport {
    /// Letters written.
    pub letters: usize,
}

/// The command line's export: writes `letters.csv`, `addresses.csv` (the audit list, after
/// the codes are stored, so it shows them exported) and `qr/<reference>.png|.svg` into
/// `out`, then stores the codes. A folder that already holds a bundle is refused, so an
/// export never overwrites the only copy of earlier codes.
pub async fn export_to_folder(
    state: &AppState,
    round_id: RoundId,
    reissue: bool,
    out: &std::path::Path,
) -> AppResult<FolderExport> {
    let round = recruitment::find_round(state.db.reader(), round_id).await?;
    refuse_expired(&round, state.clock.now())?;
    let merge = out.join("letters.csv");
    if merge.exists() {
        let held = csv::Reader::from_path(&merge)
            .map(|mut r| r.byte_records().count())
            .map_or_else(|_| "an unreadable number of".to_owned(), |n| n.to_string());
        return Err(AppError::conflict(format!(
            "{} already holds a bundle of {held} letters ({}); their codes exist only there. \
             Choose another folder, or move the bundle away first.",
            out.display(),
            merge.display()
        )));
    }
    let minted = mint(state, &round, reissue, usize::MAX).await?;
    let printed = minted.printed;
    let folder = out.to_path_buf();
    let letters = tokio::task::spawn_blocking(move || write_folder(&folder, &printed))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::internal(anyhow::anyhow!("writing {}: {e}", out.display())))?;
    store(state, &minted.codes, reissue, None).await?;
    let audit = audit_list_csv(state, &Caller::System, round_id).await?;
    std::fs::write(out.join("addresses.csv"), audit)
        .map_err(|e| AppError::internal(anyhow::anyhow!("writing the audit list: {e}")))?;
    Ok(FolderExport { letters })
}

fn write_folder(
    out: &std::path::Path,
    printed: &[PrintedLetter],
) -> Result<usize, letter_bundle::BundleError> {
    let qr_dir = out.join("qr");
    std::fs::create_dir_all(&qr_dir)?;
    let threads = letter_bundle::available_threads();
    letter_bundle::render_in_order(printed, threads, |_, letter, png, svg| {
        std::fs::write(qr_dir.join(format!("{}.png", letter.reference)), png)?;
        std::fs::write(qr_dir.join(format!("{}.svg", letter.reference)), svg)?;
        Ok::<(), letter_bundle::BundleError>(())
    })?;
    // Written last and new: its presence marks a finished bundle.
    let mut merge = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out.join("letters.csv"))?;
    std::io::Write::write_all(&mut merge, &letter_bundle::mail_merge_csv(printed)?)?;
    merge.sync_all()?;
    Ok(printed.len())
}

/// Mints and stores codes for every letter not yet exported and returns them, without any
/// file (tests and the benchmark use this to get codes to register with).
pub async fn issue_codes(
    state: &AppState,
    round_id: RoundId,
    reissue: bool,
) -> AppResult<Vec<PrintedLetter>> {
    let round = recruitment::find_round(state.db.reader(), round_id).await?;
    refuse_expired(&round, state.clock.now())?;
    let minted = mint(state, &round, reissue, usize::MAX).await?;
    store(state, &minted.codes, reissue, None).await?;
    Ok(minted.printed)
}

/// The plain list of drawn addresses for the audit (no codes): reference, address key,
/// postcode, ward, deprivation decile, the weight it was drawn with, and whether each
/// letter was exported and redeemed.
pub async fn audit_list_csv(
    state: &AppState,
    caller: &Caller,
    round_id: RoundId,
) -> AppResult<Vec<u8>> {
    caller.require(OFFICERS)?;
    let db = state.db.reader();
    let round = recruitment::find_round(db, round_id).await?;
    let rows = letter::Entity::find()
        .filter(letter::Column::RoundId.eq(round_id))
        .find_also_related(address::Entity)
        .order_by_asc(letter::Column::Id)
        .all(db)
        .await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = [
        "reference",
        "address_key",
        "line1",
        "postcode",
        "ward_code",
        "deprivation_decile",
        "weight",
        "exported",
        "redeemed",
    ];
    writer.write_record(header).map_err(AppError::internal)?;
    for (letter, address) in rows {
        let decile = address.as_ref().and_then(|a| a.deprivation_decile);
        let weight = decile
            .and_then(|d| round.parameters.decile_weights.get(&d).copied())
            .unwrap_or(crate::domain::recruitment::sampling::DEFAULT_WEIGHT);
        let (key, line1, postcode) = address
            .map(|a| (a.address_key, a.line1, a.postcode))
            .unwrap_or_default();
        writer
            .write_record([
                format!("L{}", letter.id),
                key,
                line1,
                postcode,
                letter.stratum,
                decile.map(|d| d.to_string()).unwrap_or_default(),
                weight.to_string(),
                letter.exported_at.is_some().to_string(),
                letter.redeemed_at.is_some().to_string(),
            ])
            .map_err(AppError::internal)?;
    }
    writer.into_inner().map_err(AppError::internal)
}
