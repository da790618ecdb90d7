//! Files kept in the database: export bundles to download and uploads waiting for their
//! job. A file is written chunk by chunk, each chunk its own short statement, and marked
//! complete at the end; an incomplete file is never served and is purged with the
//! expired ones.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};

use crate::db::entities::{recruitment_round, selection_run, stored_file, stored_file_chunk};
use crate::domain::ids::{AccountId, FileId, JobId};
use crate::error::AppResult;

/// Bytes per chunk: large enough that a 100 MB bundle is a hundred rows, small enough that
/// neither database holds much of a file at once.
pub const CHUNK_BYTES: usize = 1 << 20;

/// The purpose of a file built for officers to download (a bundle, a rejection list).
pub const EXPORT: &str = "export";

/// The purpose of a file that holds a round's draw record; kept for good.
pub const DRAW_RECORD: &str = "draw-record";

/// The purpose of a file that holds a selection's lottery (its tickets) or its fair
/// distribution; kept for good.
pub const SELECTION_LOTTERY: &str = "selection-lottery";

/// A file about to be written.
#[derive(Clone, Debug)]
pub struct NewFile {
    /// [`EXPORT`], [`DRAW_RECORD`] or `upload`.
    pub purpose: &'static str,
    /// The download name.
    pub name: String,
    /// Its media type.
    pub content_type: &'static str,
    /// The job that produces or reads it.
    pub job_id: Option<JobId>,
    /// Who it belongs to.
    pub created_by: Option<AccountId>,
    /// Deleted after this moment.
    pub expires_at: DateTime<Utc>,
}

/// Starts a file (empty and incomplete).
pub async fn create(
    db: &impl ConnectionTrait,
    new: NewFile,
    now: DateTime<Utc>,
) -> AppResult<FileId> {
    let row = stored_file::ActiveModel {
        purpose: Set(new.purpose.to_owned()),
        name: Set(new.name),
        content_type: Set(new.content_type.to_owned()),
        size: Set(0),
        sha256: Set(None),
        job_id: Set(new.job_id),
        created_by: Set(new.created_by),
        created_at: Set(now),
        expires_at: Set(new.expires_at),
        complete: Set(false),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row.id)
}

/// Writes chunk number `seq` (from 0) of a file.
pub async fn write_chunk(
    db: &impl ConnectionTrait,
    file: FileId,
    seq: i32,
    data: Vec<u8>,
) -> AppResult<()> {
    stored_file_chunk::ActiveModel {
        file_id: Set(file),
        seq: Set(seq),
        data: Set(data),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Marks a file complete with its size and SHA-256.
pub async fn complete(
    db: &impl ConnectionTrait,
    file: FileId,
    size: u64,
    sha256: String,
) -> AppResult<()> {
    stored_file::Entity::update_many()
        .col_expr(
            stored_file::Column::Size,
            Expr::value(i64::try_from(size).unwrap_or(i64::MAX)),
        )
        .col_expr(stored_file::Column::Sha256, Expr::value(sha256))
        .col_expr(stored_file::Column::Complete, Expr::value(true))
        .filter(stored_file::Column::Id.eq(file))
        .exec(db)
        .await?;
    Ok(())
}

/// A file's description.
pub async fn find(
    db: &impl ConnectionTrait,
    file: FileId,
) -> AppResult<Option<stored_file::Model>> {
    Ok(stored_file::Entity::find_by_id(file).one(db).await?)
}

/// The complete file a job produced, if it produced one (a job that ran again after its
/// worker died finds the file of the attempt before).
pub async fn of_job(
    db: &impl ConnectionTrait,
    job: JobId,
    purpose: &str,
) -> AppResult<Option<stored_file::Model>> {
    Ok(stored_file::Entity::find()
        .filter(stored_file::Column::JobId.eq(job))
        .filter(stored_file::Column::Purpose.eq(purpose))
        .filter(stored_file::Column::Complete.eq(true))
        .one(db)
        .await?)
}

/// Chunk number `seq` of a file, or `None` past its end.
pub async fn read_chunk(
    db: &impl ConnectionTrait,
    file: FileId,
    seq: i32,
) -> AppResult<Option<Vec<u8>>> {
    let data: Option<Vec<u8>> = stored_file_chunk::Entity::find()
        .select_only()
        .column(stored_file_chunk::Column::Data)
        .filter(stored_file_chunk::Column::FileId.eq(file))
        .filter(stored_file_chunk::Column::Seq.eq(seq))
        .into_tuple()
        .one(db)
        .await?;
    Ok(data)
}

/// Writes `bytes` as the whole of an empty file, a chunk per statement, and completes it.
pub async fn write_all(db: &impl ConnectionTrait, file: FileId, bytes: &[u8]) -> AppResult<()> {
    use sha2::Digest;
    for (seq, chunk) in bytes.chunks(CHUNK_BYTES).enumerate() {
        let seq = i32::try_from(seq).map_err(crate::error::AppError::internal)?;
        write_chunk(db, file, seq, chunk.to_vec()).await?;
    }
    let sha256 = hex::encode(sha2::Sha256::digest(bytes));
    complete(db, file, bytes.len() as u64, sha256).await
}

/// The whole of a file, read a chunk at a time.
pub async fn read_all(db: &impl ConnectionTrait, file: FileId) -> AppResult<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut seq = 0;
    while let Some(chunk) = read_chunk(db, file, seq).await? {
        bytes.extend_from_slice(&chunk);
        seq += 1;
    }
    Ok(bytes)
}

/// Gives a file a new download name.
pub async fn rename(db: &impl ConnectionTrait, file: FileId, name: String) -> AppResult<()> {
    stored_file::Entity::update_many()
        .col_expr(stored_file::Column::Name, Expr::value(name))
        .filter(stored_file::Column::Id.eq(file))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes a file and its chunks.
pub async fn delete(db: &impl ConnectionTrait, file: FileId) -> AppResult<()> {
    stored_file_chunk::Entity::delete_many()
        .filter(stored_file_chunk::Column::FileId.eq(file))
        .exec(db)
        .await?;
    stored_file::Entity::delete_by_id(file.get())
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes files past their expiry (and incomplete ones abandoned since), and draw records
/// no round names and lotteries no selection names after a day; returns how many, at most 1,000 at a time.
pub async fn purge_expired(db: &impl ConnectionTrait, now: DateTime<Utc>) -> AppResult<u64> {
    use sea_orm::Condition;
    use sea_orm::sea_query::Query;

    // A draw whose process died after storing its record but before writing its round
    // leaves a record no round names; a day later it can only be an orphan.
    let orphan_record = Condition::all()
        .add(stored_file::Column::Purpose.eq(DRAW_RECORD))
        .add(stored_file::Column::CreatedAt.lt(now - chrono::Duration::days(1)))
        .add(
            stored_file::Column::Id.not_in_subquery(
                Query::select()
                    .column(recruitment_round::Column::DrawRecordFileId)
                    .from(recruitment_round::Entity)
                    .and_where(recruitment_round::Column::DrawRecordFileId.is_not_null())
                    .to_owned(),
            ),
        );
    // Likewise a selection whose job stopped between storing its lottery and its run.
    let orphan_lottery = Condition::all()
        .add(stored_file::Column::Purpose.eq(SELECTION_LOTTERY))
        .add(stored_file::Column::CreatedAt.lt(now - chrono::Duration::days(1)))
        .add(
            stored_file::Column::Id.not_in_subquery(
                Query::select()
                    .column(selection_run::Column::LotteryFileId)
                    .from(selection_run::Entity)
                    .and_where(selection_run::Column::LotteryFileId.is_not_null())
                    .union(
                        sea_orm::sea_query::UnionType::All,
                        Query::select()
                            .column(selection_run::Column::DistributionFileId)
                            .from(selection_run::Entity)
                            .and_where(selection_run::Column::DistributionFileId.is_not_null())
                            .to_owned(),
                    )
                    .to_owned(),
            ),
        );
    let expired: Vec<i64> = stored_file::Entity::find()
        .select_only()
        .column(stored_file::Column::Id)
        .filter(
            Condition::any()
                .add(stored_file::Column::ExpiresAt.lt(now))
                .add(orphan_record)
                .add(orphan_lottery),
        )
        .limit(1_000)
        .into_tuple()
        .all(db)
        .await?;
    for id in &expired {
        delete(db, FileId(*id)).await?;
    }
    Ok(expired.len() as u64)
}
