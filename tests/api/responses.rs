//! Officers read what residents wrote: every response with its answers, free text
//! included, paged and filtered, and as CSV; which member gave which, logged; never
//! SCRUTINY's, and an anonymous consultation's responses are not told apart by day or way.

use serde_json::{Value, json};

use civic_panel::domain::accounts::role::Role;

use crate::consultations::{
    CREATE, ENTER, INVITE, Member, OPEN, QUESTIONS, SUBMIT, letters, mailed_tokens, panel_with,
};
use crate::helpers::{TestApp, csv_rows, error_code};

const RESPONSES: &str =
    "query($id: ID!, $first: Int, $after: String, $filter: ResponseFilterInput) {
    responses(consultationId: $id, first: $first, after: $after, filter: $filter) {
        pageInfo { hasNextPage }
        edges { cursor node { number channel invitationChannel submittedOn
            answers { questionKey options labels value text } } }
    }
}";

/// A survey with a question of each kind the export spreads over columns.
fn questions() -> Value {
    json!([
        { "key": "bins", "text": "How often should bins be emptied?", "kind": "SINGLE_CHOICE", "required": true,
          "options": [{ "key": "weekly", "label": "Every week" }, { "key": "fortnightly", "label": "Every two weeks" }] },
        { "key": "services", "text": "Which do you use?", "kind": "MULTIPLE_CHOICE", "maxChoices": 3,
          "options": [{ "key": "parks", "label": "Parks" }, { "key": "libraries", "label": "Libraries" },
                      { "key": "buses", "label": "Buses" }] },
        { "key": "priorities", "text": "Put these in order.", "kind": "RANKING",
          "options": [{ "key": "housing", "label": "Housing" }, { "key": "roads", "label": "Roads" }] },
        { "key": "satisfaction", "text": "How happy are you, from 0 to 10?", "kind": "RATING", "required": true },
        { "key": "comments", "text": "Anything else?", "kind": "FREE_TEXT", "maxChars": 500 }
    ])
}

/// Three members answer by email, the fourth on paper; the consultation's ID.
async fn answered(app: &TestApp, officer: &str, anonymous: bool) -> String {
    let members: Vec<Member> = (0..4)
        .map(|i| Member {
            email: (i < 3).then_some("member@example.org"),
            phone: None,
        })
        .collect();
    let (panel, _) = panel_with(app, officer, &members).await;
    let body = app
        .graphql(
            CREATE,
            json!({ "input": { "title": "Your services", "panelId": panel, "anonymous": anonymous } }),
            Some(officer),
        )
        .await;
    let id = body["data"]["consultationCreate"]["consultation"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let body = app
        .graphql(
            QUESTIONS,
            json!({ "input": { "consultationId": id, "questions": questions() } }),
            Some(officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    app.graphql(OPEN, json!({ "id": id }), Some(officer)).await;
    app.graphql(
        INVITE,
        json!({ "input": { "consultationId": id } }),
        Some(officer),
    )
    .await;
    app.run_jobs().await;
    let answers = [
        json!([{ "questionKey": "bins", "options": ["weekly"] },
               { "questionKey": "services", "options": ["parks", "buses"] },
               { "questionKey": "priorities", "options": ["roads", "housing"] },
               { "questionKey": "satisfaction", "value": 3 },
               { "questionKey": "comments", "text": "The BINS are never emptied on time." }]),
        json!([{ "questionKey": "bins", "options": ["fortnightly"] },
               { "questionKey": "satisfaction", "value": 9 }]),
        json!([{ "questionKey": "bins", "options": ["weekly"] },
               { "questionKey": "services", "options": ["libraries"] },
               { "questionKey": "satisfaction", "value": 8 },
               { "questionKey": "comments", "text": "=HYPERLINK(\"http://example.org\",\"bins\")" }]),
    ];
    for (token, answers) in mailed_tokens(app).iter().zip(answers) {
        let body = app
            .graphql(
                SUBMIT,
                json!({ "input": { "token": token, "answers": answers } }),
                None,
            )
            .await;
        assert_eq!(
            body["data"]["responseSubmit"]["stage"], "COMPLETED",
            "{body}"
        );
    }
    let code = letters(app, officer, &id).await[1][7].clone();
    let body = app
        .graphql(
            ENTER,
            json!({ "input": { "code": code, "channel": "PAPER", "answers": [
                { "questionKey": "bins", "options": ["fortnightly"] },
                { "questionKey": "satisfaction", "value": 5 },
                { "questionKey": "comments", "text": "Written on the form: more buses please." }
            ] } }),
            Some(officer),
        )
        .await;
    assert_eq!(
        body["data"]["responseEnter"]["stage"], "COMPLETED",
        "{body}"
    );
    id
}

async fn read(app: &TestApp, token: &str, variables: Value) -> Value {
    app.graphql(RESPONSES, variables, Some(token)).await
}

fn nodes(body: &Value) -> Vec<Value> {
    body["data"]["responses"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn numbers(body: &Value) -> Vec<u64> {
    nodes(body)
        .iter()
        .map(|n| n["number"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn an_officer_reads_every_response_with_its_free_text_and_finds_comments_by_filter() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let id = answered(&app, &officer, false).await;
    let body = read(&app, &officer, json!({ "id": id })).await;
    let all = nodes(&body);
    assert_eq!(numbers(&body), [1, 2, 3, 4], "{body}");
    let first = &all[0];
    assert_eq!(first["channel"], "WEB");
    assert_eq!(first["invitationChannel"], "EMAIL");
    assert!(first["submittedOn"].is_string());
    assert_eq!(
        first["answers"],
        json!([
            { "questionKey": "bins", "options": ["weekly"], "labels": ["Every week"], "value": null, "text": null },
            { "questionKey": "services", "options": ["parks", "buses"], "labels": ["Parks", "Buses"], "value": null, "text": null },
            { "questionKey": "priorities", "options": ["roads", "housing"], "labels": ["Roads", "Housing"], "value": null, "text": null },
            { "questionKey": "satisfaction", "options": [], "labels": [], "value": 3, "text": null },
            { "questionKey": "comments", "options": [], "labels": [], "value": null, "text": "The BINS are never emptied on time." }
        ])
    );
    let day: chrono::NaiveDate = first["submittedOn"].as_str().unwrap().parse().unwrap();
    let next_day = day.succ_opt().unwrap();
    assert_eq!(all[3]["channel"], "PAPER");
    assert_eq!(all[3]["invitationChannel"], "POST");

    // Pages keep each response's number.
    let body = read(&app, &officer, json!({ "id": id, "first": 2 })).await;
    assert_eq!(numbers(&body), [1, 2]);
    assert_eq!(body["data"]["responses"]["pageInfo"]["hasNextPage"], true);
    let cursor = body["data"]["responses"]["edges"][1]["cursor"].clone();
    let body = read(
        &app,
        &officer,
        json!({ "id": id, "first": 2, "after": cursor }),
    )
    .await;
    assert_eq!(numbers(&body), [3, 4]);
    assert_eq!(body["data"]["responses"]["pageInfo"]["hasNextPage"], false);

    // Filters, each keeping the numbers.
    for (filter, want) in [
        (json!({ "text": "bins" }), vec![1, 3]),
        (json!({ "text": "more BUSES" }), vec![4]),
        (json!({ "text": "%" }), vec![]),
        (json!({ "text": "_" }), vec![]),
        (json!({ "channels": ["PAPER"] }), vec![4]),
        (
            json!({ "answers": [{ "questionKey": "satisfaction", "min": 5, "max": 8 }] }),
            vec![3, 4],
        ),
        (
            json!({ "answers": [{ "questionKey": "services", "options": ["parks", "libraries"] }] }),
            vec![1, 3],
        ),
        (
            json!({ "answers": [{ "questionKey": "comments", "answered": false }] }),
            vec![2],
        ),
        (
            json!({ "answers": [{ "questionKey": "bins", "options": ["weekly"] }], "text": "hyperlink" }),
            vec![3],
        ),
        (
            json!({ "submittedFrom": day, "submittedTo": day }),
            vec![1, 2, 3, 4],
        ),
        (json!({ "submittedFrom": next_day }), vec![]),
    ] {
        let body = read(&app, &officer, json!({ "id": id, "filter": filter })).await;
        assert_eq!(numbers(&body), want, "{filter}: {body}");
    }
    for (filter, field) in [
        (
            json!({ "answers": [{ "questionKey": "nope" }] }),
            "filter.answers.0.questionKey",
        ),
        (
            json!({ "answers": [{ "questionKey": "bins", "options": ["daily"] }] }),
            "filter.answers.0.options",
        ),
        (
            json!({ "answers": [{ "questionKey": "bins", "min": 1 }] }),
            "filter.answers.0.min",
        ),
        (
            json!({ "submittedFrom": "2026-12-02", "submittedTo": "2026-12-01" }),
            "filter.submittedTo",
        ),
        (json!({ "text": "" }), "filter.text"),
        (
            json!({ "answers": [{ "questionKey": "bins", "options": ["weekly"], "answered": false }] }),
            "filter.answers.0.answered",
        ),
        (
            json!({ "answers": [{ "questionKey": "satisfaction", "min": 8, "max": 5 }] }),
            "filter.answers.0.max",
        ),
    ] {
        let body = read(&app, &officer, json!({ "id": id, "filter": filter })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    // Never SCRUTINY's, nor a resident's.
    for role in [Role::Scrutiny, Role::Resident] {
        let token = app.token_for(role).await;
        let body = read(&app, &token, json!({ "id": id })).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{role}: {body}");
    }
    // Every read is in the audit log, with how many responses it gave.
    let admin = app.token_for(Role::Admin).await;
    let body = app
        .graphql(
            "{ auditEntries(first: 100) { edges { node { action records } } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let reads: Vec<u64> = body["data"]["auditEntries"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .filter(|e| e["node"]["action"] == "responses.read")
        .map(|e| e["node"]["records"].as_u64().unwrap())
        .collect();
    assert_eq!(
        reads.first(),
        Some(&0),
        "the last good read found none: {body}"
    );
    // The whole list, its two pages, and each of the eleven filters.
    assert_eq!(reads.len(), 14, "{body}");
    assert_eq!(reads[reads.len() - 3..], [2, 2, 4], "{body}");
}

#[tokio::test]
async fn the_responses_export_has_a_column_per_question_and_option_and_its_downloads_are_logged() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let id = answered(&app, &officer, false).await;
    let uri = format!("/exports/consultations/{id}/responses.csv");
    let file = app.get(&uri, Some(&officer)).await;
    assert_eq!(file.status, 200, "{}", file.text);
    assert!(
        file.bytes.starts_with("\u{feff}".as_bytes()),
        "a byte-order mark for Excel"
    );
    let rows = csv_rows(&file.bytes[3..]);
    assert_eq!(
        rows[0],
        [
            "response_number",
            "channel",
            "submitted_on",
            "bins",
            "services:parks",
            "services:libraries",
            "services:buses",
            "priorities:housing",
            "priorities:roads",
            "satisfaction",
            "comments"
        ]
    );
    assert_eq!(rows.len(), 5);
    let day = rows[1][2].clone();
    assert_eq!(
        rows[1],
        [
            "1",
            "web",
            day.as_str(),
            "Every week",
            "1",
            "0",
            "1",
            "2",
            "1",
            "3",
            "The BINS are never emptied on time."
        ]
    );
    assert_eq!(
        rows[2][3..],
        ["Every two weeks", "", "", "", "", "", "9", ""]
    );
    // A formula a resident typed is text to a spreadsheet.
    assert_eq!(rows[3][10], "'=HYPERLINK(\"http://example.org\",\"bins\")");
    assert_eq!(rows[4][1], "paper");
    assert!(!file.text.contains("Member "), "no names: {}", file.text);
    assert!(!file.text.contains("@example.org"), "no contact details");

    // Which member gave which: numbers the selection CSVs and lottery texts use.
    let members = app
        .get(
            &format!("/exports/consultations/{id}/response-members.csv"),
            Some(&officer),
        )
        .await;
    assert_eq!(members.status, 200, "{}", members.text);
    let rows = csv_rows(&members.bytes[3..]);
    assert_eq!(
        rows[0],
        ["response_number", "resident_number", "invitation_channel"]
    );
    assert_eq!(rows.len(), 5);
    assert_eq!((rows[1][0].as_str(), rows[1][2].as_str()), ("1", "email"));
    assert_eq!(rows[4][2], "post");
    assert!(
        rows[1..].iter().all(|r| r[1].parse::<i64>().is_ok()),
        "{rows:?}"
    );

    // Neither is SCRUTINY's or a resident's.
    for role in [Role::Scrutiny, Role::Resident] {
        let token = app.token_for(role).await;
        for path in ["responses.csv", "response-members.csv"] {
            let refused = app
                .get(&format!("/exports/consultations/{id}/{path}"), Some(&token))
                .await;
            assert_eq!(refused.status, 403, "{role} {path}: {}", refused.text);
        }
    }
    // Both downloads are in the audit log, which ADMIN reads.
    let admin = app.token_for(Role::Admin).await;
    let body = app
        .graphql(
            "{ auditEntries { edges { node { action subject records accountId at } } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let entries: Vec<&Value> = body["data"]["auditEntries"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| &e["node"])
        .collect();
    let consultation_number = {
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(id.as_bytes())
            .unwrap();
        String::from_utf8(raw)
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(entries.len(), 2, "{body}");
    assert_eq!(entries[0]["action"], "response_members.export");
    assert_eq!(entries[1]["action"], "responses.export");
    for entry in &entries {
        assert_eq!(
            entry["subject"],
            format!("consultation:{consultation_number}")
        );
        assert_eq!(entry["records"], 4);
        assert!(entry["accountId"].is_string());
    }
    let body = app
        .graphql(
            "{ auditEntries { edges { cursor } } }",
            json!({}),
            Some(&officer),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
}

#[tokio::test]
async fn an_anonymous_consultations_responses_give_their_answers_but_not_their_day_or_way() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let id = answered(&app, &officer, true).await;
    // While it is open, a response appearing beside a completion would pair the two.
    let body = read(&app, &officer, json!({ "id": id })).await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    let uri = format!("/exports/consultations/{id}/responses.csv");
    assert_eq!(app.get(&uri, Some(&officer)).await.status, 409);
    let body = app
        .graphql(
            "mutation($id: ID!) { consultationClose(input: { consultationId: $id }) { consultation { status } } }",
            json!({ "id": id }),
            Some(&officer),
        )
        .await;
    assert_eq!(
        body["data"]["consultationClose"]["consultation"]["status"], "CLOSED",
        "{body}"
    );
    let body = read(&app, &officer, json!({ "id": id })).await;
    let all = nodes(&body);
    assert_eq!(numbers(&body), [1, 2, 3, 4], "{body}");
    for node in &all {
        assert!(node["channel"].is_null(), "{node}");
        assert!(node["invitationChannel"].is_null(), "{node}");
        assert!(node["submittedOn"].is_null(), "{node}");
    }
    // Numbered in a keyed shuffle, not in the order they came, and the same on every read.
    let comment = |answers: &Value| {
        answers
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["questionKey"] == "comments")
            .map(|a| a["text"].as_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let shown: Vec<String> = all.iter().map(|n| comment(&n["answers"])).collect();
    let arrival = [
        "The BINS are never emptied on time.",
        "",
        "=HYPERLINK(\"http://example.org\",\"bins\")",
        "Written on the form: more buses please.",
    ];
    assert_ne!(shown, arrival, "{body}");
    let mut sorted = shown.clone();
    sorted.sort();
    let mut expected: Vec<String> = arrival.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(sorted, expected);
    assert_eq!(nodes(&read(&app, &officer, json!({ "id": id })).await), all);
    let body = read(&app, &officer, json!({ "id": id, "first": 2 })).await;
    let cursor = body["data"]["responses"]["edges"][1]["cursor"].clone();
    let body = read(
        &app,
        &officer,
        json!({ "id": id, "first": 2, "after": cursor }),
    )
    .await;
    assert_eq!(nodes(&body), all[2..].to_vec(), "pages follow the shuffle");
    for (filter, field) in [
        (json!({ "channels": ["PAPER"] }), "filter.channels"),
        (
            json!({ "submittedFrom": "2026-01-01" }),
            "filter.submittedFrom",
        ),
    ] {
        let body = read(&app, &officer, json!({ "id": id, "filter": filter })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    // The export has no day or way, and numbers them as the view does.
    let file = app.get(&uri, Some(&officer)).await;
    let rows = csv_rows(&file.bytes[3..]);
    assert_eq!(rows[0][..2], ["response_number", "bins"]);
    let column = rows[0].iter().position(|c| c == "comments").unwrap();
    let exported: Vec<String> = rows[1..].iter().map(|r| r[column].clone()).collect();
    let safe: Vec<String> = shown
        .iter()
        .map(|c| {
            if c.starts_with('=') {
                format!("'{c}")
            } else {
                c.clone()
            }
        })
        .collect();
    assert_eq!(exported, safe);
    let members = app
        .get(
            &format!("/exports/consultations/{id}/response-members.csv"),
            Some(&officer),
        )
        .await;
    assert_eq!(members.status, 409, "{}", members.text);
}
