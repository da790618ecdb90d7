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
pub mod submissions;
pub mod tracking;

use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};

use crate::db::entities::{consultation, question};
use crate::domain::accounts::role::Role;
use crate::domain::consultations::consultation::{
    Consultation, QuestionItem, Status, Step, TemplateError, Templates, render,
};
use crate::domain::consultations::questionnaire::{
    Question, QuestionKind, ShowWhen, check_questions,
};
use crate::domain::consultations::readability::DEFAULT_TARGET_READING_AGE;
use crate::domain::ids::{AccountId, ConsultationId, PanelId};
use crate::domain::recruitment::sampling::Seed;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::service::{panels, panels::sub_sample, reports::age_bands};
use crate::state::AppState;

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
    /// Title.
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

fn checked_text(field: &str, text: &str, max: usize, required: bool) -> AppResult<String> {
    let text = text.trim();
    let chars = text.chars().count();
    if (required && chars == 0) || chars > max {
        return Err(AppError::bad_input(
            field,
            format!(
                "Give {} to {max} characters.",
                if required { "1" } else { "0" }
            ),
        ));
    }
    Ok(text.to_owned())
}

/// Longest text-message template: room left within an SMS of ten parts
/// (`jobs::sms::MAX_SMS_CHARS`) for a name and the link.
const MAX_SMS_TEMPLATE_CHARS: usize = 1_200;

fn checked_templates(templates: Templates) -> AppResult<Templates> {
    if templates.sms_text.chars().count() > MAX_SMS_TEMPLATE_CHARS {
        return Err(AppError::bad_input(
            "input.templates.smsText",
            format!("A text message template has at most {MAX_SMS_TEMPLATE_CHARS} characters."),
        ));
    }
    for (name, text) in templates.named() {
        if text.trim().is_empty() || text.chars().count() > MAX_TEXT_CHARS {
            return Err(AppError::bad_input(
                format!("input.templates.{name}"),
                format!("A template has 1 to {MAX_TEXT_CHARS} characters."),
            ));
        }
        render(text, &[]).map_err(|e: TemplateError| {
            AppError::bad_input(format!("input.templates.{name}"), e.to_string())
        })?;
    }
    Ok(templates)
}

struct Checked {
    title: String,
    summary: String,
    reading_age_target: f64,
    templates: Templates,
    /// The sample's size and, when given, its seed.
    sample: Option<(u32, Option<u64>)>,
}

impl Checked {
    /// The sample's size and seed as stored: the seed given, else `kept` (the stored
    /// one), else a random one.
    fn sample_columns(&self, kept: Option<&str>) -> (Option<i32>, Option<String>) {
        match self.sample {
            None => (None, None),
            Some((size, seed)) => (
                i32::try_from(size).ok(),
                Some(match (seed, kept) {
                    (Some(seed), _) => seed.to_string(),
                    (None, Some(kept)) => kept.to_owned(),
                    (None, None) => rand::random::<u64>().to_string(),
                }),
            ),
        }
    }
}

/// The sample asked for: its size and the seed given, checked against the panel's
/// members and quotas as they are at `now`.
async fn check_sample(
    db: &impl ConnectionTrait,
    request: &ConsultationRequest,
    now: DateTime<Utc>,
) -> AppResult<Option<(u32, Option<u64>)>> {
    let seed = request
        .sample_seed
        .as_deref()
        .map(|text| {
            text.trim().parse::<Seed>().map(|s| s.0).map_err(|_| {
                AppError::bad_input(
                    "input.sampleSeed",
                    "The seed must be a whole number from 0 to 18446744073709551615.",
                )
            })
        })
        .transpose()?;
    let Some(size) = request.sample_size else {
        if seed.is_some() {
            return Err(AppError::bad_input(
                "input.sampleSeed",
                "A seed is for a sample: give sampleSize too.",
            ));
        }
        return Ok(None);
    };
    let Some(panel) = request.panel else {
        return Err(AppError::bad_input(
            "input.sampleSize",
            "A sample is drawn from a panel: give panelId too.",
        ));
    };
    let size = u32::try_from(size)
        .ok()
        .filter(|&size| size >= 1)
        .ok_or_else(|| {
            AppError::bad_input("input.sampleSize", "A sample has at least 1 member.")
        })?;
    sub_sample::pool(db, panel, size, now, "input.sampleSize").await?;
    Ok(Some((size, seed)))
}

async fn check_request(
    db: &impl ConnectionTrait,
    request: &ConsultationRequest,
    now: DateTime<Utc>,
) -> AppResult<Checked> {
    let title = checked_text("input.title", &request.title, MAX_TITLE_CHARS, true)?;
    let summary = checked_text("input.summary", &request.summary, MAX_TEXT_CHARS, false)?;
    if let (Some(opens), Some(closes)) = (request.opens_at, request.closes_at)
        && closes <= opens
    {
        return Err(AppError::bad_input(
            "input.closesAt",
            "The close time is not after the open time.",
        ));
    }
    let reading_age_target = request
        .reading_age_target
        .unwrap_or(DEFAULT_TARGET_READING_AGE);
    if !(5.0..=25.0).contains(&reading_age_target) {
        return Err(AppError::bad_input(
            "input.readingAgeTarget",
            "A reading age target is from 5 to 25.",
        ));
    }
    if request.max_reminders > 10 {
        return Err(AppError::bad_input(
            "input.maxReminders",
            "At most 10 reminders.",
        ));
    }
    if request.reminder_gap_hours == 0 || request.reminder_gap_hours > 24 * 90 {
        return Err(AppError::bad_input(
            "input.reminderGapHours",
            "The gap between reminders is 1 hour to 90 days.",
        ));
    }
    if request.panel.is_none() && !request.open_link {
        return Err(AppError::bad_input(
            "input.panelId",
            "Send it to a panel, open it to anyone with the link, or both.",
        ));
    }
    if let Some(panel) = request.panel {
        panels::find_any(db, panel).await?;
    }
    let templates = checked_templates(request.templates.clone().unwrap_or_default())?;
    let sample = check_sample(db, request, now).await?;
    Ok(Checked {
        title,
        summary,
        reading_age_target,
        templates,
        sample,
    })
}

/// A new open-link code: 128 random bits, URL-safe.
fn new_open_code() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Drafts a consultation.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    request: ConsultationRequest,
) -> AppResult<Consultation> {
    caller.require(OFFICERS)?;
    let db = state.db.writer();
    let now = state.clock.now();
    let checked = check_request(db, &request, now).await?;
    let (sample_size, sample_seed) = checked.sample_columns(None);
    let txn = db.begin().await?;
    let row = consultation::ActiveModel {
        series_id: Set(None),
        title: Set(checked.title),
        summary: Set(checked.summary),
        status: Set(Status::Draft.as_str().to_owned()),
        anonymous: Set(request.anonymous),
        panel_id: Set(request.panel.map(PanelId::get)),
        open_code: Set(request.open_link.then(new_open_code)),
        opens_at: Set(request.opens_at),
        closes_at: Set(request.closes_at),
        reading_age_target: Set(checked.reading_age_target),
        invite_subject: Set(checked.templates.invite_subject),
        invite_text: Set(checked.templates.invite_text),
        reminder_subject: Set(checked.templates.reminder_subject),
        reminder_text: Set(checked.templates.reminder_text),
        sms_text: Set(checked.templates.sms_text),
        max_reminders: Set(i32::try_from(request.max_reminders).unwrap_or(0)),
        reminder_gap_hours: Set(i32::try_from(request.reminder_gap_hours).unwrap_or(72)),
        sample_size: Set(sample_size),
        sample_seed: Set(sample_seed),
        created_by: Set(caller.account().map(AccountId::get)),
        created_at: Set(now),
        updated_at: Set(now),
        opened_at: Set(None),
        closed_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    // The first of its series is its own series.
    let mut series: consultation::ActiveModel = row.into();
    series.series_id = Set(Some(*series.id.as_ref()));
    let row = series.update(&txn).await?;
    txn.commit().await?;
    to_domain(row)
}

/// Changes a draft's wording, times, audience or templates: only what `changes` names,
/// the consultation as changed checked whole (a close time against a stored open time, a
/// sample against a stored panel). The draft is read, checked and written in one
/// transaction holding its row (PostgreSQL; SQLite's one writer runs them one at a
/// time), so two officers' edits never combine into one neither checked; only the named
/// columns are written, so each keeps the other's edits of other fields.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: ConsultationId,
    changes: ConsultationChanges,
) -> AppResult<Consultation> {
    caller.require(OFFICERS)?;
    let txn = state.db.writer().begin().await?;
    let db = &txn;
    let current = consultation::Entity::find_by_id(id.get())
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or(AppError::NotFound {
            what: "consultation",
        })?;
    require_draft(&current)?;
    let stored_seed = current.sample_seed.clone();
    let stored_code = current.open_code.clone();
    let as_is = to_domain(current.clone())?;
    let request = changes.applied_to(&as_is);
    let checked = check_request(db, &request, state.clock.now()).await?;
    let (sample_size, sample_seed) = checked.sample_columns(stored_seed.as_deref());
    let mut row: consultation::ActiveModel = current.into();
    if changes.title.is_some() {
        row.title = Set(checked.title);
    }
    if changes.summary.is_some() {
        row.summary = Set(checked.summary);
    }
    if let Some(anonymous) = changes.anonymous {
        row.anonymous = Set(anonymous);
    }
    if let Some(panel) = changes.panel {
        row.panel_id = Set(panel.map(PanelId::get));
    }
    if let Some(open) = changes.open_link {
        row.open_code = Set(open.then(|| stored_code.unwrap_or_else(new_open_code)));
    }
    if let Some(opens_at) = changes.opens_at {
        row.opens_at = Set(opens_at);
    }
    if let Some(closes_at) = changes.closes_at {
        row.closes_at = Set(closes_at);
    }
    if changes.reading_age_target.is_some() {
        row.reading_age_target = Set(checked.reading_age_target);
    }
    let (named, t) = (&changes.templates, checked.templates);
    let columns = [
        (
            named.invite_subject.is_some(),
            &mut row.invite_subject,
            t.invite_subject,
        ),
        (
            named.invite_text.is_some(),
            &mut row.invite_text,
            t.invite_text,
        ),
        (
            named.reminder_subject.is_some(),
            &mut row.reminder_subject,
            t.reminder_subject,
        ),
        (
            named.reminder_text.is_some(),
            &mut row.reminder_text,
            t.reminder_text,
        ),
        (named.sms_text.is_some(), &mut row.sms_text, t.sms_text),
    ];
    for (named, column, text) in columns {
        if named {
            *column = Set(text);
        }
    }
    if let Some(n) = changes.max_reminders {
        row.max_reminders = Set(i32::try_from(n).unwrap_or(0));
    }
    if let Some(hours) = changes.reminder_gap_hours {
        row.reminder_gap_hours = Set(i32::try_from(hours).unwrap_or(72));
    }
    if changes.sample_size.is_some() || changes.sample_seed.is_some() {
        row.sample_size = Set(sample_size);
        row.sample_seed = Set(sample_seed);
    }
    row.updated_at = Set(state.clock.now());
    // Only while still a draft: a concurrent open wins.
    let updated = consultation::Entity::update_many()
        .set(row)
        .filter(consultation::Column::Id.eq(id.get()))
        .filter(consultation::Column::Status.eq(Status::Draft.as_str()))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(frozen());
    }
    let changed = find_any(db, id).await?;
    txn.commit().await?;
    Ok(changed)
}

fn frozen() -> AppError {
    AppError::conflict(
        "The consultation is no longer a draft: its wording and questions are frozen. Duplicate it to make changes.",
    )
}

fn require_draft(row: &consultation::Model) -> AppResult<()> {
    if row.status == Status::Draft.as_str() {
        Ok(())
    } else {
        Err(frozen())
    }
}

/// Replaces a draft's questions (in the order given).
pub async fn set_questions(
    state: &AppState,
    caller: &Caller,
    id: ConsultationId,
    requests: Vec<QuestionRequest>,
) -> AppResult<Vec<QuestionItem>> {
    caller.require(OFFICERS)?;
    if requests.len() > MAX_QUESTIONS {
        return Err(AppError::bad_input(
            "input.questions",
            format!("At most {MAX_QUESTIONS} questions."),
        ));
    }
    let mut items = Vec::with_capacity(requests.len());
    for (i, request) in requests.into_iter().enumerate() {
        items.push(checked_question(i, request)?);
    }
    let questions: Vec<Question> = items.iter().map(|i| i.question.clone()).collect();
    check_questions(&questions)
        .map_err(|e| AppError::bad_input("input.questions", e.to_string()))?;
    let db = state.db.writer();
    let panel = row_of(db, id).await?.panel_id.map(PanelId);
    let youngest = age_bands::youngest_age(db, panel).await?;
    age_bands::check(&items, youngest, |i, j| {
        format!("input.questions.{i}.options.{j}.label")
    })?;
    let txn = db.begin().await?;
    // Lock the consultation row (PostgreSQL) while checking it is a draft; SQLite
    // serialises writers anyway.
    let touched = consultation::Entity::update_many()
        .col_expr(
            consultation::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(state.clock.now()),
        )
        .filter(consultation::Column::Id.eq(id.get()))
        .filter(consultation::Column::Status.eq(Status::Draft.as_str()))
        .exec(&txn)
        .await?;
    if touched.rows_affected == 0 {
        row_of(&txn, id).await?;
        return Err(frozen());
    }
    question::Entity::delete_many()
        .filter(question::Column::ConsultationId.eq(id.get()))
        .exec(&txn)
        .await?;
    for (position, item) in items.iter().enumerate() {
        question_row(id, position, item).insert(&txn).await?;
    }
    txn.commit().await?;
    Ok(items)
}

fn question_row(id: ConsultationId, position: usize, item: &QuestionItem) -> question::ActiveModel {
    let q = &item.question;
    let (kind, keys, max_choices, max_chars) = match &q.kind {
        QuestionKind::SingleChoice { options } => ("single_choice", options.clone(), None, None),
        QuestionKind::MultipleChoice { options, max } => (
            "multiple_choice",
            options.clone(),
            max.and_then(|m| i32::try_from(m).ok()),
            None,
        ),
        QuestionKind::Agreement => ("agreement", Vec::new(), None, None),
        QuestionKind::Rating => ("rating", Vec::new(), None, None),
        QuestionKind::FreeText { max_chars } => (
            "free_text",
            Vec::new(),
            None,
            i32::try_from(*max_chars).ok(),
        ),
        QuestionKind::Ranking { options } => ("ranking", options.clone(), None, None),
    };
    let options: Vec<serde_json::Value> = keys
        .iter()
        .zip(&item.labels)
        .map(|(key, label)| serde_json::json!({ "key": key, "label": label }))
        .collect();
    question::ActiveModel {
        consultation_id: Set(id.get()),
        position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
        key: Set(q.key.clone()),
        text: Set(q.text.clone()),
        kind: Set(kind.to_owned()),
        options: Set(serde_json::Value::Array(options).to_string()),
        max_choices: Set(max_choices),
        max_chars: Set(max_chars),
        required: Set(q.required),
        show_when_key: Set(q.show_when.as_ref().map(|s| s.question.clone())),
        show_when_answer: Set(q.show_when.as_ref().map(|s| s.answer.clone())),
        about_you: Set(item.about_you.clone()),
        ..Default::default()
    }
}

fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 100
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn checked_question(i: usize, request: QuestionRequest) -> AppResult<QuestionItem> {
    let field = |name: &str| format!("input.questions.{i}.{name}");
    let key = request.key.trim().to_owned();
    if !is_key(&key) {
        return Err(AppError::bad_input(
            field("key"),
            "A question key is 1 to 100 letters, digits, `_` or `-`.",
        ));
    }
    let text = checked_text(&field("text"), &request.text, MAX_TEXT_CHARS, true)?;
    let option_keys = match &request.kind {
        QuestionKind::SingleChoice { options }
        | QuestionKind::MultipleChoice { options, .. }
        | QuestionKind::Ranking { options } => Some(options),
        _ => None,
    };
    let mut labels = Vec::new();
    match option_keys {
        Some(options) => {
            if options.len() != request.labels.len() {
                return Err(AppError::bad_input(
                    field("options"),
                    "Every option needs a key and a label.",
                ));
            }
            if options.len() > 100 {
                return Err(AppError::bad_input(
                    field("options"),
                    "At most 100 options.",
                ));
            }
            for (j, (key, label)) in options.iter().zip(&request.labels).enumerate() {
                if !is_key(key) {
                    return Err(AppError::bad_input(
                        format!("input.questions.{i}.options.{j}.key"),
                        "An option key is 1 to 100 letters, digits, `_` or `-`.",
                    ));
                }
                labels.push(checked_text(
                    &format!("input.questions.{i}.options.{j}.label"),
                    label,
                    MAX_TEXT_CHARS,
                    true,
                )?);
            }
        }
        None if !request.labels.is_empty() => {
            return Err(AppError::bad_input(
                field("options"),
                "Only choice and ranking questions have options.",
            ));
        }
        None => {}
    }
    match &request.kind {
        QuestionKind::MultipleChoice {
            options,
            max: Some(max),
        } if *max == 0 || *max > options.len() => {
            return Err(AppError::bad_input(
                field("maxChoices"),
                format!("Allow 1 to {} choices.", options.len()),
            ));
        }
        QuestionKind::FreeText { max_chars }
            if *max_chars == 0 || *max_chars > MAX_ANSWER_CHARS =>
        {
            return Err(AppError::bad_input(
                field("maxChars"),
                format!("Allow 1 to {MAX_ANSWER_CHARS} characters."),
            ));
        }
        _ => {}
    }
    let about_you = match request.about_you.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(dimension) if ABOUT_YOU.contains(&dimension) => {
            if !matches!(request.kind, QuestionKind::SingleChoice { .. }) {
                return Err(AppError::bad_input(
                    field("aboutYou"),
                    "An \"about you\" question is a single choice whose option labels are recorded as the profile's values.",
                ));
            }
            if labels.iter().any(|l| l.chars().count() > 200) {
                return Err(AppError::bad_input(
                    field("options"),
                    "An \"about you\" option's label is what is recorded: at most 200 characters.",
                ));
            }
            Some(dimension.to_owned())
        }
        Some(other) => {
            return Err(AppError::bad_input(
                field("aboutYou"),
                format!(
                    "{other:?} is not a profile dimension; use one of {}.",
                    ABOUT_YOU.join(", ")
                ),
            ));
        }
    };
    Ok(QuestionItem {
        question: Question {
            key,
            text,
            kind: request.kind,
            required: request.required,
            show_when: request.show_when,
        },
        labels,
        about_you,
    })
}

/// Takes a lifecycle step: open a draft (it needs questions; from then they are frozen),
/// close an open consultation, or reopen a closed one. A consultation already where the
/// step leads is returned unchanged; any other starting point is `CONFLICT`.
pub async fn transition(
    state: &AppState,
    caller: &Caller,
    id: ConsultationId,
    step: Step,
) -> AppResult<Consultation> {
    caller.require(OFFICERS)?;
    let db = state.db.writer();
    let current = row_of(db, id).await?;
    let from: Status = current.status.parse().map_err(
        |e: crate::domain::consultations::consultation::UnknownValue| AppError::internal(e),
    )?;
    let to = step.to();
    if from == to {
        return to_domain(current);
    }
    if from != step.from() {
        return Err(AppError::conflict(match step {
            Step::Open => {
                "Only a draft is opened; reopen a closed consultation with consultationReopen."
            }
            Step::Close => "Only an open consultation is closed.",
            Step::Reopen => {
                "Only a closed consultation is reopened; open a draft with consultationOpen."
            }
        }));
    }
    if step == Step::Open {
        let questions = questions_of(db, id).await?;
        if questions.is_empty() {
            return Err(AppError::conflict(
                "Add at least one question before opening the consultation.",
            ));
        }
        let youngest = age_bands::youngest_age(db, current.panel_id.map(PanelId)).await?;
        age_bands::check(&questions, youngest, |i, j| {
            let item = &questions[i];
            let option = match &item.question.kind {
                QuestionKind::SingleChoice { options } => options.get(j).cloned(),
                _ => None,
            };
            format!(
                "questions.{}.options.{}",
                item.question.key,
                option.unwrap_or_else(|| j.to_string())
            )
        })?;
    }
    let now = state.clock.now();
    let mut update = consultation::Entity::update_many()
        .col_expr(
            consultation::Column::Status,
            sea_orm::sea_query::Expr::value(to.as_str()),
        )
        .col_expr(
            consultation::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        );
    update = match to {
        Status::Open => {
            let mut update = update.col_expr(
                consultation::Column::OpenedAt,
                sea_orm::sea_query::Expr::value(now),
            );
            // Reopening past the close time would accept nothing: the close time goes.
            if current.closes_at.is_some_and(|c| c <= now) {
                update = update.col_expr(
                    consultation::Column::ClosesAt,
                    sea_orm::sea_query::Expr::value(None::<DateTime<Utc>>),
                );
            }
            update
        }
        Status::Closed => update.col_expr(
            consultation::Column::ClosedAt,
            sea_orm::sea_query::Expr::value(now),
        ),
        Status::Draft => update,
    };
    let changed = update
        .filter(consultation::Column::Id.eq(id.get()))
        .filter(consultation::Column::Status.eq(from.as_str()))
        .exec(db)
        .await?;
    if changed.rows_affected == 0 {
        return Err(AppError::conflict(
            "The consultation changed at the same moment; look again.",
        ));
    }
    find_any(db, id).await
}

/// A new draft with the same wording, settings, audience and questions (same keys, so
/// results can be compared across rounds), in the same series; no invitations or
/// answers. A sample keeps its size and gets a new seed, so it is drawn afresh.
pub async fn duplicate(
    state: &AppState,
    caller: &Caller,
    id: ConsultationId,
    title: Option<String>,
) -> AppResult<Consultation> {
    caller.require(OFFICERS)?;
    let db = state.db.writer();
    let source = row_of(db, id).await?;
    let title = match title {
        Some(title) => checked_text("input.title", &title, MAX_TITLE_CHARS, true)?,
        None => source.title.clone(),
    };
    let questions = question::Entity::find()
        .filter(question::Column::ConsultationId.eq(id.get()))
        .order_by_asc(question::Column::Position)
        .all(db)
        .await?;
    let now = state.clock.now();
    let txn = db.begin().await?;
    let copy = consultation::ActiveModel {
        series_id: Set(Some(source.series_id.unwrap_or(source.id))),
        title: Set(title),
        summary: Set(source.summary.clone()),
        status: Set(Status::Draft.as_str().to_owned()),
        anonymous: Set(source.anonymous),
        panel_id: Set(source.panel_id),
        open_code: Set(source.open_code.is_some().then(new_open_code)),
        opens_at: Set(None),
        closes_at: Set(None),
        reading_age_target: Set(source.reading_age_target),
        invite_subject: Set(source.invite_subject.clone()),
        invite_text: Set(source.invite_text.clone()),
        reminder_subject: Set(source.reminder_subject.clone()),
        reminder_text: Set(source.reminder_text.clone()),
        sms_text: Set(source.sms_text.clone()),
        max_reminders: Set(source.max_reminders),
        reminder_gap_hours: Set(source.reminder_gap_hours),
        // The same audience, drawn afresh.
        sample_size: Set(source.sample_size),
        sample_seed: Set(source
            .sample_size
            .map(|_| rand::random::<u64>().to_string())),
        created_by: Set(caller.account().map(AccountId::get)),
        created_at: Set(now),
        updated_at: Set(now),
        opened_at: Set(None),
        closed_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    for q in questions {
        question::ActiveModel {
            consultation_id: Set(copy.id),
            position: Set(q.position),
            key: Set(q.key),
            text: Set(q.text),
            kind: Set(q.kind),
            options: Set(q.options),
            max_choices: Set(q.max_choices),
            max_chars: Set(q.max_chars),
            required: Set(q.required),
            show_when_key: Set(q.show_when_key),
            show_when_answer: Set(q.show_when_answer),
            about_you: Set(q.about_you),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    to_domain(copy)
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
    consultation::Entity::find_by_id(id.get())
        .one(db)
        .await?
        .ok_or(AppError::NotFound {
            what: "consultation",
        })
}

/// Every consultation, newest first (OFFICER).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    status: Option<Status>,
) -> AppResult<Vec<Consultation>> {
    caller.require(OFFICERS)?;
    let mut query = consultation::Entity::find().order_by_desc(consultation::Column::Id);
    if let Some(status) = status {
        query = query.filter(consultation::Column::Status.eq(status.as_str()));
    }
    query
        .all(state.db.reader())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// The questions of consultations that are no longer drafts, kept in memory: once open, a
/// consultation's questions never change, and every fetch and submission needs them.
#[derive(Clone, Default)]
pub struct QuestionCache(
    std::sync::Arc<
        std::sync::Mutex<
            std::collections::HashMap<ConsultationId, std::sync::Arc<Vec<QuestionItem>>>,
        >,
    >,
);

/// A consultation's questions, from memory once it is open (a draft's are always read,
/// since they may still change).
pub async fn frozen_questions(
    db: &impl ConnectionTrait,
    cache: &QuestionCache,
    consultation: &Consultation,
) -> AppResult<std::sync::Arc<Vec<QuestionItem>>> {
    let cached = |cache: &QuestionCache| {
        cache
            .0
            .lock()
            .ok()
            .and_then(|map| map.get(&consultation.id).cloned())
    };
    if consultation.status != Status::Draft
        && let Some(questions) = cached(cache)
    {
        return Ok(questions);
    }
    let questions = std::sync::Arc::new(questions_of(db, consultation.id).await?);
    if consultation.status != Status::Draft
        && let Ok(mut map) = cache.0.lock()
    {
        map.insert(consultation.id, std::sync::Arc::clone(&questions));
    }
    Ok(questions)
}

/// A consultation's questions, in order, whoever asks (the caller has been checked, or
/// holds the consultation's token).
pub async fn questions_of(
    db: &impl ConnectionTrait,
    id: ConsultationId,
) -> AppResult<Vec<QuestionItem>> {
    question::Entity::find()
        .filter(question::Column::ConsultationId.eq(id.get()))
        .order_by_asc(question::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(question_of)
        .collect()
}

fn question_of(row: question::Model) -> AppResult<QuestionItem> {
    #[derive(serde::Deserialize)]
    struct Option_ {
        key: String,
        label: String,
    }
    let options: Vec<Option_> = serde_json::from_str(&row.options)
        .map_err(|e| AppError::internal(anyhow::anyhow!("question {} options: {e}", row.id)))?;
    let (keys, labels): (Vec<String>, Vec<String>) =
        options.into_iter().map(|o| (o.key, o.label)).unzip();
    let size = |n: Option<i32>| n.and_then(|n| usize::try_from(n).ok());
    let kind = match row.kind.as_str() {
        "single_choice" => QuestionKind::SingleChoice { options: keys },
        "multiple_choice" => QuestionKind::MultipleChoice {
            options: keys,
            max: size(row.max_choices),
        },
        "agreement" => QuestionKind::Agreement,
        "rating" => QuestionKind::Rating,
        "free_text" => QuestionKind::FreeText {
            max_chars: size(row.max_chars).unwrap_or(MAX_ANSWER_CHARS),
        },
        "ranking" => QuestionKind::Ranking { options: keys },
        other => {
            return Err(AppError::internal(anyhow::anyhow!(
                "question {} has the unknown kind {other:?}",
                row.id
            )));
        }
    };
    Ok(QuestionItem {
        question: Question {
            key: row.key,
            text: row.text,
            kind,
            required: row.required,
            show_when: row
                .show_when_key
                .zip(row.show_when_answer)
                .map(|(question, answer)| ShowWhen { question, answer }),
        },
        labels,
        about_you: row.about_you,
    })
}

/// The stored row as the domain's consultation.
pub fn to_domain(row: consultation::Model) -> AppResult<Consultation> {
    let status = row.status.parse().map_err(
        |e: crate::domain::consultations::consultation::UnknownValue| AppError::internal(e),
    )?;
    Ok(Consultation {
        id: ConsultationId(row.id),
        series: ConsultationId(row.series_id.unwrap_or(row.id)),
        title: row.title,
        summary: row.summary,
        status,
        anonymous: row.anonymous,
        panel: row.panel_id.map(PanelId),
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
        created_by: row.created_by.map(AccountId),
        created_at: row.created_at,
        updated_at: row.updated_at,
        opened_at: row.opened_at,
        closed_at: row.closed_at,
    })
}
