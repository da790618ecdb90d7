//! Drafting a consultation: its text, templates and audience checked, created, and changed
//! (only what an update names).

use super::*;
use crate::domain::consultations::consultation::MAX_SMS_CHARS;

pub(super) fn checked_text(
    field: &str,
    text: &str,
    max: usize,
    required: bool,
) -> AppResult<String> {
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

/// Longest text-message template: the longest message sent less room for a name and the
/// link.
pub(super) const MAX_SMS_TEMPLATE_CHARS: usize = MAX_SMS_CHARS - 330;

pub(super) fn checked_templates(templates: Templates) -> AppResult<Templates> {
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

pub(super) struct Checked {
    pub(super) title: String,
    pub(super) summary: String,
    pub(super) reading_age_target: f64,
    pub(super) templates: Templates,
    /// The sample's size and, when given, its seed.
    pub(super) sample: Option<(u32, Option<u64>)>,
}

impl Checked {
    /// The sample's size and seed as stored: the seed given, else `kept` (the stored
    /// one), else a random one.
    pub(super) fn sample_columns(&self, kept: Option<&str>) -> (Option<i32>, Option<String>) {
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
pub(super) async fn check_sample(
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

pub(super) async fn check_request(
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
pub(super) fn new_open_code() -> String {
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
        status: Set(Status::Draft),
        anonymous: Set(request.anonymous),
        panel_id: Set(request.panel),
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
        created_by: Set(caller.account()),
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
    let current = consultation::Entity::find_by_id(id)
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
        row.panel_id = Set(panel);
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
        .filter(consultation::Column::Id.eq(id))
        .filter(consultation::Column::Status.eq(Status::Draft))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(frozen());
    }
    let changed = find_any(db, id).await?;
    txn.commit().await?;
    Ok(changed)
}
