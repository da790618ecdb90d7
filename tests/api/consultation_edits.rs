//! Editing a draft consultation: only the fields named change.

use serde_json::{Value, json};

use civic_panel::domain::accounts::role::Role;

use crate::consultations::{CREATE, Member, ask_to_invite, fill_and_open, panel_with};
use crate::helpers::{TestApp, error_code};

const UPDATE: &str = "mutation($input: ConsultationUpdateInput!) {
    consultationUpdate(input: $input) { consultation { id } }
}";

const READ: &str = "query($id: ID!) { consultation(id: $id) {
    title summary anonymous panel { id } openLinkUrl opensAt closesAt readingAgeTarget
    maxReminders reminderGapHours sampleSize
    templates { inviteSubject inviteText reminderSubject reminderText smsText }
} }";

async fn read(app: &TestApp, officer: &str, id: &str) -> Value {
    let body = app.graphql(READ, json!({ "id": id }), Some(officer)).await;
    body["data"]["consultation"].clone()
}

async fn update(app: &TestApp, officer: &str, id: &str, changes: Value) -> Value {
    app.graphql(
        UPDATE,
        json!({ "input": { "consultationId": id, "consultation": changes } }),
        Some(officer),
    )
    .await
}

/// `before` with the fields of `changed` replaced: what a read should give after an edit.
fn with(before: &Value, changed: Value) -> Value {
    let mut after = before.clone();
    for (key, value) in changed.as_object().unwrap() {
        after[key] = value.clone();
    }
    after
}

#[tokio::test]
async fn editing_a_draft_changes_only_the_fields_named() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let member = Member {
        email: Some("member@example.org"),
        phone: None,
    };
    let (panel, _) = panel_with(&app, &officer, &[member]).await;
    let body = app
        .graphql(
            CREATE,
            json!({ "input": {
                "title": "Budget 2027", "summary": "Where should the money go?", "panelId": panel,
                "openLink": true, "closesAt": "2027-03-01T12:00:00Z", "maxReminders": 5,
                "reminderGapHours": 48, "readingAgeTarget": 11,
                "templates": {
                    "inviteSubject": "Have your say, {name}", "inviteText": "Answer here: {link}",
                    "reminderSubject": "A reminder", "reminderText": "Still time: {link}",
                    "smsText": "Have your say: {link}"
                }
            }}),
            Some(&officer),
        )
        .await;
    let id = body["data"]["consultationCreate"]["consultation"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let created = read(&app, &officer, &id).await;
    assert_eq!(created["panel"]["id"], panel.as_str(), "{created}");

    // A new title alone: everything else stays, the panel included.
    let body = update(&app, &officer, &id, json!({ "title": "Budget 2027/28" })).await;
    assert!(body["errors"].is_null(), "{body}");
    let after = read(&app, &officer, &id).await;
    assert_eq!(after, with(&created, json!({ "title": "Budget 2027/28" })));

    // One template: the other four stay.
    let body = update(
        &app,
        &officer,
        &id,
        json!({ "templates": { "smsText": "Tell us: {link}" } }),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    let before = after;
    let after = read(&app, &officer, &id).await;
    let mut templates = before["templates"].clone();
    templates["smsText"] = json!("Tell us: {link}");
    assert_eq!(after, with(&before, json!({ "templates": templates })));

    // Null clears a field that may be empty; the change is checked against what is
    // stored (an opening time after the stored close is refused, and changes nothing).
    let body = update(
        &app,
        &officer,
        &id,
        json!({ "opensAt": "2027-04-01T09:00:00Z" }),
    )
    .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(read(&app, &officer, &id).await, after);
    let body = update(
        &app,
        &officer,
        &id,
        json!({ "closesAt": null, "openLink": false }),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    let before = after;
    let after = read(&app, &officer, &id).await;
    assert_eq!(
        after,
        with(&before, json!({ "closesAt": null, "openLinkUrl": null }))
    );
    // Without the panel nothing would reach anyone: refused, naming the field.
    let body = update(&app, &officer, &id, json!({ "panelId": null })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.panelId");
    assert_eq!(read(&app, &officer, &id).await, after);

    // Opened after those edits, it still goes to its panel.
    fill_and_open(&app, &officer, &id).await;
    ask_to_invite(&app, &officer, &id)
        .await
        .unwrap_or_else(|body| panic!("the panel was kept: {body}"));
    app.run_jobs().await;
    // Once open, edits are refused.
    let body = update(&app, &officer, &id, json!({ "title": "Too late" })).await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
}

#[tokio::test]
async fn two_officers_editing_one_draft_at_once_keep_each_others_edits_and_never_a_bad_mix() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let body = app
        .graphql(
            CREATE,
            json!({ "input": { "title": "Parks", "openLink": true } }),
            Some(&officer),
        )
        .await;
    let id = body["data"]["consultationCreate"]["consultation"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let before = read(&app, &officer, &id).await;
    // Two templates, one each: both kept.
    let (a, b) = tokio::join!(
        update(
            &app,
            &officer,
            &id,
            json!({ "templates": { "smsText": "Parks survey: {link}" } })
        ),
        update(
            &app,
            &officer,
            &id,
            json!({ "templates": { "reminderText": "Last call: {link}" } })
        ),
    );
    assert!(a["errors"].is_null() && b["errors"].is_null(), "{a} {b}");
    let after = read(&app, &officer, &id).await;
    let mut templates = before["templates"].clone();
    templates["smsText"] = json!("Parks survey: {link}");
    templates["reminderText"] = json!("Last call: {link}");
    assert_eq!(after["templates"], templates);
    // An opening time and a closing time before it, at once: each is checked against the
    // other, so they never both land.
    let (a, b) = tokio::join!(
        update(
            &app,
            &officer,
            &id,
            json!({ "opensAt": "2027-05-01T09:00:00Z" })
        ),
        update(
            &app,
            &officer,
            &id,
            json!({ "closesAt": "2027-04-01T09:00:00Z" })
        ),
    );
    let refused: Vec<&Value> = [&a, &b]
        .into_iter()
        .filter(|body| !body["errors"].is_null())
        .collect();
    assert_eq!(refused.len(), 1, "{a} {b}");
    assert_eq!(error_code(refused[0]), "BAD_USER_INPUT", "{a} {b}");
    let after = read(&app, &officer, &id).await;
    assert!(
        after["opensAt"].is_null() || after["closesAt"].is_null(),
        "{after}"
    );
}
