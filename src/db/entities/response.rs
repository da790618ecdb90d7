//! `responses`: submitted answers' envelope, with the respondent's demographic snapshot
//! for reports. An anonymous consultation's responses have no invitation and only the
//! day of submission.

use crate::domain::consultations::consultation::AnswerChannel;
use crate::domain::ids::{ConsultationId, InvitationId, ResponseId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "responses")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: ResponseId,
    pub consultation_id: ConsultationId,
    #[sea_orm(unique)]
    pub invitation_id: Option<InvitationId>,
    /// An open-link response's key from its client (`consultation id:key`), so a retried
    /// submission is recognised.
    #[sea_orm(unique)]
    pub submission_key: Option<String>,
    pub channel: AnswerChannel,
    pub submitted_on: Date,
    pub submitted_at: Option<DateTimeUtc>,
    pub age_band: Option<String>,
    pub sex: Option<String>,
    pub ethnic_group: Option<String>,
    pub disability: Option<String>,
    pub ward_code: Option<String>,
    pub deprivation_decile: Option<i16>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
