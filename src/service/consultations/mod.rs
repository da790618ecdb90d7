//! Consultations as use cases: drafting one (its wording, times, audience and message
//! templates), its questions, its lifecycle (open, close, reopen), and duplicating it for
//! next year's round with the same question keys.
//!
//! Officers (and ADMIN) manage consultations. Questions and wording change only while a
//! consultation is a draft; once open its questions are frozen, so every answer was given
//! to the same questions.

pub mod answering;
pub mod invitations;
pub mod response_csv;
pub mod responses;

use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};

use crate::db::entities::{consultation, question};
use crate::db::pages::{self, Order};
use crate::domain::accounts::role::Role;
use crate::domain::consultations::consultation::{
    Consultation, QuestionItem, Status, Step, TemplateError, Templates, render,
};
use crate::domain::consultations::questionnaire::{
    Question, QuestionKind, ShowWhen, check_questions,
};
use crate::domain::consultations::readability::DEFAULT_TARGET_READING_AGE;
use crate::domain::ids::{ConsultationId, PanelId};
use crate::domain::recruitment::sampling::Seed;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::service::{panels, panels::sub_sample, reports::age_bands};
use crate::state::AppState;

mod drafting;
mod lifecycle;
mod questions;

// The parts see one another's items, as they did when they were one file.
#[allow(unused_imports)]
use {drafting::*, lifecycle::*, questions::*};

pub use drafting::{create, update};
pub use lifecycle::{duplicate, transition};
pub use questions::{frozen_questions, questions_of, questions_of_many, set_questions};

/// Who manages consultations.
pub const OFFICERS: &[Role] = &[Role::Officer];

/// Longest title.
const MAX_TITLE_CHARS: usize = 300;

/// Longest summary, question or option text.
const MAX_TEXT_CHARS: usize = 5_000;

/// Most questions in one consultation.
pub const MAX_QUESTIONS: usize = 200;

/// Longest free-text answer a question may allow.
pub const MAX_ANSWER_CHARS: usize = 20_000;

/// The profile dimensions an "about you" question may record for open-link respondents.
pub const ABOUT_YOU: [&str; 5] = ["age_band", "sex", "ethnic_group", "disability", "ward"];

/// A consultation as an officer describes it.
#[derive(Clone, Debug, Default)]
pub struct ConsultationRequest {
    /// Trimmed, then checked to be 1 to 300 characters.
    pub title: String,
    /// Plain-language summary.
    pub summary: String,
    /// Keep answers apart from who gave them.
    pub anonymous: bool,
    /// The panel it goes to.
    pub panel: Option<PanelId>,
    /// Also open to anyone through an open link and QR code.
    pub open_link: bool,
    /// Answers accepted from.
    pub opens_at: Option<DateTime<Utc>>,
    /// Answers accepted until.
    pub closes_at: Option<DateTime<Utc>>,
    /// Reading age above which wording gets a warning (default 9).
    pub reading_age_target: Option<f64>,
    /// Message templates; the defaults where absent.
    pub templates: Option<Templates>,
    /// Most reminders per invitation.
    pub max_reminders: u32,
    /// Fewest hours between messages to one member.
    pub reminder_gap_hours: u32,
    /// Send it to a balanced sample of this many of the panel's current members rather
    /// than to all of them.
    pub sample_size: Option<i64>,
    /// The sample's seed as typed (a decimal number below 2^64); when absent, the stored
    /// one is kept, or a random one chosen.
    pub sample_seed: Option<String>,
}

/// Changes to a draft: each field names a change, `None` leaves it as it is.
#[derive(Clone, Debug, Default)]
pub struct ConsultationChanges {
    /// A new title.
    pub title: Option<String>,
    /// A new summary.
    pub summary: Option<String>,
    /// Anonymous or not.
    pub anonymous: Option<bool>,
    /// Another panel, or none (`Some(None)`).
    pub panel: Option<Option<PanelId>>,
    /// Open to anyone through the link, or not (the link's code is kept while it stays).
    pub open_link: Option<bool>,
    /// A new opening time, or none.
    pub opens_at: Option<Option<DateTime<Utc>>>,
    /// A new closing time, or none.
    pub closes_at: Option<Option<DateTime<Utc>>>,
    /// A new reading age target.
    pub reading_age_target: Option<f64>,
    /// New message templates, each one named changing alone.
    pub templates: TemplateChanges,
    /// A new most reminders per invitation.
    pub max_reminders: Option<u32>,
    /// A new fewest hours between messages.
    pub reminder_gap_hours: Option<u32>,
    /// A sample of this size, or the whole panel (`Some(None)`).
    pub sample_size: Option<Option<i64>>,
    /// A new seed for the sample, as typed.
    pub sample_seed: Option<String>,
}

/// Changes to a draft's message templates: `None` leaves one as it is.
#[derive(Clone, Debug, Default)]
pub struct TemplateChanges {
    /// Invitation email subject.
    pub invite_subject: Option<String>,
    /// Invitation email text.
    pub invite_text: Option<String>,
    /// Reminder email subject.
    pub reminder_subject: Option<String>,
    /// Reminder email text.
    pub reminder_text: Option<String>,
    /// Text message.
    pub sms_text: Option<String>,
}

impl TemplateChanges {
    fn applied_to(&self, mut templates: Templates) -> Templates {
        let pairs = [
            (&self.invite_subject, &mut templates.invite_subject),
            (&self.invite_text, &mut templates.invite_text),
            (&self.reminder_subject, &mut templates.reminder_subject),
            (&self.reminder_text, &mut templates.reminder_text),
            (&self.sms_text, &mut templates.sms_text),
        ];
        for (change, template) in pairs {
            if let Some(text) = change {
                template.clone_from(text);
            }
        }
        templates
    }
}

impl ConsultationChanges {
    /// The consultation as it would be with these changes, as a request to check whole.
    fn applied_to(&self, current: &Consultation) -> ConsultationRequest {
        ConsultationRequest {
            title: self.title.clone().unwrap_or_else(|| current.title.clone()),
            summary: self
                .summary
                .clone()
                .unwrap_or_else(|| current.summary.clone()),
            anonymous: self.anonymous.unwrap_or(current.anonymous),
            panel: self.panel.unwrap_or(current.panel),
            open_link: self.open_link.unwrap_or(current.open_code.is_some()),
            opens_at: self.opens_at.unwrap_or(current.opens_at),
            closes_at: self.closes_at.unwrap_or(current.closes_at),
            reading_age_target: Some(
                self.reading_age_target
                    .unwrap_or(current.reading_age_target),
            ),
            templates: Some(self.templates.applied_to(current.templates.clone())),
            max_reminders: self.max_reminders.unwrap_or(current.max_reminders),
            reminder_gap_hours: self
                .reminder_gap_hours
                .unwrap_or(current.reminder_gap_hours),
            sample_size: self
                .sample_size
                .unwrap_or(current.sample_size.map(i64::from)),
            sample_seed: self.sample_seed.clone(),
        }
    }
}

/// One question as an officer gives it.
#[derive(Clone, Debug)]
pub struct QuestionRequest {
    /// A stable key (letters, digits, `_`, `-`).
    pub key: String,
    /// The wording.
    pub text: String,
    /// The kind, with its option keys.
    pub kind: QuestionKind,
    /// The options' labels, in the order of the kind's option keys.
    pub labels: Vec<String>,
    /// Must a shown question be answered.
    pub required: bool,
    /// Show only when an earlier answer is this.
    pub show_when: Option<ShowWhen>,
    /// Profile dimension recorded by an "about you" question.
    pub about_you: Option<String>,
}

/// One consultation (OFFICER).
pub async fn find(
    state: &AppState,
    caller: &Caller,
    id: ConsultationId,
) -> AppResult<Consultation> {
    caller.require(OFFICERS)?;
    find_any(state.db.reader(), id).await
}

/// One consultation, whoever asks.
pub async fn find_any(db: &impl ConnectionTrait, id: ConsultationId) -> AppResult<Consultation> {
    to_domain(row_of(db, id).await?)
}

async fn row_of(db: &impl ConnectionTrait, id: ConsultationId) -> AppResult<consultation::Model> {
    consultation::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound {
            what: "consultation",
        })
}

/// Consultations, newest first, a page of `limit` (and one more, to tell that another
/// page follows) before `before` (OFFICER).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    status: Option<Status>,
    before: Option<ConsultationId>,
    limit: u64,
) -> AppResult<Vec<Consultation>> {
    caller.require(OFFICERS)?;
    let mut query = pages::page(
        consultation::Entity::find(),
        consultation::Column::Id,
        Order::NewestFirst,
        before.map(ConsultationId::get),
        limit,
    );
    if let Some(status) = status {
        query = query.filter(consultation::Column::Status.eq(status));
    }
    query
        .all(state.db.reader())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// The stored row as the domain's consultation.
pub fn to_domain(row: consultation::Model) -> AppResult<Consultation> {
    let status = row.status;
    Ok(Consultation {
        id: row.id,
        series: row.series_id.unwrap_or(row.id),
        title: row.title,
        summary: row.summary,
        status,
        anonymous: row.anonymous,
        panel: row.panel_id,
        open_code: row.open_code,
        opens_at: row.opens_at,
        closes_at: row.closes_at,
        reading_age_target: row.reading_age_target,
        templates: Templates {
            invite_subject: row.invite_subject,
            invite_text: row.invite_text,
            reminder_subject: row.reminder_subject,
            reminder_text: row.reminder_text,
            sms_text: row.sms_text,
        },
        max_reminders: u32::try_from(row.max_reminders).unwrap_or(0),
        reminder_gap_hours: u32::try_from(row.reminder_gap_hours).unwrap_or(0),
        sample_size: row.sample_size.and_then(|s| u32::try_from(s).ok()),
        sample_seed: row.sample_seed.and_then(|s| s.parse().ok()),
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
        opened_at: row.opened_at,
        closed_at: row.closed_at,
    })
}
