//! One definition of each stage everywhere: `Consultation.progress` (whose counts the
//! live subscription sends too), the report's funnel by channel and its daily series all
//! count the people who got at least that far, and machine-only opens those no person got
//! further than.

use serde_json::{Value, json};

use civic_panel::domain::accounts::role::Role;

use crate::consultations::{
    ENTER, Member, full_answers, invite, letters, mailed_tokens, open_survey, panel_with,
};
use crate::helpers::TestApp;

const STAGES: [&str; 6] = [
    "invited",
    "sent",
    "opened",
    "clicked",
    "started",
    "completed",
];

const REPORT: &str = "query($id: ID!) { consultationReport(id: $id) {
    funnel { counts { invited sent opened clicked started completed } machineOpenedOnly }
    byChannel { groups { label counts { invited sent opened clicked started completed } } }
    byDay { sent opened clicked started completed }
} }";

const PROGRESS: &str = "query($id: ID!) { consultation(id: $id) {
    progress { channel invited sent opened clicked started completed machineOpenedOnly }
} }";

fn stages(counts: &Value) -> Vec<u64> {
    STAGES
        .iter()
        .map(|s| {
            counts[s]
                .as_u64()
                .unwrap_or_else(|| panic!("{s} in {counts}"))
        })
        .collect()
}

#[tokio::test]
async fn progress_the_report_and_its_daily_series_count_the_same_people_at_each_stage() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let email = |address: &'static str| Member {
        email: Some(address),
        phone: None,
    };
    let members = [
        email("clicks@example.org"),
        email("opens@example.org"),
        email("proxied-then-clicks@example.org"),
        email("proxied@example.org"),
        Member {
            email: None,
            phone: None,
        },
    ];
    let (panel, _) = panel_with(&app, &officer, &members).await;
    let consultation = open_survey(&app, &officer, Some(&panel), false).await;
    invite(&app, &officer, &consultation).await;
    let tokens = mailed_tokens(&app);
    assert_eq!(tokens.len(), 4);
    let hit = |path: String| {
        let app = &app;
        async move { app.get(&path, None).await.status.as_u16() }
    };
    // Two images fetched by their mail servers as the messages land.
    for token in &tokens[2..] {
        assert_eq!(hit(format!("/t/o/{token}")).await, 200);
    }
    app.clock.advance(chrono::Duration::minutes(5));
    // One follows the link with images blocked; one loads the image; one whose image a
    // machine fetched follows the link.
    assert_eq!(hit(format!("/t/c/{}", tokens[0])).await, 302);
    assert_eq!(hit(format!("/t/o/{}", tokens[1])).await, 200);
    assert_eq!(hit(format!("/t/c/{}", tokens[2])).await, 302);
    // The third answers the letter on paper.
    let code = letters(&app, &officer, &consultation).await[1][7].clone();
    let body = app
        .graphql(
            ENTER,
            json!({ "input": { "code": code, "channel": "PAPER", "answers": full_answers("no") } }),
            Some(&officer),
        )
        .await;
    assert_eq!(
        body["data"]["responseEnter"]["stage"], "COMPLETED",
        "{body}"
    );

    let body = app
        .graphql(PROGRESS, json!({ "id": consultation }), Some(&officer))
        .await;
    let progress = body["data"]["consultation"]["progress"]
        .as_array()
        .unwrap()
        .clone();
    let of = |channel: &str| stages(progress.iter().find(|p| p["channel"] == channel).unwrap());
    assert_eq!(of("EMAIL"), [4, 4, 3, 2, 0, 0], "{body}");
    let email = progress.iter().find(|p| p["channel"] == "EMAIL").unwrap();
    assert_eq!(
        email["machineOpenedOnly"], 1,
        "a person got further: {body}"
    );
    assert_eq!(of("POST"), [1, 1, 1, 1, 1, 1], "{body}");

    let body = app
        .graphql(REPORT, json!({ "id": consultation }), Some(&officer))
        .await;
    let report = &body["data"]["consultationReport"];
    for group in report["byChannel"]["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
    {
        let channel = group["label"].as_str().unwrap().to_uppercase();
        let counts = stages(&group["counts"]);
        if counts[0] > 0 {
            assert_eq!(counts, of(&channel), "{channel}: {body}");
        }
    }
    let funnel = stages(&report["funnel"]["counts"]);
    assert_eq!(funnel, [5, 5, 4, 3, 1, 1], "{body}");
    assert_eq!(report["funnel"]["machineOpenedOnly"], 1, "{body}");
    // The invitations themselves, a page at a time.
    let page = "query($id: ID!, $first: Int, $after: String) { consultation(id: $id) {
        invitations(first: $first, after: $after) { pageInfo { hasNextPage } edges { cursor } } } }";
    let body = app
        .graphql(
            page,
            json!({ "id": consultation, "first": 3 }),
            Some(&officer),
        )
        .await;
    let invitations = &body["data"]["consultation"]["invitations"];
    assert_eq!(invitations["pageInfo"]["hasNextPage"], true, "{body}");
    let after = invitations["edges"][2]["cursor"].clone();
    let body = app
        .graphql(
            page,
            json!({ "id": consultation, "first": 3, "after": after }),
            Some(&officer),
        )
        .await;
    let invitations = &body["data"]["consultation"]["invitations"];
    assert_eq!(invitations["edges"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(invitations["pageInfo"]["hasNextPage"], false, "{body}");
    // Each invitation counted once per stage, on the day it first got that far.
    let days = report["byDay"].as_array().unwrap();
    for (i, stage) in STAGES.iter().enumerate().skip(1) {
        let total: u64 = days.iter().map(|d| d[stage].as_u64().unwrap()).sum();
        assert_eq!(total, funnel[i], "{stage}: {body}");
    }
}
