//! `consultations`: a survey, its lifecycle (`draft`, `open`, `closed`), its audience and
//! the templates of the messages that invite members to it.

use crate::domain::consultations::consultation::Status;
use crate::domain::ids::{AccountId, ConsultationId, PanelId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "consultations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: ConsultationId,
    /// The first consultation of the series this one repeats (its own id when it is the
    /// first); question keys are kept along a series so rounds can be compared.
    pub series_id: Option<ConsultationId>,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    pub status: Status,
    pub anonymous: bool,
    /// The panel it goes to; `None` for an open-link survey only.
    pub panel_id: Option<PanelId>,
    /// The code in the open link and QR code, when anyone may answer.
    #[sea_orm(unique)]
    pub open_code: Option<String>,
    pub opens_at: Option<DateTimeUtc>,
    pub closes_at: Option<DateTimeUtc>,
    pub reading_age_target: f64,
    pub invite_subject: String,
    #[sea_orm(column_type = "Text")]
    pub invite_text: String,
    pub reminder_subject: String,
    #[sea_orm(column_type = "Text")]
    pub reminder_text: String,
    #[sea_orm(column_type = "Text")]
    pub sms_text: String,
    pub max_reminders: i32,
    pub reminder_gap_hours: i32,
    /// A balanced sub-sample's size and seed, when the panel was sampled.
    pub sample_size: Option<i32>,
    pub sample_seed: Option<String>,
    pub created_by: Option<AccountId>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub opened_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
