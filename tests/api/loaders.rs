//! No N+1 queries: a nested list costs the same number of statements whatever its length,
//! because every relation is fetched by a per-request loader for all items at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use civic_panel::domain::role::Role;

use crate::helpers::TestApp;

const NESTED: &str = r#"{
    recruitmentRounds(first: 10) { edges { node {
        id name seed parameters { letters decileWeights { decile weight } asOf }
        createdBy { email displayName }
        status { total { drawn registrations } byWard { group drawn } byDecile { group } }
        poolComposition(areaCode: "E07000083") { dimension categories { category count } }
    } } }
    jobs(first: 10) { edges { node {
        kind status createdBy { email }
        result { ... on RecruitmentRoundDrawn { round { id createdBy { email } status { total { drawn } } } } }
    } } }
}"#;

/// Statements the nested query runs, with its answer's length.
async fn statements_for_nested(
    app: &TestApp,
    token: &str,
    counter: &AtomicUsize,
) -> (usize, usize) {
    let before = counter.load(Ordering::SeqCst);
    let body = app.graphql(NESTED, json!({}), Some(token)).await;
    assert!(body["errors"].is_null(), "{body}");
    let rounds = body["data"]["recruitmentRounds"]["edges"]
        .as_array()
        .unwrap()
        .len();
    (counter.load(Ordering::SeqCst) - before, rounds)
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
    let (one, rounds) = statements_for_nested(&app, &officer, &counter).await;
    assert_eq!(rounds, 1);
    for n in 1..6 {
        let other = app.token_for(Role::Officer).await;
        app.round_id(
            &other,
            json!({ "name": format!("R{n}"), "letters": 10, "seed": n.to_string() }),
        )
        .await;
    }
    let (six, rounds) = statements_for_nested(&app, &officer, &counter).await;
    assert_eq!(rounds, 6);
    assert_eq!(six, one, "the same statements for six rounds as for one");
    // A handful, not dozens: the session, then one batch per relation.
    assert!(one <= 14, "{one} statements");
}
