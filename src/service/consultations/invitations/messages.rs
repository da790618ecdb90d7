//! An invitation's messages: the email and the text message written from the consultation's
//! templates with the tracked link, and queued in the outbox.

use super::*;

/// A message ready for the outbox.
pub(crate) struct Message {
    pub(super) subject: String,
    pub(super) text: String,
    pub(super) html: Option<String>,
    pub(super) headers: Vec<(String, String)>,
}

/// The personal link in a message: through the tracking redirect, which counts the click
/// and sends the resident on to the web client.
pub(super) fn tracked_link(state: &AppState, token: &str) -> String {
    format!(
        "{}/t/c/{token}",
        state.config.tracking_url.trim_end_matches('/')
    )
}

pub(super) fn closes_text(consultation: &Consultation) -> String {
    consultation
        .closes_at
        .map(|c| {
            crate::domain::uk_time::uk_date(c)
                .format("%-d %B %Y")
                .to_string()
        })
        .unwrap_or_else(|| "the date on the council's website".to_owned())
}

pub(super) fn template_error(
    e: crate::domain::consultations::consultation::TemplateError,
) -> AppError {
    AppError::conflict(format!("A message template cannot be used: {e}."))
}

/// An invitation or reminder email for `member`.
pub(crate) fn email_message(
    state: &AppState,
    consultation: &Consultation,
    member_name: &str,
    token: &str,
    reminder: bool,
) -> AppResult<Message> {
    let link = tracked_link(state, token);
    let closes = closes_text(consultation);
    let values = [
        ("name", member_name),
        ("title", consultation.title.as_str()),
        ("link", link.as_str()),
        ("closes", closes.as_str()),
    ];
    let templates = &consultation.templates;
    let (subject, text) = if reminder {
        (&templates.reminder_subject, &templates.reminder_text)
    } else {
        (&templates.invite_subject, &templates.invite_text)
    };
    let subject = render(subject, &values).map_err(template_error)?;
    let text = render(text, &values).map_err(template_error)?;
    let pixel = format!(
        "{}/t/o/{token}",
        state.config.tracking_url.trim_end_matches('/')
    );
    let html = email_html(&text, &link, &pixel);
    // Reminders can be stopped from the mail client (RFC 2369, one click by RFC 8058).
    let headers = if reminder {
        vec![
            (
                "List-Unsubscribe".to_owned(),
                format!(
                    "<{}/t/u/{token}>",
                    state.config.tracking_url.trim_end_matches('/')
                ),
            ),
            (
                "List-Unsubscribe-Post".to_owned(),
                "List-Unsubscribe=One-Click".to_owned(),
            ),
        ]
    } else {
        Vec::new()
    };
    Ok(Message {
        subject: subject.replace(['\r', '\n'], " "),
        text,
        html: Some(html),
        headers,
    })
}

/// A text message for `member`.
pub(crate) fn sms_message(
    state: &AppState,
    consultation: &Consultation,
    member_name: &str,
    token: &str,
) -> AppResult<Message> {
    let link = tracked_link(state, token);
    let closes = closes_text(consultation);
    let values = [
        ("name", member_name),
        ("title", consultation.title.as_str()),
        ("link", link.as_str()),
        ("closes", closes.as_str()),
    ];
    Ok(Message {
        subject: String::new(),
        text: render(&consultation.templates.sms_text, &values).map_err(template_error)?,
        html: None,
        headers: Vec::new(),
    })
}

/// Queues a message in the outbox, inside the caller's transaction.
pub(crate) async fn queue_message(
    db: &impl ConnectionTrait,
    channel: Channel,
    to: &str,
    message: Message,
    key: String,
    now: DateTime<Utc>,
) -> AppResult<()> {
    outbox::Entity::insert(outbox::ActiveModel {
        channel: Set(channel),
        recipient: Set(to.to_owned()),
        subject: Set(message.subject),
        body: Set(message.text),
        html_body: Set(message.html),
        idempotency_key: Set(key),
        created_at: Set(now),
        sent_at: Set(None),
        attempts: Set(0),
        next_attempt_at: Set(None),
        locked_by: Set(None),
        locked_until: Set(None),
        last_error: Set(None),
        failed_at: Set(None),
        headers: Set((!message.headers.is_empty())
            .then(|| serde_json::to_string(&message.headers))
            .transpose()
            .map_err(AppError::internal)?),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}
