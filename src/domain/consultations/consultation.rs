//! A consultation's lifecycle, the channels an invitation goes through and answers come
//! back by, and the message templates officers edit.
//!
//! A consultation is drafted (questions and wording may change), opened (questions are
//! frozen and answers accepted until it closes), and closed (no new answers). Reopening a
//! closed consultation is an explicit step; a draft never comes back.

use chrono::{DateTime, Utc};

use crate::domain::consultations::questionnaire::Question;
use crate::domain::ids::{AccountId, ConsultationId, PanelId};
use crate::domain::reports::charts::escape;

crate::stored_names! {
    /// Where a consultation is in its life.
    pub enum Status ("consultation status") {
        /// Being written; questions may change.
        Draft = "draft",
        /// Accepting answers (between its open and close times, when it has them).
        Open = "open",
        /// No longer accepting answers.
        Closed = "closed",
    }
}

impl Status {
    /// Whether a consultation may go from this status to `to`: draft → open → closed, and
    /// closed → open again (reopening).
    pub fn can_become(self, to: Status) -> bool {
        Step::ALL
            .iter()
            .any(|step| step.from() == self && step.to() == to)
    }
}

/// A move of a consultation's lifecycle, each an explicit step of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A draft starts accepting answers; its questions freeze.
    Open,
    /// An open consultation stops accepting answers.
    Close,
    /// A closed consultation accepts answers again.
    Reopen,
}

impl Step {
    /// Every step.
    pub const ALL: [Step; 3] = [Self::Open, Self::Close, Self::Reopen];

    /// The status it starts from.
    pub fn from(self) -> Status {
        match self {
            Self::Open => Status::Draft,
            Self::Close => Status::Open,
            Self::Reopen => Status::Closed,
        }
    }

    /// The status it ends in.
    pub fn to(self) -> Status {
        match self {
            Self::Open | Self::Reopen => Status::Open,
            Self::Close => Status::Closed,
        }
    }
}

crate::stored_names! {
    /// How an invitation reaches a member (and how the outbox sends a message).
    pub enum Channel ("channel") {
        /// An email with a personal link and a tracking image.
        Email = "email",
        /// A text message with a personal link.
        Sms = "sms",
        /// A printed letter with a personal short code.
        Post = "post",
    }
}

impl Channel {
    /// The channel for a member: email when they gave an address, else a text message
    /// when they gave a phone number, else post. `prefer` overrides it when the member can
    /// be reached that way (post always can).
    pub fn for_member(email: bool, phone: bool, prefer: Option<Channel>) -> Channel {
        match prefer {
            Some(Self::Post) => Self::Post,
            Some(Self::Email) if email => Self::Email,
            Some(Self::Sms) if phone => Self::Sms,
            _ if email => Self::Email,
            _ if phone => Self::Sms,
            _ => Self::Post,
        }
    }
}

crate::stored_names! {
    /// How a response came in, recorded with it so offline answers count like online ones.
    pub enum AnswerChannel ("answer channel") {
        /// The resident web client.
        Web = "web",
        /// The mobile app.
        App = "app",
        /// The link in an email or text message.
        EmailLink = "email_link",
        /// The open link or its QR code.
        Qr = "qr",
        /// A paper form, entered by an officer.
        Paper = "paper",
        /// A telephone call, entered by an officer.
        Phone = "phone",
    }
}

impl AnswerChannel {
    /// Whether an officer enters answers given this way (rather than the resident).
    pub fn is_offline(self) -> bool {
        matches!(self, Self::Paper | Self::Phone)
    }
}

/// Why answers are not accepted now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotAccepting {
    /// Still a draft.
    #[error("the consultation is not open yet")]
    Draft,
    /// Open, but its start time is still to come.
    #[error("the consultation opens at {0}")]
    NotYet(DateTime<Utc>),
    /// Closed, or past its close time.
    #[error("the consultation has closed")]
    Closed,
}

/// Whether a consultation in `status`, with optional open and close times, accepts
/// answers at `now`.
pub fn accepts_answers(
    status: Status,
    opens_at: Option<DateTime<Utc>>,
    closes_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), NotAccepting> {
    match status {
        Status::Draft => Err(NotAccepting::Draft),
        Status::Closed => Err(NotAccepting::Closed),
        Status::Open => match (opens_at, closes_at) {
            (Some(opens), _) if now < opens => Err(NotAccepting::NotYet(opens)),
            (_, Some(closes)) if now >= closes => Err(NotAccepting::Closed),
            _ => Ok(()),
        },
    }
}

/// The placeholders a message template may use.
pub const PLACEHOLDERS: [&str; 4] = ["name", "title", "link", "closes"];

/// The subject of an invitation email, unless the officer writes another.
pub const DEFAULT_INVITE_SUBJECT: &str = "Have your say: {title}";

/// The text of an invitation email, unless the officer writes another.
pub const DEFAULT_INVITE_TEXT: &str = "Dear {name},\n\nAs a member of the residents' panel, you are invited to tell us what you think about: {title}.\n\nYou can answer here:\n{link}\n\nThe survey closes on {closes}.\n\nThank you for taking part.\n";

/// The subject of a reminder, unless the officer writes another.
pub const DEFAULT_REMINDER_SUBJECT: &str = "A reminder: {title}";

/// The text of a reminder, unless the officer writes another.
pub const DEFAULT_REMINDER_TEXT: &str = "Dear {name},\n\nWe have not yet had your answers about: {title}. There is still time.\n\nYou can answer here:\n{link}\n\nThe survey closes on {closes}.\n";

/// A text message, unless the officer writes another (kept short: one or two SMS parts).
pub const DEFAULT_SMS_TEXT: &str = "{name}, the council would like your views on {title}: {link}";

/// Why a template cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{something}` that is not a placeholder.
    #[error("{{{0}}} is not a placeholder; use {{name}}, {{title}}, {{link}} or {{closes}}")]
    Unknown(String),
    /// A `{` without its `}` (write `{{` for a brace).
    #[error("a {{ is not closed; write {{{{ for a brace")]
    Unclosed,
}

/// Fills `template`'s placeholders (`{name}`, `{link}`, …) from `values`; `{{` and `}}`
/// are literal braces. A placeholder with no value given becomes empty.
pub fn render(template: &str, values: &[(&str, &str)]) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if let Some(after) = tail.strip_prefix('}') {
            out.push('}');
            rest = after;
        } else {
            let end = tail.find('}').ok_or(TemplateError::Unclosed)?;
            let name = &tail[1..end];
            if !PLACEHOLDERS.contains(&name) {
                return Err(TemplateError::Unknown(name.to_owned()));
            }
            if let Some((_, value)) = values.iter().find(|(key, _)| *key == name) {
                out.push_str(value);
            }
            rest = &tail[end + 1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// An email's HTML alternative: the plain text's paragraphs, each of `links` made a link
/// where it appears, and the 1×1 tracking image at `pixel` last.
pub fn email_html(text: &str, links: &[&str], pixel: &str) -> String {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"></head>\n<body style=\"font-family: sans-serif; font-size: 16px; line-height: 1.5\">\n",
    );
    for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let mut body = escape(paragraph).replace('\n', "<br>\n");
        for link in links
            .iter()
            .filter(|l| !l.is_empty() && paragraph.contains(*l))
        {
            let escaped_link = escape(link);
            body = body.replace(
                &escaped_link,
                &format!("<a href=\"{escaped_link}\">{escaped_link}</a>"),
            );
        }
        html.push_str("<p>");
        html.push_str(&body);
        html.push_str("</p>\n");
    }
    html.push_str(&format!(
        "<img src=\"{}\" width=\"1\" height=\"1\" alt=\"\">\n</body></html>\n",
        escape(pixel)
    ));
    html
}

/// Longest text message sent (ten 153-character parts of a concatenated SMS).
pub const MAX_SMS_CHARS: usize = 1_530;

/// The messages a consultation sends, as officers write them (see [`render`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Templates {
    /// An invitation email's subject.
    pub invite_subject: String,
    /// An invitation email's text (the HTML alternative is made from it).
    pub invite_text: String,
    /// A reminder email's subject.
    pub reminder_subject: String,
    /// A reminder email's text.
    pub reminder_text: String,
    /// A text message (invitation or reminder).
    pub sms_text: String,
}

impl Default for Templates {
    fn default() -> Self {
        Self {
            invite_subject: DEFAULT_INVITE_SUBJECT.to_owned(),
            invite_text: DEFAULT_INVITE_TEXT.to_owned(),
            reminder_subject: DEFAULT_REMINDER_SUBJECT.to_owned(),
            reminder_text: DEFAULT_REMINDER_TEXT.to_owned(),
            sms_text: DEFAULT_SMS_TEXT.to_owned(),
        }
    }
}

impl Templates {
    /// Each template with its name, for checking and for error messages.
    pub fn named(&self) -> [(&'static str, &str); 5] {
        [
            ("inviteSubject", &self.invite_subject),
            ("inviteText", &self.invite_text),
            ("reminderSubject", &self.reminder_subject),
            ("reminderText", &self.reminder_text),
            ("smsText", &self.sms_text),
        ]
    }
}

/// A consultation as stored: its wording, its panel or open link, its answering window and
/// its messages. Its questions are kept apart (see [`QuestionItem`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Consultation {
    /// The row's key, also the number in its `Consultation` global ID.
    pub id: ConsultationId,
    /// The first consultation of its series (itself when it is the first).
    pub series: ConsultationId,
    /// What officers and respondents see it called: 1 to 300 characters, trimmed.
    pub title: String,
    /// A plain-language summary.
    pub summary: String,
    /// Where it is in its life.
    pub status: Status,
    /// Answers kept apart from who gave them.
    pub anonymous: bool,
    /// The panel it goes to.
    pub panel: Option<PanelId>,
    /// The open link's code, when anyone may answer.
    pub open_code: Option<String>,
    /// Answers accepted from (when set).
    pub opens_at: Option<DateTime<Utc>>,
    /// Answers accepted until (when set).
    pub closes_at: Option<DateTime<Utc>>,
    /// Reading age above which wording gets a warning.
    pub reading_age_target: f64,
    /// The wording of the invitation and reminder emails and of the text message.
    pub templates: Templates,
    /// Most reminders per invitation.
    pub max_reminders: u32,
    /// Fewest hours between an invitation or reminder and the next reminder.
    pub reminder_gap_hours: u32,
    /// A balanced sub-sample's size, when the panel was sampled.
    pub sample_size: Option<u32>,
    /// The seed the sub-sample is drawn with: the same seed draws the same members.
    pub sample_seed: Option<u64>,
    /// Who created it.
    pub created_by: Option<AccountId>,
    /// When it was drafted.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it was (last) opened.
    pub opened_at: Option<DateTime<Utc>>,
    /// When it was (last) closed.
    pub closed_at: Option<DateTime<Utc>>,
}

/// One of a consultation's questions, with what the respondent sees of its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuestionItem {
    /// The question as answers are checked against it.
    pub question: Question,
    /// The options' labels, in the order of the kind's option keys.
    pub labels: Vec<String>,
    /// The profile dimension an "about you" question records for open-link respondents.
    pub about_you: Option<String>,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, hour, 0, 0).unwrap()
    }

    #[test]
    fn the_lifecycle_goes_forward_and_reopens_only_from_closed() {
        use Status::*;
        for from in Status::ALL {
            for to in Status::ALL {
                let allowed = matches!((from, to), (Draft, Open) | (Open, Closed) | (Closed, Open));
                assert_eq!(from.can_become(to), allowed, "{from:?} -> {to:?}");
            }
        }
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
        }
        assert!("pending".parse::<Status>().is_err());
    }

    #[test]
    fn answers_are_accepted_only_while_open_and_within_its_times() {
        assert_eq!(
            accepts_answers(Status::Draft, None, None, at(10)),
            Err(NotAccepting::Draft)
        );
        assert_eq!(
            accepts_answers(Status::Closed, None, None, at(10)),
            Err(NotAccepting::Closed)
        );
        assert_eq!(accepts_answers(Status::Open, None, None, at(10)), Ok(()));
        assert_eq!(
            accepts_answers(Status::Open, Some(at(11)), None, at(10)),
            Err(NotAccepting::NotYet(at(11)))
        );
        assert_eq!(
            accepts_answers(Status::Open, Some(at(10)), Some(at(12)), at(10)),
            Ok(())
        );
        assert_eq!(
            accepts_answers(Status::Open, None, Some(at(12)), at(12)),
            Err(NotAccepting::Closed)
        );
    }

    #[test]
    fn a_member_is_reached_by_email_then_text_then_post_unless_they_prefer_otherwise() {
        assert_eq!(Channel::for_member(true, true, None), Channel::Email);
        assert_eq!(Channel::for_member(false, true, None), Channel::Sms);
        assert_eq!(Channel::for_member(false, false, None), Channel::Post);
        assert_eq!(
            Channel::for_member(true, true, Some(Channel::Post)),
            Channel::Post
        );
        assert_eq!(
            Channel::for_member(true, true, Some(Channel::Sms)),
            Channel::Sms
        );
        // A preference the member cannot be reached by falls back to what they gave.
        assert_eq!(
            Channel::for_member(true, false, Some(Channel::Sms)),
            Channel::Email
        );
        assert_eq!(
            Channel::for_member(false, false, Some(Channel::Email)),
            Channel::Post
        );
        for channel in AnswerChannel::ALL {
            assert_eq!(channel.as_str().parse::<AnswerChannel>(), Ok(channel));
        }
        assert!(AnswerChannel::Paper.is_offline() && !AnswerChannel::Web.is_offline());
    }

    #[test]
    fn templates_fill_placeholders_keep_escaped_braces_and_refuse_unknown_ones() {
        let values = [("name", "Asha Patel"), ("link", "https://x.test/c/abc")];
        assert_eq!(
            render("Dear {name}, answer at {link} {{not this}}", &values).unwrap(),
            "Dear Asha Patel, answer at https://x.test/c/abc {not this}"
        );
        assert_eq!(render("{closes}!", &values).unwrap(), "!");
        assert_eq!(
            render("{code}", &values),
            Err(TemplateError::Unknown("code".to_owned()))
        );
        assert_eq!(
            render("Dear {nmae}", &values),
            Err(TemplateError::Unknown("nmae".to_owned()))
        );
        assert_eq!(render("Dear {name", &values), Err(TemplateError::Unclosed));
        for template in [
            DEFAULT_INVITE_SUBJECT,
            DEFAULT_INVITE_TEXT,
            DEFAULT_REMINDER_SUBJECT,
            DEFAULT_REMINDER_TEXT,
            DEFAULT_SMS_TEXT,
        ] {
            assert!(render(template, &[]).is_ok(), "{template}");
        }
    }

    #[test]
    fn the_html_alternative_escapes_text_links_the_link_and_ends_with_the_pixel() {
        let html = email_html(
            "Dear <Sam> & co,\n\nAnswer here:\nhttps://x.test/c/a?b=1\n\nTo stop: https://x.test/t/u/tok",
            &["https://x.test/c/a?b=1", "https://x.test/t/u/tok"],
            "https://x.test/t/o/tok",
        );
        assert!(html.contains("Dear &lt;Sam&gt; &amp; co,"));
        assert!(html.contains("<a href=\"https://x.test/c/a?b=1\">https://x.test/c/a?b=1</a>"));
        assert!(html.contains("<a href=\"https://x.test/t/u/tok\">https://x.test/t/u/tok</a>"));
        assert!(html.trim_end().ends_with(
            "<img src=\"https://x.test/t/o/tok\" width=\"1\" height=\"1\" alt=\"\">\n</body></html>"
                .trim_end()
        ));
    }
}
