//! Consultations: surveys with their questions, one invitation per invited member with
//! its personal token and furthest stage, the append-only tracking events, answers saved
//! as a respondent goes, and submitted responses with their answers (one row per chosen
//! option, so reports can count them with one grouped query).

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
    RemindersOptOut,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Headers,
}

#[derive(DeriveIden)]
enum Panels {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Consultations {
    Table,
    Id,
    SeriesId,
    Title,
    Summary,
    Status,
    Anonymous,
    PanelId,
    OpenCode,
    OpensAt,
    ClosesAt,
    ReadingAgeTarget,
    InviteSubject,
    InviteText,
    ReminderSubject,
    ReminderText,
    SmsText,
    MaxReminders,
    ReminderGapHours,
    SampleSize,
    SampleSeed,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    OpenedAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum Questions {
    Table,
    Id,
    ConsultationId,
    Position,
    Key,
    Text,
    Kind,
    Options,
    MaxChoices,
    MaxChars,
    Required,
    ShowWhenKey,
    ShowWhenAnswer,
    AboutYou,
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    ConsultationId,
    ResidentId,
    Channel,
    TokenHash,
    TokenSalt,
    CodeHash,
    Stage,
    CreatedAt,
    SentAt,
    BouncedAt,
    OpenedAt,
    MachineOpenedAt,
    ClickedAt,
    StartedAt,
    CompletedAt,
    CompletedChannel,
    RemindersSent,
    LastRemindedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum TrackingEvents {
    Table,
    Id,
    InvitationId,
    Kind,
    At,
    Machine,
    Detail,
}

#[derive(DeriveIden)]
enum SavedAnswers {
    Table,
    Id,
    InvitationId,
    QuestionKey,
    Answer,
    SavedAt,
}

#[derive(DeriveIden)]
enum Responses {
    Table,
    Id,
    ConsultationId,
    InvitationId,
    SubmissionKey,
    Channel,
    SubmittedOn,
    SubmittedAt,
    AgeBand,
    Sex,
    EthnicGroup,
    Disability,
    WardCode,
    DeprivationDecile,
}

#[derive(DeriveIden)]
enum Answers {
    Table,
    Id,
    ResponseId,
    QuestionKey,
    OptionKey,
    Rank,
    Scale,
    Text,
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
            .alter_table(
                Table::alter()
                    .table(Residents::Table)
                    .add_column(boolean(Residents::RemindersOptOut).default(false))
                    .to_owned(),
            )
            .await?;
        // Extra headers of a message (`List-Unsubscribe` on reminders), as JSON pairs.
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(text_null(Outbox::Headers))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Consultations::Table)
                    .col(big_pk_auto(Consultations::Id))
                    .col(big_integer_null(Consultations::SeriesId))
                    .col(string_len(Consultations::Title, 300))
                    .col(text(Consultations::Summary))
                    .col(string_len(Consultations::Status, 10))
                    .col(boolean(Consultations::Anonymous))
                    .col(big_integer_null(Consultations::PanelId))
                    .col(string_len_null(Consultations::OpenCode, 64).unique_key())
                    .col(timestamp_with_time_zone_null(Consultations::OpensAt))
                    .col(timestamp_with_time_zone_null(Consultations::ClosesAt))
                    .col(double(Consultations::ReadingAgeTarget))
                    .col(string_len(Consultations::InviteSubject, 300))
                    .col(text(Consultations::InviteText))
                    .col(string_len(Consultations::ReminderSubject, 300))
                    .col(text(Consultations::ReminderText))
                    .col(text(Consultations::SmsText))
                    .col(integer(Consultations::MaxReminders))
                    .col(integer(Consultations::ReminderGapHours))
                    .col(integer_null(Consultations::SampleSize))
                    .col(string_len_null(Consultations::SampleSeed, 20))
                    .col(big_integer_null(Consultations::CreatedBy))
                    .col(timestamp_with_time_zone(Consultations::CreatedAt))
                    .col(timestamp_with_time_zone(Consultations::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Consultations::OpenedAt))
                    .col(timestamp_with_time_zone_null(Consultations::ClosedAt))
                    .foreign_key(&mut fk(
                        (Consultations::Table, Consultations::PanelId),
                        (Panels::Table, Panels::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Consultations::Table, Consultations::CreatedBy),
                        (Accounts::Table, Accounts::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "consultations_series",
            Consultations::Table,
            vec![Consultations::SeriesId.into_iden()],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Questions::Table)
                    .col(big_pk_auto(Questions::Id))
                    .col(big_integer(Questions::ConsultationId))
                    .col(integer(Questions::Position))
                    .col(string_len(Questions::Key, 100))
                    .col(text(Questions::Text))
                    .col(string_len(Questions::Kind, 20))
                    .col(text(Questions::Options))
                    .col(integer_null(Questions::MaxChoices))
                    .col(integer_null(Questions::MaxChars))
                    .col(boolean(Questions::Required))
                    .col(string_len_null(Questions::ShowWhenKey, 100))
                    .col(string_len_null(Questions::ShowWhenAnswer, 200))
                    .col(string_len_null(Questions::AboutYou, 40))
                    .foreign_key(&mut fk(
                        (Questions::Table, Questions::ConsultationId),
                        (Consultations::Table, Consultations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "questions_key",
            Questions::Table,
            vec![
                Questions::ConsultationId.into_iden(),
                Questions::Key.into_iden(),
            ],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(big_pk_auto(Invitations::Id))
                    .col(big_integer(Invitations::ConsultationId))
                    .col(big_integer(Invitations::ResidentId))
                    .col(string_len(Invitations::Channel, 10))
                    .col(string_len_uniq(Invitations::TokenHash, 64))
                    .col(string_len(Invitations::TokenSalt, 32))
                    .col(string_len_null(Invitations::CodeHash, 64).unique_key())
                    .col(string_len(Invitations::Stage, 12))
                    .col(timestamp_with_time_zone(Invitations::CreatedAt))
                    .col(timestamp_with_time_zone_null(Invitations::SentAt))
                    .col(timestamp_with_time_zone_null(Invitations::BouncedAt))
                    .col(timestamp_with_time_zone_null(Invitations::OpenedAt))
                    .col(timestamp_with_time_zone_null(Invitations::MachineOpenedAt))
                    .col(timestamp_with_time_zone_null(Invitations::ClickedAt))
                    .col(timestamp_with_time_zone_null(Invitations::StartedAt))
                    .col(timestamp_with_time_zone_null(Invitations::CompletedAt))
                    .col(string_len_null(Invitations::CompletedChannel, 12))
                    .col(integer(Invitations::RemindersSent))
                    .col(timestamp_with_time_zone_null(Invitations::LastRemindedAt))
                    .col(timestamp_with_time_zone_null(Invitations::RevokedAt))
                    .foreign_key(&mut fk(
                        (Invitations::Table, Invitations::ConsultationId),
                        (Consultations::Table, Consultations::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Invitations::Table, Invitations::ResidentId),
                        (Residents::Table, Residents::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // A member is invited to a consultation at most once.
        index(
            manager,
            "invitations_member",
            Invitations::Table,
            vec![
                Invitations::ConsultationId.into_iden(),
                Invitations::ResidentId.into_iden(),
            ],
            true,
        )
        .await?;
        index(
            manager,
            "invitations_resident",
            Invitations::Table,
            vec![Invitations::ResidentId.into_iden()],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(TrackingEvents::Table)
                    .col(big_pk_auto(TrackingEvents::Id))
                    .col(big_integer(TrackingEvents::InvitationId))
                    .col(string_len(TrackingEvents::Kind, 12))
                    .col(timestamp_with_time_zone(TrackingEvents::At))
                    .col(boolean(TrackingEvents::Machine))
                    .col(text_null(TrackingEvents::Detail))
                    .foreign_key(&mut fk(
                        (TrackingEvents::Table, TrackingEvents::InvitationId),
                        (Invitations::Table, Invitations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "tracking_events_invitation",
            TrackingEvents::Table,
            vec![TrackingEvents::InvitationId.into_iden()],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(SavedAnswers::Table)
                    .col(big_pk_auto(SavedAnswers::Id))
                    .col(big_integer(SavedAnswers::InvitationId))
                    .col(string_len(SavedAnswers::QuestionKey, 100))
                    .col(text(SavedAnswers::Answer))
                    .col(timestamp_with_time_zone(SavedAnswers::SavedAt))
                    .foreign_key(&mut fk(
                        (SavedAnswers::Table, SavedAnswers::InvitationId),
                        (Invitations::Table, Invitations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "saved_answers_question",
            SavedAnswers::Table,
            vec![
                SavedAnswers::InvitationId.into_iden(),
                SavedAnswers::QuestionKey.into_iden(),
            ],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Responses::Table)
                    .col(big_pk_auto(Responses::Id))
                    .col(big_integer(Responses::ConsultationId))
                    .col(big_integer_null(Responses::InvitationId).unique_key())
                    .col(string_len_null(Responses::SubmissionKey, 100).unique_key())
                    .col(string_len(Responses::Channel, 12))
                    .col(date(Responses::SubmittedOn))
                    .col(timestamp_with_time_zone_null(Responses::SubmittedAt))
                    .col(string_len_null(Responses::AgeBand, 200))
                    .col(string_len_null(Responses::Sex, 200))
                    .col(string_len_null(Responses::EthnicGroup, 200))
                    .col(string_len_null(Responses::Disability, 200))
                    .col(string_len_null(Responses::WardCode, 200))
                    .col(small_integer_null(Responses::DeprivationDecile))
                    .foreign_key(&mut fk(
                        (Responses::Table, Responses::ConsultationId),
                        (Consultations::Table, Consultations::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Responses::Table, Responses::InvitationId),
                        (Invitations::Table, Invitations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "responses_consultation",
            Responses::Table,
            vec![Responses::ConsultationId.into_iden()],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Answers::Table)
                    .col(big_pk_auto(Answers::Id))
                    .col(big_integer(Answers::ResponseId))
                    .col(string_len(Answers::QuestionKey, 100))
                    .col(string_len_null(Answers::OptionKey, 100))
                    .col(integer_null(Answers::Rank))
                    .col(small_integer_null(Answers::Scale))
                    .col(text_null(Answers::Text))
                    .foreign_key(&mut fk(
                        (Answers::Table, Answers::ResponseId),
                        (Responses::Table, Responses::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "answers_response",
            Answers::Table,
            vec![
                Answers::ResponseId.into_iden(),
                Answers::QuestionKey.into_iden(),
            ],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Answers::Table.into_iden(),
            Responses::Table.into_iden(),
            SavedAnswers::Table.into_iden(),
            TrackingEvents::Table.into_iden(),
            Invitations::Table.into_iden(),
            Questions::Table.into_iden(),
            Consultations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .drop_column(Outbox::Headers)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Residents::Table)
                    .drop_column(Residents::RemindersOptOut)
                    .to_owned(),
            )
            .await
    }
}
