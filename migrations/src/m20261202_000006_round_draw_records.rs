//! Gives each recruitment round its draw record: the stored file holding the eligible
//! frame as it was at the draw (keys, wards, weights), the seed, the parameters and the
//! addresses drawn, so the draw can be re-run after the register changes, or by anyone
//! from the published file alone.
//!
//! The column names a `stored_files` row. It carries no foreign-key constraint, which
//! SQLite cannot add to an existing table; the record files never expire, so the purge of
//! expired files leaves them alone.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::big_integer_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RecruitmentRounds {
    Table,
    DrawRecordFileId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RecruitmentRounds::Table)
                    .add_column(big_integer_null(RecruitmentRounds::DrawRecordFileId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RecruitmentRounds::Table)
                    .drop_column(RecruitmentRounds::DrawRecordFileId)
                    .to_owned(),
            )
            .await
    }
}
