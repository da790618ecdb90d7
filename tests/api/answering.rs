//! Answering as residents meet it: a postal letter's code opens and answers the
//! invitation online, and a follow-up answered before its earlier question was changed is
//! dropped on submit rather than blocking it.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use civic_panel::db::entities::{answer, response};
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::consultations::consultation::AnswerChannel;

use crate::consultations::{
    BY_TOKEN, CREATE, ENTER, Member, OPEN, QUESTIONS, SAVE, SUBMIT, full_answers, invite, letters,
    mailed_token, open_survey, panel_with, progress,
};
use crate::helpers::{TestApp, assert_refused, error_code};

/// A consultation sent by post to one member: its ID and the letter's code as printed.
async fn posted(app: &TestApp, officer: &str) -> (String, String) {
    let (panel, _) = panel_with(
        app,
        officer,
        &[Member {
            email: None,
            phone: None,
        }],
    )
    .await;
    let consultation = open_survey(app, officer, Some(&panel), false).await;
    invite(app, officer, &consultation).await;
    let rows = letters(app, officer, &consultation).await;
    assert_eq!(rows.len(), 2, "one letter: {rows:?}");
    let (code, url) = (rows[1][7].clone(), rows[1][8].clone());
    assert!(
        url.ends_with(&format!("/c?code={}", code.replace('-', ""))),
        "{url} carries {code}"
    );
    (consultation, code)
}

/// The same code with two neighbouring symbols swapped: a typing mistake.
fn swapped(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    let (a, b) = (0..chars.len() - 1)
        .map(|i| (i, i + 1))
        .find(|&(i, j)| chars[i] != chars[j] && chars[i] != '-' && chars[j] != '-')
        .unwrap();
    chars.swap(a, b);
    chars.into_iter().collect()
}

fn answer_keys(rows: &[answer::Model]) -> Vec<&str> {
    let mut keys: Vec<&str> = rows.iter().map(|a| a.question_key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

#[tokio::test]
async fn a_resident_opens_and_answers_their_postal_letter_online_with_its_code() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let (consultation, code) = posted(&app, &officer).await;
    let post = progress(&app, &officer, &consultation, "POST").await;
    assert_eq!(
        (&post["sent"], &post["clicked"]),
        (&json!(1), &json!(0)),
        "{post}"
    );

    // As printed, with the hyphen: the invitation opens, and counts as the link followed.
    let body = app.graphql(BY_TOKEN, json!({ "token": code }), None).await;
    let invited = &body["data"]["invitationByToken"];
    assert_eq!(
        invited["consultation"]["title"], "Our Corporate Plan",
        "{body}"
    );
    assert_eq!(invited["stage"], "CLICKED", "{body}");
    let post = progress(&app, &officer, &consultation, "POST").await;
    assert_eq!(post["clicked"], 1, "{post}");
    // As the letter's URL carries it, and typed in lower case with spaces.
    for typed in [code.replace('-', ""), code.to_lowercase().replace('-', " ")] {
        let body = app.graphql(BY_TOKEN, json!({ "token": typed }), None).await;
        assert_eq!(
            body["data"]["invitationByToken"]["stage"], "CLICKED",
            "{body}"
        );
    }
    // A typing mistake is caught by the check symbol, saying so.
    let body = app
        .graphql(BY_TOKEN, json!({ "token": swapped(&code) }), None)
        .await;
    assert_refused(&body, "BAD_USER_INPUT", "typing mistake");

    // Saved as they go, then submitted with the code: the same stages as a link.
    let body = app
        .graphql(
            SAVE,
            json!({ "input": { "token": code, "answers": [{ "questionKey": "satisfaction", "value": 7 }] } }),
            None,
        )
        .await;
    assert_eq!(body["data"]["answersSave"]["stage"], "STARTED", "{body}");
    let body = app
        .graphql(
            SUBMIT,
            json!({ "input": { "token": code.to_lowercase(), "answers": full_answers("no") } }),
            None,
        )
        .await;
    assert_eq!(
        body["data"]["responseSubmit"]["stage"], "COMPLETED",
        "{body}"
    );
    let post = progress(&app, &officer, &consultation, "POST").await;
    assert_eq!(
        (&post["clicked"], &post["started"], &post["completed"]),
        (&json!(1), &json!(1), &json!(1)),
        "{post}"
    );
    let stored = response::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.channel, AnswerChannel::Web);
    // Once answered, a second submit changes nothing.
    let body = app
        .graphql(
            SUBMIT,
            json!({ "input": { "token": code, "answers": full_answers("no") } }),
            None,
        )
        .await;
    assert_eq!(body["data"]["responseSubmit"]["duplicate"], true, "{body}");
}

#[tokio::test]
async fn unknown_letter_codes_are_limited_like_registration_codes_while_the_real_one_still_opens() {
    use civic_panel::domain::recruitment::invitation_code::InvitationCode;
    let app = TestApp::spawn_with(|config| config.redeem_max_failures_per_client = 3).await;
    let officer = app.token_for(Role::Officer).await;
    let (_, code) = posted(&app, &officer).await;
    // Typing mistakes are not guesses: never counted.
    for _ in 0..5 {
        let body = app
            .graphql(BY_TOKEN, json!({ "token": swapped(&code) }), None)
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    }
    let guess = || InvitationCode::generate(&mut rand::rng()).display();
    for _ in 0..3 {
        let body = app
            .graphql(BY_TOKEN, json!({ "token": guess() }), None)
            .await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    }
    let body = app
        .graphql(BY_TOKEN, json!({ "token": guess() }), None)
        .await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    let body = app
        .graphql(
            SAVE,
            json!({ "input": { "token": guess(), "answers": [{ "questionKey": "satisfaction", "value": 7 }] } }),
            None,
        )
        .await;
    assert_eq!(
        error_code(&body),
        "RATE_LIMITED",
        "saving counts too: {body}"
    );
    // Registration codes and letter codes share the limits.
    let body = app
        .graphql(
            crate::helpers::REGISTER,
            json!({ "input": {
                "code": guess(), "fullName": "Guess", "email": "guess@example.org",
                "dateOfBirth": "1990-01-01", "sex": "FEMALE", "ethnicGroup": "WHITE_BRITISH",
                "disability": "NOT_DISABLED", "consent": true
            }}),
            None,
        )
        .await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    // The real code still opens from the same address.
    let body = app.graphql(BY_TOKEN, json!({ "token": code }), None).await;
    assert_eq!(
        body["data"]["invitationByToken"]["stage"], "CLICKED",
        "{body}"
    );
}

#[tokio::test]
async fn a_follow_up_answered_before_its_question_changed_is_dropped_on_submit() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let member = Member {
        email: Some("a@example.org"),
        phone: None,
    };
    let (panel, _) = panel_with(&app, &officer, &[member]).await;
    let consultation = open_survey(&app, &officer, Some(&panel), false).await;
    invite(&app, &officer, &consultation).await;
    let token = mailed_token(&app);
    let save = |answers: Value| {
        let (app, token) = (&app, token.clone());
        async move {
            app.graphql(
                SAVE,
                json!({ "input": { "token": token, "answers": answers } }),
                None,
            )
            .await
        }
    };
    // Unhappy, and why; then not unhappy after all: `why` no longer applies.
    let body = save(json!([
        { "questionKey": "unhappy", "options": ["yes"] },
        { "questionKey": "why", "text": "The bins." }
    ]))
    .await;
    assert!(body["errors"].is_null(), "{body}");
    let body = save(json!([{ "questionKey": "unhappy", "options": ["no"] }])).await;
    let saved = body["data"]["answersSave"]["savedAnswers"]
        .as_array()
        .unwrap();
    assert!(
        saved.iter().any(|a| a["questionKey"] == "why"),
        "the draft keeps it while drafting: {body}"
    );
    let mut rest = full_answers("no");
    rest.retain(|a| a["questionKey"] != "unhappy");
    let body = app
        .graphql(
            SUBMIT,
            json!({ "input": { "token": token, "answers": rest } }),
            None,
        )
        .await;
    assert_eq!(
        body["data"]["responseSubmit"]["stage"], "COMPLETED",
        "{body}"
    );
    let stored = answer::Entity::find().all(app.db()).await.unwrap();
    assert!(!answer_keys(&stored).contains(&"why"), "{stored:?}");
    assert_eq!(answer_keys(&stored).len(), 12);
    let report = app
        .graphql(
            "query($id: ID!) { consultationReport(id: $id) { questions { key answered } } }",
            json!({ "id": consultation }),
            Some(&officer),
        )
        .await;
    let why = report["data"]["consultationReport"]["questions"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .iter()
        .find(|q| q["key"] == "why")
        .cloned()
        .unwrap();
    assert_eq!(why["answered"], 0, "never counted: {report}");
}

#[tokio::test]
async fn paper_and_open_link_answers_to_questions_their_answers_hide_are_dropped() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    // On paper: a form that answered the follow-up though it said "no".
    let (_, code) = posted(&app, &officer).await;
    let mut answers = full_answers("no");
    answers.push(json!({ "questionKey": "why", "text": "Written anyway." }));
    let body = app
        .graphql(
            ENTER,
            json!({ "input": { "code": code, "channel": "PAPER", "answers": answers } }),
            Some(&officer),
        )
        .await;
    assert_eq!(
        body["data"]["responseEnter"]["stage"], "COMPLETED",
        "{body}"
    );
    let paper = response::Entity::find()
        .filter(response::Column::Channel.eq("paper"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let stored = answer::Entity::find()
        .filter(answer::Column::ResponseId.eq(paper.id))
        .all(app.db())
        .await
        .unwrap();
    assert!(!answer_keys(&stored).contains(&"why"), "{stored:?}");

    // Through an open link.
    let body = app
        .graphql(
            CREATE,
            json!({ "input": { "title": "Park survey", "openLink": true } }),
            Some(&officer),
        )
        .await;
    let created = &body["data"]["consultationCreate"]["consultation"];
    let id = created["id"].as_str().unwrap().to_owned();
    let open_code = created["openLinkUrl"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let body = app
        .graphql(
            QUESTIONS,
            json!({ "input": { "consultationId": id, "questions": [
                { "key": "visit", "text": "Do you visit the park?", "kind": "SINGLE_CHOICE", "required": true,
                  "options": [{ "key": "yes", "label": "Yes" }, { "key": "no", "label": "No" }] },
                { "key": "how_often", "text": "How often, from 0 to 10?", "kind": "RATING", "required": true,
                  "showWhen": { "questionKey": "visit", "answer": "yes" } }
            ] } }),
            Some(&officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    app.graphql(OPEN, json!({ "id": id }), Some(&officer)).await;
    let body = app
        .graphql(
            "mutation($input: OpenResponseSubmitInput!) { openResponseSubmit(input: $input) { duplicate } }",
            json!({ "input": { "code": open_code, "answers": [
                { "questionKey": "visit", "options": ["no"] },
                { "questionKey": "how_often", "value": 3 }
            ] } }),
            None,
        )
        .await;
    assert_eq!(
        body["data"]["openResponseSubmit"]["duplicate"], false,
        "{body}"
    );
    let open = response::Entity::find()
        .filter(response::Column::Channel.eq("qr"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no open response"));
    let stored = answer::Entity::find()
        .filter(answer::Column::ResponseId.eq(open.id))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(answer_keys(&stored), ["visit"]);
}

const OPEN_BY_CODE: &str = "query($token: String!) {
    invitationByToken(token: $token) { invitationId stage token savedAnswers { questionKey } }
}";

#[tokio::test]
async fn the_token_a_letter_code_gives_saves_and_submits_when_codes_are_refused_for_the_hour() {
    use civic_panel::domain::recruitment::invitation_code::InvitationCode;
    let app = TestApp::spawn_with(|config| {
        config.redeem_max_failures_per_client = 1_000;
        config.redeem_max_failures_global = 3;
    })
    .await;
    let officer = app.token_for(Role::Officer).await;
    let (_, code) = posted(&app, &officer).await;
    let body = app
        .graphql(OPEN_BY_CODE, json!({ "token": code }), None)
        .await;
    let token = body["data"]["invitationByToken"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    assert!(token.starts_with("cpc_"), "{token}");
    // Guessing fills the hour's limit on everyone's codes.
    let mut refused = false;
    for _ in 0..5 {
        let guess = InvitationCode::generate(&mut rand::rng()).display();
        let body = app.graphql(BY_TOKEN, json!({ "token": guess }), None).await;
        refused |= error_code(&body) == "RATE_LIMITED";
    }
    assert!(refused, "the global limit was reached");
    let body = app.graphql(BY_TOKEN, json!({ "token": code }), None).await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    // The member who opened it before goes on with the token.
    let body = app
        .graphql(
            SAVE,
            json!({ "input": { "token": token, "answers": [{ "questionKey": "satisfaction", "value": 6 }] } }),
            None,
        )
        .await;
    assert_eq!(body["data"]["answersSave"]["stage"], "STARTED", "{body}");
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

#[tokio::test]
async fn staff_holding_a_letter_code_enter_paper_answers_but_never_answer_online_as_the_member() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let (consultation, code) = posted(&app, &officer).await;
    // Opened by an officer: no click, no token, no drafts shown.
    let body = app
        .graphql(OPEN_BY_CODE, json!({ "token": code }), Some(&officer))
        .await;
    let opened = &body["data"]["invitationByToken"];
    assert_eq!(opened["stage"], "SENT", "{body}");
    assert!(opened["token"].is_null(), "{body}");
    for document in [SAVE, SUBMIT] {
        let body = app
            .graphql(
                document,
                json!({ "input": { "token": code, "answers": full_answers("no") } }),
                Some(&officer),
            )
            .await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    }
    // The member drafts a comment online, then posts the paper form without it: the
    // officer's entry records the form alone.
    let body = app
        .graphql(
            SAVE,
            json!({ "input": { "token": code, "answers": [
                { "questionKey": "unhappy", "options": ["yes"] },
                { "questionKey": "why", "text": "A draft never sent." }
            ] } }),
            None,
        )
        .await;
    assert_eq!(body["data"]["answersSave"]["stage"], "STARTED", "{body}");
    let body = app
        .graphql(
            ENTER,
            json!({ "input": { "code": code, "channel": "PAPER", "answers": full_answers("yes") } }),
            Some(&officer),
        )
        .await;
    assert_eq!(
        body["data"]["responseEnter"]["stage"], "COMPLETED",
        "{body}"
    );
    let stored = answer::Entity::find().all(app.db()).await.unwrap();
    assert!(!answer_keys(&stored).contains(&"why"), "{stored:?}");
    let post = progress(&app, &officer, &consultation, "POST").await;
    assert_eq!(post["completed"], 1, "{post}");
}

#[tokio::test]
async fn a_reprinted_or_revoked_letters_code_opens_nothing() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let (consultation, old) = posted(&app, &officer).await;
    let body = app
        .graphql(
            "mutation($id: ID!) { consultationLettersExport(input: { consultationId: $id, reprint: true }) { job { id } } }",
            json!({ "id": consultation }),
            Some(&officer),
        )
        .await;
    let job = body["data"]["consultationLettersExport"]["job"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    app.run_jobs().await;
    let body = app.graphql(BY_TOKEN, json!({ "token": old }), None).await;
    assert_eq!(error_code(&body), "NOT_FOUND", "the old code: {body}");
    // The reprinted letter's code works, until the invitation is revoked.
    let job = app.job(&officer, &job).await;
    let url = job["result"]["mailMergeUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("{job}"));
    let file = app.get(url, Some(&officer)).await;
    let reprinted = crate::helpers::csv_rows(&file.bytes)[1][7].clone();
    assert_ne!(reprinted, old);
    let body = app
        .graphql(BY_TOKEN, json!({ "token": reprinted }), None)
        .await;
    let invitation = body["data"]["invitationByToken"]["invitationId"].clone();
    assert!(invitation.is_string(), "{body}");
    let body = app
        .graphql(
            "mutation($id: ID!) { invitationRevoke(input: { invitationId: $id }) { id } }",
            json!({ "id": invitation }),
            Some(&officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let body = app
        .graphql(BY_TOKEN, json!({ "token": reprinted }), None)
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
}
