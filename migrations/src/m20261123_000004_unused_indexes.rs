//! Drops three indexes that no query uses but every write had to maintain.
//!
//! - `addresses_ward_code` and `addresses_household_key`: nothing looks addresses up by
//!   ward or household. The lottery reads the whole register and leaves member households
//!   out in the same pass, and planning counts addresses per ward in one scan. Together
//!   they cost about a third of the time of importing a million addresses.
//! - `letters_address_created`: the lottery leaves recently invited addresses out with a
//!   hash anti-join (PostgreSQL) or a temporary index of the recent letters (SQLite),
//!   neither of which probes it; it cost a fifth of writing a round's letters.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Addresses {
    Table,
    WardCode,
    HouseholdKey,
}

#[derive(DeriveIden)]
enum Letters {
    Table,
    AddressId,
    CreatedAt,
}

/// Each index: its name, its table and its columns (to recreate it on the way down).
fn indexes() -> [(&'static str, DynIden, Vec<DynIden>); 3] {
    [
        (
            "addresses_ward_code",
            Addresses::Table.into_iden(),
            vec![Addresses::WardCode.into_iden()],
        ),
        (
            "addresses_household_key",
            Addresses::Table.into_iden(),
            vec![Addresses::HouseholdKey.into_iden()],
        ),
        (
            "letters_address_created",
            Letters::Table.into_iden(),
            vec![
                Letters::AddressId.into_iden(),
                Letters::CreatedAt.into_iden(),
            ],
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in indexes() {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in indexes() {
            let mut index = Index::create().name(name).table(table).to_owned();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }
}
