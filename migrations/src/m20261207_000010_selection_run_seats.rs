//! Gives each selection run the seats it was computed for: a fingerprint of the panel's
//! sitting members, their households and the runs drawn so far, and how many sat. The draw
//! compares them with the panel as it is, so a run computed for other seats is refused
//! instead of overfilling the panel.
//!
//! One column per statement: SQLite alters a table one column at a time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer_null, string_len_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SelectionRuns {
    Table,
    SeatsFingerprint,
    SeatsSitting,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SelectionRuns::Table)
                    .add_column(string_len_null(SelectionRuns::SeatsFingerprint, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SelectionRuns::Table)
                    .add_column(integer_null(SelectionRuns::SeatsSitting))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [SelectionRuns::SeatsSitting, SelectionRuns::SeatsFingerprint] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SelectionRuns::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
