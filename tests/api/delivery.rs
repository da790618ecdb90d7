//! The outbox delivered by the worker through a real SMTP server on loopback: login links
//! arrive, a server that is down is retried until it is back, a refusal is final, and
//! nothing is lost or sent twice.

use std::path::PathBuf;
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use civic_panel::db::entities::outbox;
use civic_panel::domain::accounts::role::Role;
use civic_panel::jobs::mail::{MailConfig, MailTransportKind, SmtpTls};

use crate::helpers::TestApp;
use crate::smtp_server::SmtpServer;

const WAIT: Duration = Duration::from_secs(10);

/// Mail settings that send to `server` without TLS.
pub fn smtp_to(server: &SmtpServer) -> MailConfig {
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

async fn ask_for_link(app: &TestApp, email: &str) {
    let body = app
        .graphql(
            "mutation($email: String!) { loginLinkRequest(input: { email: $email }) { accepted } }",
            json!({ "email": email }),
            None,
        )
        .await;
    assert_eq!(body["data"]["loginLinkRequest"]["accepted"], true, "{body}");
}

async fn message_to(app: &TestApp, email: &str) -> outbox::Model {
    outbox::Entity::find()
        .filter(outbox::Column::Recipient.eq(email))
        .one(app.db())
        .await
        .unwrap()
        .expect("a queued message")
}

#[tokio::test]
async fn a_login_link_is_delivered_by_the_worker_through_smtp_and_logs_the_resident_in() {
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|config| config.mail = smtp_to(&server)).await;
    app.create_account(Role::Resident, "zoe@example.org").await;
    ask_for_link(&app, "Zoe@Example.org").await;
    app.run_jobs().await;

    let received = server.wait_for(1, WAIT).await;
    assert_eq!(received.len(), 1);
    let email = &received[0];
    assert_eq!(email.recipients, ["zoe@example.org"]);
    assert!(
        email.header("Subject").unwrap().contains("log in"),
        "{:?}",
        email.header("Subject")
    );
    let text = email.text_body().unwrap();
    let start = text.find("/login?token=").expect("a login link") + "/login?token=".len();
    let token = text[start..].split_whitespace().next().unwrap().to_owned();
    let stored = message_to(&app, "zoe@example.org").await;
    assert!(stored.sent_at.is_some());
    assert_eq!((stored.attempts, stored.last_error), (1, None));
    let message_id = email.header("Message-ID").unwrap();
    assert!(message_id.contains("login-link"), "{message_id}");

    let session = app
        .graphql(
            "mutation($token: String!) { sessionCreateFromLink(input: { token: $token }) { account { email } } }",
            json!({ "token": token }),
            None,
        )
        .await;
    assert_eq!(
        session["data"]["sessionCreateFromLink"]["account"]["email"], "zoe@example.org",
        "{session}"
    );
    app.run_jobs().await;
    assert_eq!(server.messages().len(), 1, "nothing sent twice");
}

#[tokio::test]
async fn a_mail_server_that_is_down_is_retried_and_the_message_sent_once_it_is_back() {
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|config| config.mail = smtp_to(&server)).await;
    app.create_account(Role::Resident, "tom@example.org").await;
    server.stop().await;
    ask_for_link(&app, "tom@example.org").await;
    app.run_jobs().await;
    let waiting = message_to(&app, "tom@example.org").await;
    assert_eq!((waiting.attempts, waiting.sent_at), (1, None));
    assert!(waiting.last_error.is_some());
    assert!(waiting.failed_at.is_none());
    let next = waiting.next_attempt_at.expect("a next attempt");
    assert!(next > app.clock.now());

    server.restart().await;
    app.run_jobs().await;
    assert!(server.messages().is_empty(), "not before its next attempt");
    app.clock
        .advance(next - app.clock.now() + chrono::Duration::seconds(1));
    app.run_jobs().await;
    let received = server.wait_for(1, WAIT).await;
    assert_eq!(received.len(), 1);
    let sent = message_to(&app, "tom@example.org").await;
    assert_eq!(sent.attempts, 2);
    assert!(sent.sent_at.is_some() && sent.last_error.is_none());
    app.clock.advance(chrono::Duration::hours(3));
    app.run_jobs().await;
    assert_eq!(server.messages().len(), 1, "sent once");
}

#[tokio::test]
async fn a_refused_recipient_is_given_up_at_once_and_a_server_down_too_long_after_the_cap() {
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|config| {
        config.mail = smtp_to(&server);
        config.worker.delivery_max_attempts = 2;
    })
    .await;
    app.create_account(Role::Resident, "gone@example.org").await;
    app.create_account(Role::Resident, "later@example.org")
        .await;
    server.refuse_recipient("gone@example.org");
    ask_for_link(&app, "gone@example.org").await;
    app.run_jobs().await;
    let refused = message_to(&app, "gone@example.org").await;
    assert_eq!(refused.attempts, 1);
    assert!(refused.failed_at.is_some(), "a 5xx refusal is final");
    assert!(refused.last_error.unwrap().contains("550"));

    server.stop().await;
    ask_for_link(&app, "later@example.org").await;
    for _ in 0..3 {
        app.run_jobs().await;
        app.clock.advance(chrono::Duration::hours(2));
    }
    let abandoned = message_to(&app, "later@example.org").await;
    assert_eq!(abandoned.attempts, 2, "no attempt past the cap");
    assert!(abandoned.failed_at.is_some());
    assert!(
        abandoned
            .last_error
            .unwrap()
            .contains("gave up after 2 attempts")
    );
    assert!(server.messages().is_empty());
}

/// Polls `count` until it reaches `want`, for at most `limit`.
async fn reaches(limit: Duration, want: u64, count: impl AsyncFn() -> u64) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if count().await == want {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn each_message_is_recorded_sent_as_the_relay_accepts_it_and_opens_that_come_with_it_are_machines()
 {
    use sea_orm::PaginatorTrait;

    use crate::consultations::{
        Member, ask_to_invite, open_survey, panel_with, progress, token_in,
    };
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|config| {
        config.mail = smtp_to(&server);
        config.worker.delivery_concurrency = 4;
    })
    .await;
    let officer = app.token_for(Role::Officer).await;
    let members: Vec<Member> = ["a", "b", "c", "d"]
        .iter()
        .map(|_| Member {
            email: Some("member@example.org"),
            phone: None,
        })
        .collect();
    let (panel, _) = panel_with(&app, &officer, &members).await;
    let consultation = open_survey(&app, &officer, Some(&panel), false).await;
    // The relay accepts two of the four at once and holds the other two.
    server.hold_after(2);
    ask_to_invite(&app, &officer, &consultation)
        .await
        .unwrap_or_else(|body| panic!("{body}"));
    let worker = app.worker();
    let running = tokio::spawn(async move { worker.run_until_idle().await });
    let accepted = server.wait_for(2, WAIT).await;
    let held = || async { u64::try_from(server.held_messages().len()).unwrap() };
    assert!(reaches(WAIT, 2, held).await, "two held");
    let sent = || async {
        outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_not_null())
            .count(app.db())
            .await
            .unwrap()
    };
    // Recorded as the relay accepted them, while the rest of the group is still going.
    assert!(
        reaches(Duration::from_secs(3), 2, sent).await,
        "the accepted messages were not recorded while the others were held"
    );
    let image = |message: &crate::smtp_server::ReceivedMessage| {
        format!("/t/o/{}", token_in(&message.text_body().unwrap()))
    };
    // A mail server fetching the image as the message lands: a machine.
    assert_eq!(app.get(&image(&accepted[0]), None).await.status, 200);
    // Twenty seconds on (past the window of its hand-off): a message still being handed
    // over says nothing of a person; one recorded as sent twenty seconds ago does.
    app.clock.advance(chrono::Duration::seconds(20));
    let held = server.held_messages();
    assert_eq!(held.len(), 2);
    assert_eq!(app.get(&image(&held[0]), None).await.status, 200);
    assert_eq!(app.get(&image(&accepted[1]), None).await.status, 200);
    let email = progress(&app, &officer, &consultation, "EMAIL").await;
    assert_eq!(
        (&email["opened"], &email["machineOpenedOnly"]),
        (&json!(1), &json!(2)),
        "{email}"
    );
    server.release().await;
    running.await.unwrap().unwrap();
    // An hour on, the first is opened by a person.
    app.clock.advance(chrono::Duration::hours(1));
    assert_eq!(app.get(&image(&accepted[0]), None).await.status, 200);
    let email = progress(&app, &officer, &consultation, "EMAIL").await;
    assert_eq!(email["opened"], 2, "{email}");
}
