//! No N+1 queries, for every list in the schema: a page of one item and a page of several
//! cost the same number of statements, with every relation an item can reach asked for
//! (nested lists included), because relations are loaded per request for all the items at
//! once. The lists are read from `schema.graphql`, so a new list without an entry here
//! fails.
//!
//! Documents of one object (a run's lottery text and CSVs, a report) are not relations and
//! are left out: they are read for one object at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use civic_panel::db::entities::{account, resident, selection_run};
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::ids::PanelId;
use civic_panel::domain::selection::Method;

use crate::consultations::{SUBMIT, full_answers, invite, mailed_tokens, open_survey};
use crate::helpers::TestApp;

/// Each list, as `Type.field`, with a query asking for it and every relation of its items.
/// `$consultation` is a consultation of the world, for the lists under one.
const LISTS: &[(&str, &str)] = &[
    (
        "Query.accounts",
        "{ accounts(first: 10) { nodes { id email role } } }",
    ),
    (
        "Query.auditEntries",
        "{ auditEntries(first: 10) { nodes { id action subject accountId } } }",
    ),
    (
        "Query.consultations",
        "{ consultations(first: 10) { nodes { id title panel { id name createdBy { email } }
            progress { channel invited completed } questions { key options { key } }
            responseCounts { channel count }
            invitations(first: 3) { nodes { id stage residentId } } } } }",
    ),
    (
        "Query.jobs",
        "{ jobs(first: 10) { nodes { id kind createdBy { email }
            result { ... on ConsultationInvited { consultationId email } } } } }",
    ),
    (
        "Query.myInvitations",
        "{ myInvitations(first: 10) { nodes { invitationId title status stage } } }",
    ),
    (
        "Query.panels",
        "{ panels(first: 10) { nodes { id name createdBy { email } memberCounts { status count }
            quotas { feature value }
            memberships(first: 3) { nodes { id residentNumber status events { to at } } }
            selectionRuns(first: 3) { nodes { id method panel { id } job { id } } } } } }",
    ),
    (
        "Query.recruitmentRounds",
        "{ recruitmentRounds(first: 10) { nodes { id name createdBy { email }
            status { total { drawn registrations } }
            incentiveClaims(first: 3) { nodes { residentId fullName } } } } }",
    ),
    (
        "Query.responses",
        "query($consultation: ID!) { responses(consultationId: $consultation, first: 50) {
            nodes { number channel answers { questionKey value options text } } } }",
    ),
    (
        "Consultation.invitations",
        "{ consultations(first: 10) { nodes { invitations(first: 3) { nodes { id } } } } }",
    ),
    (
        "Panel.memberships",
        "{ panels(first: 10) { nodes { memberships(first: 3) { nodes { id events { to at } } } } } }",
    ),
    (
        "Panel.selectionRuns",
        "{ panels(first: 10) { nodes { selectionRuns(first: 3) { nodes { id job { id } } } } } }",
    ),
    (
        "RecruitmentRound.incentiveClaims",
        "{ recruitmentRounds(first: 10) { nodes { incentiveClaims(first: 3) { nodes { residentId } } } } }",
    ),
];

/// Every `Type.field` of the schema that is a list of records (a connection).
fn lists_in_schema() -> Vec<String> {
    let schema =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    let mut found = Vec::new();
    let mut owner = String::new();
    let mut field = String::new();
    for line in schema.lines() {
        if let Some(rest) = line.strip_prefix("type ") {
            owner = rest.split_whitespace().next().unwrap_or("").to_owned();
            continue;
        }
        let trimmed = line.trim();
        if line.starts_with('\t')
            && !line.starts_with("\t\t")
            && !trimmed.starts_with(['"', ')'])
            && let Some(name) = trimmed.split(['(', ':']).next()
            && !name.is_empty()
        {
            field = name.to_owned();
        }
        if trimmed.contains("Connection!") && !owner.ends_with("Connection") {
            found.push(format!("{owner}.{field}"));
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn every_list_of_the_schema_has_an_entry_here() {
    let listed: Vec<&str> = LISTS.iter().map(|l| l.0).collect();
    let lists = lists_in_schema();
    assert!(lists.len() >= 12, "{lists:?}");
    for list in &lists {
        assert!(
            listed.contains(&list.as_str()),
            "{list} has no entry in LISTS"
        );
    }
}

/// One more of everything: a panel of two members (the first of them the signed-in
/// resident's) from a round of letters, a survey sent to it with one response, and a
/// selection run; the token of the member who has not answered.
async fn add_world(
    app: &TestApp,
    officer: &str,
    resident_account: civic_panel::domain::ids::AccountId,
    n: usize,
) -> (String, String) {
    let (panel, residents) = app
        .named_panel_of_residents(officer, &format!("Panel {n}"), 2, |i, row| {
            resident::ActiveModel {
                full_name: Set(format!("Member {n}.{i}")),
                email: Set(Some(format!("member{n}.{i}@example.org"))),
                ..row
            }
        })
        .await;
    resident::Entity::update_many()
        .col_expr(
            resident::Column::AccountId,
            sea_orm::sea_query::Expr::value(resident_account),
        )
        .filter(resident::Column::Id.eq(residents[0]))
        .exec(app.db())
        .await
        .unwrap();
    let before: Vec<String> = mailed_tokens(app);
    let consultation = open_survey(app, officer, Some(&panel), false).await;
    invite(app, officer, &consultation).await;
    // An account, and an audit entry (officers' reads of responses are logged).
    app.create_account(Role::Officer, &format!("officer{n}@example.org"))
        .await;
    let body = app
        .graphql(
            "query($id: ID!) { responses(consultationId: $id) { nodes { number } } }",
            json!({ "id": consultation }),
            Some(officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let mut tokens = mailed_tokens(app)
        .into_iter()
        .filter(|t| !before.contains(t));
    submit(app, &tokens.next().unwrap()).await;
    let unanswered = tokens.next().unwrap();
    let panel_id = civic_panel::global_id::decode::<PanelId>(&panel, "id").unwrap();
    let now = app.clock.now();
    selection_run::Entity::insert(selection_run::ActiveModel {
        panel_id: Set(panel_id),
        job_id: Set(None),
        top_up: Set(false),
        method: Set(Method::Leximin),
        seed: Set(n.to_string()),
        k: Set(2),
        tickets: Set(1000),
        greedy_runs: Set(0),
        time_limit_seconds: Set(60),
        quotas: Set("[]".to_owned()),
        as_of: Set(now),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap();
    (consultation, unanswered)
}

/// Submits the Corporate Plan survey's answers with an invitation's token.
async fn submit(app: &TestApp, token: &str) {
    let body = app
        .graphql(
            SUBMIT,
            json!({ "input": { "token": token, "answers": full_answers("no") } }),
            None,
        )
        .await;
    assert_eq!(
        body["data"]["responseSubmit"]["stage"], "COMPLETED",
        "{body}"
    );
}

/// A resident account and its session token, to be linked to residents of the worlds.
async fn signed_in_resident(app: &TestApp) -> (civic_panel::domain::ids::AccountId, String) {
    app.create_account(Role::Resident, "me@example.org").await;
    let me = account::Entity::find()
        .filter(account::Column::Email.eq("me@example.org"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id;
    (
        me,
        app.log_in("me@example.org", crate::helpers::PASSWORD).await,
    )
}

/// Statements `query` runs, and the length of the list it asks for (the first list of
/// `nodes` met, depth first).
async fn statements_for(
    app: &TestApp,
    token: &str,
    counter: &AtomicUsize,
    query: &str,
    variables: Value,
) -> (usize, usize) {
    let before = counter.load(Ordering::SeqCst);
    let body = app.graphql(query, variables, Some(token)).await;
    assert!(body["errors"].is_null(), "{query}: {body}");
    fn innermost(value: &Value) -> Option<usize> {
        match value {
            Value::Object(map) => map.iter().find_map(|(k, v)| match (k.as_str(), v) {
                ("nodes", Value::Array(items)) => Some(
                    items
                        .iter()
                        .filter_map(innermost)
                        .max()
                        .map_or(items.len(), |inner| inner.max(items.len())),
                ),
                _ => innermost(v),
            }),
            _ => None,
        }
    }
    let items = innermost(&body["data"]).unwrap_or(0);
    (counter.load(Ordering::SeqCst) - before, items)
}

#[tokio::test]
async fn every_list_costs_the_same_statements_for_one_item_or_three() {
    let counter = Arc::new(AtomicUsize::new(0));
    let app = TestApp::spawn_counting(Arc::clone(&counter)).await;
    let officer = app.token_for(Role::Officer).await;
    let admin = app.token_for(Role::Admin).await;
    let (me, resident) = signed_in_resident(&app).await;
    let (first, unanswered) = add_world(&app, &officer, me, 0).await;
    let token_of = |list: &str| match list {
        "Query.myInvitations" => resident.clone(),
        "Query.accounts" | "Query.auditEntries" => admin.clone(),
        _ => officer.clone(),
    };
    let mut one = Vec::new();
    for (list, query) in LISTS {
        let variables = json!({ "consultation": first });
        one.push(statements_for(&app, &token_of(list), &counter, query, variables).await);
    }
    for n in 1..3 {
        add_world(&app, &officer, me, n).await;
    }
    submit(&app, &unanswered).await;
    let mut report = Vec::new();
    for ((list, query), (one_statements, one_items)) in LISTS.iter().zip(&one) {
        let variables = json!({ "consultation": first });
        let (statements, items) =
            statements_for(&app, &token_of(list), &counter, query, variables).await;
        report.push(format!(
            "{list}: {one_statements} statements for {one_items} items, {statements} for {items}"
        ));
        assert!(
            items > *one_items,
            "{list}: {one_items} items, then {items}"
        );
    }
    let costly: Vec<&String> = report
        .iter()
        .filter(|line| {
            let numbers: Vec<usize> = line
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            numbers[0] != numbers[2]
        })
        .collect();
    assert!(costly.is_empty(), "{report:#?}");
}

/// The `nodes` and `pageInfo` of the connection at `path` in `body`.
fn page_at<'a>(body: &'a Value, path: &[&str]) -> (&'a Vec<Value>, &'a Value) {
    let mut at = &body["data"];
    for step in path {
        at = &at[*step];
    }
    (
        at["nodes"].as_array().unwrap_or_else(|| panic!("{body}")),
        &at["pageInfo"],
    )
}

#[tokio::test]
async fn lists_page_by_cursor_newest_first_and_a_nested_list_pages_past_its_first_page() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let (me, resident) = signed_in_resident(&app).await;
    let mut consultations = Vec::new();
    for n in 0..3 {
        consultations.push(add_world(&app, &officer, me, n).await.0);
    }
    // Panels and consultations: two, then the rest after the cursor, newest first.
    for (list, token) in [("panels", &officer), ("consultations", &officer)] {
        let query = format!(
            "query($after: String) {{ {list}(first: 2, after: $after) {{
                nodes {{ id }} pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        let body = app.graphql(&query, json!({}), Some(token)).await;
        let (nodes, info) = page_at(&body, &[list]);
        assert_eq!(nodes.len(), 2, "{body}");
        assert_eq!(info["hasNextPage"], true, "{body}");
        let cursor = info["endCursor"].clone();
        let body = app
            .graphql(&query, json!({ "after": cursor }), Some(token))
            .await;
        let (rest, info) = page_at(&body, &[list]);
        assert_eq!(rest.len(), 1, "{body}");
        assert_eq!(info["hasNextPage"], false, "{body}");
        if list == "consultations" {
            assert_eq!(rest[0]["id"], consultations[0].as_str(), "the oldest last");
            assert_eq!(
                nodes[0]["id"],
                consultations[2].as_str(),
                "the newest first"
            );
        }
    }
    // The resident's invitations, one a page.
    let query = "query($after: String) { myInvitations(first: 1, after: $after) {
        nodes { invitationId } pageInfo { hasNextPage endCursor } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let body = app
            .graphql(query, json!({ "after": after }), Some(&resident))
            .await;
        let (nodes, info) = page_at(&body, &["myInvitations"]);
        seen.extend(nodes.iter().map(|n| n["invitationId"].clone()));
        if info["hasNextPage"] != true {
            break;
        }
        after = info["endCursor"].clone();
    }
    assert_eq!(seen.len(), 3, "one invitation a consultation: {seen:?}");
    // A nested list past its first page is read alone, and goes on where the first stopped.
    let query = "query($id: ID!, $after: String) { consultation(id: $id) {
        invitations(first: 1, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } } }";
    let body = app
        .graphql(query, json!({ "id": consultations[1] }), Some(&officer))
        .await;
    let (first, info) = page_at(&body, &["consultation", "invitations"]);
    assert_eq!(
        (first.len(), &info["hasNextPage"]),
        (1, &json!(true)),
        "{body}"
    );
    let body = app
        .graphql(
            query,
            json!({ "id": consultations[1], "after": info["endCursor"] }),
            Some(&officer),
        )
        .await;
    let (second, info) = page_at(&body, &["consultation", "invitations"]);
    assert_eq!(second.len(), 1, "{body}");
    assert_ne!(second[0]["id"], first[0]["id"]);
    assert_eq!(info["hasNextPage"], false, "{body}");
}
