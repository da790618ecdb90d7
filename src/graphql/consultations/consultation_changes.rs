//! `consultationUpdate`'s input: changes to a draft, each field changing only when given.

use async_graphql::{ID, InputObject, MaybeUndefined};
use chrono::{DateTime, Utc};

use crate::domain::ids::PanelId;
use crate::error::AppError;
use crate::graphql::id;
use crate::service::consultations::{ConsultationChanges, TemplateChanges};

/// Changes to a draft consultation. Only the fields given change: an omitted field keeps
/// its value. `null` clears the fields that may be empty (`panelId`, `opensAt`,
/// `closesAt`, `sampleSize`) and leaves the others as they are.
#[derive(InputObject, Default)]
pub struct ConsultationChangesInput {
    /// A new title.
    pub title: Option<String>,
    /// A new plain-language summary.
    pub summary: Option<String>,
    /// Keep answers apart from who gave them, or not.
    pub anonymous: Option<bool>,
    /// Another panel; `null` for none (then `openLink` must be on).
    pub panel_id: MaybeUndefined<ID>,
    /// Open to anyone through the open link and QR code, or not. The link's code is kept
    /// while it stays on.
    pub open_link: Option<bool>,
    /// Answers accepted from; `null` for no opening time.
    pub opens_at: MaybeUndefined<DateTime<Utc>>,
    /// Answers accepted until; `null` for no closing time.
    pub closes_at: MaybeUndefined<DateTime<Utc>>,
    /// A new reading age target.
    pub reading_age_target: Option<f64>,
    /// New message templates: each one given changes, the others stay.
    pub templates: Option<MessageTemplateChanges>,
    /// Most reminders per invitation (0 to 10).
    pub max_reminders: Option<i32>,
    /// Fewest hours between messages to one member.
    pub reminder_gap_hours: Option<i32>,
    /// A balanced sample of this many of the panel's current members; `null` for the
    /// whole panel (the stored seed is dropped with it).
    pub sample_size: MaybeUndefined<i32>,
    /// A new seed for the sample (a whole number below 2^64). When omitted, the seed
    /// already stored is kept, or a random one is chosen when a sample is first asked for.
    pub sample_seed: Option<String>,
}

/// Changes to a draft's message templates: each one given changes, the others stay.
#[derive(InputObject, Default)]
pub struct MessageTemplateChanges {
    /// Invitation email subject.
    pub invite_subject: Option<String>,
    /// Invitation email text (the HTML alternative is made from it).
    pub invite_text: Option<String>,
    /// Reminder email subject.
    pub reminder_subject: Option<String>,
    /// Reminder email text.
    pub reminder_text: Option<String>,
    /// Text message (invitation and reminder).
    pub sms_text: Option<String>,
}

/// `Some(None)` for null, `Some(Some(…))` for a value, `None` when not given.
fn named<T, U>(
    value: MaybeUndefined<T>,
    convert: impl FnOnce(T) -> Result<U, AppError>,
) -> Result<Option<Option<U>>, AppError> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Ok(Some(None)),
        MaybeUndefined::Value(v) => convert(v).map(|u| Some(Some(u))),
    }
}

impl ConsultationChangesInput {
    /// The changes as the service takes them.
    pub fn changes(self) -> Result<ConsultationChanges, AppError> {
        let count = |n: i32, field: &str| {
            u32::try_from(n).map_err(|_| AppError::bad_input(field, "Give 0 or more."))
        };
        let templates = self.templates.unwrap_or_default();
        Ok(ConsultationChanges {
            title: self.title,
            summary: self.summary,
            anonymous: self.anonymous,
            panel: named(self.panel_id, |p| {
                id::decode::<PanelId>(&p, "input.panelId")
            })?,
            open_link: self.open_link,
            opens_at: named(self.opens_at, Ok)?,
            closes_at: named(self.closes_at, Ok)?,
            reading_age_target: self.reading_age_target,
            templates: TemplateChanges {
                invite_subject: templates.invite_subject,
                invite_text: templates.invite_text,
                reminder_subject: templates.reminder_subject,
                reminder_text: templates.reminder_text,
                sms_text: templates.sms_text,
            },
            max_reminders: self
                .max_reminders
                .map(|n| count(n, "input.maxReminders"))
                .transpose()?,
            reminder_gap_hours: self
                .reminder_gap_hours
                .map(|n| count(n, "input.reminderGapHours"))
                .transpose()?,
            sample_size: named(self.sample_size, |n| Ok(i64::from(n)))?,
            sample_seed: self.sample_seed,
        })
    }
}
