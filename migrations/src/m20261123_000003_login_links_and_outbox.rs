//! One-time login links (for residents who log in without a password) and the outbox of
//! messages waiting to be delivered.

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
enum LoginLinks {
    Table,
    Id,
    AccountId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    Channel,
    Recipient,
    Subject,
    Body,
    IdempotencyKey,
    CreatedAt,
    SentAt,
    Attempts,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginLinks::Table)
                    .col(big_pk_auto(LoginLinks::Id))
                    .col(big_integer(LoginLinks::AccountId))
                    .col(string_len_uniq(LoginLinks::TokenHash, 64))
                    .col(timestamp_with_time_zone(LoginLinks::CreatedAt))
                    .col(timestamp_with_time_zone(LoginLinks::ExpiresAt))
                    .col(timestamp_with_time_zone_null(LoginLinks::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LoginLinks::Table, LoginLinks::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(big_pk_auto(Outbox::Id))
                    .col(string_len(Outbox::Channel, 16))
                    .col(string_len(Outbox::Recipient, 254))
                    .col(string_len(Outbox::Subject, 200))
                    .col(text(Outbox::Body))
                    .col(string_len_uniq(Outbox::IdempotencyKey, 100))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .col(timestamp_with_time_zone_null(Outbox::SentAt))
                    .col(integer(Outbox::Attempts).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("outbox_unsent")
                    .table(Outbox::Table)
                    .col(Outbox::SentAt)
                    .col(Outbox::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Outbox::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(LoginLinks::Table).to_owned())
            .await
    }
}
