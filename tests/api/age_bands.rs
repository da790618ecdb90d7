//! "About you" age bands as councils write them: reported against the census when their
//! edges fall on census band edges, refused (naming the option) when they cut a band; and
//! each category's weighted share, so that a raked margin reads back as the population.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use civic_panel::db::entities::question;
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::ids::ConsultationId;
use civic_panel::graphql::id;

use crate::helpers::{TestApp, error_code, error_message};
use crate::reports::{AREA, census, group, split};

const CREATE: &str = "mutation($input: ConsultationCreateInput!) {
    consultationCreate(input: $input) { consultation { id openLinkUrl } }
}";

const QUESTIONS: &str = "mutation($input: ConsultationQuestionsSetInput!) {
    consultationQuestionsSet(input: $input) { questions { key } }
}";

const OPEN: &str = "mutation($id: ID!) {
    consultationOpen(input: { consultationId: $id }) { consultation { status } }
}";

/// An age question with `labels` (keys `a0`, `a1`, …), and a sex question.
fn questions(id: &str, labels: &[&str]) -> Value {
    let options: Vec<Value> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| json!({ "key": format!("a{i}"), "label": l }))
        .collect();
    json!({ "input": { "consultationId": id, "questions": [
        { "key": "park", "text": "How good is the park, from 0 to 10?", "kind": "RATING",
          "required": true },
        { "key": "age", "text": "How old are you?", "kind": "SINGLE_CHOICE",
          "aboutYou": "age_band", "options": options },
        { "key": "sex", "text": "Are you female or male?", "kind": "SINGLE_CHOICE",
          "aboutYou": "sex",
          "options": [{ "key": "f", "label": "Female" }, { "key": "m", "label": "Male" }] }
    ] } })
}

/// A draft with an open link; its ID and open-link code.
async fn draft(app: &TestApp, officer: &str) -> (String, String) {
    let body = app
        .graphql(
            CREATE,
            json!({ "input": { "title": "Park survey", "openLink": true } }),
            Some(officer),
        )
        .await;
    let created = &body["data"]["consultationCreate"]["consultation"];
    let id = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let code = created["openLinkUrl"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    (id, code)
}

#[tokio::test]
async fn an_age_band_that_cuts_a_census_band_is_refused_naming_the_option_when_set_and_when_opened()
{
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let (id, _) = draft(&app, &officer).await;
    // 18-24 cuts the census band 15-19 at 18 (the youngest age is 16).
    let body = app
        .graphql(
            QUESTIONS,
            questions(&id, &["Under 16", "16-17", "18–24", "25+"]),
            Some(&officer),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "input.questions.1.options.1.label",
        "{body}"
    );
    assert!(error_message(&body).contains("15-19"), "{body}");
    let body = app
        .graphql(
            QUESTIONS,
            questions(&id, &["16-24", "over 25"]),
            Some(&officer),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        "input.questions.1.options.1.label"
    );
    // What a council writes, on census edges, is taken.
    let council = [
        "16-24",
        "25 to 34",
        "35–44",
        "Aged 45 to 54 years",
        "55-64",
        "65-74",
        "75 or over",
        "Prefer not to say",
    ];
    let body = app
        .graphql(QUESTIONS, questions(&id, &council), Some(&officer))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    // A draft saved before the check: refused when it opens, naming the option.
    let consultation = id::decode::<ConsultationId>(&id, "id").unwrap();
    let stored = question::Entity::find()
        .filter(question::Column::ConsultationId.eq(consultation))
        .filter(question::Column::Key.eq("age"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    question::Entity::update(question::ActiveModel {
        id: Set(stored.id),
        options: Set(
            json!([{ "key": "young", "label": "18-24" }, { "key": "rest", "label": "25+" },
                            { "key": "kids", "label": "Under 18" }])
            .to_string(),
        ),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap();
    let body = app.graphql(OPEN, json!({ "id": id }), Some(&officer)).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "questions.age.options.young",
        "{body}"
    );
}

const REPORT: &str = "query($id: ID!, $input: ReportInput) {
    consultationReport(id: $id, input: $input) {
        splits { name groups { label populationShare respondentShare weightedShare
                               counts { respondents } } }
        weighting { weighted converged respondents leftOut note }
    }
}";

#[tokio::test]
async fn respondents_giving_a_councils_age_bands_are_weighted_and_their_weighted_shares_are_the_populations()
 {
    let app = TestApp::spawn_with(|c| c.open_responses_per_hour = u32::MAX).await;
    app.load_benchmarks().await;
    let officer = app.token_for(Role::Officer).await;
    let (id, code) = draft(&app, &officer).await;
    let bands = [
        "16-24",
        "25-44",
        "45-64",
        "65 and over",
        "Prefer not to say",
    ];
    let body = app
        .graphql(QUESTIONS, questions(&id, &bands), Some(&officer))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let body = app.graphql(OPEN, json!({ "id": id }), Some(&officer)).await;
    assert!(body["errors"].is_null(), "{body}");
    let submit = "mutation($input: OpenResponseSubmitInput!) {
        openResponseSubmit(input: $input) { duplicate } }";
    // 64 respondents, older ones more; two prefer not to say their age.
    for i in 0..64usize {
        let age = match i {
            0..6 => 0,
            6..20 => 1,
            20..40 => 2,
            40..62 => 3,
            _ => 4,
        };
        let body = app
            .graphql(
                submit,
                json!({ "input": { "code": code, "submissionKey": format!("k{i}"), "answers": [
                    { "questionKey": "park", "value": (i % 11) },
                    { "questionKey": "age", "options": [format!("a{age}")] },
                    { "questionKey": "sex", "options": [if i % 3 == 0 { "m" } else { "f" }] }
                ] } }),
                None,
            )
            .await;
        assert_eq!(
            body["data"]["openResponseSubmit"]["duplicate"], false,
            "{body}"
        );
    }
    let body = app
        .graphql(
            REPORT,
            json!({ "id": id, "input": { "areaCode": AREA, "weightingDimensions": ["AGE_BAND", "SEX"] } }),
            Some(&officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let report = &body["data"]["consultationReport"];
    // Ages are the question's bands, each the census bands in it (16-24 takes 4/5 of
    // 15-19 and all of 20-24).
    let ages = split(report, "age_band");
    // Bands 15-19 (from 16: four fifths of it) to 80-84, and 85+.
    let census_from_16: f64 = (3..17)
        .map(|b| {
            let whole = census("age_band", &format!("{}-{}", b * 5, b * 5 + 4));
            if b == 3 { 0.8 * whole } else { whole }
        })
        .sum::<f64>()
        + census("age_band", "85+");
    let young = (0.8 * census("age_band", "15-19") + census("age_band", "20-24")) / census_from_16;
    let share = group(ages, "16-24")["populationShare"].as_f64().unwrap();
    assert!((share - young).abs() < 1e-9, "{share} against {young}");
    assert_eq!(group(ages, "16-24")["counts"]["respondents"], 6);
    assert_eq!(group(ages, "Not given")["counts"]["respondents"], 2);
    // Nobody is left out of weighting but the two who did not give an age.
    let weighting = &report["weighting"];
    assert_eq!(weighting["weighted"], true, "{weighting}");
    assert_eq!(weighting["converged"], true, "{weighting}");
    assert_eq!(weighting["respondents"], 62);
    assert_eq!(weighting["leftOut"], 2);
    // The raked margins read back: each weighting dimension's weighted shares are its
    // population shares.
    for name in ["age_band", "sex"] {
        for g in split(report, name)["groups"].as_array().unwrap() {
            if g["label"] == "Not given" {
                assert_eq!(g["weightedShare"], Value::Null);
                continue;
            }
            let (Some(weighted), Some(population)) =
                (g["weightedShare"].as_f64(), g["populationShare"].as_f64())
            else {
                panic!("{name}: {g}");
            };
            assert!(
                (weighted - population).abs() < 1e-6,
                "{name} {}: weighted {weighted}, population {population}",
                g["label"]
            );
        }
    }
    // Respondents are not the population: the weighting moved them.
    let unweighted = group(ages, "65 and over")["respondentShare"]
        .as_f64()
        .unwrap();
    let weighted = group(ages, "65 and over")["weightedShare"]
        .as_f64()
        .unwrap();
    assert!(
        (unweighted - weighted).abs() > 0.05,
        "{unweighted} {weighted}"
    );
    // SCRUTINY gets no weighted share.
    let scrutiny = app.token_for(Role::Scrutiny).await;
    let body = app
        .graphql(
            REPORT,
            json!({ "id": id, "input": { "areaCode": AREA } }),
            Some(&scrutiny),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert!(!body.to_string().contains("\"weightedShare\":0."), "{body}");
}
