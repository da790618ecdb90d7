//! The job queue: leases that run out, retries with backoff and a cap, cancellation,
//! progress read through the API, and workers that never run one job twice.

use std::time::Duration;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use civic_panel::db::entities::{job, outbox, recruitment_round};
use civic_panel::db::queue;
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::job::JobStatus;
use civic_panel::service::accounts::auth::Caller;
use civic_panel::service::recruitment::letters;

use crate::helpers::{JOB, TestApp};

const ASK_FOR_LINK: &str =
    "mutation($email: String!) { loginLinkRequest(input: { email: $email }) { accepted } }";

/// Queues a login-link job for `email` through the API; the job's global ID.
async fn queue_link(app: &TestApp, email: &str) -> String {
    let body = app
        .graphql(ASK_FOR_LINK, json!({ "email": email }), None)
        .await;
    assert_eq!(body["data"]["loginLinkRequest"]["accepted"], true, "{body}");
    let row = job::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .max_by_key(|j| j.id)
        .unwrap();
    civic_panel::graphql::id::encode(row.id).0
}

async fn job_row(app: &TestApp, id: &str) -> job::Model {
    let id = civic_panel::graphql::id::decode::<civic_panel::domain::ids::JobId>(id, "id").unwrap();
    job::Entity::find_by_id(id.get())
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_job_whose_worker_stopped_is_claimed_again_once_its_lease_runs_out() {
    let app = TestApp::spawn().await;
    app.create_account(Role::Resident, "ruth@example.org").await;
    let id = queue_link(&app, "ruth@example.org").await;
    // A worker claims the job and dies without a word.
    let now = app.clock.now();
    let lease = app.state.config.worker.lease();
    let claimed = queue::claim_jobs(app.db(), "dead-worker", now, now + lease, 5)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(app.run_jobs().await, 0, "held by its lease");
    assert_eq!(job_row(&app, &id).await.status, JobStatus::Running);

    app.clock.advance(lease + chrono::Duration::seconds(1));
    assert_eq!(app.run_jobs().await, 1, "taken up once the lease ran out");
    let done = job_row(&app, &id).await;
    assert_eq!((done.status.as_str(), done.attempts), ("succeeded", 2));
    assert_eq!(app.count(outbox::Entity).await, 1, "one link, sent once");
    // The dead worker's word no longer counts.
    let stale = queue::Claim {
        worker: "dead-worker".to_owned(),
        attempt: 1,
    };
    let outcome = queue::Outcome::Failed {
        error: "late".to_owned(),
    };
    assert!(
        !queue::finish(app.db(), done.id, &stale, outcome, now)
            .await
            .unwrap()
    );
    assert_eq!(job_row(&app, &id).await.status, JobStatus::Succeeded);
}

#[tokio::test]
async fn a_job_claimed_by_dead_workers_too_often_fails_for_good() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.1).await;
    let body = app
        .graphql(
            "mutation { recruitmentRoundCreate(input: { name: \"R\", letters: 3 }) { job { id maxAttempts } } }",
            json!({}),
            Some(&officer),
        )
        .await;
    let job = &body["data"]["recruitmentRoundCreate"]["job"];
    let max = job["maxAttempts"].as_u64().unwrap();
    let lease = app.state.config.worker.lease();
    for n in 0..max {
        let now = app.clock.now();
        let claimed = queue::claim_jobs(app.db(), &format!("dead-{n}"), now, now + lease, 1)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        app.clock.advance(lease + chrono::Duration::seconds(1));
    }
    app.run_jobs().await;
    let failed = app.job(&officer, job["id"].as_str().unwrap()).await;
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert_eq!(failed["attempts"], max + 1);
    assert!(failed["error"].as_str().unwrap().contains("Stopped after"));
    assert_eq!(app.count(recruitment_round::Entity).await, 0);
}

#[tokio::test]
async fn a_failing_job_is_retried_with_growing_waits_and_then_given_up() {
    let app = TestApp::spawn().await;
    app.create_account(Role::Resident, "broken@example.org")
        .await;
    // A stored account the service cannot read: looking it up fails on our side, which
    // is worth retrying (a database hiccup would look the same).
    app.db()
        .execute_unprepared(
            "UPDATE accounts SET role = 'NOBODY' WHERE email = 'broken@example.org'",
        )
        .await
        .unwrap();
    let id = queue_link(&app, "broken@example.org").await;
    let mut waits = Vec::new();
    for attempt in 1..=5 {
        assert_eq!(app.run_jobs().await, 1, "attempt {attempt}");
        let row = job_row(&app, &id).await;
        assert_eq!(row.attempts, attempt);
        if attempt < 5 {
            assert_eq!(row.status, JobStatus::Queued);
            assert_eq!(row.last_error.as_deref(), Some("Internal server error."));
            waits.push((row.run_after - app.clock.now()).num_milliseconds());
            assert_eq!(
                app.run_jobs().await,
                0,
                "not before its next attempt is due"
            );
            app.clock.advance(chrono::Duration::hours(2));
        } else {
            assert_eq!(row.status, JobStatus::Failed);
            assert!(row.finished_at.is_some());
        }
    }
    // 10 s doubling, each spread by up to a fifth either way.
    for (n, wait) in waits.iter().enumerate() {
        let base = 10_000 * (1 << n);
        assert!(
            (base * 4 / 5..=base * 6 / 5).contains(wait),
            "wait {n}: {wait} ms: {waits:?}"
        );
    }
}

#[tokio::test]
async fn a_queued_job_can_be_cancelled_and_then_never_runs() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.1).await;
    let body = app
        .graphql(
            "mutation { recruitmentRoundCreate(input: { name: \"R\", letters: 3 }) { job { id } } }",
            json!({}),
            Some(&officer),
        )
        .await;
    let id = body["data"]["recruitmentRoundCreate"]["job"]["id"].clone();
    let cancel =
        "mutation($id: ID!) { jobCancel(input: { id: $id }) { job { status cancelRequested } } }";
    let cancelled = app
        .graphql(cancel, json!({ "id": id }), Some(&officer))
        .await;
    assert_eq!(
        cancelled["data"]["jobCancel"]["job"]["status"], "CANCELLED",
        "{cancelled}"
    );
    assert_eq!(app.run_jobs().await, 0);
    assert_eq!(app.count(recruitment_round::Entity).await, 0);
    let again = app
        .graphql(cancel, json!({ "id": id }), Some(&officer))
        .await;
    assert_eq!(again["data"]["jobCancel"]["job"]["status"], "CANCELLED");
    let resident = app.token_for(Role::Resident).await;
    let refused = app
        .graphql(cancel, json!({ "id": id }), Some(&resident))
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn a_running_export_reports_progress_and_stops_when_cancelled_storing_no_code() {
    let app = TestApp::spawn_with(|config| config.worker.job_lease_secs = 3).await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(3.0).await;
    let round = app
        .round_id(
            &officer,
            json!({ "name": "Big", "letters": 6000, "seed": "2" }),
        )
        .await;
    let round_id =
        civic_panel::graphql::id::decode::<civic_panel::domain::ids::RoundId>(&round, "id")
            .unwrap();
    let queued = letters::request_export(&app.state, &Caller::System, round_id, false)
        .await
        .unwrap();
    let id = civic_panel::graphql::id::encode(queued.id).0;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(app.worker().run(async move {
        let _ = stopped.await;
    }));
    let running = app
        .wait_for_job(&officer, &id, |job| {
            job["status"] == "RUNNING" && job["progress"]["done"].as_u64().unwrap_or(0) > 0
        })
        .await;
    assert_eq!(running["progress"]["total"], 6000, "{running}");
    assert!(running["progress"]["fraction"].as_f64().unwrap() < 1.0);
    let cancel =
        "mutation($id: ID!) { jobCancel(input: { id: $id }) { job { status cancelRequested } } }";
    let asked = app
        .graphql(cancel, json!({ "id": id }), Some(&officer))
        .await;
    assert_eq!(
        asked["data"]["jobCancel"]["job"]["cancelRequested"], true,
        "{asked}"
    );
    let stopped_job = app
        .wait_for_job(&officer, &id, |job| job["status"] != "RUNNING")
        .await;
    assert_eq!(stopped_job["status"], "CANCELLED", "{stopped_job}");
    stop.send(()).unwrap();
    worker.await.unwrap();
    let with_codes = civic_panel::db::entities::letter::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .filter(|l| l.code_hash.is_some())
        .count();
    assert_eq!(with_codes, 0, "a cancelled export stores no code");
    let files = civic_panel::db::entities::stored_file::Entity::find()
        .filter(
            civic_panel::db::entities::stored_file::Column::Purpose
                .eq(civic_panel::db::files::EXPORT),
        )
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(files, 0, "and keeps no half-made bundle");
}

#[tokio::test]
async fn workers_running_side_by_side_never_run_one_job_twice() {
    let app = TestApp::spawn().await;
    let emails: Vec<String> = (0..24).map(|n| format!("r{n}@example.org")).collect();
    for email in &emails {
        app.create_account(Role::Resident, email).await;
    }
    let limits = app.reconfigured(|config| {
        config.login_link_max_per_client = 1_000;
    });
    for email in &emails {
        queue_link(&limits, email).await;
    }
    let workers = (0..3).map(|_| {
        let worker = app.worker();
        async move { worker.run_until_idle().await.unwrap() }
    });
    let ran: usize = futures_util::future::join_all(workers)
        .await
        .into_iter()
        .sum();
    assert_eq!(ran, emails.len(), "every job ran, and only once");
    let jobs = job::Entity::find().all(app.db()).await.unwrap();
    assert!(
        jobs.iter()
            .all(|j| j.status == JobStatus::Succeeded && j.attempts == 1)
    );
    assert_eq!(app.count(outbox::Entity).await, emails.len() as u64);
    let sent = outbox::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .filter(|m| m.sent_at.is_some() && m.attempts == 1)
        .count();
    assert_eq!(sent, emails.len(), "every message sent, and only once");
}

#[tokio::test]
async fn jobs_are_listed_newest_first_in_pages_for_staff_only() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let limits = app.reconfigured(|config| config.login_link_max_per_client = 1_000);
    for n in 0..5 {
        queue_link(&limits, &format!("nobody{n}@example.org")).await;
    }
    let page = "query($after: String) { jobs(first: 2, after: $after, kind: LOGIN_LINK_REQUEST) {
        edges { cursor node { id kind status } } pageInfo { hasNextPage } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let body = app
            .graphql(page, json!({ "after": after }), Some(&officer))
            .await;
        let jobs = &body["data"]["jobs"];
        for edge in jobs["edges"].as_array().unwrap() {
            seen.push(edge["node"]["id"].as_str().unwrap().to_owned());
            after = edge["cursor"].clone();
        }
        if jobs["pageInfo"]["hasNextPage"] != true {
            break;
        }
    }
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort_by_key(|id| std::cmp::Reverse(job_row_id(id)));
    assert_eq!(seen, sorted, "newest first");
    // The same job through node(id:).
    let node = app
        .graphql(
            "query($id: ID!) { node(id: $id) { id ... on Job { kind } } }",
            json!({ "id": seen[0] }),
            Some(&officer),
        )
        .await;
    assert_eq!(node["data"]["node"]["kind"], "LOGIN_LINK_REQUEST", "{node}");
    let resident = app.token_for(Role::Resident).await;
    for query in ["{ jobs { edges { cursor } } }"] {
        let body = app.graphql(query, json!({}), Some(&resident)).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    }
    let hidden = app
        .graphql(JOB, json!({ "id": seen[0] }), Some(&resident))
        .await;
    assert_eq!(hidden["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

fn job_row_id(id: &str) -> i64 {
    civic_panel::graphql::id::decode::<civic_panel::domain::ids::JobId>(id, "id")
        .unwrap()
        .get()
}

#[tokio::test]
async fn a_worker_deletes_expired_bundles_as_soon_as_it_starts_and_keeps_draw_records() {
    use civic_panel::db::entities::{stored_file, stored_file_chunk};
    use civic_panel::db::files::{DRAW_RECORD, EXPORT};
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.2).await;
    let round = app
        .round_id(
            &officer,
            json!({ "name": "Old", "letters": 3, "seed": "5" }),
        )
        .await;
    app.export_letters(&officer, &round, false).await;
    let purposes = || async {
        let mut purposes: Vec<String> = stored_file::Entity::find()
            .all(app.db())
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.purpose)
            .collect();
        purposes.sort();
        purposes
    };
    assert_eq!(purposes().await, [DRAW_RECORD, EXPORT]);
    let chunks = || async {
        stored_file_chunk::Entity::find()
            .count(app.db())
            .await
            .unwrap()
    };
    let with_bundle = chunks().await;
    assert!(with_bundle >= 2);
    // Long past the bundle's retention: the draw record must outlive it.
    app.clock.advance(chrono::Duration::days(365 * 5));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(app.worker().run(async move {
        let _ = stopped.await;
    }));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while purposes().await.len() > 1 {
        assert!(tokio::time::Instant::now() < deadline, "never deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(purposes().await, [DRAW_RECORD]);
    assert!(chunks().await >= 1 && chunks().await < with_bundle);
    assert!(matches!(
        civic_panel::service::recruitment::verify(
            &app.state,
            civic_panel::graphql::id::decode(&round, "id").unwrap()
        )
        .await
        .unwrap(),
        civic_panel::service::recruitment::Verification::Identical { .. }
    ));
    stop.send(()).unwrap();
    worker.await.unwrap();
}

#[tokio::test]
async fn a_draw_record_no_round_names_is_purged_after_a_day() {
    use civic_panel::db::entities::stored_file;
    use civic_panel::db::files::{self, DRAW_RECORD, NewFile};
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.2).await;
    app.round_id(
        &officer,
        json!({ "name": "Kept", "letters": 3, "seed": "5" }),
    )
    .await;
    // What a draw killed between storing its record and writing its round leaves.
    let now = app.clock.now();
    let orphan = files::create(
        app.db(),
        NewFile {
            purpose: DRAW_RECORD,
            name: "draw-record.json".to_owned(),
            content_type: "application/json",
            job_id: None,
            created_by: None,
            expires_at: now + chrono::Duration::days(36_500),
        },
        now,
    )
    .await
    .unwrap();
    files::write_all(app.db(), orphan, b"{}").await.unwrap();
    let records = || async {
        stored_file::Entity::find()
            .filter(stored_file::Column::Purpose.eq(DRAW_RECORD))
            .count(app.db())
            .await
            .unwrap()
    };
    assert_eq!(files::purge_expired(app.db(), now).await.unwrap(), 0);
    assert_eq!(records().await, 2, "a draw may still be writing its round");
    let later = now + chrono::Duration::days(2);
    assert_eq!(files::purge_expired(app.db(), later).await.unwrap(), 1);
    assert_eq!(records().await, 1);
    assert!(
        stored_file::Entity::find_by_id(orphan.get())
            .one(app.db())
            .await
            .unwrap()
            .is_none()
    );
}
