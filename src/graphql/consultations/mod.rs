//! Consultations in the API: drafting a survey and its questions with plain-language
//! scores, its lifecycle, inviting a panel and printing letters, tracking what happened
//! to every invitation, and answering (by personal link, signed in, or entered by an
//! officer from paper or phone).

pub mod consultation_changes;
pub mod responses;

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::consultations::consultation::{Consultation, QuestionItem, Step, Templates};
use crate::domain::consultations::questionnaire::{Answer, QuestionKind, ShowWhen};
use crate::domain::consultations::readability;
use crate::domain::ids::{ConsultationId, InvitationId, PanelId};
use crate::error::AppError;
use crate::graphql::consultations::consultation_changes::ConsultationChangesInput;
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::graphql::id;
use crate::graphql::jobs::node::{JobNode, JobPayload};
use crate::graphql::loaders;
use crate::graphql::pagination::{Page, connection_complexity};
use crate::graphql::panels::PanelNode;
use crate::service::consultations::answering::{self, Access, Invitation, Invited, Submitted};
use crate::service::consultations::invitations::{self, Counts, InviteRequest};
use crate::service::consultations::{self, ConsultationRequest, QuestionRequest};

mod answers;
mod invited;
mod operations;
mod questions;

// The parts see one another's items, as they did when they were one file.
#[allow(unused_imports)]
use {answers::*, invited::*, operations::*, questions::*};

pub use answers::{
    AnswerValue, AnswersSaveInput, InvitedView, OpenResponseSubmitInput, OpenResponseSubmitPayload,
    PublicConsultation, ResponseEnterInput, ResponseSubmitInput, ResponseSubmitPayload,
};
pub(crate) use invited::progress_of;
pub use invited::{
    ChannelProgress, ConsultationInviteInput, ConsultationLettersExportInput,
    ConsultationRemindInput, InvitationNode, InvitationRevokeInput, MyInvitation,
    ReminderPreferenceSetInput, ReminderPreferenceSetPayload, ResponseCount,
};
pub use operations::{ConsultationMutation, ConsultationQuery};
pub use questions::{
    QuestionInput, QuestionKindValue, QuestionOption, QuestionView, ShowWhenRule, TextReadability,
};

/// Where a consultation is in its life.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "ConsultationStatus",
    remote = "crate::domain::consultations::consultation::Status"
)]
pub enum StatusValue {
    /// Being written: wording and questions may change.
    Draft,
    /// Accepting answers (between `opensAt` and `closesAt`, when set); questions frozen.
    Open,
    /// No longer accepting answers.
    Closed,
}

/// How an invitation reaches a member.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "InvitationChannel",
    remote = "crate::domain::consultations::consultation::Channel"
)]
pub enum ChannelValue {
    /// Email with a personal link.
    Email,
    /// Text message with a personal link.
    Sms,
    /// A printed letter with a personal short code.
    Post,
}

/// How a response came in.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
#[graphql(
    name = "AnswerChannel",
    remote = "crate::domain::consultations::consultation::AnswerChannel"
)]
pub enum AnswerChannelValue {
    /// The resident web client.
    #[default]
    Web,
    /// The mobile app.
    App,
    /// The link in an email or text message.
    EmailLink,
    /// The open link or its QR code.
    Qr,
    /// A paper form, entered by an officer.
    Paper,
    /// A telephone call, entered by an officer.
    Phone,
}

/// Where an invitation has got to.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "InvitationStage",
    remote = "crate::domain::consultations::tracking::Stage"
)]
pub enum StageValue {
    /// Made, not yet sent.
    Created,
    /// Sent (or printed).
    Sent,
    /// Opened by a person.
    Opened,
    /// The link was followed.
    Clicked,
    /// A first answer was saved.
    Started,
    /// Submitted.
    Completed,
}

/// The messages a consultation sends. Placeholders: `{name}`, `{title}`, `{link}`,
/// `{closes}`; `{{` and `}}` are literal braces. A text message template has at most
/// 1,200 characters.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "MessageTemplatesInput")]
pub struct MessageTemplates {
    /// Invitation email subject.
    pub invite_subject: String,
    /// Invitation email text (the HTML alternative is made from it).
    pub invite_text: String,
    /// Reminder email subject.
    pub reminder_subject: String,
    /// Reminder email text.
    pub reminder_text: String,
    /// Text message (invitation and reminder).
    pub sms_text: String,
}

impl From<Templates> for MessageTemplates {
    fn from(t: Templates) -> Self {
        Self {
            invite_subject: t.invite_subject,
            invite_text: t.invite_text,
            reminder_subject: t.reminder_subject,
            reminder_text: t.reminder_text,
            sms_text: t.sms_text,
        }
    }
}

impl From<MessageTemplates> for Templates {
    fn from(t: MessageTemplates) -> Self {
        Self {
            invite_subject: t.invite_subject,
            invite_text: t.invite_text,
            reminder_subject: t.reminder_subject,
            reminder_text: t.reminder_text,
            sms_text: t.sms_text,
        }
    }
}

/// A consultation, as officers manage it.
pub struct ConsultationNode(pub Consultation);

/// A consultation, as officers manage it.
#[Object(name = "Consultation")]
impl ConsultationNode {
    /// The consultation's global ID, for `consultation(id:)` and `node(id:)`.
    pub async fn id(&self) -> ID {
        id::encode(self.0.id)
    }
    /// The first consultation of its series (itself when it is the first): rounds of a
    /// series share question keys, so results can be compared.
    async fn series_id(&self) -> ID {
        id::encode(self.0.series)
    }
    /// What it is called, for officers and respondents alike (1 to 300 characters).
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Plain-language summary.
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    /// DRAFT while its wording may change, OPEN while it takes answers, then CLOSED.
    async fn status(&self) -> StatusValue {
        self.0.status.into()
    }
    /// Answers are kept apart from who gave them.
    async fn anonymous(&self) -> bool {
        self.0.anonymous
    }
    /// The panel whose members are invited (null when none is set).
    async fn panel(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PanelNode>> {
        let Some(panel) = self.0.panel else {
            return Ok(None);
        };
        let found = loaders::get(ctx)?.load_one(panel).await?;
        Ok(Some(PanelNode(
            found.ok_or(AppError::NotFound { what: "panel" })?,
        )))
    }
    /// The open link anyone may answer at (for a QR code), when it has one.
    async fn open_link_url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let state = context::state(ctx)?;
        Ok(self
            .0
            .open_code
            .as_ref()
            .map(|code| format!("{}/o/{code}", state.config.public_url.trim_end_matches('/'))))
    }
    /// Answers accepted from.
    async fn opens_at(&self) -> Option<DateTime<Utc>> {
        self.0.opens_at
    }
    /// Answers accepted until.
    async fn closes_at(&self) -> Option<DateTime<Utc>> {
        self.0.closes_at
    }
    /// Reading age above which wording is flagged.
    async fn reading_age_target(&self) -> f64 {
        self.0.reading_age_target
    }
    /// The wording of the invitation and reminder emails and of the text message.
    async fn templates(&self) -> MessageTemplates {
        self.0.templates.clone().into()
    }
    /// Most reminders per invitation.
    async fn max_reminders(&self) -> u32 {
        self.0.max_reminders
    }
    /// Fewest hours between messages to one member.
    async fn reminder_gap_hours(&self) -> u32 {
        self.0.reminder_gap_hours
    }
    /// It goes to a balanced sample of this many of its panel's current members (null:
    /// the whole panel).
    async fn sample_size(&self) -> Option<u32> {
        self.0.sample_size
    }
    /// The sample's seed, in decimal: with it and the panel's members and quotas as they
    /// stood when it was invited, the same sample is drawn again.
    async fn sample_seed(&self) -> Option<String> {
        self.0.sample_seed.map(|seed| seed.to_string())
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// When it was (last) opened.
    async fn opened_at(&self) -> Option<DateTime<Utc>> {
        self.0.opened_at
    }
    /// When it was (last) closed.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    /// Its questions, in order.
    async fn questions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<QuestionView>> {
        let questions = loaders::get(ctx)?
            .load_one(loaders::QuestionsOf(self.0.id))
            .await?;
        Ok(questions
            .unwrap_or_default()
            .into_iter()
            .map(QuestionView)
            .collect())
    }
    /// How readable its title, summary, questions and options are, each against the
    /// reading-age target; texts without words are left out.
    async fn readability(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TextReadability>> {
        let state = context::state(ctx)?;
        let target = self.0.reading_age_target;
        let mut out: Vec<TextReadability> = Vec::new();
        out.extend(readability_of("title".to_owned(), &self.0.title, target));
        out.extend(readability_of(
            "summary".to_owned(),
            &self.0.summary,
            target,
        ));
        for item in consultations::questions_of(state.db.reader(), self.0.id).await? {
            let key = &item.question.key;
            out.extend(readability_of(
                format!("question:{key}"),
                &item.question.text,
                target,
            ));
            let options: &[String] = match &item.question.kind {
                QuestionKind::SingleChoice { options }
                | QuestionKind::MultipleChoice { options, .. }
                | QuestionKind::Ranking { options } => options,
                _ => &[],
            };
            for (option, label) in options.iter().zip(&item.labels) {
                out.extend(readability_of(
                    format!("option:{key}:{option}"),
                    label,
                    target,
                ));
            }
        }
        Ok(out)
    }
    /// Invitations counted by channel and by how far they got.
    async fn progress(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ChannelProgress>> {
        let counts = loaders::get(ctx)?
            .load_one(loaders::ProgressOf(self.0.id))
            .await?;
        progress_of(counts.unwrap_or_default())
    }
    /// Responses received, by how they came (open-link and QR responses included).
    async fn response_counts(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ResponseCount>> {
        loaders::get(ctx)?
            .load_one(loaders::ResponseCountsOf(self.0.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(|(channel, count)| {
                let channel: crate::domain::consultations::consultation::AnswerChannel = channel
                    .parse()
                    .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
                Ok(ResponseCount {
                    channel: channel.into(),
                    count: u64::try_from(count).unwrap_or(0),
                })
            })
            .collect()
    }
    /// Its invitations, oldest first.
    #[graphql(complexity = "connection_complexity(first, child_complexity)")]
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last invitation of the previous page.")] after: Option<
            String,
        >,
    ) -> async_graphql::Result<Connection<String, InvitationNode>> {
        let page = Page::<InvitationId>::parse(first, after.as_deref())?;
        // A list's first pages come in one batch; a later page is read alone.
        let rows = match page.after {
            None => loaders::get(ctx)?
                .load_one(loaders::InvitationsPage(self.0.id, page.first))
                .await?
                .unwrap_or_default(),
            Some(after) => {
                let state = context::state(ctx)?;
                let caller = context::caller(ctx);
                invitations::list(state, &caller, self.0.id, Some(after), page.first).await?
            }
        };
        Ok(page.connection(rows, |i| i.id, InvitationNode))
    }
}

/// A consultation as an officer writes it.
#[derive(InputObject)]
pub struct ConsultationCreateInput {
    /// What it is called, for officers and respondents alike: 1 to 300 characters.
    pub title: String,
    /// A plain-language summary.
    #[graphql(default)]
    pub summary: String,
    /// Keep answers apart from who gave them.
    #[graphql(default = false)]
    pub anonymous: bool,
    /// The ID of the panel whose members are to be invited, if any.
    pub panel_id: Option<ID>,
    /// Also open to anyone through an open link and QR code.
    #[graphql(default = false)]
    pub open_link: bool,
    /// Answers accepted from.
    pub opens_at: Option<DateTime<Utc>>,
    /// Answers accepted until.
    pub closes_at: Option<DateTime<Utc>>,
    /// Reading age above which wording is flagged (default 9, the UK public-sector
    /// guidance).
    pub reading_age_target: Option<f64>,
    /// Message templates (the defaults when absent).
    pub templates: Option<MessageTemplates>,
    /// Most reminders per invitation (0 to 10).
    #[graphql(default = 2)]
    pub max_reminders: i32,
    /// Fewest hours between messages to one member.
    #[graphql(default = 72)]
    pub reminder_gap_hours: i32,
    /// Send it to a balanced sample of this many of the panel's current members (selected
    /// or active) instead of all of them: the panel's quotas scaled to the sample, every
    /// member given as equal a chance as they allow, drawn when the panel is invited.
    /// Null: the whole panel.
    pub sample_size: Option<i32>,
    /// The sample's seed, a whole number below 2^64 in decimal: the same seed and the same
    /// members draw the same sample. When absent, the seed already stored is kept, or a
    /// random one is chosen and stored.
    pub sample_seed: Option<String>,
}

impl ConsultationCreateInput {
    fn request(self) -> async_graphql::Result<ConsultationRequest> {
        let count = |n: i32, field: &str| {
            u32::try_from(n).map_err(|_| AppError::bad_input(field, "Give 0 or more."))
        };
        Ok(ConsultationRequest {
            title: self.title,
            summary: self.summary,
            anonymous: self.anonymous,
            panel: self
                .panel_id
                .map(|p| id::decode::<PanelId>(&p, "input.panelId"))
                .transpose()?,
            open_link: self.open_link,
            opens_at: self.opens_at,
            closes_at: self.closes_at,
            reading_age_target: self.reading_age_target,
            templates: self.templates.map(Into::into),
            max_reminders: count(self.max_reminders, "input.maxReminders")?,
            reminder_gap_hours: count(self.reminder_gap_hours, "input.reminderGapHours")?,
            sample_size: self.sample_size.map(i64::from),
            sample_seed: self.sample_seed,
        })
    }
}

/// A draft and the changes to make to it.
#[derive(InputObject)]
pub struct ConsultationUpdateInput {
    /// The ID of the draft to change; one already opened is `CONFLICT`.
    pub consultation_id: ID,
    /// What changes: only the fields given; the others keep their values.
    pub consultation: ConsultationChangesInput,
}

/// A draft's questions.
#[derive(InputObject)]
pub struct ConsultationQuestionsSetInput {
    /// The consultation (a draft).
    pub consultation_id: ID,
    /// Every question, in order (replacing the draft's).
    pub questions: Vec<QuestionInput>,
}

/// A consultation to act on.
#[derive(InputObject)]
pub struct ConsultationRef {
    /// The ID of the consultation to open, close or reopen.
    pub consultation_id: ID,
}

/// A consultation to repeat.
#[derive(InputObject)]
pub struct ConsultationDuplicateInput {
    /// The consultation to copy.
    pub consultation_id: ID,
    /// The copy's title (the same when absent).
    pub title: Option<String>,
}

/// A consultation, changed.
#[derive(SimpleObject)]
pub struct ConsultationPayload {
    /// As it now is.
    pub consultation: ConsultationNode,
}

/// A draft's questions, set.
#[derive(SimpleObject)]
pub struct ConsultationQuestionsSetPayload {
    /// The draft the questions were set on.
    pub consultation: ConsultationNode,
    /// Its questions, in order.
    pub questions: Vec<QuestionView>,
}
