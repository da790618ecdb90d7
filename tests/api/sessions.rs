//! Logging in and out: tokens, expiry, revocation, rate limits.

use axum::http::StatusCode;
use chrono::Duration;
use sea_orm::EntityTrait;
use serde_json::json;

use civic_panel::db::entities::session;
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::accounts::session_token::hex_sha256;

use crate::helpers::{LOG_IN, PASSWORD, TestApp, error_code, post_request};

#[tokio::test]
async fn a_session_token_is_stored_only_as_its_sha256() {
    let app = TestApp::spawn().await;
    app.create_account(Role::Officer, "o@example.org").await;
    let token = app.log_in("o@example.org", PASSWORD).await;
    assert!(
        token.len() >= 4 + 43,
        "at least 256 bits of base64: {token}"
    );
    let rows = session::Entity::find().all(app.db()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].token_hash, hex_sha256(token.as_bytes()));
    assert_ne!(rows[0].token_hash, token);
    assert_eq!(rows[0].expires_at, app.clock.now() + Duration::hours(12));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.create_account(Role::Officer, "o@example.org").await;
    let wrong = app
        .graphql(
            LOG_IN,
            json!({ "email": "o@example.org", "password": "not the password" }),
            None,
        )
        .await;
    let unknown = app
        .graphql(
            LOG_IN,
            json!({ "email": "nobody@example.org", "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    assert_eq!(error_code(&unknown), "UNAUTHENTICATED");
    assert_eq!(app.count(session::Entity).await, 0);
}

#[tokio::test]
async fn a_malformed_login_email_is_bad_input() {
    let app = TestApp::spawn().await;
    let body = app
        .graphql(LOG_IN, json!({ "email": "nope", "password": "x" }), None)
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.email");
}

#[tokio::test]
async fn a_revoked_token_is_refused_with_401() {
    let app = TestApp::spawn().await;
    let token = app.token_for(Role::Officer).await;
    let revoked = app
        .graphql(
            "mutation { sessionRevoke { revokedCount } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(revoked["data"]["sessionRevoke"]["revokedCount"], 1);
    let after = app
        .post(&json!({ "query": "{ me { email } }" }), Some(&token))
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.first_error_code(), "UNAUTHENTICATED");
    assert!(after.headers.get("www-authenticate").is_some());
}

#[tokio::test]
async fn revoking_everywhere_ends_every_session_of_the_account() {
    let app = TestApp::spawn().await;
    app.create_account(Role::Scrutiny, "s@example.org").await;
    let first = app.log_in("s@example.org", PASSWORD).await;
    let second = app.log_in("s@example.org", PASSWORD).await;
    let other = app.token_for(Role::Officer).await;
    let body = app
        .graphql(
            "mutation { sessionRevoke(input: { everywhere: true }) { revokedCount } }",
            json!({}),
            Some(&second),
        )
        .await;
    assert_eq!(body["data"]["sessionRevoke"]["revokedCount"], 2);
    for token in [&first, &second] {
        let response = app
            .post(&json!({ "query": "{ me { email } }" }), Some(token))
            .await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    let still = app
        .graphql("{ me { role } }", json!({}), Some(&other))
        .await;
    assert_eq!(still["data"]["me"]["role"], "OFFICER");
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = TestApp::spawn().await;
    let token = app.token_for(Role::Officer).await;
    app.clock
        .advance(Duration::hours(12) - Duration::seconds(1));
    let fresh = app
        .graphql("{ me { role } }", json!({}), Some(&token))
        .await;
    assert_eq!(fresh["data"]["me"]["role"], "OFFICER");
    app.clock.advance(Duration::seconds(1));
    let expired = app
        .post(&json!({ "query": "{ me { role } }" }), Some(&token))
        .await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.first_error_code(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_wrong_or_malformed_authorization_header_is_401() {
    let app = TestApp::spawn().await;
    for header in [
        "Bearer cps_not_a_real_token",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
        "cps_token",
    ] {
        let mut request = post_request(&json!({ "query": "{ __typename }" }), None);
        request
            .headers_mut()
            .insert("authorization", header.parse().unwrap());
        let response = app.send(request).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{header}");
        assert_eq!(response.first_error_code(), "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn repeated_failures_lock_the_account_until_the_window_passes() {
    let app = TestApp::spawn().await;
    app.create_account(Role::Officer, "o@example.org").await;
    let wrong = json!({ "email": "o@example.org", "password": "wrong password!" });
    for _ in 0..5 {
        let body = app.graphql(LOG_IN, wrong.clone(), None).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }
    // The sixth attempt is refused even with the right password.
    let right = json!({ "email": "o@example.org", "password": PASSWORD });
    let limited = app.graphql(LOG_IN, right.clone(), None).await;
    assert_eq!(error_code(&limited), "RATE_LIMITED");
    assert_eq!(limited["errors"][0]["extensions"]["retryAfterSeconds"], 900);

    app.clock.advance(Duration::seconds(901));
    let body = app.graphql(LOG_IN, right, None).await;
    assert!(body["data"]["sessionCreate"]["token"].is_string(), "{body}");
}

#[tokio::test]
async fn one_client_address_guessing_many_accounts_is_limited_but_others_are_not() {
    let app = TestApp::spawn_with(|config| config.login_max_failures_per_client = 3).await;
    app.create_account(Role::Officer, "o@example.org").await;
    for n in 0..3 {
        let body = json!({ "query": LOG_IN, "variables": { "email": format!("guess{n}@example.org"), "password": "x" } });
        let response = app
            .send_from(post_request(&body, None), [10, 0, 0, 7])
            .await;
        assert_eq!(response.first_error_code(), "UNAUTHENTICATED");
    }
    let body =
        json!({ "query": LOG_IN, "variables": { "email": "o@example.org", "password": PASSWORD } });
    let limited = app
        .send_from(post_request(&body, None), [10, 0, 0, 7])
        .await;
    assert_eq!(limited.first_error_code(), "RATE_LIMITED");
    let elsewhere = app
        .send_from(post_request(&body, None), [10, 0, 0, 8])
        .await;
    assert!(elsewhere.json()["data"]["sessionCreate"]["token"].is_string());
}

#[tokio::test]
async fn a_burst_of_parallel_guesses_gets_no_more_tries_than_the_limit() {
    let app = TestApp::spawn().await;
    app.create_account(Role::Officer, "o@example.org").await;
    let guesses = (0..10).map(|n| {
        let app = &app;
        async move {
            let wrong =
                json!({ "email": "o@example.org", "password": format!("guess number {n}") });
            app.graphql(LOG_IN, wrong, None).await
        }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let codes: Vec<String> = answers.iter().map(error_code).collect();
    let checked = codes.iter().filter(|c| *c == "UNAUTHENTICATED").count();
    let limited = codes.iter().filter(|c| *c == "RATE_LIMITED").count();
    assert!(
        checked <= 5,
        "at most five passwords were checked: {codes:?}"
    );
    assert_eq!(checked + limited, 10, "{codes:?}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_address_it_appended_is_the_client() {
    let app = TestApp::spawn_with(|config| {
        config.trust_forwarded_for = true;
        config.login_max_failures_per_client = 2;
    })
    .await;
    for n in 0..2 {
        let body = json!({ "query": LOG_IN, "variables": { "email": format!("g{n}@example.org"), "password": "x" } });
        let mut request = post_request(&body, None);
        // A client inventing a new first entry each time does not get a new bucket.
        request.headers_mut().insert(
            "x-forwarded-for",
            format!("198.51.100.{n}, 203.0.113.5").parse().unwrap(),
        );
        assert_eq!(
            app.send(request).await.first_error_code(),
            "UNAUTHENTICATED"
        );
    }
    let body =
        json!({ "query": LOG_IN, "variables": { "email": "g9@example.org", "password": "x" } });
    let mut request = post_request(&body, None);
    request.headers_mut().insert(
        "x-forwarded-for",
        "192.0.2.200, 203.0.113.5".parse().unwrap(),
    );
    assert_eq!(app.send(request).await.first_error_code(), "RATE_LIMITED");
}
