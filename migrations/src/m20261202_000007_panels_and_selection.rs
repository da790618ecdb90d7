//! Panels and fair selection: panels with their eligibility rules and quotas, residents'
//! custom attributes (categories the profile does not hold), guardians' consent for
//! registrants under 13, selection runs with each registrant's probability, and
//! memberships with their dated lifecycle events.

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
enum Residents {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Panels {
    Table,
    Id,
    Name,
    Description,
    MinAge,
    MaxAge,
    Wards,
    TargetSize,
    TermMonths,
    OnePerHousehold,
    AreaCode,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PanelQuotas {
    Table,
    Id,
    PanelId,
    Position,
    Feature,
    Value,
    Min,
    Max,
}

#[derive(DeriveIden)]
enum ResidentAttributes {
    Table,
    Id,
    ResidentId,
    Name,
    Value,
}

#[derive(DeriveIden)]
enum GuardianConsents {
    Table,
    Id,
    ResidentId,
    GuardianName,
    Relationship,
    Method,
    RecordedBy,
    RecordedAt,
    WithdrawnAt,
}

#[derive(DeriveIden)]
enum SelectionRuns {
    Table,
    Id,
    PanelId,
    JobId,
    TopUp,
    Method,
    Seed,
    K,
    Tickets,
    GreedyRuns,
    TimeLimitSeconds,
    Quotas,
    AsOf,
    PoolSize,
    Summary,
    LotteryFileId,
    LotterySha256,
    DistributionFileId,
    DrawnNumber,
    DrawSource,
    DrawnBy,
    DrawnAt,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SelectionProbabilities {
    Table,
    Id,
    RunId,
    ResidentId,
    Probability,
    LotteryProbability,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Id,
    PanelId,
    ResidentId,
    RunId,
    Status,
    SelectedAt,
    TermEndsAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MembershipEvents {
    Table,
    Id,
    MembershipId,
    FromStatus,
    ToStatus,
    Reason,
    ByAccount,
    At,
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
                    .table(Panels::Table)
                    .col(big_pk_auto(Panels::Id))
                    .col(string_len_uniq(Panels::Name, 200))
                    .col(text(Panels::Description))
                    .col(small_integer_null(Panels::MinAge))
                    .col(small_integer_null(Panels::MaxAge))
                    .col(text_null(Panels::Wards))
                    .col(integer(Panels::TargetSize))
                    .col(integer(Panels::TermMonths))
                    .col(boolean(Panels::OnePerHousehold))
                    .col(string_len_null(Panels::AreaCode, 20))
                    .col(big_integer_null(Panels::CreatedBy))
                    .col(timestamp_with_time_zone(Panels::CreatedAt))
                    .foreign_key(&mut fk(
                        (Panels::Table, Panels::CreatedBy),
                        (Accounts::Table, Accounts::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PanelQuotas::Table)
                    .col(big_pk_auto(PanelQuotas::Id))
                    .col(big_integer(PanelQuotas::PanelId))
                    .col(integer(PanelQuotas::Position))
                    .col(string_len(PanelQuotas::Feature, 100))
                    .col(string_len(PanelQuotas::Value, 200))
                    .col(integer(PanelQuotas::Min))
                    .col(integer(PanelQuotas::Max))
                    .foreign_key(&mut fk(
                        (PanelQuotas::Table, PanelQuotas::PanelId),
                        (Panels::Table, Panels::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "panel_quotas_value",
            PanelQuotas::Table,
            vec![
                PanelQuotas::PanelId.into_iden(),
                PanelQuotas::Feature.into_iden(),
                PanelQuotas::Value.into_iden(),
            ],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(ResidentAttributes::Table)
                    .col(big_pk_auto(ResidentAttributes::Id))
                    .col(big_integer(ResidentAttributes::ResidentId))
                    .col(string_len(ResidentAttributes::Name, 100))
                    .col(string_len(ResidentAttributes::Value, 200))
                    .foreign_key(&mut fk(
                        (ResidentAttributes::Table, ResidentAttributes::ResidentId),
                        (Residents::Table, Residents::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "resident_attributes_name",
            ResidentAttributes::Table,
            vec![
                ResidentAttributes::ResidentId.into_iden(),
                ResidentAttributes::Name.into_iden(),
            ],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(GuardianConsents::Table)
                    .col(big_pk_auto(GuardianConsents::Id))
                    .col(big_integer(GuardianConsents::ResidentId))
                    .col(string_len(GuardianConsents::GuardianName, 200))
                    .col(string_len(GuardianConsents::Relationship, 100))
                    .col(string_len(GuardianConsents::Method, 200))
                    .col(big_integer_null(GuardianConsents::RecordedBy))
                    .col(timestamp_with_time_zone(GuardianConsents::RecordedAt))
                    .col(timestamp_with_time_zone_null(GuardianConsents::WithdrawnAt))
                    .foreign_key(&mut fk(
                        (GuardianConsents::Table, GuardianConsents::ResidentId),
                        (Residents::Table, Residents::Id),
                    ))
                    .foreign_key(&mut fk(
                        (GuardianConsents::Table, GuardianConsents::RecordedBy),
                        (Accounts::Table, Accounts::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "guardian_consents_resident",
            GuardianConsents::Table,
            vec![GuardianConsents::ResidentId.into_iden()],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(SelectionRuns::Table)
                    .col(big_pk_auto(SelectionRuns::Id))
                    .col(big_integer(SelectionRuns::PanelId))
                    .col(big_integer_null(SelectionRuns::JobId))
                    .col(boolean(SelectionRuns::TopUp))
                    .col(string_len(SelectionRuns::Method, 20))
                    .col(string_len(SelectionRuns::Seed, 20))
                    .col(integer(SelectionRuns::K))
                    .col(integer(SelectionRuns::Tickets))
                    .col(integer(SelectionRuns::GreedyRuns))
                    .col(integer(SelectionRuns::TimeLimitSeconds))
                    .col(text(SelectionRuns::Quotas))
                    .col(timestamp_with_time_zone(SelectionRuns::AsOf))
                    .col(integer_null(SelectionRuns::PoolSize))
                    .col(text_null(SelectionRuns::Summary))
                    .col(big_integer_null(SelectionRuns::LotteryFileId))
                    .col(string_len_null(SelectionRuns::LotterySha256, 64))
                    .col(big_integer_null(SelectionRuns::DistributionFileId))
                    .col(integer_null(SelectionRuns::DrawnNumber))
                    .col(text_null(SelectionRuns::DrawSource))
                    .col(big_integer_null(SelectionRuns::DrawnBy))
                    .col(timestamp_with_time_zone_null(SelectionRuns::DrawnAt))
                    .col(big_integer_null(SelectionRuns::CreatedBy))
                    .col(timestamp_with_time_zone(SelectionRuns::CreatedAt))
                    .foreign_key(&mut fk(
                        (SelectionRuns::Table, SelectionRuns::PanelId),
                        (Panels::Table, Panels::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "selection_runs_panel",
            SelectionRuns::Table,
            vec![SelectionRuns::PanelId.into_iden()],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(SelectionProbabilities::Table)
                    .col(big_pk_auto(SelectionProbabilities::Id))
                    .col(big_integer(SelectionProbabilities::RunId))
                    .col(big_integer(SelectionProbabilities::ResidentId))
                    .col(double(SelectionProbabilities::Probability))
                    .col(double_null(SelectionProbabilities::LotteryProbability))
                    .foreign_key(&mut fk(
                        (SelectionProbabilities::Table, SelectionProbabilities::RunId),
                        (SelectionRuns::Table, SelectionRuns::Id),
                    ))
                    .foreign_key(&mut fk(
                        (
                            SelectionProbabilities::Table,
                            SelectionProbabilities::ResidentId,
                        ),
                        (Residents::Table, Residents::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "selection_probabilities_run_resident",
            SelectionProbabilities::Table,
            vec![
                SelectionProbabilities::RunId.into_iden(),
                SelectionProbabilities::ResidentId.into_iden(),
            ],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(big_pk_auto(Memberships::Id))
                    .col(big_integer(Memberships::PanelId))
                    .col(big_integer(Memberships::ResidentId))
                    .col(big_integer_null(Memberships::RunId))
                    .col(string_len(Memberships::Status, 20))
                    .col(timestamp_with_time_zone(Memberships::SelectedAt))
                    .col(timestamp_with_time_zone_null(Memberships::TermEndsAt))
                    .col(timestamp_with_time_zone(Memberships::UpdatedAt))
                    .foreign_key(&mut fk(
                        (Memberships::Table, Memberships::PanelId),
                        (Panels::Table, Panels::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Memberships::Table, Memberships::ResidentId),
                        (Residents::Table, Residents::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "memberships_resident",
            Memberships::Table,
            vec![Memberships::ResidentId.into_iden()],
            false,
        )
        .await?;
        // One current membership per (panel, resident): a partial unique index, which
        // SQLite and PostgreSQL both understand.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX memberships_current ON memberships (panel_id, resident_id) \
                 WHERE status IN ('selected', 'active', 'paused')",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MembershipEvents::Table)
                    .col(big_pk_auto(MembershipEvents::Id))
                    .col(big_integer(MembershipEvents::MembershipId))
                    .col(string_len_null(MembershipEvents::FromStatus, 20))
                    .col(string_len(MembershipEvents::ToStatus, 20))
                    .col(text_null(MembershipEvents::Reason))
                    .col(big_integer_null(MembershipEvents::ByAccount))
                    .col(timestamp_with_time_zone(MembershipEvents::At))
                    .foreign_key(&mut fk(
                        (MembershipEvents::Table, MembershipEvents::MembershipId),
                        (Memberships::Table, Memberships::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "membership_events_membership",
            MembershipEvents::Table,
            vec![MembershipEvents::MembershipId.into_iden()],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MembershipEvents::Table.into_iden(),
            Memberships::Table.into_iden(),
            SelectionProbabilities::Table.into_iden(),
            SelectionRuns::Table.into_iden(),
            GuardianConsents::Table.into_iden(),
            ResidentAttributes::Table.into_iden(),
            PanelQuotas::Table.into_iden(),
            Panels::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
