//! Consultations through the API: the Corporate Plan survey built, its panel invited by
//! email (through a real SMTP server on loopback), text message and post, every open,
//! click, start and completion tracked, answers saved and submitted exactly once, paper
//! answers entered by officers, and bad input refused with clear codes.

use std::time::Duration;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::{Value, json};

use civic_panel::db::entities::{answer, invitation, resident, response, tracking_event};
use civic_panel::db::submissions::{Claim, Claimed};
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::consultations::consultation::AnswerChannel;
use civic_panel::domain::ids::{ConsultationId, InvitationId};

use crate::delivery::smtp_to;
use crate::helpers::{TestApp, csv_rows, error_code, error_message};
use crate::smtp_server::SmtpServer;

const WAIT: Duration = Duration::from_secs(10);

/// The Corporate Plan's ten commitments, each rated on an agreement scale.
const COMMITMENTS: [&str; 10] = [
    "Keep the streets clean.",
    "Build more homes that people can afford.",
    "Help local shops do well.",
    "Make parks safe for everyone.",
    "Cut the council's carbon use.",
    "Care for older people at home.",
    "Help young people find work.",
    "Fix the roads faster.",
    "Make it easy to talk to the council.",
    "Spend money wisely.",
];

/// A member to put on the panel: their email and phone, if any.
pub(crate) struct Member {
    pub(crate) email: Option<&'static str>,
    pub(crate) phone: Option<&'static str>,
}

/// A member reached by email, for a panel of one.
pub(crate) const ONE_BY_EMAIL: Member = Member {
    email: Some("a@example.org"),
    phone: None,
};

/// A panel of `members`, written straight to the database (selection is tested in
/// `panels.rs`); returns the panel's ID and the residents' row ids.
pub(crate) async fn panel_with(
    app: &TestApp,
    officer: &str,
    members: &[Member],
) -> (String, Vec<i64>) {
    panel_of(app, officer, members, |_| ("female", "1990-05-01")).await
}

/// [`panel_with`], the `i`th member's sex and date of birth given by `profile(i)`.
pub(crate) async fn panel_of(
    app: &TestApp,
    officer: &str,
    members: &[Member],
    profile: impl Fn(usize) -> (&'static str, &'static str),
) -> (String, Vec<i64>) {
    app.panel_of_residents(officer, members.len(), |i, row| {
        let (sex, born) = profile(i);
        let member = &members[i];
        resident::ActiveModel {
            deprivation_decile: Set(Some(3)),
            full_name: Set(format!("Member {i}")),
            email: Set(member.email.map(str::to_owned)),
            phone: Set(member.phone.map(str::to_owned)),
            date_of_birth: Set(born.parse().unwrap()),
            sex: Set(sex.to_owned()),
            ethnic_group: Set("Asian, Asian British or Asian Welsh: Indian".to_owned()),
            ..row
        }
    })
    .await
}

pub(crate) const CREATE: &str = "mutation($input: ConsultationCreateInput!) {
    consultationCreate(input: $input) { consultation { id status seriesId openLinkUrl } }
}";

pub(crate) const QUESTIONS: &str = "mutation($input: ConsultationQuestionsSetInput!) {
    consultationQuestionsSet(input: $input) { questions { key kind } }
}";

pub(crate) const OPEN: &str = "mutation($id: ID!) {
    consultationOpen(input: { consultationId: $id }) { consultation { status openedAt } }
}";

pub(crate) const INVITE: &str = "mutation($input: ConsultationInviteInput!) {
    consultationInvite(input: $input) { job { id status } }
}";

pub(crate) const PROGRESS: &str = "query($id: ID!) {
    consultation(id: $id) {
        progress { channel invited sent bounced opened machineOpenedOnly clicked started completed }
    }
}";

pub(crate) const BY_TOKEN: &str = "query($token: String!) {
    invitationByToken(token: $token) {
        invitationId stage completedAt
        consultation { title status questions { key kind required options { key label } } }
        savedAnswers { questionKey options value text }
    }
}";

pub(crate) const SAVE: &str = "mutation($input: AnswersSaveInput!) {
    answersSave(input: $input) { stage savedAnswers { questionKey value options text } }
}";

pub(crate) const SUBMIT: &str = "mutation($input: ResponseSubmitInput!) {
    responseSubmit(input: $input) { stage completedAt duplicate }
}";

pub(crate) const ENTER: &str = "mutation($input: ResponseEnterInput!) {
    responseEnter(input: $input) { stage completedAt duplicate }
}";

/// The Corporate Plan survey: the ten commitments on an agreement scale, a 0–10
/// satisfaction rating, and a comment shown only to the dissatisfied.
fn corporate_plan_questions() -> Value {
    let mut questions: Vec<Value> = COMMITMENTS
        .iter()
        .enumerate()
        .map(|(i, text)| {
            json!({ "key": format!("commitment_{}", i + 1), "text": text,
                    "kind": "AGREEMENT", "required": true })
        })
        .collect();
    questions.push(json!({
        "key": "satisfaction", "kind": "RATING", "required": true,
        "text": "How happy are you with the council, from 0 to 10?"
    }));
    questions.push(json!({
        "key": "unhappy", "kind": "SINGLE_CHOICE", "required": true,
        "text": "Are you unhappy with us?",
        "options": [{ "key": "yes", "label": "Yes" }, { "key": "no", "label": "No" }]
    }));
    questions.push(json!({
        "key": "why", "kind": "FREE_TEXT", "maxChars": 200, "required": false,
        "text": "Tell us why.", "showWhen": { "questionKey": "unhappy", "answer": "yes" }
    }));
    Value::Array(questions)
}

/// Drafts, fills and opens the Corporate Plan survey for `panel`; its ID.
pub(crate) async fn open_survey(
    app: &TestApp,
    officer: &str,
    panel: Option<&str>,
    anonymous: bool,
) -> String {
    let body = app
        .graphql(
            CREATE,
            json!({ "input": {
                "title": "Our Corporate Plan", "panelId": panel, "anonymous": anonymous,
                "openLink": panel.is_none(),
                "summary": "We want to know what you think of our plan for the next four years."
            }}),
            Some(officer),
        )
        .await;
    let id = body["data"]["consultationCreate"]["consultation"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    fill_and_open(app, officer, &id).await;
    id
}

/// Gives a draft the Corporate Plan survey's questions and opens it.
pub(crate) async fn fill_and_open(app: &TestApp, officer: &str, id: &str) {
    let body = app
        .graphql(
            QUESTIONS,
            json!({ "input": { "consultationId": id, "questions": corporate_plan_questions() } }),
            Some(officer),
        )
        .await;
    assert_eq!(
        body["data"]["consultationQuestionsSet"]["questions"]
            .as_array()
            .map(Vec::len),
        Some(13),
        "{body}"
    );
    let body = app.graphql(OPEN, json!({ "id": id }), Some(officer)).await;
    assert_eq!(
        body["data"]["consultationOpen"]["consultation"]["status"], "OPEN",
        "{body}"
    );
}

/// Asks to invite the consultation's audience: the job's ID, or the response body when
/// the request was refused.
pub(crate) async fn ask_to_invite(
    app: &TestApp,
    officer: &str,
    consultation: &str,
) -> Result<String, Value> {
    let body = app
        .graphql(
            INVITE,
            json!({ "input": { "consultationId": consultation } }),
            Some(officer),
        )
        .await;
    body["data"]["consultationInvite"]["job"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or(body)
}

/// Invites the panel and runs the job and the outbox; the job's result.
pub(crate) async fn invite(app: &TestApp, officer: &str, consultation: &str) -> Value {
    let job = ask_to_invite(app, officer, consultation)
        .await
        .unwrap_or_else(|body| panic!("{body}"));
    app.run_jobs().await;
    let job = app.job(officer, &job).await;
    assert_eq!(job["status"], "SUCCEEDED", "{job}");
    job
}

pub(crate) async fn progress(
    app: &TestApp,
    officer: &str,
    consultation: &str,
    channel: &str,
) -> Value {
    let body = app
        .graphql(PROGRESS, json!({ "id": consultation }), Some(officer))
        .await;
    body["data"]["consultation"]["progress"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .find(|p| p["channel"] == channel)
        .cloned()
        .unwrap_or_else(|| panic!("no {channel} in {body}"))
}

/// The personal token in an email's text (its tracked link).
pub(crate) fn token_in(text: &str) -> String {
    let start = text.find("/t/c/").expect("a tracked link") + "/t/c/".len();
    text[start..].split_whitespace().next().unwrap().to_owned()
}

/// The token in the one invitation the file transport wrote.
pub(crate) fn mailed_token(app: &TestApp) -> String {
    let mail = std::fs::read_dir(app.dir.path().join("mail"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let eml = std::fs::read_to_string(mail.path()).unwrap();
    token_in(&crate::mime::body_part(eml.as_bytes(), "text/plain").unwrap())
}

/// Prints the consultation's post letters not yet printed: the mail-merge file's rows,
/// its header first.
pub(crate) async fn letters(app: &TestApp, officer: &str, consultation: &str) -> Vec<Vec<String>> {
    let job = app
        .succeeded_job(
            officer,
            "mutation($id: ID!) { consultationLettersExport(input: { consultationId: $id }) { job { id } } }",
            json!({ "id": consultation }),
            "consultationLettersExport",
        )
        .await;
    let url = job["result"]["mailMergeUrl"].as_str().unwrap();
    let file = app.get(url, Some(officer)).await;
    assert_eq!(file.status, 200);
    let rows = csv_rows(&file.bytes);
    assert_eq!(
        rows[0].join(","),
        civic_panel::service::consultations::invitations::LETTERS_HEADER
    );
    rows
}

/// Every answer the survey needs, satisfied.
pub(crate) fn full_answers(unhappy: &str) -> Vec<Value> {
    let mut answers: Vec<Value> = (1..=10)
        .map(|i| json!({ "questionKey": format!("commitment_{i}"), "value": 1 + i % 5 }))
        .collect();
    answers.push(json!({ "questionKey": "satisfaction", "value": 9 }));
    answers.push(json!({ "questionKey": "unhappy", "options": [unhappy] }));
    answers
}

#[tokio::test]
async fn the_corporate_plan_survey_goes_out_by_email_text_and_post_and_every_step_is_tracked() {
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|config| {
        config.mail = smtp_to(&server);
    })
    .await;
    let sms_dir = app.dir.path().join("sms");
    let app = app.reconfigured(|config| config.mail.sms_dir = sms_dir.clone());
    let officer = app.token_for(Role::Officer).await;
    let (panel, _) = panel_with(
        &app,
        &officer,
        &[
            Member {
                email: Some("asha@example.org"),
                phone: None,
            },
            Member {
                email: Some("ben@example.org"),
                phone: Some("07700 900001"),
            },
            Member {
                email: None,
                phone: Some("07700 900002"),
            },
            Member {
                email: None,
                phone: None,
            },
        ],
    )
    .await;
    let consultation = open_survey(&app, &officer, Some(&panel), false).await;

    // Plain language: every text is scored against the reading age target of 9.
    let body = app
        .graphql(
            "query($id: ID!) { consultation(id: $id) {
                readingAgeTarget readability { field readingAge aboveTarget hardWords } } }",
            json!({ "id": consultation }),
            Some(&officer),
        )
        .await;
    let scores = body["data"]["consultation"]["readability"]
        .as_array()
        .unwrap();
    assert_eq!(body["data"]["consultation"]["readingAgeTarget"], 9.0);
    assert!(
        scores.iter().any(|s| s["field"] == "question:commitment_1"),
        "{body}"
    );
    assert!(
        scores.iter().any(|s| s["field"] == "option:unhappy:yes"),
        "{body}"
    );
    let summary = scores.iter().find(|s| s["field"] == "summary").unwrap();
    assert!(summary["readingAge"].as_f64().unwrap() > 5.0);

    // Inviting: two emails, one text message, one letter.
    let job = invite(&app, &officer, &consultation).await;
    let result = &job["result"];
    assert_eq!(
        (
            &result["email"],
            &result["sms"],
            &result["post"],
            &result["alreadyInvited"]
        ),
        (&json!(2), &json!(1), &json!(1), &json!(0)),
        "{job}"
    );
    let received = server.wait_for(2, WAIT).await;
    assert_eq!(received.len(), 2);
    let asha = received
        .iter()
        .find(|m| m.recipients == ["asha@example.org"])
        .expect("Asha's invitation");
    assert_eq!(
        asha.header("Subject").as_deref(),
        Some("Have your say: Our Corporate Plan")
    );
    let text = asha.text_body().unwrap();
    assert!(text.starts_with("Dear Member 0,"), "{text}");
    let html = asha.html_body().unwrap();
    let token = token_in(&text);
    assert!(
        token.starts_with("cpc_") && token.len() >= 4 + 43,
        "{token}"
    );
    assert!(
        html.contains(&format!("/t/o/{token}")),
        "the HTML has the tracking image"
    );
    // Inviting again invites nobody twice.
    let again = invite(&app, &officer, &consultation).await;
    assert_eq!(again["result"]["alreadyInvited"], 4, "{again}");
    assert_eq!(again["result"]["email"], 0);
    assert_eq!(app.count(invitation::Entity).await, 4);
    assert_eq!(server.messages().len(), 2);
    // The text message went through the SMS provider's stand-in.
    let texts: Vec<_> = std::fs::read_dir(&sms_dir).unwrap().collect();
    assert_eq!(texts.len(), 1);
    let sms = std::fs::read_to_string(texts[0].as_ref().unwrap().path()).unwrap();
    assert!(
        sms.starts_with(
            "To: 07700900002\n\nMember 2, the council would like your views on Our Corporate Plan: "
        ),
        "{sms}"
    );

    let email = progress(&app, &officer, &consultation, "EMAIL").await;
    assert_eq!(
        (&email["invited"], &email["sent"]),
        (&json!(2), &json!(2)),
        "{email}"
    );

    // An open within seconds of sending is a machine (a proxy fetching on arrival); an
    // hour later it is a person. Neither sets a cookie.
    let opened = app.get(&format!("/t/o/{token}"), None).await;
    assert_eq!(opened.status, 200);
    assert_eq!(opened.content_type(), "image/gif");
    assert!(opened.headers.get("set-cookie").is_none());
    let email = progress(&app, &officer, &consultation, "EMAIL").await;
    assert_eq!(
        (&email["opened"], &email["machineOpenedOnly"]),
        (&json!(0), &json!(1)),
        "{email}"
    );
    app.clock.advance(chrono::Duration::hours(1));
    assert_eq!(
        app.get(&format!("/t/o/{token}.gif"), None).await.status,
        200
    );
    let clicked = app.get(&format!("/t/c/{token}"), None).await;
    assert_eq!(clicked.status, 302);
    assert_eq!(
        clicked.headers.get("location").unwrap(),
        &format!("https://panel.example.gov.uk/c/{token}")
    );
    let email = progress(&app, &officer, &consultation, "EMAIL").await;
    assert_eq!(
        (
            &email["opened"],
            &email["machineOpenedOnly"],
            &email["clicked"]
        ),
        (&json!(1), &json!(0), &json!(1)),
        "{email}"
    );

    // The resident answers from the link: saves some, resumes, submits once.
    let body = app.graphql(BY_TOKEN, json!({ "token": token }), None).await;
    let invited = &body["data"]["invitationByToken"];
    assert_eq!(invited["stage"], "CLICKED", "{body}");
    assert_eq!(
        invited["consultation"]["questions"]
            .as_array()
            .unwrap()
            .len(),
        13
    );
    let body = app
        .graphql(
            SAVE,
            json!({ "input": { "token": token, "answers": [
                { "questionKey": "commitment_1", "value": 5 },
                { "questionKey": "unhappy", "options": ["yes"] },
                { "questionKey": "why", "text": "The bins." }
            ]}}),
            None,
        )
        .await;
    assert_eq!(body["data"]["answersSave"]["stage"], "STARTED", "{body}");
    let body = app.graphql(BY_TOKEN, json!({ "token": token }), None).await;
    assert_eq!(
        body["data"]["invitationByToken"]["savedAnswers"]
            .as_array()
            .unwrap()
            .len(),
        3,
        "resumed elsewhere: {body}"
    );
    let mut rest = full_answers("yes");
    rest.retain(|a| a["questionKey"] != "commitment_1" && a["questionKey"] != "unhappy");
    let body = app
        .graphql(
            SUBMIT,
            json!({ "input": { "token": token, "answers": rest, "channel": "EMAIL_LINK" } }),
            None,
        )
        .await;
    assert_eq!(
        body["data"]["responseSubmit"]["stage"], "COMPLETED",
        "{body}"
    );
    assert_eq!(body["data"]["responseSubmit"]["duplicate"], false);
    let body = app
        .graphql(SUBMIT, json!({ "input": { "token": token } }), None)
        .await;
    assert_eq!(body["data"]["responseSubmit"]["duplicate"], true, "{body}");
    assert_eq!(app.count(response::Entity).await, 1);
    // The saved answers became the response's; nothing is left half-saved.
    let stored = answer::Entity::find().all(app.db()).await.unwrap();
    assert!(
        stored
            .iter()
            .any(|a| a.question_key == "why" && a.text.as_deref() == Some("The bins."))
    );
    assert!(
        stored
            .iter()
            .any(|a| a.question_key == "commitment_1" && a.scale == Some(5))
    );
    assert_eq!(stored.len(), 13);

    // The letter: printed with a short code, answered on paper and entered by an officer.
    let rows = letters(&app, &officer, &consultation).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][1], "Member 3");
    let code = rows[1][7].clone();
    let post = progress(&app, &officer, &consultation, "POST").await;
    assert_eq!(post["sent"], 1, "printed counts as sent: {post}");
    let body = app
        .graphql(
            ENTER,
            json!({ "input": { "code": code.to_lowercase(), "channel": "PAPER", "answers": full_answers("no") } }),
            Some(&officer),
        )
        .await;
    assert_eq!(
        body["data"]["responseEnter"]["stage"], "COMPLETED",
        "{body}"
    );
    let post = progress(&app, &officer, &consultation, "POST").await;
    assert_eq!(post["completed"], 1, "{post}");
    let paper = response::Entity::find()
        .filter(response::Column::Channel.eq("paper"))
        .one(app.db())
        .await
        .unwrap()
        .expect("the paper response");
    assert_eq!(paper.age_band.as_deref(), Some("35-39"));
    assert_eq!(paper.sex.as_deref(), Some("female"));

    let email = progress(&app, &officer, &consultation, "EMAIL").await;
    assert_eq!(
        (&email["started"], &email["completed"]),
        (&json!(1), &json!(1)),
        "{email}"
    );
    // Every event was stored, in an append-only table.
    let kinds: Vec<String> = tracking_event::Entity::find()
        .order_by_asc(tracking_event::Column::Id)
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind.as_str().to_owned())
        .collect();
    for kind in ["sent", "opened", "clicked", "started", "completed"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

#[tokio::test]
async fn concurrent_submits_of_one_token_make_one_response() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let (panel, _) = panel_with(&app, &officer, &[ONE_BY_EMAIL]).await;
    let consultation = open_survey(&app, &officer, Some(&panel), false).await;
    invite(&app, &officer, &consultation).await;
    let bodies = submit_all(&app, &vec![mailed_token(&app); 20]).await;
    let fresh = bodies
        .iter()
        .filter(|b| b["data"]["responseSubmit"]["duplicate"] == false)
        .count();
    let repeats = bodies
        .iter()
        .filter(|b| b["data"]["responseSubmit"]["duplicate"] == true)
        .count();
    assert_eq!((fresh, repeats), (1, 19), "{bodies:?}");
    assert_eq!(app.count(response::Entity).await, 1);
    let completions = tracking_event::Entity::find()
        .filter(tracking_event::Column::Kind.eq("completed"))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(completions, 1);
}

/// A panel of `members` with email, a named survey open to them, and their invitations
/// written by the file transport; returns the survey's ID.
async fn invited_by_email(app: &TestApp, officer: &str, members: usize) -> String {
    let members: Vec<Member> = (0..members)
        .map(|i| Member {
            email: Some(String::leak(format!("member{i}@example.org"))),
            phone: None,
        })
        .collect();
    let (panel, _) = panel_with(app, officer, &members).await;
    let consultation = open_survey(app, officer, Some(&panel), false).await;
    invite(app, officer, &consultation).await;
    consultation
}

/// Submits full answers with each of `tokens`, all at once; the bodies, in order.
async fn submit_all(app: &TestApp, tokens: &[String]) -> Vec<Value> {
    let submits = tokens.iter().map(|token| {
        app.graphql(
            SUBMIT,
            json!({ "input": { "token": token, "answers": full_answers("no") } }),
            None,
        )
    });
    futures_util::future::join_all(submits).await
}

/// The tokens in every invitation the file transport wrote.
pub(crate) fn mailed_tokens(app: &TestApp) -> Vec<String> {
    std::fs::read_dir(app.dir.path().join("mail"))
        .unwrap()
        .map(|mail| {
            let eml = std::fs::read_to_string(mail.unwrap().path()).unwrap();
            token_in(&crate::mime::body_part(eml.as_bytes(), "text/plain").unwrap())
        })
        .collect()
}

#[tokio::test]
async fn many_members_submitting_at_once_are_each_counted_once_and_their_repeats_are_duplicates() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    invited_by_email(&app, &officer, 40).await;
    let tokens = mailed_tokens(&app);
    assert_eq!(tokens.len(), 40);
    // Every token twice, all at once: many submissions share a batch, and the two of one
    // token often the same one.
    let bodies = submit_all(&app, &[tokens.clone(), tokens.clone()].concat()).await;
    for token in &tokens {
        let mut outcomes: Vec<bool> = bodies
            .iter()
            .zip(tokens.iter().chain(&tokens))
            .filter(|(_, t)| *t == token)
            .map(|(body, _)| {
                body["data"]["responseSubmit"]["duplicate"]
                    .as_bool()
                    .unwrap_or_else(|| panic!("{body}"))
            })
            .collect();
        outcomes.sort_unstable();
        assert_eq!(
            outcomes,
            [false, true],
            "one counts, one is a repeat: {bodies:?}"
        );
    }
    assert!(
        bodies
            .iter()
            .all(|b| b["data"]["responseSubmit"]["stage"] == "COMPLETED"),
        "{bodies:?}"
    );
    let responses = response::Entity::find().all(app.db()).await.unwrap();
    let linked: std::collections::HashSet<Option<InvitationId>> =
        responses.iter().map(|r| r.invitation_id).collect();
    assert_eq!((responses.len(), linked.len()), (40, 40));
    assert!(!linked.contains(&None), "each response is linked");
    let answers = |response: civic_panel::domain::ids::ResponseId| {
        answer::Entity::find()
            .filter(answer::Column::ResponseId.eq(response))
            .count(app.db())
    };
    let one = answers(responses[0].id).await.unwrap();
    assert!(one > 0);
    for response in &responses {
        assert_eq!(
            answers(response.id).await.unwrap(),
            one,
            "every response has all its answers"
        );
    }
    assert_eq!(app.count(answer::Entity).await, 40 * one);
    for kind in ["started", "completed"] {
        let events = tracking_event::Entity::find()
            .filter(tracking_event::Column::Kind.eq(kind))
            .count(app.db())
            .await
            .unwrap();
        assert_eq!(events, 40, "{kind}");
    }
    let pending = invitation::Entity::find()
        .filter(invitation::Column::CompletedAt.is_null())
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(pending, 0);
}

#[tokio::test]
async fn a_submission_that_cannot_be_written_costs_the_others_in_its_batch_nothing() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    invited_by_email(&app, &officer, 2).await;
    let invitations = invitation::Entity::find()
        .order_by_asc(invitation::Column::Id)
        .all(app.db())
        .await
        .unwrap();
    let now = app.clock.now();
    let claim = |row: &invitation::Model, consultation: ConsultationId| Claim {
        invitation: row.id,
        consultation: row.consultation_id,
        anonymous: false,
        channel: AnswerChannel::Web,
        at: now,
        completed_at: now,
        starts: true,
        response: response::ActiveModel {
            consultation_id: Set(consultation),
            invitation_id: Set(Some(row.id)),
            submission_key: Set(None),
            channel: Set(AnswerChannel::Web),
            submitted_on: Set(now.date_naive()),
            submitted_at: Set(Some(now)),
            age_band: Set(None),
            sex: Set(None),
            ethnic_group: Set(None),
            disability: Set(None),
            ward_code: Set(None),
            deprivation_decile: Set(None),
            ..Default::default()
        },
        answers: vec![answer::ActiveModel {
            question_key: Set("satisfaction".to_owned()),
            option_key: Set(None),
            rank: Set(None),
            scale: Set(Some(7)),
            text: Set(None),
            ..Default::default()
        }],
    };
    let good = claim(&invitations[0], invitations[0].consultation_id);
    // A response naming no consultation breaks a foreign key, failing its batch.
    let bad = claim(&invitations[1], ConsultationId(i64::MAX));
    let submissions = &app.state.submissions;
    let (good, bad) = tokio::join!(submissions.write(good), submissions.write(bad));
    assert!(matches!(good, Ok(Claimed::Written(Some(_)))), "{good:?}");
    assert!(bad.is_err(), "{bad:?}");
    let responses = response::Entity::find().all(app.db()).await.unwrap();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].invitation_id, Some(invitations[0].id));
    assert_eq!(app.count(answer::Entity).await, 1);
    let completed: Vec<bool> = invitation::Entity::find()
        .order_by_asc(invitation::Column::Id)
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|row| row.completed_at.is_some())
        .collect();
    assert_eq!(completed, [true, false], "the failed one is not claimed");
}

#[tokio::test]
async fn a_recipient_the_mail_server_refuses_is_recorded_as_bounced() {
    let server = SmtpServer::start().await;
    server.refuse_recipient("gone@example.org");
    let app = TestApp::spawn_with(|config| config.mail = smtp_to(&server)).await;
    let officer = app.token_for(Role::Officer).await;
    let (panel, _) = panel_with(
        &app,
        &officer,
        &[
            Member {
                email: Some("gone@example.org"),
                phone: None,
            },
            Member {
                email: Some("here@example.org"),
                phone: None,
            },
        ],
    )
    .await;
    let consultation = open_survey(&app, &officer, Some(&panel), false).await;
    invite(&app, &officer, &consultation).await;
    server.wait_for(1, WAIT).await;
    let email = progress(&app, &officer, &consultation, "EMAIL").await;
    assert_eq!(
        (&email["invited"], &email["sent"], &email["bounced"]),
        (&json!(2), &json!(1), &json!(1)),
        "{email}"
    );
    let bounce = tracking_event::Entity::find()
        .filter(tracking_event::Column::Kind.eq("bounced"))
        .one(app.db())
        .await
        .unwrap()
        .expect("a bounce event");
    assert!(
        bounce.detail.unwrap().contains("550"),
        "the server's refusal is kept"
    );
}

#[tokio::test]
async fn an_anonymous_consultation_keeps_answers_apart_from_who_gave_them() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let (panel, _) = panel_with(&app, &officer, &[ONE_BY_EMAIL]).await;
    let consultation = open_survey(&app, &officer, Some(&panel), true).await;
    invite(&app, &officer, &consultation).await;
    let token = mailed_token(&app);
    app.clock.advance(chrono::Duration::minutes(617));
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
    let stored = response::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.invitation_id, None);
    assert_eq!(stored.submitted_at, None);
    assert_eq!(
        stored.age_band.as_deref(),
        Some("35-39"),
        "the snapshot is kept"
    );
    let invited = invitation::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let completed = invited.completed_at.unwrap();
    assert_eq!(
        completed.time(),
        chrono::NaiveTime::MIN,
        "the day only: {completed}"
    );
    let completions = tracking_event::Entity::find()
        .filter(tracking_event::Column::Kind.eq("completed"))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(
        completions, 0,
        "no timed completion event to pair with the response"
    );
    let kinds: Vec<String> = tracking_event::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind.as_str().to_owned())
        .collect();
    assert_eq!(kinds, ["sent"], "no event written with the response");
    assert!(
        invited.started_at.is_some(),
        "started is still known, by the day"
    );
}

#[tokio::test]
async fn bad_answers_tokens_and_edits_get_clear_codes_and_change_nothing() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let (panel, _) = panel_with(&app, &officer, &[ONE_BY_EMAIL]).await;
    // Templates with a placeholder that does not exist are refused when written.
    let body = app
        .graphql(
            CREATE,
            json!({ "input": { "title": "T", "panelId": panel, "templates": {
                "inviteSubject": "Hi {nmae}", "inviteText": "x", "reminderSubject": "x",
                "reminderText": "x", "smsText": "x" } } }),
            Some(&officer),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        "input.templates.inviteSubject"
    );
    let body = app
        .graphql(
            CREATE,
            json!({ "input": { "title": "T", "panelId": panel, "templates": {
                "inviteSubject": "x", "inviteText": "x", "reminderSubject": "x",
                "reminderText": "x", "smsText": "y".repeat(1_201) } } }),
            Some(&officer),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "input.templates.smsText",
        "{body}"
    );
    // Skip logic that points forward is refused.
    let body = app
        .graphql(
            CREATE,
            json!({ "input": { "title": "T", "panelId": panel } }),
            Some(&officer),
        )
        .await;
    let draft = body["data"]["consultationCreate"]["consultation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = app
        .graphql(
            QUESTIONS,
            json!({ "input": { "consultationId": draft, "questions": [
                { "key": "a", "text": "A?", "kind": "RATING",
                  "showWhen": { "questionKey": "b", "answer": "1" } },
                { "key": "b", "text": "B?", "kind": "RATING" } ] } }),
            Some(&officer),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    // A draft with no questions cannot open.
    let body = app
        .graphql(OPEN, json!({ "id": draft }), Some(&officer))
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");

    let consultation = open_survey(&app, &officer, Some(&panel), false).await;
    // Open: its questions are frozen.
    let body = app
        .graphql(
            QUESTIONS,
            json!({ "input": { "consultationId": consultation, "questions": corporate_plan_questions() } }),
            Some(&officer),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    invite(&app, &officer, &consultation).await;
    let token = mailed_token(&app);

    // Unknown tokens: NOT_FOUND, and the tracking routes answer as for a real one.
    let body = app
        .graphql(BY_TOKEN, json!({ "token": "cpc_nothing" }), None)
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    let unknown = app.get("/t/o/cpc_nothing", None).await;
    assert_eq!(
        (unknown.status.as_u16(), unknown.content_type()),
        (200, "image/gif")
    );
    assert_eq!(app.get("/t/c/cpc_nothing", None).await.status, 302);

    let submit = |answers: Vec<Value>| {
        let app = &app;
        let token = token.clone();
        async move {
            app.graphql(
                SUBMIT,
                json!({ "input": { "token": token, "answers": answers } }),
                None,
            )
            .await
        }
    };
    // Wrong type, off the scale, missing required, text over its limit, a question that
    // does not exist.
    let mut wrong_type = full_answers("no");
    wrong_type[0] = json!({ "questionKey": "commitment_1", "options": ["yes"] });
    let mut off_scale = full_answers("no");
    off_scale[10] = json!({ "questionKey": "satisfaction", "value": 11 });
    let mut missing = full_answers("no");
    missing.remove(3);
    let mut too_long = full_answers("yes");
    too_long.push(json!({ "questionKey": "why", "text": "x".repeat(201) }));
    let mut unknown_question = full_answers("no");
    unknown_question.push(json!({ "questionKey": "nope", "value": 1 }));
    for (answers, says) in [
        (wrong_type, "not of the question's kind"),
        (off_scale, "not on the scale of 0 to 10"),
        (missing, "must be answered"),
        (too_long, "at most 200"),
        (unknown_question, "no question"),
    ] {
        let body = submit(answers).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        let message = error_message(&body);
        assert!(message.contains(says), "{message:?} should say {says:?}");
    }
    assert_eq!(
        app.count(response::Entity).await,
        0,
        "nothing half-submitted"
    );
    // Officers only enter paper and phone answers; residents cannot claim them.
    let body = app
        .graphql(
            SUBMIT,
            json!({ "input": { "token": token, "answers": full_answers("no"), "channel": "PAPER" } }),
            None,
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let resident = app.token_for(Role::Resident).await;
    let body = app
        .graphql(
            ENTER,
            json!({ "input": { "code": "ABCDE-FGHJK", "channel": "PAPER", "answers": full_answers("no") } }),
            Some(&resident),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");

    // After close, answers are refused with a clear error; reopening is explicit.
    let body = app
        .graphql(
            "mutation($id: ID!) { consultationClose(input: { consultationId: $id }) { consultation { status } } }",
            json!({ "id": consultation }),
            Some(&officer),
        )
        .await;
    assert_eq!(
        body["data"]["consultationClose"]["consultation"]["status"],
        "CLOSED"
    );
    let body = submit(full_answers("no")).await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    assert!(error_message(&body).contains("closed"));
    let body = app
        .graphql(OPEN, json!({ "id": consultation }), Some(&officer))
        .await;
    assert_eq!(
        error_code(&body),
        "CONFLICT",
        "opening a closed one is a reopen: {body}"
    );
    let body = app
        .graphql(
            "mutation($id: ID!) { consultationReopen(input: { consultationId: $id }) { consultation { status } } }",
            json!({ "id": consultation }),
            Some(&officer),
        )
        .await;
    assert_eq!(
        body["data"]["consultationReopen"]["consultation"]["status"], "OPEN",
        "{body}"
    );
    let body = submit(full_answers("no")).await;
    assert_eq!(
        body["data"]["responseSubmit"]["stage"], "COMPLETED",
        "{body}"
    );
}

#[tokio::test]
async fn next_years_round_keeps_the_question_keys_in_the_same_series() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let (panel, _) = panel_with(
        &app,
        &officer,
        &[Member {
            email: None,
            phone: None,
        }],
    )
    .await;
    let first = open_survey(&app, &officer, Some(&panel), false).await;
    let body = app
        .graphql(
            "mutation($id: ID!) { consultationDuplicate(input: { consultationId: $id, title: \"Our Corporate Plan 2028\" }) {
                consultation { id title status seriesId questions { key } } } }",
            json!({ "id": first }),
            Some(&officer),
        )
        .await;
    let copy = &body["data"]["consultationDuplicate"]["consultation"];
    assert_eq!(copy["status"], "DRAFT", "{body}");
    assert_eq!(copy["title"], "Our Corporate Plan 2028");
    assert_eq!(copy["seriesId"].as_str(), Some(first.as_str()));
    let keys: Vec<&str> = copy["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 13);
    assert_eq!(keys[0], "commitment_1");
    assert_eq!(keys[12], "why");
}

#[tokio::test]
async fn a_signed_in_resident_sees_and_answers_only_their_own_invitations() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let (panel, residents) = panel_with(
        &app,
        &officer,
        &[
            Member {
                email: Some("mine@example.org"),
                phone: None,
            },
            Member {
                email: Some("theirs@example.org"),
                phone: None,
            },
        ],
    )
    .await;
    app.create_account(Role::Resident, "mine@example.org").await;
    let account = civic_panel::db::entities::account::Entity::find()
        .filter(civic_panel::db::entities::account::Column::Email.eq("mine@example.org"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    resident::Entity::update_many()
        .col_expr(
            resident::Column::AccountId,
            sea_orm::sea_query::Expr::value(account.id),
        )
        .filter(resident::Column::Id.eq(residents[0]))
        .exec(app.db())
        .await
        .unwrap();
    let consultation = open_survey(&app, &officer, Some(&panel), false).await;
    invite(&app, &officer, &consultation).await;
    let token = app
        .log_in("mine@example.org", crate::helpers::PASSWORD)
        .await;
    let body = app
        .graphql(
            "{ myInvitations { nodes { invitationId title status stage completedAt } } }",
            json!({}),
            Some(&token),
        )
        .await;
    let mine = body["data"]["myInvitations"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(mine.len(), 1, "{body}");
    assert_eq!(mine[0]["title"], "Our Corporate Plan");
    let invitation = mine[0]["invitationId"].as_str().unwrap().to_owned();
    let body = app
        .graphql(
            SAVE,
            json!({ "input": { "invitationId": invitation, "answers": [{ "questionKey": "satisfaction", "value": 3 }] } }),
            Some(&token),
        )
        .await;
    assert_eq!(body["data"]["answersSave"]["stage"], "STARTED", "{body}");
    // The resident stops reminders from the app.
    let body = app
        .graphql(
            "mutation { reminderPreferenceSet(input: { optOut: true }) { optOut } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        body["data"]["reminderPreferenceSet"]["optOut"], true,
        "{body}"
    );
    let me = resident::Entity::find_by_id(residents[0])
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(me.reminders_opt_out);
    let body = app
        .graphql(
            "mutation { reminderPreferenceSet(input: { optOut: true }) { optOut } }",
            json!({}),
            Some(&officer),
        )
        .await;
    assert_eq!(
        error_code(&body),
        "NOT_FOUND",
        "staff have no resident record: {body}"
    );
    // Officers see no answers being written, and cannot write online answers for a member.
    let body = app
        .graphql(
            "query($id: ID!) { invitation(id: $id) { stage savedAnswers { questionKey } } }",
            json!({ "id": invitation }),
            Some(&officer),
        )
        .await;
    assert_eq!(body["data"]["invitation"]["stage"], "STARTED", "{body}");
    assert_eq!(
        body["data"]["invitation"]["savedAnswers"],
        json!([]),
        "{body}"
    );
    for document in [SAVE, SUBMIT] {
        let body = app
            .graphql(
                document,
                json!({ "input": { "invitationId": invitation, "answers": full_answers("no") } }),
                Some(&officer),
            )
            .await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    }
    let body = app
        .graphql(
            SUBMIT,
            json!({ "input": { "invitationId": invitation, "answers": full_answers("no"), "channel": "APP" } }),
            Some(&token),
        )
        .await;
    assert_eq!(
        body["data"]["responseSubmit"]["stage"], "COMPLETED",
        "{body}"
    );
    // The other member's invitation is not reachable by a resident's ID guess.
    let other = invitation::Entity::find()
        .filter(invitation::Column::ResidentId.eq(residents[1]))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let other = civic_panel::graphql::id::encode(other.id);
    let body = app
        .graphql(
            "query($id: ID!) { invitation(id: $id) { stage } }",
            json!({ "id": other }),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    let body = app
        .graphql(
            "{ myInvitations { nodes { completedAt stage } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        body["data"]["myInvitations"]["nodes"][0]["stage"], "COMPLETED",
        "{body}"
    );
}

/// Reads the next text frame as JSON, skipping pings; fails the test after [`WAIT`].
async fn next_json<S>(socket: &mut S) -> Value
where
    S: futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures_util::StreamExt;
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a frame");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

#[tokio::test]
async fn an_officer_subscribed_over_websocket_sees_an_open_and_a_completion_arrive() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let (panel, _) = panel_with(&app, &officer, &[ONE_BY_EMAIL]).await;
    let consultation = open_survey(&app, &officer, Some(&panel), false).await;
    invite(&app, &officer, &consultation).await;
    let token = mailed_token(&app);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(
        axum::serve(
            listener,
            app.router
                .clone()
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .into_future(),
    );
    let mut request = format!("ws://{address}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    let send = |value: Value| Message::Text(value.to_string().into());
    socket
        .send(send(json!({ "type": "connection_init",
                           "payload": { "authorization": format!("Bearer {officer}") } })))
        .await
        .unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    socket
        .send(send(json!({ "id": "1", "type": "subscribe", "payload": {
            "query": "subscription($id: ID!) { consultationProgress(consultationId: $id) {
                consultationId channels { channel sent opened completed } } }",
            "variables": { "id": consultation } } })))
        .await
        .unwrap();
    let first = next_json(&mut socket).await;
    assert_eq!(first["type"], "next", "{first}");
    let channels = &first["payload"]["data"]["consultationProgress"]["channels"][0];
    assert_eq!(
        (&channels["sent"], &channels["opened"]),
        (&json!(1), &json!(0)),
        "{first}"
    );

    // A person opens the email a minute after it went out…
    app.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(app.get(&format!("/t/o/{token}"), None).await.status, 200);
    let opened = next_json(&mut socket).await;
    let channels = &opened["payload"]["data"]["consultationProgress"]["channels"][0];
    assert_eq!(channels["opened"], 1, "{opened}");
    // …and submits.
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
    let completed = next_json(&mut socket).await;
    let channels = &completed["payload"]["data"]["consultationProgress"]["channels"][0];
    assert_eq!(channels["completed"], 1, "{completed}");

    // Logging out ends the subscription at its next update.
    let body = app
        .graphql(
            "mutation { sessionRevoke { revokedCount } }",
            json!({}),
            Some(&officer),
        )
        .await;
    assert_eq!(body["data"]["sessionRevoke"]["revokedCount"], 1, "{body}");
    assert_eq!(app.get(&format!("/t/c/{token}"), None).await.status, 302);
    let ended = next_json(&mut socket).await;
    assert_eq!(
        (&ended["type"], &ended["id"]),
        (&json!("complete"), &json!("1")),
        "{ended}"
    );

    // Without a valid token the connection is refused at init.
    let mut request = format!("ws://{address}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut stranger, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    stranger
        .send(send(json!({ "type": "connection_init",
                           "payload": { "authorization": "Bearer cps_not_a_session" } })))
        .await
        .unwrap();
    let refused = futures_util::StreamExt::next(&mut stranger).await;
    assert!(
        matches!(refused, Some(Ok(Message::Close(_))) | None | Some(Err(_))),
        "{refused:?}"
    );
    server.abort();
}

/// Queues reminders and runs the job; its result.
async fn remind(app: &TestApp, officer: &str, consultation: &str) -> Value {
    let job = app
        .succeeded_job(
            officer,
            "mutation($id: ID!) { consultationRemind(input: { consultationId: $id }) { job { id } } }",
            json!({ "id": consultation }),
            "consultationRemind",
        )
        .await;
    job["result"].clone()
}

/// The `.eml` files the file transport wrote whose names start with `prefix`.
fn mailed(app: &TestApp, prefix: &str) -> Vec<String> {
    let mut texts: Vec<(String, String)> = std::fs::read_dir(app.dir.path().join("mail"))
        .unwrap()
        .map(|f| f.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .filter(|(name, _)| name.starts_with(prefix))
        .collect();
    texts.sort();
    texts.into_iter().map(|(_, text)| text).collect()
}

#[tokio::test]
async fn reminders_go_to_those_who_have_not_completed_within_the_cap_and_gap_and_stop_on_request() {
    // Sessions outlive the days the test moves the clock on.
    let app = TestApp::spawn_with(|config| config.session_ttl_hours = 24 * 30).await;
    let officer = app.token_for(Role::Officer).await;
    let (panel, _) = panel_with(
        &app,
        &officer,
        &[
            Member {
                email: Some("done@example.org"),
                phone: None,
            },
            Member {
                email: Some("stop@example.org"),
                phone: None,
            },
            Member {
                email: Some("late@example.org"),
                phone: None,
            },
        ],
    )
    .await;
    let consultation = open_survey(&app, &officer, Some(&panel), false).await;
    invite(&app, &officer, &consultation).await;
    let invitations = mailed(&app, "consultation-invite");
    let token_of = |to: &str| {
        let eml = invitations
            .iter()
            .find(|m| m.contains(&format!("To: {to}")))
            .unwrap();
        token_in(&crate::mime::body_part(eml.as_bytes(), "text/plain").unwrap())
    };
    let (done, stop, late) = (
        token_of("done@example.org"),
        token_of("stop@example.org"),
        token_of("late@example.org"),
    );

    // Too soon after the invitation: nobody is reminded.
    let result = remind(&app, &officer, &consultation).await;
    assert_eq!(
        (&result["email"], &result["optedOut"]),
        (&json!(0), &json!(0)),
        "{result}"
    );

    app.clock.advance(chrono::Duration::hours(73));
    let body = app
        .graphql(
            SUBMIT,
            json!({ "input": { "token": done, "answers": full_answers("no") } }),
            None,
        )
        .await;
    assert_eq!(
        body["data"]["responseSubmit"]["stage"], "COMPLETED",
        "{body}"
    );
    // The reminder's unsubscribe page changes nothing until its button is pressed; the
    // button is answered with the page saying it is done (post, redirect, get).
    let page = app.get(&format!("/t/u/{stop}"), None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("method=\"post\""));
    let pressed = app.post_form(&format!("/t/u/{stop}"), "from=page").await;
    assert_eq!(pressed.status, 303, "{}", pressed.text);
    let done = pressed.headers["location"].to_str().unwrap().to_owned();
    assert_eq!(done, format!("/t/u/{stop}?done=1"));
    let done = app.get(&done, None).await;
    assert!(
        done.text.contains("We will not remind you again"),
        "{}",
        done.text
    );
    // A mail client's one-click post (RFC 8058) is answered in text, the same for any token.
    let stopped = app
        .send(
            axum::http::Request::post(format!("/t/u/{stop}"))
                .body(axum::body::Body::from("List-Unsubscribe=One-Click"))
                .unwrap(),
        )
        .await;
    assert_eq!(stopped.status, 200);
    let unknown = app
        .send(
            axum::http::Request::post("/t/u/cpc_nobody")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.text),
        (stopped.status, stopped.text)
    );

    let result = remind(&app, &officer, &consultation).await;
    assert_eq!(
        (&result["email"], &result["optedOut"]),
        (&json!(1), &json!(1)),
        "{result}"
    );
    let reminders = mailed(&app, "consultation-reminder");
    assert_eq!(reminders.len(), 1);
    let reminder = &reminders[0];
    assert!(reminder.contains("To: late@example.org"), "{reminder}");
    assert_eq!(
        crate::mime::header(reminder.as_bytes(), "Subject").as_deref(),
        Some("A reminder: Our Corporate Plan")
    );
    assert_eq!(
        crate::mime::header(reminder.as_bytes(), "List-Unsubscribe"),
        Some(format!("<https://api.panel.example.gov.uk/t/u/{late}>"))
    );
    let text = crate::mime::body_part(reminder.as_bytes(), "text/plain").unwrap();
    assert!(
        text.contains(&format!(
            "To stop reminders, go to https://api.panel.example.gov.uk/t/u/{late}"
        )),
        "{text}"
    );
    assert_eq!(
        crate::mime::header(reminder.as_bytes(), "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    // The reminder carries the same personal link as the invitation.
    assert_eq!(
        token_in(&crate::mime::body_part(reminder.as_bytes(), "text/plain").unwrap()),
        late
    );

    // The gap holds, and the cap of two.
    assert_eq!(remind(&app, &officer, &consultation).await["email"], 0);
    app.clock.advance(chrono::Duration::hours(73));
    assert_eq!(remind(&app, &officer, &consultation).await["email"], 1);
    app.clock.advance(chrono::Duration::hours(73));
    assert_eq!(remind(&app, &officer, &consultation).await["email"], 0);
    let late_row = invitation::Entity::find()
        .filter(
            invitation::Column::TokenHash
                .eq(civic_panel::domain::accounts::session_token::TokenHash::of(&late).as_str()),
        )
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(late_row.reminders_sent, 2);
    assert_eq!(mailed(&app, "consultation-reminder").len(), 2);
}

#[tokio::test]
async fn anyone_with_the_open_link_answers_once_per_key_and_about_you_answers_are_kept() {
    let app = TestApp::spawn_with(|config| config.open_responses_per_hour = 3).await;
    let officer = app.token_for(Role::Officer).await;
    let body = app
        .graphql(
            CREATE,
            json!({ "input": { "title": "Park survey", "openLink": true } }),
            Some(&officer),
        )
        .await;
    let created = &body["data"]["consultationCreate"]["consultation"];
    let id = created["id"].as_str().unwrap().to_owned();
    let url = created["openLinkUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    let code = url
        .strip_prefix("https://panel.example.gov.uk/o/")
        .unwrap()
        .to_owned();
    assert!(code.len() >= 22, "128 bits: {code}");
    let body = app
        .graphql(
            QUESTIONS,
            json!({ "input": { "consultationId": id, "questions": [
                { "key": "park", "text": "How good is the park, from 0 to 10?", "kind": "RATING", "required": true },
                { "key": "age", "text": "How old are you?", "kind": "SINGLE_CHOICE", "aboutYou": "age_band",
                  "options": [{ "key": "a16_24", "label": "16-24" }, { "key": "a25_64", "label": "25-64" },
                              { "key": "a65", "label": "65+" }] },
                { "key": "sex", "text": "Are you female or male?", "kind": "SINGLE_CHOICE", "aboutYou": "sex",
                  "options": [{ "key": "f", "label": "Female" }, { "key": "m", "label": "Male" }] }
            ] } }),
            Some(&officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let open = "query($code: String!) { openConsultation(code: $code) { title status questions { key } } }";
    // Not yet open: the link finds nothing.
    let body = app.graphql(open, json!({ "code": code }), None).await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    app.graphql(OPEN, json!({ "id": id }), Some(&officer)).await;
    let body = app.graphql(open, json!({ "code": code }), None).await;
    assert_eq!(body["data"]["openConsultation"]["status"], "OPEN", "{body}");

    let submit = "mutation($input: OpenResponseSubmitInput!) { openResponseSubmit(input: $input) { duplicate } }";
    let answers = json!([
        { "questionKey": "park", "value": 8 },
        { "questionKey": "age", "options": ["a16_24"] }
    ]);
    let body = app
        .graphql(
            submit,
            json!({ "input": { "code": code, "answers": answers, "submissionKey": "k1" } }),
            None,
        )
        .await;
    assert_eq!(
        body["data"]["openResponseSubmit"]["duplicate"], false,
        "{body}"
    );
    let body = app
        .graphql(
            submit,
            json!({ "input": { "code": code, "answers": answers, "submissionKey": "k1" } }),
            None,
        )
        .await;
    assert_eq!(
        body["data"]["openResponseSubmit"]["duplicate"], true,
        "a retry: {body}"
    );
    let body = app
        .graphql(
            submit,
            json!({ "input": { "code": code, "answers": [{ "questionKey": "park", "value": 3 }] } }),
            None,
        )
        .await;
    assert_eq!(
        body["data"]["openResponseSubmit"]["duplicate"], false,
        "{body}"
    );
    let rows = response::Entity::find()
        .order_by_asc(response::Column::Id)
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            rows[0].age_band.as_deref(),
            rows[0].sex.as_deref(),
            rows[0].channel.as_str()
        ),
        (Some("16-24"), None, "qr")
    );
    assert_eq!(
        (rows[1].age_band.as_deref(), rows[1].invitation_id),
        (None, None)
    );
    let body = app
        .graphql(
            "query($id: ID!) { consultation(id: $id) { responseCounts { channel count } } }",
            json!({ "id": id }),
            Some(&officer),
        )
        .await;
    assert_eq!(
        body["data"]["consultation"]["responseCounts"],
        json!([{ "channel": "QR", "count": 2 }]),
        "{body}"
    );
    // A bad answer is refused and counts nothing; too many from one address are limited.
    let body = app
        .graphql(
            submit,
            json!({ "input": { "code": code, "answers": [{ "questionKey": "park", "value": 12 }] } }),
            None,
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let body = app
        .graphql(
            submit,
            json!({ "input": { "code": code, "answers": answers } }),
            None,
        )
        .await;
    assert_eq!(
        body["data"]["openResponseSubmit"]["duplicate"], false,
        "{body}"
    );
    let body = app
        .graphql(
            submit,
            json!({ "input": { "code": code, "answers": answers } }),
            None,
        )
        .await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    assert_eq!(app.count(response::Entity).await, 3);
}
