//! `invitations`: one per (consultation, member), with the hash of its personal token (and
//! of its printed code, for post), its furthest stage and when each stage was reached.

use crate::domain::consultations::consultation::AnswerChannel;
use crate::domain::consultations::consultation::Channel;
use crate::domain::consultations::tracking::Stage;
use crate::domain::ids::{ConsultationId, InvitationId, ResidentId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: InvitationId,
    pub consultation_id: ConsultationId,
    pub resident_id: ResidentId,
    /// `email`, `sms` or `post`.
    pub channel: Channel,
    #[sea_orm(unique)]
    pub token_hash: String,
    /// The random salt the token is derived from with the code secret (base64), so that
    /// a reminder can carry the same link without the token being stored.
    pub token_salt: String,
    #[sea_orm(unique)]
    pub code_hash: Option<String>,
    /// The furthest stage reached (`domain::consultations::tracking::Stage`).
    pub stage: Stage,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub bounced_at: Option<DateTimeUtc>,
    pub opened_at: Option<DateTimeUtc>,
    pub machine_opened_at: Option<DateTimeUtc>,
    pub clicked_at: Option<DateTimeUtc>,
    pub started_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    /// How the answers came: `web`, `app`, `email_link`, `qr`, `paper`, `phone`.
    pub completed_channel: Option<AnswerChannel>,
    pub reminders_sent: i32,
    pub last_reminded_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

/// The invitation's consultation, so that a token's look-up reads both in one query.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The consultation the member is invited to.
    #[sea_orm(
        belongs_to = "super::consultation::Entity",
        from = "Column::ConsultationId",
        to = "super::consultation::Column::Id"
    )]
    Consultation,
}

impl Related<super::consultation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Consultation.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
