//! Body size, query depth, query complexity and request time limits.

use axum::http::StatusCode;
use sea_orm::{ConnectionTrait, DatabaseBackend, TransactionTrait};
use serde_json::json;

use civic_panel::db::entities::account;
use civic_panel::domain::accounts::role::Role;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_writes_nothing() {
    let app = TestApp::spawn_with(|config| config.body_limit_bytes = 2_048).await;
    let admin = app.token_for(Role::Admin).await;
    let before = app.count(account::Entity).await;
    let body = json!({
        "query": "mutation($input: AccountCreateInput!) { accountCreate(input: $input) { account { id } } }",
        "variables": { "input": {
            "email": "big@example.org", "displayName": "x".repeat(4_000),
            "role": "OFFICER", "password": "a long enough password"
        } }
    });
    let response = app.post(&body, Some(&admin)).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.first_error_code(), "PAYLOAD_TOO_LARGE");
    assert_eq!(app.count(account::Entity).await, before);
}

#[tokio::test]
async fn a_query_nested_past_the_depth_limit_is_refused() {
    let app = TestApp::spawn_with(|config| config.query_depth_limit = 4).await;
    let deep = "{ __schema { types { fields { type { ofType { name } } } } } }";
    let response = app.post(&json!({ "query": deep }), None).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.first_error_code(), "QUERY_TOO_DEEP");
    assert!(response.json().get("data").is_none());

    let shallow = app
        .post(
            &json!({ "query": "{ __schema { queryType { name } } }" }),
            None,
        )
        .await;
    assert_eq!(
        shallow.json()["data"]["__schema"]["queryType"]["name"],
        "Query"
    );
}

#[tokio::test]
async fn a_query_over_the_complexity_limit_is_refused() {
    let app = TestApp::spawn_with(|config| config.query_complexity_limit = 50).await;
    let admin = app.token_for(Role::Admin).await;
    let heavy = "{ accounts(first: 100) { edges { node { id email displayName } } } }";
    let response = app.post(&json!({ "query": heavy }), Some(&admin)).await;
    assert_eq!(response.first_error_code(), "QUERY_TOO_COMPLEX");

    let light = "{ accounts(first: 5) { edges { node { id } } } }";
    let body = app.graphql(light, json!({}), Some(&admin)).await;
    assert_eq!(
        body["data"]["accounts"]["edges"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn a_request_past_the_time_limit_is_abandoned_with_timeout() {
    let app = TestApp::spawn().await;
    let admin = app.token_for(Role::Admin).await;
    // Hold the database so the request cannot finish: on PostgreSQL a lock on the table
    // it needs; on SQLite, where a reader never waits for a writer, every read connection.
    let blocker = app.db().begin().await.unwrap();
    let mut readers = Vec::new();
    if app.db().get_database_backend() == DatabaseBackend::Postgres {
        blocker
            .execute_unprepared("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
    } else {
        for _ in 0..app.state.config.database.db_max_connections {
            readers.push(app.state.db.reader().begin().await.unwrap());
        }
    }
    let impatient = app.reconfigured(|config| config.request_timeout_secs = 1);
    let response = impatient
        .post(&json!({ "query": "{ me { id } }" }), Some(&admin))
        .await;
    blocker.rollback().await.unwrap();
    drop(readers);
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.first_error_code(), "TIMEOUT");
}
