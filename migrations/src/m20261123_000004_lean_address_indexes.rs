//! Drops the address register's ward and household indexes.
//!
//! Nothing looks addresses up by ward or by household: the lottery reads the whole register
//! and leaves member households out with one `NOT IN`, and planning counts addresses per
//! ward in one pass. Each index still had to be kept up to date on every import, where the
//! two together cost about a third of the time of loading a million addresses.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Addresses {
    Table,
    WardCode,
    HouseholdKey,
}

const INDEXES: [&str; 2] = ["addresses_ward_code", "addresses_household_key"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(Addresses::Table).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, column) in INDEXES
            .into_iter()
            .zip([Addresses::WardCode, Addresses::HouseholdKey])
        {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Addresses::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
