//! Settings and messages shared by the mail module's unit tests.

use std::path::Path;

use chrono::{TimeZone, Utc};

use super::{MailConfig, MailTransportKind, OutgoingEmail, SmtpTls};

/// File transport into `dir`, every SMTP setting empty.
pub fn file_config(dir: &Path) -> MailConfig {
    MailConfig {
        mail_transport: MailTransportKind::File,
        mail_dir: dir.to_path_buf(),
        mail_from: "Cyngor Sir Ynys Môn <panel@ynysmon.gov.uk>".to_owned(),
        smtp_host: None,
        smtp_port: None,
        smtp_tls: SmtpTls::Starttls,
        smtp_username: None,
        smtp_password: None,
        smtp_password_file: None,
        smtp_timeout_secs: 30,
        sms_dir: std::env::temp_dir().join("civic-panel-test-sms"),
    }
}

/// SMTP transport to `relay.example.org` with STARTTLS and no credentials.
pub fn smtp_config() -> MailConfig {
    MailConfig {
        mail_transport: MailTransportKind::Smtp,
        smtp_host: Some("relay.example.org".to_owned()),
        ..file_config(Path::new("unused"))
    }
}

/// A Welsh invitation with an HTML alternative and a `List-Unsubscribe` header.
pub fn invitation() -> OutgoingEmail {
    OutgoingEmail {
        idempotency_key: "consultation:42/invite:7".to_owned(),
        to: "Siân Llŷr <sian@example.org>".to_owned(),
        subject: "Eich barn: Cynllun y Cyngor — ymgynghoriad".to_owned(),
        text_body: "Annwyl Siân,\n\nDywedwch wrthym beth yw eich barn am ddyfodol Ynys Môn.\n"
            .to_owned(),
        html_body: Some(
            "<p>Annwyl Siân,</p><p>Dywedwch wrthym beth yw eich barn am ddyfodol Ynys Môn.</p>"
                .to_owned(),
        ),
        date: Utc.with_ymd_and_hms(2025, 3, 14, 9, 30, 0).unwrap(),
        headers: vec![(
            "List-Unsubscribe".to_owned(),
            "<https://panel.example.org/unsubscribe/abc>".to_owned(),
        )],
    }
}
