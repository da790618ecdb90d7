//! `civic-panel worker` processes sharing one database, killed part-way: a killed worker's
//! job is finished by another, and a message cut off mid-send is delivered exactly once.

use std::process::{Child, Command};
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use civic_panel::db::entities::{job, letter, outbox, stored_file};
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::ids::RoundId;
use civic_panel::domain::job::JobStatus;
use civic_panel::service::accounts::auth::Caller;
use civic_panel::service::accounts::login_links::{self, LinkRequest};
use civic_panel::service::recruitment::letters;

use crate::cli::binary;
use crate::delivery::smtp_to;
use crate::helpers::{TestApp, csv_rows, unzip};
use crate::smtp_server::SmtpServer;

/// A child process killed when the test ends, whether it passed or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A worker process on the app's database, with a two-second lease.
fn worker(app: &TestApp, mail: &[(&str, String)]) -> Running {
    let mut command = binary();
    command
        .arg("worker")
        .env("DATABASE_URL", &app.state.config.database.database_url)
        .env("CIVIC_PANEL_JOB_LEASE_SECS", "2")
        .env("CIVIC_PANEL_WORKER_POLL_MS", "100")
        .env("CIVIC_PANEL_WORKER_CONCURRENCY", "1")
        .env("CIVIC_PANEL_PUBLIC_URL", &app.state.config.public_url)
        .env("CIVIC_PANEL_MAIL_DIR", app.dir.path().join("worker-mail"));
    for (name, value) in mail {
        command.env(name, value);
    }
    Running(command.spawn().expect("the worker starts"))
}

/// Kills a process without warning, as a crash or an out-of-memory kill would.
fn kill_hard(child: &mut Running) {
    let status = Command::new("kill")
        .args(["-KILL", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.0.wait().unwrap();
}

/// Stops a process the way a service manager does.
fn stop(child: &mut Running) {
    Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    child.0.wait().unwrap();
}

async fn poll<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_killed_workers_export_is_finished_by_another_worker() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    // Big enough that the export outlasts the first heartbeat (a third of the two-second
    // lease), which is when its progress reaches the database: 2,000 letters once took
    // under half a second and finished before the test could see it running.
    app.load_demo_register(4.0).await;
    let round = app
        .round_id(
            &officer,
            serde_json::json!({ "name": "Crash", "letters": 8000, "seed": "6" }),
        )
        .await;
    let round_id = civic_panel::graphql::id::decode::<RoundId>(&round, "id").unwrap();
    let queued = letters::request_export(&app.state, &Caller::System, round_id, false)
        .await
        .unwrap();
    let id = queued.id.get();
    let row = || async {
        job::Entity::find_by_id(id)
            .one(app.db())
            .await
            .unwrap()
            .unwrap()
    };

    let mut first = worker(&app, &[]);
    let held = poll("the first worker to get going", async || {
        let job = row().await;
        (job.status == JobStatus::Running && job.progress_done > 0).then_some(job)
    })
    .await;
    kill_hard(&mut first);
    assert_eq!(
        row().await.status,
        JobStatus::Running,
        "nobody said it stopped"
    );
    assert_eq!(held.attempts, 1);

    let mut second = worker(&app, &[]);
    let done = poll("the second worker to finish", async || {
        let job = row().await;
        (job.status != JobStatus::Running && job.status != JobStatus::Queued).then_some(job)
    })
    .await;
    stop(&mut second);
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.last_error);
    assert_eq!(done.attempts, 2);
    assert_ne!(done.locked_by, held.locked_by);

    // Every letter got one code, and the bundle that carries them is complete.
    let letters = letter::Entity::find()
        .filter(letter::Column::RoundId.eq(round_id))
        .all(app.db())
        .await
        .unwrap();
    assert!(letters.iter().all(|l| l.code_hash.is_some()));
    let bundle = app
        .job(&officer, &civic_panel::graphql::id::encode(queued.id))
        .await["result"]
        .clone();
    assert_eq!(bundle["letters"], 8000);
    let download = app
        .get(bundle["downloadUrl"].as_str().unwrap(), Some(&officer))
        .await;
    let rows = csv_rows(&unzip(&download.bytes)[0].1);
    assert_eq!(rows.len(), 8001);
    for row in rows.iter().skip(1).take(20) {
        let code =
            civic_panel::domain::recruitment::invitation_code::InvitationCode::parse(&row[7])
                .unwrap();
        let hash = app.state.codes.stored_hash(&code);
        assert!(
            letters
                .iter()
                .any(|l| l.code_hash.as_deref() == Some(hash.as_str()))
        );
    }
    let complete = stored_file::Entity::find()
        .filter(stored_file::Column::Complete.eq(true))
        .filter(stored_file::Column::Purpose.eq(civic_panel::db::files::EXPORT))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(complete.len(), 1, "one bundle to download");
}

#[tokio::test]
async fn a_worker_killed_while_sending_leaves_its_message_to_another_and_each_arrives_once() {
    let server = SmtpServer::start().await;
    let app = TestApp::spawn().await;
    let emails = ["ana@example.org", "ben@example.org", "cai@example.org"];
    for email in emails {
        app.create_account(Role::Resident, email).await;
        login_links::send_link(
            &app.state,
            &LinkRequest {
                email: email.to_owned(),
            },
        )
        .await
        .unwrap();
    }
    let mail = [
        ("CIVIC_PANEL_MAIL_TRANSPORT", "smtp".to_owned()),
        ("CIVIC_PANEL_SMTP_HOST", "127.0.0.1".to_owned()),
        ("CIVIC_PANEL_SMTP_PORT", server.port().to_string()),
        ("CIVIC_PANEL_SMTP_TLS", "none".to_owned()),
        ("CIVIC_PANEL_MAIL_FROM", smtp_to(&server).mail_from),
        // A message's claim outlasts the SMTP timeout (twice over): short here, so the
        // second worker need not wait long for the first one's claim to run out.
        ("CIVIC_PANEL_SMTP_TIMEOUT_SECS", "2".to_owned()),
        // One message in flight, so the worker dies with exactly one cut off.
        ("CIVIC_PANEL_DELIVERY_CONCURRENCY", "1".to_owned()),
    ];
    // The server holds its answer to the first message's data; the worker dies waiting.
    server.stall();
    let mut first = worker(&app, &mail);
    server.stalled(Duration::from_secs(30)).await;
    kill_hard(&mut first);
    server.release().await;
    assert!(
        server.messages().is_empty(),
        "a message cut off mid-send is not accepted"
    );

    let mut second = worker(&app, &mail);
    let received = server.wait_for(3, Duration::from_secs(60)).await;
    // Give the second worker time to make any mistake it would make.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop(&mut second);
    let received = if server.messages().len() > received.len() {
        server.messages()
    } else {
        received
    };
    assert_eq!(received.len(), 3, "each message once: {received:?}");
    let mut recipients: Vec<String> = received.iter().flat_map(|m| m.recipients.clone()).collect();
    recipients.sort();
    assert_eq!(recipients, emails);
    let ids: std::collections::BTreeSet<String> = received
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    let rows = outbox::Entity::find().all(app.db()).await.unwrap();
    assert!(
        rows.iter()
            .all(|m| m.sent_at.is_some() && m.failed_at.is_none())
    );
    assert_eq!(
        rows.iter().map(|m| m.attempts).max(),
        Some(2),
        "the message cut off was tried again: {rows:?}"
    );
}

#[tokio::test]
async fn a_worker_killed_mid_mailing_resends_only_what_the_relay_had_not_accepted() {
    use sea_orm::PaginatorTrait;
    let server = SmtpServer::start().await;
    let app = TestApp::spawn().await;
    let emails: Vec<String> = (0..8).map(|i| format!("member{i}@example.org")).collect();
    for email in &emails {
        app.create_account(Role::Resident, email).await;
        login_links::send_link(
            &app.state,
            &LinkRequest {
                email: email.clone(),
            },
        )
        .await
        .unwrap();
    }
    let mail = [
        ("CIVIC_PANEL_MAIL_TRANSPORT", "smtp".to_owned()),
        ("CIVIC_PANEL_SMTP_HOST", "127.0.0.1".to_owned()),
        ("CIVIC_PANEL_SMTP_PORT", server.port().to_string()),
        ("CIVIC_PANEL_SMTP_TLS", "none".to_owned()),
        ("CIVIC_PANEL_MAIL_FROM", smtp_to(&server).mail_from),
        ("CIVIC_PANEL_SMTP_TIMEOUT_SECS", "5".to_owned()),
        // All eight in flight at once.
        ("CIVIC_PANEL_DELIVERY_CONCURRENCY", "8".to_owned()),
    ];
    // The relay accepts three and is still taking its time over the other five when the
    // worker dies.
    server.hold_after(3);
    let mut first = worker(&app, &mail);
    server.wait_for(3, Duration::from_secs(30)).await;
    // All five held, their data received and their answer not yet given, when it dies.
    poll("the five held", async || {
        (server.held_messages().len() == 5).then_some(())
    })
    .await;
    // The three are recorded as sent while the five are still being handed over.
    poll("the accepted messages recorded as sent", async || {
        let sent = outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_not_null())
            .count(app.db())
            .await
            .unwrap();
        (sent == 3).then_some(())
    })
    .await;
    kill_hard(&mut first);
    server.release().await;
    assert_eq!(
        server.messages().len(),
        3,
        "the five cut off were not accepted"
    );

    let mut second = worker(&app, &mail);
    let received = server.wait_for(8, Duration::from_secs(60)).await;
    // Give the second worker time to make any mistake it would make.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop(&mut second);
    let received = if server.messages().len() > received.len() {
        server.messages()
    } else {
        received
    };
    let ids: std::collections::BTreeSet<String> = received
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert_eq!(
        (received.len(), ids.len()),
        (8, 8),
        "each message once, none of the accepted three again"
    );
    let rows = outbox::Entity::find().all(app.db()).await.unwrap();
    assert!(rows.iter().all(|m| m.sent_at.is_some()), "{rows:?}");
    let mut attempts: Vec<i32> = rows.iter().map(|m| m.attempts).collect();
    attempts.sort_unstable();
    assert_eq!(attempts, [1, 1, 1, 2, 2, 2, 2, 2], "{rows:?}");
}
