//! Every root field names who may use it; every role that may not is refused.
//!
//! `ACCESS` is the whole table. A test fails when the schema gains a root field that is
//! not in it, so no field can ship without a decision about who may call it.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use civic_panel::domain::role::Role;

use crate::helpers::{TestApp, error_code};

/// Who may call a root field.
enum Access {
    /// Anyone, logged in or not.
    Public,
    /// Any logged-in account.
    AnyAccount,
    /// Only these roles (ADMIN is always allowed).
    Roles(&'static [Role]),
}

/// (root field, access, a document that calls it).
const ACCESS: &[(&str, Access, &str)] = &[
    ("Query.me", Access::AnyAccount, "{ me { id } }"),
    (
        "Query.account",
        Access::Roles(&[Role::Admin]),
        r#"{ account(id: "QWNjb3VudDox") { id } }"#,
    ),
    (
        "Query.accounts",
        Access::Roles(&[Role::Admin]),
        "{ accounts { edges { cursor } } }",
    ),
    (
        "Mutation.accountCreate",
        Access::Roles(&[Role::Admin]),
        r#"mutation { accountCreate(input: { email: "n@example.org", displayName: "N", role: OFFICER, password: "long enough password" }) { account { id } } }"#,
    ),
    (
        "Mutation.sessionCreate",
        Access::Public,
        r#"mutation { sessionCreate(input: { email: "x@example.org", password: "x" }) { token } }"#,
    ),
    (
        "Mutation.sessionRevoke",
        Access::AnyAccount,
        "mutation { sessionRevoke { revokedCount } }",
    ),
];

async fn root_fields(app: &TestApp) -> BTreeSet<String> {
    let body = app
        .graphql(
            "{ __schema { queryType { name fields { name } } mutationType { name fields { name } } } }",
            json!({}),
            None,
        )
        .await;
    let mut names = BTreeSet::new();
    for root in ["queryType", "mutationType"] {
        let root_type: &Value = &body["data"]["__schema"][root];
        for field in root_type["fields"].as_array().unwrap() {
            names.insert(format!(
                "{}.{}",
                root_type["name"].as_str().unwrap(),
                field["name"].as_str().unwrap()
            ));
        }
    }
    names
}

#[tokio::test]
async fn every_root_field_has_an_access_rule() {
    let app = TestApp::spawn().await;
    let listed: BTreeSet<String> = ACCESS
        .iter()
        .map(|(name, _, _)| (*name).to_owned())
        .collect();
    assert_eq!(
        root_fields(&app).await,
        listed,
        "add new root fields to ACCESS in tests/api/roles.rs"
    );
}

#[tokio::test]
async fn anonymous_callers_are_refused_every_non_public_field() {
    let app = TestApp::spawn().await;
    for (name, access, document) in ACCESS {
        if matches!(access, Access::Public) {
            continue;
        }
        let body = app.graphql(document, json!({}), None).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{name}");
    }
}

#[tokio::test]
async fn each_role_is_refused_every_field_it_is_not_granted() {
    let app = TestApp::spawn().await;
    let mut refusals = 0;
    for role in [Role::Officer, Role::Scrutiny, Role::Resident] {
        let token = app.token_for(role).await;
        for (name, access, document) in ACCESS {
            let Access::Roles(allowed) = access else {
                continue;
            };
            if role.is_any_of(allowed) {
                continue;
            }
            let body = app.graphql(document, json!({}), Some(&token)).await;
            assert_eq!(
                error_code(&body),
                "FORBIDDEN",
                "{role} calling {name}: {body}"
            );
            refusals += 1;
        }
    }
    // Three ADMIN-only fields, refused to three roles.
    assert_eq!(refusals, 9);
}

#[tokio::test]
async fn the_admin_may_call_every_field() {
    let app = TestApp::spawn().await;
    let token = app.token_for(Role::Admin).await;
    for (name, _, document) in ACCESS {
        if name.ends_with("sessionRevoke") || name.ends_with("sessionCreate") {
            continue;
        }
        let body = app.graphql(document, json!({}), Some(&token)).await;
        let code = body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("none");
        assert!(
            code != "FORBIDDEN" && code != "UNAUTHENTICATED",
            "{name}: {body}"
        );
    }
}
