//! Recruitment by address lottery: the address register, census benchmarks, recruitment
//! rounds and their letters, registered residents and their consents.

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
enum Addresses {
    Table,
    Id,
    AddressKey,
    Line1,
    Line2,
    Line3,
    Town,
    Postcode,
    WardCode,
    DeprivationDecile,
    HouseholdKey,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Benchmarks {
    Table,
    Id,
    AreaCode,
    AreaName,
    Dimension,
    Category,
    Count,
    Universe,
    ImportedAt,
}

#[derive(DeriveIden)]
enum RecruitmentRounds {
    Table,
    Id,
    Name,
    Seed,
    Algorithm,
    Parameters,
    RegisterFingerprint,
    EligibleCount,
    DrawnCount,
    CreatedBy,
    CreatedAt,
    CodeExpiresAt,
    MinAge,
    OnePerHousehold,
    IncentiveDescription,
    IncentiveAmountPence,
}

#[derive(DeriveIden)]
enum Letters {
    Table,
    Id,
    RoundId,
    AddressId,
    Stratum,
    CodeHash,
    CreatedAt,
    ExportedAt,
    RedeemedAt,
}

#[derive(DeriveIden)]
enum Residents {
    Table,
    Id,
    AccountId,
    LetterId,
    RoundId,
    AddressId,
    HouseholdKey,
    HouseholdLock,
    WardCode,
    DeprivationDecile,
    FullName,
    Email,
    Phone,
    DateOfBirth,
    Sex,
    EthnicGroup,
    Disability,
    RegisteredAt,
    IncentiveOwed,
    IncentiveFulfilledAt,
    WithdrawnAt,
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    Id,
    ResidentId,
    Purpose,
    Wording,
    Version,
    GivenAt,
    WithdrawnAt,
}

fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut statement = Index::create().name(name).table(table).to_owned();
    for col in cols {
        statement.col(col);
    }
    if unique {
        statement.unique();
    }
    manager.create_index(statement).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Addresses::Table)
                    .col(big_pk_auto(Addresses::Id))
                    .col(string_len_uniq(Addresses::AddressKey, 64))
                    .col(string_len(Addresses::Line1, 200))
                    .col(string_len_null(Addresses::Line2, 200))
                    .col(string_len_null(Addresses::Line3, 200))
                    .col(string_len_null(Addresses::Town, 200))
                    .col(string_len(Addresses::Postcode, 8))
                    .col(string_len(Addresses::WardCode, 9))
                    .col(small_integer_null(Addresses::DeprivationDecile))
                    .col(string_len(Addresses::HouseholdKey, 64))
                    .col(timestamp_with_time_zone(Addresses::CreatedAt))
                    .col(timestamp_with_time_zone(Addresses::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "addresses_ward_code",
            Addresses::Table,
            vec![Addresses::WardCode.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "addresses_household_key",
            Addresses::Table,
            vec![Addresses::HouseholdKey.into_iden()],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Benchmarks::Table)
                    .col(big_pk_auto(Benchmarks::Id))
                    .col(string_len(Benchmarks::AreaCode, 9))
                    .col(string_len(Benchmarks::AreaName, 200))
                    .col(string_len(Benchmarks::Dimension, 200))
                    .col(string_len(Benchmarks::Category, 200))
                    .col(big_integer(Benchmarks::Count))
                    .col(string_len(Benchmarks::Universe, 100))
                    .col(timestamp_with_time_zone(Benchmarks::ImportedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "benchmarks_area_dimension_category",
            Benchmarks::Table,
            vec![
                Benchmarks::AreaCode.into_iden(),
                Benchmarks::Dimension.into_iden(),
                Benchmarks::Category.into_iden(),
            ],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RecruitmentRounds::Table)
                    .col(big_pk_auto(RecruitmentRounds::Id))
                    .col(string_len(RecruitmentRounds::Name, 200))
                    .col(string_len(RecruitmentRounds::Seed, 20))
                    .col(string_len(RecruitmentRounds::Algorithm, 120))
                    .col(text(RecruitmentRounds::Parameters))
                    .col(string_len(RecruitmentRounds::RegisterFingerprint, 64))
                    .col(big_integer(RecruitmentRounds::EligibleCount))
                    .col(big_integer(RecruitmentRounds::DrawnCount))
                    .col(big_integer_null(RecruitmentRounds::CreatedBy))
                    .col(timestamp_with_time_zone(RecruitmentRounds::CreatedAt))
                    .col(timestamp_with_time_zone(RecruitmentRounds::CodeExpiresAt))
                    .col(small_integer(RecruitmentRounds::MinAge))
                    .col(boolean(RecruitmentRounds::OnePerHousehold))
                    .col(text_null(RecruitmentRounds::IncentiveDescription))
                    .col(integer_null(RecruitmentRounds::IncentiveAmountPence))
                    .foreign_key(&mut fk(
                        (RecruitmentRounds::Table, RecruitmentRounds::CreatedBy),
                        (Accounts::Table, Accounts::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Letters::Table)
                    .col(big_pk_auto(Letters::Id))
                    .col(big_integer(Letters::RoundId))
                    .col(big_integer(Letters::AddressId))
                    .col(string_len(Letters::Stratum, 64))
                    .col(string_len_null(Letters::CodeHash, 64))
                    .col(timestamp_with_time_zone(Letters::CreatedAt))
                    .col(timestamp_with_time_zone_null(Letters::ExportedAt))
                    .col(timestamp_with_time_zone_null(Letters::RedeemedAt))
                    .foreign_key(&mut fk(
                        (Letters::Table, Letters::RoundId),
                        (RecruitmentRounds::Table, RecruitmentRounds::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Letters::Table, Letters::AddressId),
                        (Addresses::Table, Addresses::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "letters_round_address",
            Letters::Table,
            vec![Letters::RoundId.into_iden(), Letters::AddressId.into_iden()],
            true,
        )
        .await?;
        index(
            manager,
            "letters_code_hash",
            Letters::Table,
            vec![Letters::CodeHash.into_iden()],
            true,
        )
        .await?;
        index(
            manager,
            "letters_address_created",
            Letters::Table,
            vec![
                Letters::AddressId.into_iden(),
                Letters::CreatedAt.into_iden(),
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Residents::Table)
                    .col(big_pk_auto(Residents::Id))
                    .col(big_integer_null(Residents::AccountId))
                    .col(big_integer(Residents::LetterId))
                    .col(big_integer(Residents::RoundId))
                    .col(big_integer(Residents::AddressId))
                    .col(string_len(Residents::HouseholdKey, 64))
                    .col(string_len_null(Residents::HouseholdLock, 64))
                    .col(string_len(Residents::WardCode, 9))
                    .col(small_integer_null(Residents::DeprivationDecile))
                    .col(string_len(Residents::FullName, 200))
                    .col(string_len_null(Residents::Email, 254))
                    .col(string_len_null(Residents::Phone, 20))
                    .col(date(Residents::DateOfBirth))
                    .col(string_len(Residents::Sex, 20))
                    .col(string_len(Residents::EthnicGroup, 120))
                    .col(string_len(Residents::Disability, 40))
                    .col(timestamp_with_time_zone(Residents::RegisteredAt))
                    .col(boolean(Residents::IncentiveOwed))
                    .col(timestamp_with_time_zone_null(
                        Residents::IncentiveFulfilledAt,
                    ))
                    .col(timestamp_with_time_zone_null(Residents::WithdrawnAt))
                    .foreign_key(&mut fk(
                        (Residents::Table, Residents::AccountId),
                        (Accounts::Table, Accounts::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Residents::Table, Residents::LetterId),
                        (Letters::Table, Letters::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Residents::Table, Residents::RoundId),
                        (RecruitmentRounds::Table, RecruitmentRounds::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Residents::Table, Residents::AddressId),
                        (Addresses::Table, Addresses::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // One registration per letter (and so per code), enforced by the database.
        index(
            manager,
            "residents_letter",
            Residents::Table,
            vec![Residents::LetterId.into_iden()],
            true,
        )
        .await?;
        // `household_lock` is the household key only in rounds that allow one person per
        // household (NULL otherwise); NULLs never clash, so this enforces exactly that rule.
        index(
            manager,
            "residents_round_household_lock",
            Residents::Table,
            vec![
                Residents::RoundId.into_iden(),
                Residents::HouseholdLock.into_iden(),
            ],
            true,
        )
        .await?;
        index(
            manager,
            "residents_account",
            Residents::Table,
            vec![Residents::AccountId.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "residents_household",
            Residents::Table,
            vec![Residents::HouseholdKey.into_iden()],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Consents::Table)
                    .col(big_pk_auto(Consents::Id))
                    .col(big_integer(Consents::ResidentId))
                    .col(string_len(Consents::Purpose, 100))
                    .col(text(Consents::Wording))
                    .col(string_len(Consents::Version, 40))
                    .col(timestamp_with_time_zone(Consents::GivenAt))
                    .col(timestamp_with_time_zone_null(Consents::WithdrawnAt))
                    .foreign_key(&mut fk(
                        (Consents::Table, Consents::ResidentId),
                        (Residents::Table, Residents::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "consents_resident",
            Consents::Table,
            vec![Consents::ResidentId.into_iden()],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Consents::Table.into_iden(),
            Residents::Table.into_iden(),
            Letters::Table.into_iden(),
            RecruitmentRounds::Table.into_iden(),
            Benchmarks::Table.into_iden(),
            Addresses::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
