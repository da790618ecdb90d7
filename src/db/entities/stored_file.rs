//! `stored_files`: a file kept in the database for a while (an export bundle to download,
//! an uploaded register waiting for its import job), its bytes in `stored_file_chunks`.

use crate::domain::ids::{AccountId, FileId, JobId};
use sea_orm::entity::prelude::*;

/// One file.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stored_files")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: FileId,
    /// `export` or `upload`.
    pub purpose: String,
    /// The download name.
    pub name: String,
    pub content_type: String,
    /// Bytes, once complete.
    pub size: i64,
    /// Lower-case hex SHA-256 of the whole file, once complete.
    pub sha256: Option<String>,
    /// The job that produced it or reads it.
    pub job_id: Option<JobId>,
    pub created_by: Option<AccountId>,
    pub created_at: DateTimeUtc,
    /// Deleted after this moment.
    pub expires_at: DateTimeUtc,
    /// Whether every chunk is written (an incomplete file is never served).
    pub complete: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
