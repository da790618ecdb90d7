//! Invitations in the API: each invitation's stages, a member's own invitations, the
//! progress of a consultation by channel, and the inputs that invite, remind, revoke and
//! print letters.

use super::*;

/// Invitations of one channel, counted by how far they got: each stage counts the
/// people who got at least that far, as the report's funnel does (a click with images
/// blocked has been opened; a paper answer has been sent, opened, clicked and started).
/// Bounces and machine-only opens are counted apart.
#[derive(SimpleObject)]
pub struct ChannelProgress {
    /// How these invitations reach members: EMAIL, SMS or POST.
    pub channel: ChannelValue,
    /// Invitations made (not revoked).
    pub invited: u64,
    /// Sent (or printed), or further.
    pub sent: u64,
    /// Reported undeliverable.
    pub bounced: u64,
    /// Opened by a person, or further (machine opens are not counted here).
    pub opened: u64,
    /// Opened only by a machine (a mail-privacy proxy or an image scanner fetching the
    /// tracking image) and never by a person: says nothing about whether a person read it.
    pub machine_opened_only: u64,
    /// Followed the link, or further.
    pub clicked: u64,
    /// Saved a first answer, or submitted.
    pub started: u64,
    /// Submitted, whatever the channel (paper and phone included).
    pub completed: u64,
}

pub(crate) fn progress_of(counts: Vec<Counts>) -> async_graphql::Result<Vec<ChannelProgress>> {
    let n = |x: i64| u64::try_from(x).unwrap_or(0);
    counts
        .into_iter()
        .map(|c| {
            let channel: crate::domain::consultations::consultation::Channel = c
                .channel
                .parse()
                .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
            Ok(ChannelProgress {
                channel: channel.into(),
                invited: n(c.invited),
                sent: n(c.sent),
                bounced: n(c.bounced),
                opened: n(c.opened),
                machine_opened_only: n(c.machine_opened_only),
                clicked: n(c.clicked),
                started: n(c.started),
                completed: n(c.completed),
            })
        })
        .collect()
}

/// Responses received one way.
#[derive(SimpleObject)]
pub struct ResponseCount {
    /// How they came.
    pub channel: AnswerChannelValue,
    /// Responses received this way; a way with none is not listed.
    pub count: u64,
}

/// One member's invitation to a consultation and what happened to it.
pub struct InvitationNode(pub Invitation);

/// One member's invitation to a consultation and what happened to it.
#[Object(name = "Invitation")]
impl InvitationNode {
    /// The invitation's global ID, as `invitationRevoke` takes it.
    pub(super) async fn id(&self) -> ID {
        id::encode(self.0.id)
    }
    /// The ID of the consultation it invites to.
    pub(super) async fn consultation_id(&self) -> ID {
        id::encode(self.0.consultation)
    }
    /// The `Resident` ID of the panel member invited.
    pub(super) async fn resident_id(&self) -> ID {
        id::encode(self.0.resident)
    }
    /// How it reaches them.
    pub(super) async fn channel(&self) -> ChannelValue {
        self.0.channel.into()
    }
    /// The furthest stage reached.
    pub(super) async fn stage(&self) -> StageValue {
        self.0.stage.into()
    }
    /// When it was made.
    pub(super) async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was sent (or printed).
    pub(super) async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }
    /// When it was reported undeliverable.
    pub(super) async fn bounced_at(&self) -> Option<DateTime<Utc>> {
        self.0.bounced_at
    }
    /// First open by a person.
    pub(super) async fn opened_at(&self) -> Option<DateTime<Utc>> {
        self.0.opened_at
    }
    /// First open by a machine (mail-privacy proxy or scanner).
    pub(super) async fn machine_opened_at(&self) -> Option<DateTime<Utc>> {
        self.0.machine_opened_at
    }
    /// First click of its link.
    pub(super) async fn clicked_at(&self) -> Option<DateTime<Utc>> {
        self.0.clicked_at
    }
    /// First saved answer.
    pub(super) async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    /// Submission (the day only, for an anonymous consultation).
    pub(super) async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    /// How the answers came.
    pub(super) async fn completed_channel(&self) -> Option<AnswerChannelValue> {
        self.0.completed_channel.map(Into::into)
    }
    /// Reminders sent so far: at most the consultation's `maxReminders`.
    pub(super) async fn reminders_sent(&self) -> u32 {
        self.0.reminders_sent
    }
    /// When an officer withdrew it (its link no longer works).
    pub(super) async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}

/// A pending or completed invitation of the signed-in resident.
pub struct MyInvitation(pub(super) Invitation, pub(super) Consultation);

/// A pending or completed invitation of the signed-in resident.
#[Object]
impl MyInvitation {
    /// The invitation's ID (answer with it while signed in).
    pub(super) async fn invitation_id(&self) -> ID {
        id::encode(self.0.id)
    }
    /// The consultation's title.
    pub(super) async fn title(&self) -> &str {
        &self.1.title
    }
    /// OPEN while the consultation takes answers, CLOSED once it no longer does.
    pub(super) async fn status(&self) -> StatusValue {
        self.1.status.into()
    }
    /// Answers accepted until.
    pub(super) async fn closes_at(&self) -> Option<DateTime<Utc>> {
        self.1.closes_at
    }
    /// How far it has got.
    pub(super) async fn stage(&self) -> StageValue {
        self.0.stage.into()
    }
    /// When the answers were submitted (null: pending).
    pub(super) async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
}

/// Inviting a panel.
#[derive(InputObject)]
pub struct ConsultationInviteInput {
    /// The consultation (open).
    pub consultation_id: ID,
    /// Reach members this way where they can be (post always can); otherwise email, then
    /// text message, then post.
    pub prefer: Option<ChannelValue>,
}

/// Whether to be sent reminders.
#[derive(InputObject)]
pub struct ReminderPreferenceSetInput {
    /// `true`: no reminders (invitations still come).
    pub opt_out: bool,
}

/// The resident's reminder setting.
#[derive(SimpleObject)]
pub struct ReminderPreferenceSetPayload {
    /// No reminders are sent.
    pub opt_out: bool,
}

/// An invitation to withdraw.
#[derive(InputObject)]
pub struct InvitationRevokeInput {
    /// The ID of the invitation to withdraw (`Invitation.id`).
    pub invitation_id: ID,
}

/// Reminding those who have not completed.
#[derive(InputObject)]
pub struct ConsultationRemindInput {
    /// The consultation (open).
    pub consultation_id: ID,
    /// Only this channel (EMAIL or SMS); both when absent.
    pub channel: Option<ChannelValue>,
}

/// Printing post invitations.
#[derive(InputObject)]
pub struct ConsultationLettersExportInput {
    /// The ID of the consultation whose post invitations are printed.
    pub consultation_id: ID,
    /// Print again the letters already printed (their old codes stop working).
    #[graphql(default = false)]
    pub reprint: bool,
}
