//! Email transports for the outbox worker.
//!
//! The worker hands each queued row to [`Mailer::send`] as an [`OutgoingEmail`] and reads
//! the outcome: `Ok` (mark it sent), [`DeliveryError::Transient`] (try again later) or
//! [`DeliveryError::Permanent`] (give up and record why). Two transports exist: an SMTP
//! relay for production and a folder of `.eml` files for development; the choice is a
//! setting ([`MailConfig`]).
//!
//! A message is built the same way on every attempt (see [`message`]), so a message
//! delivered twice is recognisable by its `Message-ID`.

mod config;
pub(crate) mod file;
pub mod message;
mod smtp;

#[cfg(test)]
mod fixtures;
// The integration tests' MIME reader, shared so that one reader checks both.
#[cfg(test)]
#[path = "../../../tests/api/mime.rs"]
mod mime;

use chrono::{DateTime, Utc};

pub use config::{MailConfig, MailTransportKind, SmtpTls};
pub use file::FileMailer;
pub use smtp::SmtpMailer;

/// One message to send. `idempotency_key` is the outbox row's unique key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// The outbox row's unique key; it names the `Message-ID` and the `.eml` file.
    pub idempotency_key: String,
    /// The recipient: `name@example.org` or `Name <name@example.org>`.
    pub to: String,
    /// The subject line (any Unicode).
    pub subject: String,
    /// The plain-text body, always sent.
    pub text_body: String,
    /// An HTML alternative; with it the message is `multipart/alternative`.
    pub html_body: Option<String>,
    /// When the message was queued (the outbox row's `created_at`). It is the `Date`
    /// header, so that every attempt produces the same bytes.
    pub date: DateTime<Utc>,
    /// Extra headers such as `List-Unsubscribe`; may be empty. Headers the mailer sets
    /// itself (`From`, `To`, `Subject`, `Date`, `Message-ID`, `Content-*`…) are refused.
    pub headers: Vec<(String, String)>,
}

/// Why a message was not delivered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying later: connection refused/reset, timeout, DNS, SMTP 4xx, refused
    /// SMTP credentials, a folder that cannot be written.
    #[error("temporary delivery failure: {0}")]
    Transient(String),
    /// Will never succeed as it is: SMTP 5xx (e.g. 550 no such mailbox), an address that
    /// does not parse, a header the mailer does not allow.
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

/// The configured transport (enum dispatch, no trait objects).
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one Mailer lives for the whole process; a box would only add an indirection"
)]
pub enum Mailer {
    /// An SMTP relay.
    Smtp(SmtpMailer),
    /// A folder of `.eml` files.
    File(FileMailer),
}

impl Mailer {
    /// Builds the transport from config; a clear error for bad settings: smtp without a
    /// host, a sender that is not a mailbox, both password forms, an unreadable password
    /// file, a mail folder that cannot be created.
    pub fn from_config(config: &MailConfig) -> anyhow::Result<Self> {
        let from = config.sender()?;
        match config.mail_transport {
            MailTransportKind::Smtp => Ok(Self::Smtp(SmtpMailer::new(config, from)?)),
            MailTransportKind::File => {
                Ok(Self::File(FileMailer::new(config.mail_dir.clone(), from)?))
            }
        }
    }

    /// Sends one message.
    pub async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryError> {
        match self {
            Self::Smtp(mailer) => mailer.send(email).await,
            Self::File(mailer) => mailer.send(email).await,
        }
    }

    /// A one-line description for the start-up log, without secrets:
    /// `smtp://host:587 (STARTTLS)` or `files in ./civic-panel-mail`.
    pub fn describe(&self) -> String {
        match self {
            Self::Smtp(mailer) => mailer.describe(),
            Self::File(mailer) => mailer.describe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{invitation, smtp_config};
    use super::*;

    #[test]
    fn a_mailer_and_its_sends_can_move_between_worker_tasks() {
        fn shareable<T: Send + Sync>(_: &T) {}
        fn spawnable<F: std::future::Future + Send>(_: F) {}
        let mailer = Mailer::from_config(&smtp_config()).unwrap();
        shareable(&mailer);
        let email = invitation();
        spawnable(mailer.send(&email));
    }
}
