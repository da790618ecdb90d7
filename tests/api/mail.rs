//! The mail transports against a real SMTP server on loopback, and the file transport
//! in a temporary folder.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{TimeZone, Utc};

use civic_panel::jobs::mail::{
    DeliveryError, MailConfig, MailTransportKind, Mailer, OutgoingEmail, SmtpTls,
};

use crate::mime;
use crate::smtp_server::SmtpServer;

const WAIT: Duration = Duration::from_secs(5);

fn smtp_config(server: &SmtpServer) -> MailConfig {
    MailConfig {
        mail_transport: MailTransportKind::Smtp,
        mail_dir: PathBuf::from("unused"),
        mail_from: "Tewkesbury Residents' Panel <panel@tewkesbury.gov.uk>".to_owned(),
        smtp_host: Some("127.0.0.1".to_owned()),
        smtp_port: Some(server.port()),
        smtp_tls: SmtpTls::None,
        smtp_username: None,
        smtp_password: None,
        smtp_password_file: None,
        smtp_timeout_secs: 5,
        sms_dir: std::env::temp_dir().join("civic-panel-test-sms"),
    }
}

fn mailer(config: &MailConfig) -> Mailer {
    Mailer::from_config(config).unwrap()
}

/// An invitation to Zoë, in English and Welsh, with an HTML alternative.
fn invitation(key: &str) -> OutgoingEmail {
    OutgoingEmail {
        idempotency_key: key.to_owned(),
        to: "Zoë Ap Siôn <zoe@example.org>".to_owned(),
        subject: "Your say on the Council Plan · Dweud eich dweud".to_owned(),
        text_body: "Dear Zoë,\n\nPlease tell us what you think.\nDywedwch wrthym beth yw eich barn.\n.\nA line that starts with a dot.\n".to_owned(),
        html_body: Some("<p>Dear Zoë,</p><p>Dywedwch wrthym beth yw eich barn.</p>".to_owned()),
        date: Utc.with_ymd_and_hms(2025, 6, 2, 8, 0, 0).unwrap(),
        headers: vec![
            (
                "List-Unsubscribe".to_owned(),
                "<https://panel.tewkesbury.gov.uk/unsubscribe/t0k3n>".to_owned(),
            ),
            (
                "List-Unsubscribe-Post".to_owned(),
                "List-Unsubscribe=One-Click".to_owned(),
            ),
        ],
    }
}

fn transient(result: Result<(), DeliveryError>) -> String {
    match result {
        Err(DeliveryError::Transient(why)) => why,
        other => panic!("expected a transient failure, got {other:?}"),
    }
}

#[tokio::test]
async fn smtp_delivers_a_multipart_message_with_a_stable_message_id() {
    let server = SmtpServer::start().await;
    let config = smtp_config(&server);
    let mailer = mailer(&config);
    assert_eq!(
        mailer.describe(),
        format!("smtp://127.0.0.1:{} (no TLS)", server.port())
    );

    mailer
        .send(&invitation("consultation:7/member:31"))
        .await
        .unwrap();
    mailer
        .send(&invitation("consultation:7/member:31"))
        .await
        .unwrap();
    let messages = server.wait_for(2, WAIT).await;

    let first = &messages[0];
    assert_eq!(first.from, "panel@tewkesbury.gov.uk");
    assert_eq!(first.recipients, ["zoe@example.org"]);
    assert_eq!(
        first.header("Message-ID").unwrap(),
        "<consultation_3A7_2Fmember_3A31@tewkesbury.gov.uk>"
    );
    assert_eq!(
        first.header("Subject").unwrap(),
        "Your say on the Council Plan · Dweud eich dweud"
    );
    assert_eq!(first.header("To").unwrap(), "Zoë Ap Siôn <zoe@example.org>");
    assert_eq!(
        first.header("From").unwrap(),
        "Tewkesbury Residents' Panel <panel@tewkesbury.gov.uk>"
    );
    assert_eq!(
        first.header("Date").unwrap(),
        "Mon, 02 Jun 2025 08:00:00 +0000"
    );
    assert_eq!(
        first.header("List-Unsubscribe").unwrap(),
        "<https://panel.tewkesbury.gov.uk/unsubscribe/t0k3n>"
    );
    assert_eq!(
        first.header("List-Unsubscribe-Post").unwrap(),
        "List-Unsubscribe=One-Click"
    );
    assert!(
        first
            .header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    assert_eq!(
        first.text_body().unwrap(),
        "Dear Zoë,\n\nPlease tell us what you think.\nDywedwch wrthym beth yw eich barn.\n.\nA line that starts with a dot."
    );
    assert_eq!(
        first.html_body().unwrap(),
        "<p>Dear Zoë,</p><p>Dywedwch wrthym beth yw eich barn.</p>"
    );
    // A retry is the same message, byte for byte, so the receiver can tell it is a copy.
    assert_eq!(messages[1].data, first.data);
}

#[tokio::test]
async fn a_text_only_message_arrives_as_plain_text() {
    let server = SmtpServer::start().await;
    let mailer = mailer(&smtp_config(&server));
    let email = OutgoingEmail {
        html_body: None,
        headers: Vec::new(),
        ..invitation("login-link:12")
    };
    mailer.send(&email).await.unwrap();

    let messages = server.wait_for(1, WAIT).await;
    let content_type = messages[0].header("Content-Type").unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(messages[0].text_body().unwrap().starts_with("Dear Zoë,"));
    assert_eq!(messages[0].html_body(), None);
}

#[tokio::test]
async fn a_refused_recipient_is_a_permanent_failure() {
    let server = SmtpServer::start().await;
    server.refuse_recipient("zoe@example.org");
    let mailer = mailer(&smtp_config(&server));

    let result = mailer.send(&invitation("invite:1")).await;
    match result {
        Err(DeliveryError::Permanent(why)) => assert!(why.contains("550"), "{why}"),
        other => panic!("expected a permanent failure, got {other:?}"),
    }

    // The server is fine for everyone else.
    let other = OutgoingEmail {
        to: "rhys@example.org".to_owned(),
        ..invitation("invite:2")
    };
    mailer.send(&other).await.unwrap();
    let messages = server.wait_for(1, WAIT).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].recipients, ["rhys@example.org"]);
}

#[tokio::test]
async fn a_server_that_is_down_is_a_transient_failure_and_delivery_works_once_it_is_back() {
    let server = SmtpServer::start().await;
    let mailer = mailer(&smtp_config(&server));
    server.stop().await;

    let why = transient(mailer.send(&invitation("invite:3")).await);
    assert!(why.to_lowercase().contains("refused"), "{why}");

    server.restart().await;
    mailer.send(&invitation("invite:3")).await.unwrap();
    let messages = server.wait_for(1, WAIT).await;
    assert_eq!(messages.len(), 1);
}

#[tokio::test]
async fn a_temporary_refusal_is_transient() {
    let server = SmtpServer::start().await;
    server.defer_next(1);
    let mailer = mailer(&smtp_config(&server));

    let why = transient(mailer.send(&invitation("invite:4")).await);
    assert!(why.contains("451"), "{why}");
    assert!(server.messages().is_empty());

    mailer.send(&invitation("invite:4")).await.unwrap();
    assert_eq!(server.wait_for(1, WAIT).await.len(), 1);
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let server = SmtpServer::start().await;
    server.require_credentials("panel", "correct horse");
    let with_password = |password: &str| MailConfig {
        smtp_username: Some("panel".to_owned()),
        smtp_password: Some(password.to_owned()),
        ..smtp_config(&server)
    };

    // Transient, not permanent: the message is fine, the setting needs fixing, and the
    // outbox should keep it until then.
    let why = transient(
        mailer(&with_password("wrong"))
            .send(&invitation("invite:5"))
            .await,
    );
    assert!(why.contains("535"), "{why}");
    let why = transient(
        mailer(&smtp_config(&server))
            .send(&invitation("invite:5"))
            .await,
    );
    assert!(why.contains("530"), "{why}");
    assert!(server.messages().is_empty());

    mailer(&with_password("correct horse"))
        .send(&invitation("invite:5"))
        .await
        .unwrap();
    assert_eq!(server.wait_for(1, WAIT).await.len(), 1);
}

#[tokio::test]
async fn auth_login_works_with_a_password_file() {
    let server = SmtpServer::start().await;
    server.require_credentials("panel", "correct horse");
    server.offer_only_auth_login();
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("smtp-password");
    std::fs::write(&password_file, "correct horse\n").unwrap();
    let config = MailConfig {
        smtp_username: Some("panel".to_owned()),
        smtp_password_file: Some(password_file),
        ..smtp_config(&server)
    };

    mailer(&config).send(&invitation("invite:6")).await.unwrap();
    assert_eq!(server.wait_for(1, WAIT).await.len(), 1);
}

#[tokio::test]
async fn a_stalled_server_is_a_transient_failure_and_the_abandoned_message_is_not_accepted() {
    let server = SmtpServer::start().await;
    let config = MailConfig {
        smtp_timeout_secs: 1,
        sms_dir: std::env::temp_dir().join("civic-panel-test-sms"),
        ..smtp_config(&server)
    };
    let mailer = mailer(&config);
    server.stall();

    let abandoned = invitation("invite:abandoned");
    let (result, ()) = tokio::join!(mailer.send(&abandoned), server.stalled(WAIT));
    let why = transient(result);
    assert!(why.contains("no final answer within 1 s"), "{why}");

    // The client has left, so releasing the server must not complete that transaction.
    server.release().await;
    assert!(server.messages().is_empty());
    mailer.send(&invitation("invite:delivered")).await.unwrap();
    let messages = server.wait_for(1, WAIT).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].header("Message-ID").unwrap(),
        "<invite_3Adelivered@tewkesbury.gov.uk>"
    );
}

#[tokio::test]
async fn a_stalled_message_released_in_time_is_delivered_once() {
    let server = SmtpServer::start().await;
    let mailer = mailer(&smtp_config(&server));
    server.stall();

    let email = invitation("invite:patient");
    let release = async {
        server.stalled(WAIT).await;
        server.release().await;
    };
    let (result, ()) = tokio::join!(mailer.send(&email), release);
    result.unwrap();
    assert_eq!(server.wait_for(1, WAIT).await.len(), 1);
}

#[tokio::test]
async fn the_file_transport_writes_one_eml_per_message_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("mail");
    let config = MailConfig {
        mail_transport: MailTransportKind::File,
        mail_dir: folder.clone(),
        mail_from: "Tewkesbury Residents' Panel <panel@tewkesbury.gov.uk>".to_owned(),
        smtp_host: None,
        smtp_port: None,
        smtp_tls: SmtpTls::Starttls,
        smtp_username: None,
        smtp_password: None,
        smtp_password_file: None,
        smtp_timeout_secs: 30,
        sms_dir: std::env::temp_dir().join("civic-panel-test-sms"),
    };
    let mailer = mailer(&config);
    assert_eq!(mailer.describe(), format!("files in {}", folder.display()));

    mailer.send(&invitation("invite:7")).await.unwrap();
    mailer.send(&invitation("invite:8")).await.unwrap();
    let first = std::fs::read(folder.join("invite_3A7.eml")).unwrap();
    mailer.send(&invitation("invite:7")).await.unwrap();

    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["invite_3A7.eml", "invite_3A8.eml"]);
    assert_eq!(std::fs::read(folder.join("invite_3A7.eml")).unwrap(), first);
    assert_eq!(
        mime::header(&first, "Subject").unwrap(),
        "Your say on the Council Plan · Dweud eich dweud"
    );
    assert_eq!(
        mime::header(&first, "Message-ID").unwrap(),
        "<invite_3A7@tewkesbury.gov.uk>"
    );
    assert_eq!(
        mime::body_part(&first, "text/html").unwrap(),
        "<p>Dear Zoë,</p><p>Dywedwch wrthym beth yw eich barn.</p>"
    );
}
