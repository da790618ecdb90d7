//! A consultation sent to a balanced sample of its panel: exactly the size asked for,
//! within the panel's quotas scaled to it, the same members for the same seed, each
//! member invited once, and sizes or quotas that cannot work refused with their field.

use std::collections::BTreeSet;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use civic_panel::db::entities::{consultation, invitation, membership};
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::ids::PanelId;

use crate::consultations::{Member, ask_to_invite, fill_and_open, panel_of};
use crate::helpers::{TestApp, error_code};

const CREATE: &str = "mutation($input: ConsultationCreateInput!) {
    consultationCreate(input: $input) { consultation { id sampleSize sampleSeed } }
}";

const UPDATE: &str = "mutation($input: ConsultationUpdateInput!) {
    consultationUpdate(input: $input) { consultation { id sampleSize sampleSeed } }
}";

const DUPLICATE: &str = "mutation($id: ID!) {
    consultationDuplicate(input: { consultationId: $id }) {
        consultation { id sampleSize sampleSeed }
    }
}";

const QUOTAS_SET: &str = "mutation($input: PanelQuotasSetInput!) {
    panelQuotasSet(input: $input) { feature value min max }
}";

/// The job query with what a sample's invite job reports.
const INVITE_JOB: &str = "query($id: ID!) {
    job(id: $id) {
        status error
        result {
            ... on ConsultationInvited {
                post alreadyInvited sample { poolSize quotasCsv minimumProbability }
            }
        }
    }
}";

/// Born so as to be 26, 36 and 66 on the day the tests' clock stands at.
const BORN: [&str; 3] = ["2000-05-01", "1990-05-01", "1960-05-01"];
/// Their age bands, in the same order.
const BANDS: [&str; 3] = ["25-29", "35-39", "65-69"];

/// The `i`th member of the forty: women and men in turn, and the three ages in turn.
fn profile(i: usize) -> (&'static str, &'static str) {
    (
        if i.is_multiple_of(2) {
            "female"
        } else {
            "male"
        },
        BORN[i % 3],
    )
}

/// A Residents Panel of forty (target size forty) reached by post, with quotas on sex
/// and age band a panel of forty from them meets; its ID and the residents' ids.
async fn forty_member_panel(app: &TestApp, officer: &str) -> (String, Vec<i64>) {
    let members: Vec<Member> = (0..40)
        .map(|_| Member {
            email: None,
            phone: None,
        })
        .collect();
    let (panel, residents) = panel_of(app, officer, &members, profile).await;
    set_quotas(
        app,
        officer,
        &panel,
        &[
            ("sex", "female", 20, 20),
            ("sex", "male", 20, 20),
            ("age_band", "25-29", 12, 16),
            ("age_band", "35-39", 11, 15),
            ("age_band", "65-69", 11, 15),
        ],
    )
    .await;
    (panel, residents)
}

async fn set_quotas(app: &TestApp, officer: &str, panel: &str, quotas: &[(&str, &str, u32, u32)]) {
    let quotas: Vec<Value> = quotas
        .iter()
        .map(|(feature, value, min, max)| {
            json!({ "feature": feature, "value": value, "min": min, "max": max })
        })
        .collect();
    let body = app
        .graphql(
            QUOTAS_SET,
            json!({ "input": { "panelId": panel, "quotas": quotas } }),
            Some(officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
}

/// Drafts a consultation for `panel` with `sample` (sampleSize, sampleSeed…) merged into
/// its input: the response body.
async fn draft(app: &TestApp, officer: &str, panel: &str, sample: Value) -> Value {
    let mut input = json!({ "title": "Budget priorities", "panelId": panel });
    if let (Some(input), Some(sample)) = (input.as_object_mut(), sample.as_object()) {
        input.extend(sample.clone());
    }
    app.graphql(CREATE, json!({ "input": input }), Some(officer))
        .await
}

/// Drafts, fills and opens a consultation for a sample; its ID.
async fn open_sampled(app: &TestApp, officer: &str, panel: &str, sample: Value) -> String {
    let body = draft(app, officer, panel, sample).await;
    let id = body["data"]["consultationCreate"]["consultation"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    fill_and_open(app, officer, &id).await;
    id
}

/// Asks to invite the consultation's audience: the mutation's body when refused,
/// otherwise the finished job.
async fn invite(app: &TestApp, officer: &str, consultation: &str) -> Value {
    let job = match ask_to_invite(app, officer, consultation).await {
        Ok(job) => job,
        Err(body) => return body,
    };
    app.run_jobs().await;
    let body = app
        .graphql(INVITE_JOB, json!({ "id": job }), Some(officer))
        .await;
    body["data"]["job"].clone()
}

/// The residents a consultation has invited, each once.
async fn invited(app: &TestApp, consultation: &str) -> Vec<i64> {
    let id = civic_panel::graphql::id::decode::<civic_panel::domain::ids::ConsultationId>(
        consultation,
        "id",
    )
    .unwrap();
    invitation::Entity::find()
        .filter(invitation::Column::ConsultationId.eq(id))
        .order_by_asc(invitation::Column::ResidentId)
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.resident_id.get())
        .collect()
}

/// The field a refusal names.
fn field(body: &Value) -> &str {
    body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_else(|| panic!("no field in {body}"))
}

fn message(body: &Value) -> &str {
    body["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {body}"))
}

/// Sets the memberships of `residents` on `panel` to `status`, as if changed since.
async fn set_status(app: &TestApp, panel: &str, residents: &[i64], status: &str) {
    let panel = civic_panel::graphql::id::decode::<PanelId>(panel, "id").unwrap();
    membership::Entity::update_many()
        .col_expr(membership::Column::Status, Expr::value(status))
        .filter(membership::Column::PanelId.eq(panel))
        .filter(membership::Column::ResidentId.is_in(residents.iter().copied()))
        .exec(app.db())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_sample_goes_to_exactly_that_many_members_within_the_scaled_quotas_and_only_once() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let (panel, residents) = forty_member_panel(&app, &officer).await;
    let consultation = open_sampled(
        &app,
        &officer,
        &panel,
        json!({ "sampleSize": 12, "sampleSeed": "2026" }),
    )
    .await;
    let job = invite(&app, &officer, &consultation).await;
    assert_eq!(job["status"], "SUCCEEDED", "{job}");
    assert_eq!(job["result"]["post"], 12, "{job}");
    // The panel's quotas for forty, scaled to twelve: minimums rounded down, maximums up.
    let sample = &job["result"]["sample"];
    assert_eq!(sample["poolSize"], 40, "{job}");
    assert_eq!(
        sample["quotasCsv"],
        "feature,value,min,max\nsex,female,6,6\nsex,male,6,6\n\
         age_band,25-29,3,5\nage_band,35-39,3,5\nage_band,65-69,3,5\n"
    );
    // Twelve of forty, and the quotas let everyone have the same chance.
    let lowest = sample["minimumProbability"].as_f64().unwrap();
    assert!((lowest - 0.3).abs() < 1e-3, "{job}");

    let sampled = invited(&app, &consultation).await;
    assert_eq!(sampled.len(), 12);
    assert_eq!(sampled.iter().collect::<BTreeSet<_>>().len(), 12);
    let profiles: Vec<(&str, &str)> = sampled
        .iter()
        .map(|id| {
            let i = residents.iter().position(|r| r == id).unwrap();
            (profile(i).0, BANDS[i % 3])
        })
        .collect();
    let with = |f: &dyn Fn(&(&str, &str)) -> bool| profiles.iter().filter(|p| f(p)).count();
    assert_eq!(with(&|p| p.0 == "female"), 6);
    assert_eq!(with(&|p| p.0 == "male"), 6);
    for band in BANDS {
        assert!(
            (3..=5).contains(&with(&|p| p.1 == band)),
            "{band}: {profiles:?}"
        );
    }

    // Inviting again adds nobody, even once the panel's members have changed (a draw
    // from them now would give another sample).
    let job = invite(&app, &officer, &consultation).await;
    assert_eq!(job["status"], "SUCCEEDED", "{job}");
    assert_eq!(job["result"]["post"], 0, "{job}");
    assert_eq!(job["result"]["alreadyInvited"], 12, "{job}");
    assert!(job["result"]["sample"].is_null(), "{job}");
    set_status(&app, &panel, &sampled[..3], "paused").await;
    let job = invite(&app, &officer, &consultation).await;
    assert_eq!(job["status"], "SUCCEEDED", "{job}");
    assert_eq!(job["result"]["post"], 0, "{job}");
    assert_eq!(invited(&app, &consultation).await, sampled);
}

#[tokio::test]
async fn the_same_seed_draws_the_same_members_and_another_seed_others() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let (panel, _) = forty_member_panel(&app, &officer).await;
    let mut samples = Vec::new();
    for seed in ["7", "7", "8"] {
        let consultation = open_sampled(
            &app,
            &officer,
            &panel,
            json!({ "sampleSize": 10, "sampleSeed": seed }),
        )
        .await;
        let job = invite(&app, &officer, &consultation).await;
        assert_eq!(job["status"], "SUCCEEDED", "{job}");
        let sample = invited(&app, &consultation).await;
        assert_eq!(sample.len(), 10);
        samples.push(sample);
    }
    assert_eq!(samples[0], samples[1]);
    assert_ne!(samples[0], samples[2]);

    // Without a seed one is chosen and stored; an edit keeps it; a copy draws afresh.
    let body = draft(&app, &officer, &panel, json!({ "sampleSize": 10 })).await;
    let created = &body["data"]["consultationCreate"]["consultation"];
    let seed = created["sampleSeed"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    assert!(seed.parse::<u64>().is_ok(), "{seed}");
    assert_eq!(created["sampleSize"], 10);
    let id = created["id"].as_str().unwrap().to_owned();
    let body = app
        .graphql(
            UPDATE,
            json!({ "input": { "consultationId": id, "consultation": {
                "title": "Budget priorities, again", "panelId": panel, "sampleSize": 8 } } }),
            Some(&officer),
        )
        .await;
    let updated = &body["data"]["consultationUpdate"]["consultation"];
    assert_eq!(updated["sampleSize"], 8, "{body}");
    assert_eq!(updated["sampleSeed"], seed.as_str(), "{body}");
    let body = app
        .graphql(DUPLICATE, json!({ "id": id }), Some(&officer))
        .await;
    let copy = &body["data"]["consultationDuplicate"]["consultation"];
    assert_eq!(copy["sampleSize"], 8, "{body}");
    assert_ne!(copy["sampleSeed"], seed.as_str(), "{body}");
    // An edit that does not name the sample keeps it; null goes back to the whole panel.
    let body = app
        .graphql(
            UPDATE,
            json!({ "input": { "consultationId": id, "consultation": { "title": "Budget priorities" } } }),
            Some(&officer),
        )
        .await;
    let updated = &body["data"]["consultationUpdate"]["consultation"];
    assert_eq!(updated["sampleSize"], 8, "{body}");
    assert_eq!(updated["sampleSeed"], seed.as_str(), "{body}");
    let body = app
        .graphql(
            UPDATE,
            json!({ "input": { "consultationId": id, "consultation": { "sampleSize": null } } }),
            Some(&officer),
        )
        .await;
    let updated = &body["data"]["consultationUpdate"]["consultation"];
    assert!(updated["sampleSize"].is_null(), "{body}");
    assert!(updated["sampleSeed"].is_null(), "{body}");
}

#[tokio::test]
async fn sizes_seeds_and_quotas_a_sample_cannot_meet_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let (panel, residents) = forty_member_panel(&app, &officer).await;
    let refused = |body: &Value, name: &str, words: &str| {
        assert_eq!(error_code(body), "BAD_USER_INPUT", "{body}");
        assert_eq!(field(body), name, "{body}");
        assert!(message(body).contains(words), "{body}");
    };
    for (sample, name, words) in [
        (json!({ "sampleSize": 0 }), "input.sampleSize", "at least 1"),
        (
            json!({ "sampleSize": -3 }),
            "input.sampleSize",
            "at least 1",
        ),
        (
            json!({ "sampleSize": 41 }),
            "input.sampleSize",
            "more than the panel's 40 current members",
        ),
        (
            json!({ "sampleSize": 5, "sampleSeed": "five" }),
            "input.sampleSeed",
            "whole number",
        ),
        (
            json!({ "sampleSeed": "5" }),
            "input.sampleSeed",
            "give sampleSize too",
        ),
    ] {
        refused(&draft(&app, &officer, &panel, sample).await, name, words);
    }
    let body = app
        .graphql(
            CREATE,
            json!({ "input": { "title": "Open to all", "openLink": true, "sampleSize": 5 } }),
            Some(&officer),
        )
        .await;
    refused(&body, "input.sampleSize", "give panelId too");
    let body = app
        .graphql(
            "mutation { panelCreate(input: { name: \"Youth Forum\", targetSize: 10 }) { id } }",
            json!({}),
            Some(&officer),
        )
        .await;
    let unquoted = body["data"]["panelCreate"]["id"].as_str().unwrap();
    refused(
        &draft(&app, &officer, unquoted, json!({ "sampleSize": 5 })).await,
        "input.sampleSize",
        "no quotas",
    );
    assert_eq!(app.count(consultation::Entity).await, 0);

    // Opened with a sample of 20, then 16 women leave the panel: 10 women (half of 20)
    // cannot be found among the 4 left. Refused at once, naming the category.
    let consultation = open_sampled(&app, &officer, &panel, json!({ "sampleSize": 20 })).await;
    let women: Vec<i64> = residents.iter().step_by(2).take(16).copied().collect();
    set_status(&app, &panel, &women, "withdrawn").await;
    let body = invite(&app, &officer, &consultation).await;
    refused(
        &body,
        "input.consultationId",
        "sex female: the minimum is 10 but the pool has 4",
    );
    assert!(message(&body).contains("consultationDuplicate"), "{body}");
    assert!(invited(&app, &consultation).await.is_empty());
    // A draft asking for it now is refused the same way; and 24 members are too few.
    refused(
        &draft(&app, &officer, &panel, json!({ "sampleSize": 20 })).await,
        "input.sampleSize",
        "sex female: the minimum is 10 but the pool has 4",
    );
    refused(
        &draft(&app, &officer, &panel, json!({ "sampleSize": 30 })).await,
        "input.sampleSize",
        "more than the panel's 24 current members",
    );
    // An open consultation's sample is frozen.
    let body = app
        .graphql(
            UPDATE,
            json!({ "input": { "consultationId": consultation, "consultation": {
                "title": "Budget priorities", "panelId": panel, "sampleSize": 4 } } }),
            Some(&officer),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
}

#[tokio::test]
async fn quotas_the_members_cannot_meet_together_fail_the_draw_naming_what_to_change() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    // Every woman is 26 and every man 36: a sample's 25-29s are its women.
    let members: Vec<Member> = (0..40)
        .map(|_| Member {
            email: None,
            phone: None,
        })
        .collect();
    let (panel, _) = panel_of(&app, &officer, &members, |i| {
        if i.is_multiple_of(2) {
            ("female", BORN[0])
        } else {
            ("male", BORN[1])
        }
    })
    .await;
    // Scaled to 10: five women, yet at least six aged 25-29. Each quota alone can be met.
    set_quotas(
        &app,
        &officer,
        &panel,
        &[
            ("sex", "female", 20, 20),
            ("sex", "male", 20, 20),
            ("age_band", "25-29", 24, 28),
            ("age_band", "35-39", 12, 16),
        ],
    )
    .await;
    let consultation = open_sampled(&app, &officer, &panel, json!({ "sampleSize": 10 })).await;
    let job = invite(&app, &officer, &consultation).await;
    assert_eq!(job["status"], "FAILED", "{job}");
    let error = job["error"].as_str().unwrap();
    assert!(error.contains("No sample of 10 meets"), "{error}");
    assert!(error.contains("cannot be met together"), "{error}");
    assert!(
        error.contains("the smallest change a sample could meet"),
        "{error}"
    );
    assert!(
        error.contains("age_band 25-29") || error.contains("sex female"),
        "{error}"
    );
    assert!(invited(&app, &consultation).await.is_empty());
}
