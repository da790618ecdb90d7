//! Accounts (staff and residents), their login sessions, and the sliding-window event log
//! used for rate limits.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Email,
    DisplayName,
    Role,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
    DisabledAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    AccountId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum RateLimitEvents {
    Table,
    Id,
    Bucket,
    OccurredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(big_pk_auto(Accounts::Id))
                    .col(string_len_uniq(Accounts::Email, 254))
                    .col(string_len(Accounts::DisplayName, 200))
                    .col(string_len(Accounts::Role, 16))
                    .col(string_len_null(Accounts::PasswordHash, 200))
                    .col(timestamp_with_time_zone(Accounts::CreatedAt))
                    .col(timestamp_with_time_zone(Accounts::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Accounts::DisabledAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(big_pk_auto(Sessions::Id))
                    .col(big_integer(Sessions::AccountId))
                    .col(string_len_uniq(Sessions::TokenHash, 64))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_account_id")
                    .table(Sessions::Table)
                    .col(Sessions::AccountId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RateLimitEvents::Table)
                    .col(big_pk_auto(RateLimitEvents::Id))
                    .col(string_len(RateLimitEvents::Bucket, 300))
                    .col(timestamp_with_time_zone(RateLimitEvents::OccurredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rate_limit_events_bucket_time")
                    .table(RateLimitEvents::Table)
                    .col(RateLimitEvents::Bucket)
                    .col(RateLimitEvents::OccurredAt)
                    .to_owned(),
            )
            .await?;
        // For the purge of events older than any window.
        manager
            .create_index(
                Index::create()
                    .name("rate_limit_events_time")
                    .table(RateLimitEvents::Table)
                    .col(RateLimitEvents::OccurredAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RateLimitEvents::Table.into_iden(),
            Sessions::Table.into_iden(),
            Accounts::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
