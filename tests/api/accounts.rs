//! Staff accounts: creation by ADMINs, `me`, listing with pages, bad input.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use civic_panel::db::entities::account;
use civic_panel::domain::accounts::role::Role;

use crate::helpers::{PASSWORD, TestApp, error_code, error_message};

const CREATE: &str = "mutation($input: AccountCreateInput!) {
    accountCreate(input: $input) { account { id email displayName role disabled } }
}";

fn officer_input(email: &str) -> Value {
    json!({ "input": {
        "email": email, "displayName": "  Sam Officer ", "role": "OFFICER", "password": PASSWORD
    } })
}

#[tokio::test]
async fn an_admin_creates_an_officer_who_logs_in_and_sees_themselves_as_me() {
    let app = TestApp::spawn().await;
    let admin = app.token_for(Role::Admin).await;
    let created = app
        .graphql(CREATE, officer_input("Sam@Council.GOV.uk"), Some(&admin))
        .await;
    let account = &created["data"]["accountCreate"]["account"];
    assert_eq!(account["email"], "sam@council.gov.uk");
    assert_eq!(account["displayName"], "Sam Officer");
    assert_eq!(account["role"], "OFFICER");
    assert_eq!(account["disabled"], false);

    let token = app.log_in("sam@council.gov.uk", PASSWORD).await;
    let me = app
        .graphql("{ me { id email role } }", json!({}), Some(&token))
        .await;
    assert_eq!(me["data"]["me"]["id"], account["id"]);
    assert_eq!(me["data"]["me"]["role"], "OFFICER");
}

#[tokio::test]
async fn a_duplicate_email_is_a_conflict_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.token_for(Role::Admin).await;
    app.graphql(CREATE, officer_input("dup@example.org"), Some(&admin))
        .await;
    let before = app.count(account::Entity).await;
    let again = app
        .graphql(CREATE, officer_input("DUP@example.org"), Some(&admin))
        .await;
    assert_eq!(error_code(&again), "CONFLICT");
    assert!(error_message(&again).contains("dup@example.org"));
    assert_eq!(app.count(account::Entity).await, before);
}

#[tokio::test]
async fn bad_account_input_names_the_offending_field() {
    let app = TestApp::spawn().await;
    let admin = app.token_for(Role::Admin).await;
    let cases = [
        (json!({ "email": "not-an-email" }), "input.email"),
        (json!({ "password": "short" }), "input.password"),
        (json!({ "displayName": "   " }), "input.displayName"),
        (json!({ "role": "RESIDENT" }), "input.role"),
    ];
    let before = app.count(account::Entity).await;
    for (change, field) in cases {
        let mut variables = officer_input("valid@example.org");
        for (key, value) in change.as_object().unwrap() {
            variables["input"][key] = value.clone();
        }
        let body = app.graphql(CREATE, variables, Some(&admin)).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{field}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
    assert_eq!(app.count(account::Entity).await, before);
}

#[tokio::test]
async fn an_unknown_input_field_is_a_validation_error() {
    let app = TestApp::spawn().await;
    let admin = app.token_for(Role::Admin).await;
    let mut variables = officer_input("extra@example.org");
    variables["input"]["isSuperuser"] = json!(true);
    let body = app.graphql(CREATE, variables, Some(&admin)).await;
    assert!(body.get("data").is_none());
    assert!(error_message(&body).contains("isSuperuser"));
}

#[tokio::test]
async fn accounts_are_paged_with_cursors_and_a_true_has_next_page() {
    let app = TestApp::spawn().await;
    let admin = app.token_for(Role::Admin).await;
    for n in 0..4 {
        app.create_account(Role::Officer, &format!("officer{n}@example.org"))
            .await;
    }
    app.create_account(Role::Scrutiny, "scrutiny@example.org")
        .await;
    let page = "query($after: String, $role: Role) {
        accounts(first: 2, after: $after, role: $role) {
            edges { cursor node { email } } pageInfo { hasNextPage hasPreviousPage endCursor }
        }
    }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let body = app
            .graphql(
                page,
                json!({ "after": after, "role": "OFFICER" }),
                Some(&admin),
            )
            .await;
        let connection = &body["data"]["accounts"];
        for edge in connection["edges"].as_array().unwrap() {
            seen.push(edge["node"]["email"].as_str().unwrap().to_owned());
        }
        if connection["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(
        seen,
        [
            "officer0@example.org",
            "officer1@example.org",
            "officer2@example.org",
            "officer3@example.org"
        ]
    );
}

#[tokio::test]
async fn a_page_size_outside_one_to_a_hundred_is_bad_input() {
    let app = TestApp::spawn().await;
    let admin = app.token_for(Role::Admin).await;
    for first in [0, 101, -1] {
        let body = app
            .graphql(
                "query($f: Int) { accounts(first: $f) { edges { cursor } } }",
                json!({ "f": first }),
                Some(&admin),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT");
        assert_eq!(body["errors"][0]["extensions"]["field"], "first");
    }
}

#[tokio::test]
async fn an_account_id_of_another_kind_or_unknown_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.token_for(Role::Admin).await;
    let query = "query($id: ID!) { account(id: $id) { email } }";
    let garbage = app
        .graphql(query, json!({ "id": "garbage" }), Some(&admin))
        .await;
    assert_eq!(error_code(&garbage), "BAD_USER_INPUT");
    // "Account:999999" in base64url.
    let missing = app
        .graphql(query, json!({ "id": "QWNjb3VudDo5OTk5OTk" }), Some(&admin))
        .await;
    assert_eq!(error_code(&missing), "NOT_FOUND");
}

#[tokio::test]
async fn an_internal_failure_hides_its_detail() {
    let app = TestApp::spawn().await;
    let token = app.token_for(Role::Officer).await;
    // Corrupt the caller's stored role behind the service's back.
    app.db()
        .execute_unprepared("UPDATE accounts SET email = 'not an email'")
        .await
        .unwrap();
    let body = app
        .graphql("{ me { email } }", json!({}), Some(&token))
        .await;
    assert_eq!(error_code(&body), "INTERNAL");
    assert_eq!(body["errors"][0]["message"], "Internal server error.");
}

#[tokio::test]
async fn each_role_sees_only_the_accounts_its_view_holds_by_id_and_by_node() {
    let app = TestApp::spawn().await;
    let mut tokens = Vec::new();
    for role in [Role::Admin, Role::Officer, Role::Scrutiny, Role::Resident] {
        let token = app.token_for(role).await;
        let me = app.graphql("{ me { id } }", json!({}), Some(&token)).await;
        let id = me["data"]["me"]["id"].as_str().unwrap().to_owned();
        tokens.push((role, token, id));
    }
    let other_resident = app.token_for(Role::Resident).await;
    let by_id = "query($id: ID!) { account(id: $id) { id } }";
    let by_node = "query($id: ID!) { node(id: $id) { ... on Account { id } } }";
    let id_of = |role: Role| tokens.iter().find(|t| t.0 == role).unwrap().2.clone();
    // (viewer, whose account, seen?)
    let expected = [
        (Role::Admin, Role::Resident, true),
        (Role::Admin, Role::Officer, true),
        (Role::Officer, Role::Officer, true),
        (Role::Officer, Role::Scrutiny, true),
        (Role::Officer, Role::Admin, true),
        (Role::Officer, Role::Resident, false),
        (Role::Scrutiny, Role::Officer, true),
        (Role::Scrutiny, Role::Resident, false),
        (Role::Resident, Role::Resident, true),
        (Role::Resident, Role::Officer, false),
    ];
    for (viewer, whose, seen) in expected {
        let token = &tokens.iter().find(|t| t.0 == viewer).unwrap().1;
        let id = id_of(whose);
        // `account(id:)` is ADMIN's; `node(id:)` is everyone's, through the same view.
        let direct = app.graphql(by_id, json!({ "id": id }), Some(token)).await;
        if viewer == Role::Admin {
            assert_eq!(direct["data"]["account"]["id"], id, "{viewer} sees {whose}");
        } else {
            assert_eq!(error_code(&direct), "FORBIDDEN", "{direct}");
        }
        let node = app.graphql(by_node, json!({ "id": id }), Some(token)).await;
        if seen {
            assert_eq!(
                node["data"]["node"]["id"], id,
                "{viewer} sees {whose}: {node}"
            );
        } else {
            assert_eq!(
                error_code(&node),
                "NOT_FOUND",
                "{viewer} must not see {whose}"
            );
        }
    }
    // Another resident's account is out of view too; no one signed in sees none.
    let theirs = app
        .graphql(
            by_node,
            json!({ "id": id_of(Role::Resident) }),
            Some(&other_resident),
        )
        .await;
    assert_eq!(error_code(&theirs), "NOT_FOUND", "{theirs}");
    let anonymous = app
        .graphql(by_node, json!({ "id": id_of(Role::Officer) }), None)
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
}
