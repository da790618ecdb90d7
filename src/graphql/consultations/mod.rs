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
use crate::graphql::jobs::{JobNode, JobPayload};
use crate::graphql::pagination::{Page, connection_complexity};
use crate::graphql::panels::PanelNode;
use crate::service::consultations::answering::{self, Access, Invitation, Invited, Submitted};
use crate::service::consultations::invitations::{self, Counts, InviteRequest};
use crate::service::consultations::{self, ConsultationRequest, QuestionRequest};
use crate::service::panels;

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

/// What kind of answer a question takes.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum QuestionKindValue {
    /// One of the options.
    SingleChoice,
    /// Some of the options, at most `maxChoices`.
    MultipleChoice,
    /// Strongly disagree (1) to strongly agree (5).
    Agreement,
    /// 0 to 10 (Net Promoter Score and satisfaction).
    Rating,
    /// Free text up to `maxChars` characters.
    FreeText,
    /// Every option put in order of preference.
    Ranking,
}

/// One option of a choice or ranking question.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "QuestionOptionInput")]
pub struct QuestionOption {
    /// A stable key (letters, digits, `_`, `-`): what answers and reports use.
    pub key: String,
    /// What the respondent reads.
    pub label: String,
}

/// Show a question only when an earlier one was answered so.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "ShowWhenInput")]
pub struct ShowWhenRule {
    /// The earlier question's key.
    pub question_key: String,
    /// The option key (or, for a scale, the value as text) that shows this question.
    pub answer: String,
}

/// How readable a piece of text is (Flesch, 1948; Kincaid et al., 1975).
#[derive(SimpleObject)]
pub struct TextReadability {
    /// Which text: `title`, `summary`, `question:KEY`, `option:KEY:OPTION`.
    pub field: String,
    /// Flesch reading ease: higher is easier (60–70 is plain English); rounded to one
    /// decimal.
    pub reading_ease: f64,
    /// Flesch–Kincaid grade, rounded to one decimal.
    pub grade: f64,
    /// Reading age in years: the grade + 5, never below 5, rounded to one decimal.
    pub reading_age: f64,
    /// Whether `readingAge` as shown (rounded) is above the consultation's reading-age
    /// target: 9.0 is not above 9.
    pub above_target: bool,
    /// The longest sentences, longest first (at most three).
    pub longest_sentences: Vec<String>,
    /// Words of three or more syllables, most first (at most ten).
    pub hard_words: Vec<String>,
}

fn readability_of(field: String, text: &str, target: f64) -> Option<TextReadability> {
    readability::score(text).map(|r| TextReadability {
        field,
        reading_ease: readability::rounded(r.reading_ease),
        grade: readability::rounded(r.grade),
        reading_age: readability::rounded(r.reading_age),
        above_target: r.above(target),
        longest_sentences: r.longest_sentences.into_iter().map(|(s, _)| s).collect(),
        hard_words: r.hard_words.into_iter().map(|(w, _)| w).collect(),
    })
}

/// A question.
pub struct QuestionView(pub QuestionItem);

/// A question.
#[Object(name = "Question")]
impl QuestionView {
    /// Its stable key (kept when the consultation is duplicated).
    async fn key(&self) -> &str {
        &self.0.question.key
    }
    /// The wording.
    async fn text(&self) -> &str {
        &self.0.question.text
    }
    /// The kind of answer.
    async fn kind(&self) -> QuestionKindValue {
        match self.0.question.kind {
            QuestionKind::SingleChoice { .. } => QuestionKindValue::SingleChoice,
            QuestionKind::MultipleChoice { .. } => QuestionKindValue::MultipleChoice,
            QuestionKind::Agreement => QuestionKindValue::Agreement,
            QuestionKind::Rating => QuestionKindValue::Rating,
            QuestionKind::FreeText { .. } => QuestionKindValue::FreeText,
            QuestionKind::Ranking { .. } => QuestionKindValue::Ranking,
        }
    }
    /// Options of a choice or ranking question, in order.
    async fn options(&self) -> Vec<QuestionOption> {
        let keys: &[String] = match &self.0.question.kind {
            QuestionKind::SingleChoice { options }
            | QuestionKind::MultipleChoice { options, .. }
            | QuestionKind::Ranking { options } => options,
            _ => &[],
        };
        keys.iter()
            .zip(&self.0.labels)
            .map(|(key, label)| QuestionOption {
                key: key.clone(),
                label: label.clone(),
            })
            .collect()
    }
    /// Most options a multiple choice accepts (null: all).
    async fn max_choices(&self) -> Option<u32> {
        match &self.0.question.kind {
            QuestionKind::MultipleChoice { max, .. } => max.and_then(|m| u32::try_from(m).ok()),
            _ => None,
        }
    }
    /// Longest free-text answer.
    async fn max_chars(&self) -> Option<u32> {
        match &self.0.question.kind {
            QuestionKind::FreeText { max_chars } => u32::try_from(*max_chars).ok(),
            _ => None,
        }
    }
    /// Must be answered when shown.
    async fn required(&self) -> bool {
        self.0.question.required
    }
    /// Shown only when an earlier answer is this (null: always shown).
    async fn show_when(&self) -> Option<ShowWhenRule> {
        self.0.question.show_when.as_ref().map(|s| ShowWhenRule {
            question_key: s.question.clone(),
            answer: s.answer.clone(),
        })
    }
    /// The profile dimension an "about you" question records for open-link respondents.
    async fn about_you(&self) -> Option<&str> {
        self.0.about_you.as_deref()
    }
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

/// Invitations of one channel, counted by how far they got: each stage counts the
/// people who got at least that far, as the report's funnel does (a click with images
/// blocked has been opened; a paper answer has been sent, opened, clicked and started).
/// Bounces and machine-only opens are counted apart.
#[derive(SimpleObject)]
pub struct ChannelProgress {
    /// The channel.
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
    /// How many.
    pub count: u64,
}

/// A consultation, as officers manage it.
pub struct ConsultationNode(pub Consultation);

/// A consultation, as officers manage it.
#[Object(name = "Consultation")]
impl ConsultationNode {
    /// Opaque identifier.
    pub async fn id(&self) -> ID {
        id::encode(self.0.id)
    }
    /// The first consultation of its series (itself when it is the first): rounds of a
    /// series share question keys, so results can be compared.
    async fn series_id(&self) -> ID {
        id::encode(self.0.series)
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Plain-language summary.
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    /// Where it is in its life.
    async fn status(&self) -> StatusValue {
        self.0.status.into()
    }
    /// Answers are kept apart from who gave them.
    async fn anonymous(&self) -> bool {
        self.0.anonymous
    }
    /// The panel it goes to.
    async fn panel(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PanelNode>> {
        let Some(panel) = self.0.panel else {
            return Ok(None);
        };
        let state = context::state(ctx)?;
        Ok(Some(PanelNode(
            panels::find(state, &context::caller(ctx), panel).await?,
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
    /// Its message templates.
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
        let state = context::state(ctx)?;
        Ok(consultations::questions_of(state.db.reader(), self.0.id)
            .await?
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
        let state = context::state(ctx)?;
        progress_of(invitations::counts(state.db.reader(), self.0.id).await?)
    }
    /// Responses received, by how they came (open-link and QR responses included).
    async fn response_counts(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ResponseCount>> {
        let state = context::state(ctx)?;
        invitations::response_counts(state.db.reader(), self.0.id)
            .await?
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
        let state = context::state(ctx)?;
        let rows = invitations::list(
            state,
            &context::caller(ctx),
            self.0.id,
            page.after,
            page.first,
        )
        .await?;
        Ok(page.connection(rows, |i| i.id, InvitationNode))
    }
}

/// One member's invitation to a consultation and what happened to it.
pub struct InvitationNode(pub Invitation);

/// One member's invitation to a consultation and what happened to it.
#[Object(name = "Invitation")]
impl InvitationNode {
    /// Opaque identifier.
    async fn id(&self) -> ID {
        id::encode(self.0.id)
    }
    /// The consultation.
    async fn consultation_id(&self) -> ID {
        id::encode(self.0.consultation)
    }
    /// The member.
    async fn resident_id(&self) -> ID {
        id::encode(self.0.resident)
    }
    /// How it reaches them.
    async fn channel(&self) -> ChannelValue {
        self.0.channel.into()
    }
    /// The furthest stage reached.
    async fn stage(&self) -> StageValue {
        self.0.stage.into()
    }
    /// When it was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was sent (or printed).
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }
    /// When it was reported undeliverable.
    async fn bounced_at(&self) -> Option<DateTime<Utc>> {
        self.0.bounced_at
    }
    /// First open by a person.
    async fn opened_at(&self) -> Option<DateTime<Utc>> {
        self.0.opened_at
    }
    /// First open by a machine (mail-privacy proxy or scanner).
    async fn machine_opened_at(&self) -> Option<DateTime<Utc>> {
        self.0.machine_opened_at
    }
    /// First click of its link.
    async fn clicked_at(&self) -> Option<DateTime<Utc>> {
        self.0.clicked_at
    }
    /// First saved answer.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    /// Submission (the day only, for an anonymous consultation).
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    /// How the answers came.
    async fn completed_channel(&self) -> Option<AnswerChannelValue> {
        self.0.completed_channel.map(Into::into)
    }
    /// Reminders sent.
    async fn reminders_sent(&self) -> u32 {
        self.0.reminders_sent
    }
    /// When an officer withdrew it (its link no longer works).
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}

/// A consultation as a respondent sees it.
pub struct PublicConsultation(pub Consultation, pub Vec<QuestionItem>);

/// A consultation as a respondent sees it.
#[Object]
impl PublicConsultation {
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Plain-language summary.
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    /// Whether it is open, closed or not yet open.
    async fn status(&self) -> StatusValue {
        self.0.status.into()
    }
    /// Answers are kept apart from who gave them.
    async fn anonymous(&self) -> bool {
        self.0.anonymous
    }
    /// Answers accepted from.
    async fn opens_at(&self) -> Option<DateTime<Utc>> {
        self.0.opens_at
    }
    /// Answers accepted until.
    async fn closes_at(&self) -> Option<DateTime<Utc>> {
        self.0.closes_at
    }
    /// The questions, in order.
    async fn questions(&self) -> Vec<QuestionView> {
        self.1.iter().cloned().map(QuestionView).collect()
    }
}

/// One answer, as saved or given.
#[derive(SimpleObject, InputObject, Clone, Default)]
#[graphql(input_name = "AnswerInput")]
pub struct AnswerValue {
    /// The question's key.
    pub question_key: String,
    /// Chosen option keys: one for a single choice, several for a multiple choice, every
    /// option in order of preference for a ranking.
    pub options: Option<Vec<String>>,
    /// A scale value: 1–5 for agreement, 0–10 for a rating.
    pub value: Option<i32>,
    /// A free-text answer.
    pub text: Option<String>,
}

impl AnswerValue {
    /// The answer it gives: `None` when it gives none (clears a saved answer).
    fn parse(self, field: &str) -> async_graphql::Result<(String, Option<Answer>)> {
        let given = [
            self.options.is_some(),
            self.value.is_some(),
            self.text.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given > 1 {
            return Err(AppError::bad_input(
                field,
                format!(
                    "Question {:?}: give options, a value or a text, not more than one.",
                    self.question_key
                ),
            )
            .into());
        }
        let answer = if let Some(options) = self.options {
            Some(Answer::Options(options))
        } else if let Some(value) = self.value {
            let value = u8::try_from(value).map_err(|_| {
                AppError::bad_input(
                    field,
                    format!(
                        "Question {:?}: {value} is not on any scale.",
                        self.question_key
                    ),
                )
            })?;
            Some(Answer::Scale(value))
        } else {
            self.text.map(Answer::Text)
        };
        Ok((self.question_key, answer))
    }

    fn from_answer(key: String, answer: Answer) -> Self {
        match answer {
            Answer::Options(options) => Self {
                question_key: key,
                options: Some(options),
                ..Default::default()
            },
            Answer::Scale(v) => Self {
                question_key: key,
                value: Some(i32::from(v)),
                ..Default::default()
            },
            Answer::Text(text) => Self {
                question_key: key,
                text: Some(text),
                ..Default::default()
            },
        }
    }
}

fn answers_in(answers: Vec<AnswerValue>) -> async_graphql::Result<Vec<(String, Option<Answer>)>> {
    answers
        .into_iter()
        .enumerate()
        .map(|(i, a)| a.parse(&format!("input.answers.{i}")))
        .collect()
}

/// An invitation as its holder sees it: the consultation, the questions and what they
/// have saved so far.
pub struct InvitedView(pub Invited);

/// An invitation as its holder sees it: the consultation, the questions and what they
/// have saved so far.
#[Object(name = "InvitedConsultation")]
impl InvitedView {
    /// The invitation's ID (signed-in residents answer by it).
    async fn invitation_id(&self) -> ID {
        id::encode(self.0.invitation.id)
    }
    /// How far it has got.
    async fn stage(&self) -> StageValue {
        self.0.invitation.stage.into()
    }
    /// When the answers were submitted (null: not yet).
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.invitation.completed_at
    }
    /// The consultation.
    async fn consultation(&self) -> PublicConsultation {
        PublicConsultation(self.0.consultation.clone(), self.0.questions.clone())
    }
    /// For a member who opened it with the code printed on their letter: the invitation's
    /// own link token. Save and submit with it (as with an email's link), so that only the
    /// first look-up of the code counts against the limits on codes. Null otherwise.
    async fn token(&self) -> Option<&str> {
        self.0.token.as_deref()
    }
    /// Answers saved so far (cleared once submitted).
    async fn saved_answers(&self) -> Vec<AnswerValue> {
        self.0
            .saved
            .iter()
            .cloned()
            .map(|(k, a)| AnswerValue::from_answer(k, a))
            .collect()
    }
}

/// A pending or completed invitation of the signed-in resident.
pub struct MyInvitation(Invitation, Consultation);

/// A pending or completed invitation of the signed-in resident.
#[Object]
impl MyInvitation {
    /// The invitation's ID (answer with it while signed in).
    async fn invitation_id(&self) -> ID {
        id::encode(self.0.id)
    }
    /// The consultation's title.
    async fn title(&self) -> &str {
        &self.1.title
    }
    /// The consultation's status.
    async fn status(&self) -> StatusValue {
        self.1.status.into()
    }
    /// Answers accepted until.
    async fn closes_at(&self) -> Option<DateTime<Utc>> {
        self.1.closes_at
    }
    /// How far it has got.
    async fn stage(&self) -> StageValue {
        self.0.stage.into()
    }
    /// When the answers were submitted (null: pending).
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
}

/// Consultation queries.
#[derive(Default)]
pub struct ConsultationQuery;

#[Object]
impl ConsultationQuery {
    /// Every consultation, newest first (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn consultations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only those in this status.")] status: Option<StatusValue>,
    ) -> async_graphql::Result<Vec<ConsultationNode>> {
        let state = context::state(ctx)?;
        Ok(
            consultations::list(state, &context::caller(ctx), status.map(Into::into))
                .await?
                .into_iter()
                .map(ConsultationNode)
                .collect(),
        )
    }

    /// One consultation (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn consultation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation's ID.")] id: ID,
    ) -> async_graphql::Result<ConsultationNode> {
        let consultation = id::decode::<ConsultationId>(&id, "id")?;
        let state = context::state(ctx)?;
        Ok(ConsultationNode(
            consultations::find(state, &context::caller(ctx), consultation).await?,
        ))
    }

    /// The consultation a personal link or a postal letter opens, with the answers saved
    /// so far (no login: the token, or the letter's code, is the key). A letter's code is
    /// taken with or without its hyphen, in either case; a typing mistake in it is
    /// `BAD_USER_INPUT` (its check symbol catches one before any look-up); an unknown or
    /// withdrawn token or code is `NOT_FOUND`, and unknown codes are limited per client
    /// address and in all as registration codes are (`RATE_LIMITED`). Opening with a
    /// letter's code counts the invitation as clicked, as following an email's link does.
    async fn invitation_by_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The token from the personal link (`cpc_…`), or the code printed on the postal letter (`XXXXX-XXXXX`)."
        )]
        token: String,
    ) -> async_graphql::Result<InvitedView> {
        let state = context::state(ctx)?;
        let request = context::request(ctx);
        let access = Access::holding(token, request.client, "token")?;
        Ok(InvitedView(
            answering::open(state, &request.caller, access).await?,
        ))
    }

    /// An open-link survey by the code in its link or QR code (no login). A draft, or a
    /// code that names nothing, is `NOT_FOUND`.
    async fn open_consultation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The code from the open link.")] code: String,
    ) -> async_graphql::Result<PublicConsultation> {
        let state = context::state(ctx)?;
        let (consultation, questions) = answering::open_link(state, &code).await?;
        Ok(PublicConsultation(consultation, questions))
    }

    /// One of the signed-in resident's invitations (or any, for an OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER_OR_RESIDENT")]
    async fn invitation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitation's ID.")] id: ID,
    ) -> async_graphql::Result<InvitedView> {
        let invitation = id::decode::<InvitationId>(&id, "id")?;
        let state = context::state(ctx)?;
        Ok(InvitedView(
            answering::open(state, &context::caller(ctx), Access::Invitation(invitation)).await?,
        ))
    }

    /// The signed-in resident's invitations, newest first: pending and completed.
    #[graphql(guard = "RoleGuard::ANY_ACCOUNT")]
    async fn my_invitations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<MyInvitation>> {
        let state = context::state(ctx)?;
        Ok(answering::mine(state, &context::caller(ctx))
            .await?
            .into_iter()
            .map(|(i, c)| MyInvitation(i, c))
            .collect())
    }
}

/// A consultation as an officer writes it.
#[derive(InputObject)]
pub struct ConsultationCreateInput {
    /// Title.
    pub title: String,
    /// A plain-language summary.
    #[graphql(default)]
    pub summary: String,
    /// Keep answers apart from who gave them.
    #[graphql(default = false)]
    pub anonymous: bool,
    /// The panel it goes to.
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
    /// The consultation.
    pub consultation_id: ID,
    /// What changes: only the fields given; the others keep their values.
    pub consultation: ConsultationChangesInput,
}

/// One question as an officer writes it.
#[derive(InputObject)]
pub struct QuestionInput {
    /// A stable key (letters, digits, `_`, `-`), kept across rounds.
    pub key: String,
    /// The wording.
    pub text: String,
    /// The kind of answer.
    pub kind: QuestionKindValue,
    /// Options of a choice or ranking question, in order.
    #[graphql(default)]
    pub options: Vec<QuestionOption>,
    /// Most options a multiple choice accepts (null: all).
    pub max_choices: Option<i32>,
    /// Longest free-text answer (default 2,000).
    pub max_chars: Option<i32>,
    /// Must be answered when shown.
    #[graphql(default = false)]
    pub required: bool,
    /// Show only when an earlier question was answered so.
    pub show_when: Option<ShowWhenRule>,
    /// For open-link surveys: the profile dimension this single-choice question records
    /// (`age_band`, `sex`, `ethnic_group`, `disability`, `ward`): the chosen option's label
    /// (at most 200 characters) is kept, so write labels as the census names categories.
    pub about_you: Option<String>,
}

impl QuestionInput {
    fn request(self, i: usize) -> async_graphql::Result<QuestionRequest> {
        let size = |n: Option<i32>, name: &str| {
            n.map(|n| {
                usize::try_from(n).map_err(|_| {
                    AppError::bad_input(format!("input.questions.{i}.{name}"), "Give 1 or more.")
                })
            })
            .transpose()
        };
        let (keys, labels): (Vec<String>, Vec<String>) =
            self.options.into_iter().map(|o| (o.key, o.label)).unzip();
        let kind = match self.kind {
            QuestionKindValue::SingleChoice => QuestionKind::SingleChoice { options: keys },
            QuestionKindValue::MultipleChoice => QuestionKind::MultipleChoice {
                options: keys,
                max: size(self.max_choices, "maxChoices")?,
            },
            QuestionKindValue::Agreement => QuestionKind::Agreement,
            QuestionKindValue::Rating => QuestionKind::Rating,
            QuestionKindValue::FreeText => QuestionKind::FreeText {
                max_chars: size(self.max_chars, "maxChars")?.unwrap_or(2_000),
            },
            QuestionKindValue::Ranking => QuestionKind::Ranking { options: keys },
        };
        Ok(QuestionRequest {
            key: self.key,
            text: self.text,
            kind,
            labels,
            required: self.required,
            show_when: self.show_when.map(|s| ShowWhen {
                question: s.question_key,
                answer: s.answer,
            }),
            about_you: self.about_you,
        })
    }
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
    /// The consultation.
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
    /// The consultation.
    pub consultation: ConsultationNode,
    /// Its questions, in order.
    pub questions: Vec<QuestionView>,
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
    /// The invitation.
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
    /// The consultation.
    pub consultation_id: ID,
    /// Print again the letters already printed (their old codes stop working).
    #[graphql(default = false)]
    pub reprint: bool,
}

/// Answers to save.
#[derive(InputObject)]
pub struct AnswersSaveInput {
    /// The token from the personal link, or the code printed on the postal letter; or
    pub token: Option<String>,
    /// the invitation's ID, signed in.
    pub invitation_id: Option<ID>,
    /// Answers to save; one with no options, value or text clears that question's.
    pub answers: Vec<AnswerValue>,
}

/// Answers to submit.
#[derive(InputObject)]
pub struct ResponseSubmitInput {
    /// The token from the personal link, or the code printed on the postal letter; or
    pub token: Option<String>,
    /// the invitation's ID, signed in.
    pub invitation_id: Option<ID>,
    /// Answers (over those saved before); may be empty when all are saved.
    #[graphql(default)]
    pub answers: Vec<AnswerValue>,
    /// How the respondent answered.
    #[graphql(default)]
    pub channel: AnswerChannelValue,
}

/// Answers received on paper or by phone.
#[derive(InputObject)]
pub struct ResponseEnterInput {
    /// The member's invitation; or
    pub invitation_id: Option<ID>,
    /// the short code printed on their letter.
    pub code: Option<String>,
    /// `PAPER` or `PHONE`.
    pub channel: AnswerChannelValue,
    /// Their answers.
    pub answers: Vec<AnswerValue>,
}

/// A response to an open-link survey.
#[derive(InputObject)]
pub struct OpenResponseSubmitInput {
    /// The code from the open link or QR code.
    pub code: String,
    /// The answers.
    pub answers: Vec<AnswerValue>,
    /// A key the client made for this response (1 to 64 characters), so a retry is not
    /// counted twice.
    pub submission_key: Option<String>,
}

/// An open-link response, recorded.
#[derive(SimpleObject)]
pub struct OpenResponseSubmitPayload {
    /// Its submission key had already been used: nothing new was recorded.
    pub duplicate: bool,
}

/// A submission.
#[derive(SimpleObject)]
pub struct ResponseSubmitPayload {
    /// The invitation's stage (COMPLETED).
    pub stage: StageValue,
    /// When it was completed (the day only, for an anonymous consultation).
    pub completed_at: Option<DateTime<Utc>>,
    /// It had already been submitted: nothing new was recorded.
    pub duplicate: bool,
}

impl From<Submitted> for ResponseSubmitPayload {
    fn from(s: Submitted) -> Self {
        Self {
            stage: s.invitation.stage.into(),
            completed_at: s.invitation.completed_at,
            duplicate: s.duplicate,
        }
    }
}

fn access(
    ctx: &Context<'_>,
    token: Option<String>,
    invitation: Option<ID>,
) -> async_graphql::Result<Access> {
    match (token, invitation) {
        (Some(token), None) => Ok(Access::holding(
            token,
            context::request(ctx).client,
            "input.token",
        )?),
        (None, Some(invitation)) => Ok(Access::Invitation(id::decode::<InvitationId>(
            &invitation,
            "input.invitationId",
        )?)),
        _ => Err(AppError::bad_input(
            "input.token",
            "Give either the token or the invitation's ID.",
        )
        .into()),
    }
}

fn complete_answers(answers: Vec<AnswerValue>) -> async_graphql::Result<Vec<(String, Answer)>> {
    answers_in(answers)?
        .into_iter()
        .enumerate()
        .map(|(i, (key, answer))| {
            answer.map(|a| (key.clone(), a)).ok_or_else(|| {
                AppError::bad_input(
                    format!("input.answers.{i}"),
                    format!("Question {key:?}: give options, a value or a text."),
                )
                .into()
            })
        })
        .collect()
}

/// Consultation mutations.
#[derive(Default)]
pub struct ConsultationMutation;

#[Object]
impl ConsultationMutation {
    /// Drafts a consultation (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn consultation_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] input: ConsultationCreateInput,
    ) -> async_graphql::Result<ConsultationPayload> {
        let state = context::state(ctx)?;
        let consultation =
            consultations::create(state, &context::caller(ctx), input.request()?).await?;
        Ok(ConsultationPayload {
            consultation: ConsultationNode(consultation),
        })
    }

    /// Changes a draft's wording and settings (OFFICER): only the fields given change,
    /// an omitted field keeps its value, and `null` clears one that may be empty. The
    /// consultation as changed is checked whole (`BAD_USER_INPUT` naming the field).
    /// `CONFLICT` once it is open.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn consultation_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The draft and its new settings.")] input: ConsultationUpdateInput,
    ) -> async_graphql::Result<ConsultationPayload> {
        let id = id::decode::<ConsultationId>(&input.consultation_id, "input.consultationId")?;
        let state = context::state(ctx)?;
        let consultation = consultations::update(
            state,
            &context::caller(ctx),
            id,
            input.consultation.changes()?,
        )
        .await?;
        Ok(ConsultationPayload {
            consultation: ConsultationNode(consultation),
        })
    }

    /// Sets a draft's questions, in order (OFFICER). `CONFLICT` once it is open.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn consultation_questions_set(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The draft and its questions.")] input: ConsultationQuestionsSetInput,
    ) -> async_graphql::Result<ConsultationQuestionsSetPayload> {
        let id = id::decode::<ConsultationId>(&input.consultation_id, "input.consultationId")?;
        let requests = input
            .questions
            .into_iter()
            .enumerate()
            .map(|(i, q)| q.request(i))
            .collect::<async_graphql::Result<Vec<_>>>()?;
        let state = context::state(ctx)?;
        let caller = context::caller(ctx);
        let questions = consultations::set_questions(state, &caller, id, requests).await?;
        Ok(ConsultationQuestionsSetPayload {
            consultation: ConsultationNode(consultations::find(state, &caller, id).await?),
            questions: questions.into_iter().map(QuestionView).collect(),
        })
    }

    /// Opens a draft: its questions freeze and answers are accepted (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn consultation_open(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] input: ConsultationRef,
    ) -> async_graphql::Result<ConsultationPayload> {
        transition(ctx, input, Step::Open).await
    }

    /// Closes an open consultation: no new answers (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn consultation_close(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] input: ConsultationRef,
    ) -> async_graphql::Result<ConsultationPayload> {
        transition(ctx, input, Step::Close).await
    }

    /// Reopens a closed consultation (OFFICER); a close time already past is removed.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn consultation_reopen(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] input: ConsultationRef,
    ) -> async_graphql::Result<ConsultationPayload> {
        transition(ctx, input, Step::Reopen).await
    }

    /// Copies a consultation as a new draft in the same series, keeping its question keys
    /// so next year's results can be compared with this year's (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn consultation_duplicate(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation to copy.")] input: ConsultationDuplicateInput,
    ) -> async_graphql::Result<ConsultationPayload> {
        let id = id::decode::<ConsultationId>(&input.consultation_id, "input.consultationId")?;
        let state = context::state(ctx)?;
        let copy = consultations::duplicate(state, &context::caller(ctx), id, input.title).await?;
        Ok(ConsultationPayload {
            consultation: ConsultationNode(copy),
        })
    }

    /// Invites every current member of the consultation's panel not yet invited, as a
    /// job: an invitation with a personal link each, its email or text message queued
    /// (OFFICER). Members without email or phone, or preferring post, get a letter: print
    /// them with `consultationLettersExport`. A consultation with a `sampleSize` invites
    /// its sample instead, drawn by this job the first time (and nobody afterwards).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn consultation_invite(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] input: ConsultationInviteInput,
    ) -> async_graphql::Result<JobPayload> {
        let id = id::decode::<ConsultationId>(&input.consultation_id, "input.consultationId")?;
        let state = context::state(ctx)?;
        let prefer = input.prefer.map(|p| {
            crate::domain::consultations::consultation::Channel::from(p)
                .as_str()
                .to_owned()
        });
        let job =
            invitations::start_invite(state, &context::caller(ctx), id, InviteRequest { prefer })
                .await?;
        Ok(JobPayload { job: JobNode(job) })
    }

    /// Prints the post invitations not yet printed, as a job: a mail-merge CSV with each
    /// member's address and personal short code (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn consultation_letters_export(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] input: ConsultationLettersExportInput,
    ) -> async_graphql::Result<JobPayload> {
        let id = id::decode::<ConsultationId>(&input.consultation_id, "input.consultationId")?;
        let state = context::state(ctx)?;
        let job =
            invitations::start_letters(state, &context::caller(ctx), id, input.reprint).await?;
        Ok(JobPayload { job: JobNode(job) })
    }

    /// Queues reminders, as a job, to the members invited by email or text message who
    /// have not completed: at most the consultation's `maxReminders` each, none sooner
    /// than `reminderGapHours` after their last message, none to those who bounced or
    /// opted out (OFFICER). Reminder emails carry a one-click `List-Unsubscribe`.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn consultation_remind(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] input: ConsultationRemindInput,
    ) -> async_graphql::Result<JobPayload> {
        let id = id::decode::<ConsultationId>(&input.consultation_id, "input.consultationId")?;
        let state = context::state(ctx)?;
        let job = invitations::start_remind(
            state,
            &context::caller(ctx),
            id,
            input.channel.map(Into::into),
        )
        .await?;
        Ok(JobPayload { job: JobNode(job) })
    }

    /// Withdraws an invitation (OFFICER): its link and printed code stop working
    /// (`NOT_FOUND`), it drops out of the counts and reminders, and its messages not yet
    /// sent are not sent. Answers already submitted stay.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn invitation_revoke(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitation.")] input: InvitationRevokeInput,
    ) -> async_graphql::Result<InvitationNode> {
        let id = id::decode::<InvitationId>(&input.invitation_id, "input.invitationId")?;
        let state = context::state(ctx)?;
        Ok(InvitationNode(
            invitations::revoke(state, &context::caller(ctx), id).await?,
        ))
    }

    /// Sets whether the signed-in resident is sent reminders (invitations still come). A
    /// staff account has no resident record: `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::ANY_ACCOUNT")]
    async fn reminder_preference_set(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The setting.")] input: ReminderPreferenceSetInput,
    ) -> async_graphql::Result<ReminderPreferenceSetPayload> {
        let state = context::state(ctx)?;
        let opt_out =
            invitations::set_reminders_opt_out(state, &context::caller(ctx), input.opt_out).await?;
        Ok(ReminderPreferenceSetPayload { opt_out })
    }

    /// Saves answers without submitting, to resume later on any device (the personal
    /// link's token or the postal letter's code, or signed in with the invitation's ID).
    /// The first save marks the invitation started. Each answer is checked against its
    /// question; answers to questions the other answers hide are kept while drafting.
    async fn answers_save(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who is answering and the answers.")] input: AnswersSaveInput,
    ) -> async_graphql::Result<InvitedView> {
        let access = access(ctx, input.token, input.invitation_id)?;
        let answers = answers_in(input.answers)?;
        let state = context::state(ctx)?;
        Ok(InvitedView(
            answering::save(state, &context::caller(ctx), access, answers).await?,
        ))
    }

    /// Submits the answers (saved ones with these over them), checked as a whole: types
    /// and required questions; answers to questions the other answers hide are dropped,
    /// never stored. Exactly once per invitation: a repeat (a double tap, a retry)
    /// changes nothing and says `duplicate`.
    async fn response_submit(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who is answering and the answers.")] input: ResponseSubmitInput,
    ) -> async_graphql::Result<ResponseSubmitPayload> {
        let access = access(ctx, input.token, input.invitation_id)?;
        let channel: crate::domain::consultations::consultation::AnswerChannel =
            input.channel.into();
        if channel.is_offline() {
            return Err(AppError::bad_input(
                "input.channel",
                "Paper and phone answers are entered by an officer with responseEnter.",
            )
            .into());
        }
        let answers = complete_answers(input.answers)?;
        let state = context::state(ctx)?;
        Ok(
            answering::submit(state, &context::caller(ctx), access, answers, channel)
                .await?
                .into(),
        )
    }

    /// Submits a response to an open-link (QR code) survey: anyone may, a limited number
    /// per client address per hour. Its "about you" answers are kept as the response's
    /// demographics. Send a `submissionKey` (e.g. a UUID made when the form opened) so a
    /// retry is recognised and not counted twice.
    async fn open_response_submit(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The survey's code and the answers.")] input: OpenResponseSubmitInput,
    ) -> async_graphql::Result<OpenResponseSubmitPayload> {
        let answers = complete_answers(input.answers)?;
        let state = context::state(ctx)?;
        let submitted = answering::submit_open(
            state,
            &context::request(ctx).client,
            &input.code,
            answers,
            input.submission_key,
        )
        .await?;
        Ok(OpenResponseSubmitPayload {
            duplicate: submitted.duplicate,
        })
    }

    /// Enters answers received on paper or by phone against the member's invitation or
    /// its printed code (OFFICER); they count in every figure like online answers.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn response_enter(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whose answers, how they came, and the answers.")]
        input: ResponseEnterInput,
    ) -> async_graphql::Result<ResponseSubmitPayload> {
        let channel: crate::domain::consultations::consultation::AnswerChannel =
            input.channel.into();
        if !channel.is_offline() {
            return Err(AppError::bad_input(
                "input.channel",
                "Officers enter answers received on PAPER or by PHONE.",
            )
            .into());
        }
        let access = match (input.invitation_id, input.code) {
            (Some(invitation), None) => Access::Invitation(id::decode::<InvitationId>(
                &invitation,
                "input.invitationId",
            )?),
            (None, Some(code)) => Access::Code(code),
            _ => {
                return Err(AppError::bad_input(
                    "input.invitationId",
                    "Give either the invitation's ID or the printed code.",
                )
                .into());
            }
        };
        let answers = complete_answers(input.answers)?;
        let state = context::state(ctx)?;
        Ok(
            answering::submit(state, &context::caller(ctx), access, answers, channel)
                .await?
                .into(),
        )
    }
}

async fn transition(
    ctx: &Context<'_>,
    input: ConsultationRef,
    step: Step,
) -> async_graphql::Result<ConsultationPayload> {
    let id = id::decode::<ConsultationId>(&input.consultation_id, "input.consultationId")?;
    let state = context::state(ctx)?;
    let consultation = consultations::transition(state, &context::caller(ctx), id, step).await?;
    Ok(ConsultationPayload {
        consultation: ConsultationNode(consultation),
    })
}
