//! Widens the index of responses by consultation into one that also holds the channel
//! and the six demographic columns a representativeness report splits by.
//!
//! Reports count one consultation's open-link responses by each dimension. Through the
//! old index, SQLite looked up every response's row in the table (a random read each); with
//! the profile in the index it reads the index alone, and a split by age band (the first
//! column after the channel) needs no sort. Every query that used the old index (by
//! consultation) uses this one, so writes still maintain one index on the table.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Responses {
    Table,
    ConsultationId,
    Channel,
    AgeBand,
    Sex,
    EthnicGroup,
    Disability,
    WardCode,
    DeprivationDecile,
}

const OLD: &str = "responses_consultation";
const NEW: &str = "responses_consultation_profile";

fn create(name: &str, columns: Vec<Responses>) -> IndexCreateStatement {
    let mut index = Index::create()
        .name(name)
        .table(Responses::Table)
        .to_owned();
    for column in columns {
        index.col(column);
    }
    index
}

fn drop(name: &str) -> IndexDropStatement {
    Index::drop().name(name).table(Responses::Table).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(create(
                NEW,
                vec![
                    Responses::ConsultationId,
                    Responses::Channel,
                    Responses::AgeBand,
                    Responses::Sex,
                    Responses::EthnicGroup,
                    Responses::Disability,
                    Responses::WardCode,
                    Responses::DeprivationDecile,
                ],
            ))
            .await?;
        manager.drop_index(drop(OLD)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(create(OLD, vec![Responses::ConsultationId]))
            .await?;
        manager.drop_index(drop(NEW)).await
    }
}
