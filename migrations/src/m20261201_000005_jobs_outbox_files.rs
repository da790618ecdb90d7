//! Background work: the `jobs` queue, what the outbox needs to be delivered safely (a
//! lease, the next attempt, the last error, permanent failure), and `stored_files` for
//! what jobs read and produce (an uploaded register, an export bundle), kept in the
//! database in chunks so every API and worker process can reach them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Kind,
    Payload,
    Status,
    Attempts,
    MaxAttempts,
    RunAfter,
    LockedBy,
    LockedUntil,
    LastError,
    ProgressDone,
    ProgressTotal,
    Result,
    CreatedBy,
    CreatedAt,
    StartedAt,
    FinishedAt,
    CancelRequestedAt,
    SingletonKey,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    HtmlBody,
    NextAttemptAt,
    LockedBy,
    LockedUntil,
    LastError,
    FailedAt,
}

#[derive(DeriveIden)]
enum StoredFiles {
    Table,
    Id,
    Purpose,
    Name,
    ContentType,
    Size,
    Sha256,
    JobId,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    Complete,
}

#[derive(DeriveIden)]
enum StoredFileChunks {
    Table,
    FileId,
    Seq,
    Data,
}

/// The outbox's new columns, all nullable so existing messages stay as they are.
fn outbox_columns() -> Vec<ColumnDef> {
    vec![
        text_null(Outbox::HtmlBody),
        timestamp_with_time_zone_null(Outbox::NextAttemptAt),
        string_len_null(Outbox::LockedBy, 100),
        timestamp_with_time_zone_null(Outbox::LockedUntil),
        text_null(Outbox::LastError),
        timestamp_with_time_zone_null(Outbox::FailedAt),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(big_pk_auto(Jobs::Id))
                    .col(string_len(Jobs::Kind, 64))
                    .col(text(Jobs::Payload))
                    .col(string_len(Jobs::Status, 16))
                    .col(integer(Jobs::Attempts).default(0))
                    .col(integer(Jobs::MaxAttempts))
                    .col(timestamp_with_time_zone(Jobs::RunAfter))
                    .col(string_len_null(Jobs::LockedBy, 100))
                    .col(timestamp_with_time_zone_null(Jobs::LockedUntil))
                    .col(text_null(Jobs::LastError))
                    .col(big_integer(Jobs::ProgressDone).default(0))
                    .col(big_integer_null(Jobs::ProgressTotal))
                    .col(text_null(Jobs::Result))
                    .col(big_integer_null(Jobs::CreatedBy))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone_null(Jobs::StartedAt))
                    .col(timestamp_with_time_zone_null(Jobs::FinishedAt))
                    .col(timestamp_with_time_zone_null(Jobs::CancelRequestedAt))
                    .col(string_len_null(Jobs::SingletonKey, 200))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Jobs::Table, Jobs::CreatedBy)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // What a worker scans for: queued jobs that are due, running ones whose lease ran out.
        manager
            .create_index(
                Index::create()
                    .name("jobs_status_run_after")
                    .table(Jobs::Table)
                    .col(Jobs::Status)
                    .col(Jobs::RunAfter)
                    .to_owned(),
            )
            .await?;
        // At most one unfinished job per singleton key (one export of a round at a time).
        // A partial index, which both databases support with the same words.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX jobs_singleton_unfinished ON jobs (singleton_key) \
                 WHERE status IN ('queued', 'running')",
            )
            .await?;

        for column in outbox_columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Outbox::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(StoredFiles::Table)
                    .col(big_pk_auto(StoredFiles::Id))
                    .col(string_len(StoredFiles::Purpose, 32))
                    .col(string_len(StoredFiles::Name, 200))
                    .col(string_len(StoredFiles::ContentType, 100))
                    .col(big_integer(StoredFiles::Size).default(0))
                    .col(string_len_null(StoredFiles::Sha256, 64))
                    .col(big_integer_null(StoredFiles::JobId))
                    .col(big_integer_null(StoredFiles::CreatedBy))
                    .col(timestamp_with_time_zone(StoredFiles::CreatedAt))
                    .col(timestamp_with_time_zone(StoredFiles::ExpiresAt))
                    .col(boolean(StoredFiles::Complete).default(false))
                    .foreign_key(
                        ForeignKey::create()
                            .from(StoredFiles::Table, StoredFiles::JobId)
                            .to(Jobs::Table, Jobs::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(StoredFiles::Table, StoredFiles::CreatedBy)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("stored_files_job")
                    .table(StoredFiles::Table)
                    .col(StoredFiles::JobId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("stored_files_expires")
                    .table(StoredFiles::Table)
                    .col(StoredFiles::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StoredFileChunks::Table)
                    .col(big_integer(StoredFileChunks::FileId))
                    .col(integer(StoredFileChunks::Seq))
                    .col(blob(StoredFileChunks::Data))
                    .primary_key(
                        Index::create()
                            .col(StoredFileChunks::FileId)
                            .col(StoredFileChunks::Seq),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(StoredFileChunks::Table, StoredFileChunks::FileId)
                            .to(StoredFiles::Table, StoredFiles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // PostgreSQL would compress every chunk on its way in; bundles of PNG images and
        // ZIP containers hardly shrink, and the compressing would compete for the cores
        // that render the next letters.
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE stored_file_chunks ALTER COLUMN data SET STORAGE EXTERNAL",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StoredFileChunks::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(StoredFiles::Table).to_owned())
            .await?;
        for column in [
            Outbox::HtmlBody,
            Outbox::NextAttemptAt,
            Outbox::LockedBy,
            Outbox::LockedUntil,
            Outbox::LastError,
            Outbox::FailedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Outbox::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(Jobs::Table).to_owned())
            .await
    }
}
