//! Text messages for the outbox worker, behind a provider interface. The one provider
//! here is a folder of files, the local stand-in for an SMS gateway (as the `.eml` folder
//! is for SMTP): one `{key}.sms` file per message, written atomically, so a retry
//! rewrites the same file and a message is never there twice.

use std::path::PathBuf;

use crate::jobs::mail::message::sanitise_key;
use crate::jobs::mail::{DeliveryError, MailConfig};

pub use crate::domain::consultations::consultation::MAX_SMS_CHARS;

/// Sends text messages.
#[derive(Debug)]
pub enum SmsSender {
    /// Writes each message to a folder.
    File {
        /// The folder.
        dir: PathBuf,
    },
}

impl SmsSender {
    /// The configured provider.
    pub fn from_config(config: &MailConfig) -> Self {
        Self::File {
            dir: config.sms_dir.clone(),
        }
    }

    /// Sends `text` to the phone number `to`; `key` is the outbox row's idempotency key.
    pub async fn send(&self, key: &str, to: &str, text: &str) -> Result<(), DeliveryError> {
        let number: String = to
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect();
        if number.trim_start_matches('+').len() < 7 {
            return Err(DeliveryError::Permanent(format!(
                "{to:?} is not a phone number"
            )));
        }
        if text.chars().count() > MAX_SMS_CHARS {
            return Err(DeliveryError::Permanent(format!(
                "the message has more than {MAX_SMS_CHARS} characters"
            )));
        }
        match self {
            Self::File { dir } => {
                let bytes = format!("To: {number}\n\n{text}\n").into_bytes();
                let dir = dir.clone();
                let stem = sanitise_key(key);
                tokio::task::spawn_blocking(move || {
                    crate::jobs::mail::file::write_atomically(&dir, &stem, "sms", &bytes)
                })
                .await
                .map_err(|error| {
                    DeliveryError::Transient(format!("the file writer stopped: {error}"))
                })?
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_text_is_written_once_under_its_key_and_bad_numbers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sender = SmsSender::File {
            dir: dir.path().to_path_buf(),
        };
        sender
            .send("consultation-invite:7", "07700 900123", "Have your say")
            .await
            .unwrap();
        sender
            .send("consultation-invite:7", "07700 900123", "Have your say")
            .await
            .unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(dir.path().join("consultation-invite_3A7.sms")).unwrap();
        assert_eq!(text, "To: 07700900123\n\nHave your say\n");
        assert!(matches!(
            sender.send("k", "n/a", "x").await,
            Err(DeliveryError::Permanent(_))
        ));
        assert!(matches!(
            sender
                .send("k", "07700900123", &"x".repeat(MAX_SMS_CHARS + 1))
                .await,
            Err(DeliveryError::Permanent(_))
        ));
    }
}
