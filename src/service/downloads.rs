//! Files kept for download: the bundles export jobs produce, import rejection lists and
//! rounds' draw records. Only officers may fetch them (bundles hold live invitation
//! codes), only once complete, and only until they expire.

use chrono::{DateTime, Utc};

use crate::db::files;
use crate::domain::accounts::role::Role;
use crate::domain::ids::FileId;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::state::AppState;

/// Who may download.
const OFFICERS: &[Role] = &[Role::Officer];

/// A file ready to download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// The row's key, also the number in its `File` global ID.
    pub id: FileId,
    /// What the download is saved as (the `Content-Disposition` file name).
    pub name: String,
    /// Its media type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 in hex.
    pub sha256: Option<String>,
    /// When it is deleted.
    pub expires_at: DateTime<Utc>,
}

/// A complete, unexpired export file, draw record or selection lottery, for officers; `NOT_FOUND` otherwise.
pub async fn file(state: &AppState, caller: &Caller, id: FileId) -> AppResult<FileInfo> {
    caller.require(OFFICERS)?;
    let now = state.clock.now();
    let row = files::find(state.db.reader(), id)
        .await?
        .filter(|f| {
            f.complete
                && [files::EXPORT, files::DRAW_RECORD, files::SELECTION_LOTTERY]
                    .contains(&f.purpose.as_str())
                && f.expires_at > now
        })
        .ok_or(AppError::NotFound { what: "file" })?;
    Ok(FileInfo {
        id,
        name: row.name,
        content_type: row.content_type,
        size: u64::try_from(row.size).unwrap_or(0),
        sha256: row.sha256,
        expires_at: row.expires_at,
    })
}

/// Piece number `seq` (from 0) of a file's bytes; `None` past the end.
pub async fn chunk(state: &AppState, id: FileId, seq: i32) -> AppResult<Option<Vec<u8>>> {
    files::read_chunk(state.db.reader(), id, seq).await
}
