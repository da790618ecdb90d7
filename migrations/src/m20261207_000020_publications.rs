//! Protected publications: what SCRUTINY's copy of a report hides, computed once per
//! change of the report's counts and kept, so that every request and every server sharing
//! the database serves the same one.
//!
//! A row is keyed by the report's kind, its subject (the consultation, panel, selection
//! run or round) and the SHA-256 of the canonical tables it was computed from (with the
//! threshold and the algorithm's version): the same counts always find the same row, and
//! the first server to store one wins (later inserts of the same key do nothing). Rows of
//! one subject, in `id` order, are its versions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Publications {
    Table,
    Id,
    Kind,
    SubjectId,
    Digest,
    Algorithm,
    Threshold,
    Hidden,
    Loss,
    CreatedAt,
}

const KEY: &str = "publications_subject_digest";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Publications::Table)
                    .col(big_pk_auto(Publications::Id))
                    .col(string_len(Publications::Kind, 40))
                    .col(big_integer(Publications::SubjectId))
                    .col(string_len(Publications::Digest, 64))
                    .col(integer(Publications::Algorithm))
                    .col(big_integer(Publications::Threshold))
                    .col(text(Publications::Hidden))
                    .col(text(Publications::Loss))
                    .col(timestamp_with_time_zone(Publications::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(KEY)
                    .table(Publications::Table)
                    .col(Publications::Kind)
                    .col(Publications::SubjectId)
                    .col(Publications::Digest)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Publications::Table).to_owned())
            .await
    }
}
