//! No N+1 queries: a nested list costs the same number of statements whatever its length,
//! because every relation is fetched by a per-request loader for all items at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use civic_panel::domain::accounts::role::Role;

use crate::helpers::TestApp;

// The two lists are asked for in separate requests: root fields resolve side by side, so
// whether their relations share a batch would depend on which list's rows arrive first.
const ROUNDS: &str = r#"{
    recruitmentRounds(first: 10) { edges { node {
        id name seed parameters { letters decileWeights { decile weight } asOf }
        createdBy { email displayName }
        status { total { drawn registrations } byWard { group drawn } byDecile { group } }
        poolComposition(areaCode: "E07000083") { dimension categories { category count } }
    } } }
}"#;

const JOBS: &str = r#"{
    jobs(first: 10) { edges { node {
        kind status createdBy { email }
        result { ... on RecruitmentRoundDrawn { round { id createdBy { email } status { total { drawn } } } } }
    } } }
}"#;

/// Statements a nested list query runs, with the length of its list (at `root`).
async fn statements_for(
    app: &TestApp,
    token: &str,
    counter: &AtomicUsize,
    query: &str,
    root: &str,
) -> (usize, usize) {
    let before = counter.load(Ordering::SeqCst);
    let body = app.graphql(query, json!({}), Some(token)).await;
    assert!(body["errors"].is_null(), "{body}");
    let items = body["data"][root]["edges"].as_array().unwrap().len();
    (counter.load(Ordering::SeqCst) - before, items)
}

#[tokio::test]
async fn a_nested_list_of_rounds_and_jobs_costs_the_same_statements_for_one_or_six() {
    let counter = Arc::new(AtomicUsize::new(0));
    let app = TestApp::spawn_counting(Arc::clone(&counter)).await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.2).await;
    app.load_benchmarks().await;
    app.round_id(
        &officer,
        json!({ "name": "R0", "letters": 10, "seed": "0" }),
    )
    .await;
    let one_round = statements_for(&app, &officer, &counter, ROUNDS, "recruitmentRounds").await;
    let one_job = statements_for(&app, &officer, &counter, JOBS, "jobs").await;
    assert_eq!((one_round.1, one_job.1), (1, 1));
    for n in 1..6 {
        let other = app.token_for(Role::Officer).await;
        app.round_id(
            &other,
            json!({ "name": format!("R{n}"), "letters": 10, "seed": n.to_string() }),
        )
        .await;
    }
    let six_rounds = statements_for(&app, &officer, &counter, ROUNDS, "recruitmentRounds").await;
    let six_jobs = statements_for(&app, &officer, &counter, JOBS, "jobs").await;
    assert_eq!((six_rounds.1, six_jobs.1), (6, 6));
    assert_eq!(
        six_rounds.0, one_round.0,
        "the same statements for six rounds as for one"
    );
    assert_eq!(
        six_jobs.0, one_job.0,
        "the same statements for six jobs as for one"
    );
    // A handful, not dozens: the session, then one batch per relation.
    assert!(one_round.0 <= 10, "{} statements for rounds", one_round.0);
    assert!(one_job.0 <= 10, "{} statements for jobs", one_job.0);
}
