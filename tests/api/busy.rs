//! The server keeps answering while long work runs: logins, registrations' writes and
//! `/readyz` go through while a large export is being built, written and stored.

use serde_json::json;

use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::ids::RoundId;
use civic_panel::service::accounts::auth::Caller;
use civic_panel::service::recruitment::letters;

use crate::helpers::{LOG_IN, PASSWORD, TestApp};

#[tokio::test]
async fn logins_and_readiness_answer_while_a_large_export_runs() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(3.0).await;
    let round = app
        .round_id(
            &officer,
            json!({ "name": "Large", "letters": 6000, "seed": "12" }),
        )
        .await;
    app.create_account(Role::Officer, "colleague@example.org")
        .await;
    let round_id = civic_panel::graphql::id::decode::<RoundId>(&round, "id").unwrap();
    let queued = letters::request_export(&app.state, &Caller::System, round_id, false)
        .await
        .unwrap();
    let id = civic_panel::graphql::id::encode(queued.id).0;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(app.worker().run(async move {
        let _ = stopped.await;
    }));

    // Wait until the export is well under way (rendering and writing its chunks).
    app.wait_for_job(&officer, &id, |job| {
        job["status"] == "RUNNING" && job["progress"]["done"].as_u64().unwrap_or(0) > 100
    })
    .await;

    // While it runs: logins (each writes rate-limit rows and a session), readiness.
    let mut answered_during = 0;
    for _ in 0..5 {
        let login = app
            .graphql(
                LOG_IN,
                json!({ "email": "colleague@example.org", "password": PASSWORD }),
                None,
            )
            .await;
        assert!(
            login["data"]["sessionCreate"]["token"].is_string(),
            "{login}"
        );
        let ready = app.get("/readyz", None).await;
        assert_eq!(ready.status, axum::http::StatusCode::OK);
        if app.job(&officer, &id).await["status"] == "RUNNING" {
            answered_during += 1;
        }
    }
    assert!(
        answered_during >= 3,
        "logins and /readyz answered while the export was still running ({answered_during} of 5)"
    );

    let finished = app
        .wait_for_job(&officer, &id, |job| {
            job["status"] != "RUNNING" && job["status"] != "QUEUED"
        })
        .await;
    assert_eq!(finished["status"], "SUCCEEDED", "{finished}");
    assert_eq!(finished["result"]["letters"], 6000);
    stop.send(()).unwrap();
    worker.await.unwrap();
}
