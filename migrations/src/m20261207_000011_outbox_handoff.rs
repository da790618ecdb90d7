//! Gives each outbox message the moment its latest hand-off to the transport began: the
//! claim stamps it, before any connection to the relay opens, so an open of the tracking
//! image that comes with the message (a mail server fetching images as it lands) can be
//! told from a person's even before the relay's acceptance is written.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::timestamp_with_time_zone_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    HandoffAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(timestamp_with_time_zone_null(Outbox::HandoffAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .drop_column(Outbox::HandoffAt)
                    .to_owned(),
            )
            .await
    }
}
