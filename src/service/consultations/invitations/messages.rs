//! An invitation's messages: the email and the text message written from the consultation's
//! templates with the tracked link, and queued in the outbox.

use super::*;

pub(crate) use crate::db::queue::{Message, queue_message};

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

/// A template filled in for one member: their name, the consultation's title, their
/// personal link and the day it closes.
fn fill(
    template: &str,
    consultation: &Consultation,
    member_name: &str,
    link: &str,
) -> AppResult<String> {
    let closes = closes_text(consultation);
    let values = [
        ("name", member_name),
        ("title", consultation.title.as_str()),
        ("link", link),
        ("closes", closes.as_str()),
    ];
    render(template, &values).map_err(template_error)
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
    let templates = &consultation.templates;
    let (subject, text) = if reminder {
        (&templates.reminder_subject, &templates.reminder_text)
    } else {
        (&templates.invite_subject, &templates.invite_text)
    };
    let subject = fill(subject, consultation, member_name, &link)?;
    let mut text = fill(text, consultation, member_name, &link)?;
    let tracking = state.config.tracking_url.trim_end_matches('/');
    let pixel = format!("{tracking}/t/o/{token}");
    // Reminders can be stopped from the footer's page, or from the mail client (RFC 2369,
    // in one click by RFC 8058).
    let stop = format!("{tracking}/t/u/{token}");
    let (links, headers) = if reminder {
        text.push_str(&format!("\n\nTo stop reminders, go to {stop}"));
        let headers = vec![
            ("List-Unsubscribe".to_owned(), format!("<{stop}>")),
            (
                "List-Unsubscribe-Post".to_owned(),
                "List-Unsubscribe=One-Click".to_owned(),
            ),
        ];
        (vec![link.as_str(), stop.as_str()], headers)
    } else {
        (vec![link.as_str()], Vec::new())
    };
    let html = email_html(&text, &links, &pixel);
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
    Ok(Message {
        subject: String::new(),
        text: fill(
            &consultation.templates.sms_text,
            consultation,
            member_name,
            &link,
        )?,
        html: None,
        headers: Vec::new(),
    })
}
