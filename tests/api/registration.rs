//! Residents registering with their invitation code.

use chrono::Duration;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use civic_panel::db::entities::{consent, letter, resident};
use civic_panel::domain::accounts::role::Role;

use crate::helpers::{REGISTER, TestApp, error_code, error_message, registration};

async fn round_with_codes(
    app: &TestApp,
    input: Value,
) -> (
    String,
    Vec<civic_panel::domain::recruitment::letter_bundle::PrintedLetter>,
) {
    let officer = app.token_for(Role::Officer).await;
    let round = app.round_id(&officer, input).await;
    let codes = app.issue_codes(&round).await;
    (round, codes)
}

async fn register(app: &TestApp, input: Value) -> Value {
    app.graphql(REGISTER, json!({ "input": input }), None).await
}

fn code_of(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("none")
}

#[tokio::test]
async fn a_resident_registers_with_a_code_and_joins_the_pool_with_the_address_ward() {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.2).await;
    let (_, codes) =
        round_with_codes(&app, json!({ "name": "R", "letters": 5, "seed": "1" })).await;
    let printed = &codes[0];
    // Typed as a person might: lower case, spaces instead of the hyphen.
    let typed = printed.code.to_lowercase().replace('-', " ");
    let body = register(&app, registration(&typed, "Alex@Example.org")).await;
    let created = &body["data"]["registrationCreate"];
    assert_eq!(created["account"]["email"], "alex@example.org", "{body}");
    assert_eq!(created["account"]["role"], "RESIDENT");
    let token = created["token"].as_str().unwrap();
    let me = app.graphql("{ me { role } }", json!({}), Some(token)).await;
    assert_eq!(me["data"]["me"]["role"], "RESIDENT");

    let resident = resident::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(format!("L{}", resident.letter_id), printed.reference);
    let drawn = civic_panel::db::entities::address::Entity::find_by_id(resident.address_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(drawn.postcode, printed.address.postcode);
    assert_eq!(resident.ward_code, drawn.ward_code);
    assert_eq!(resident.deprivation_decile, drawn.deprivation_decile);
    assert_eq!(resident.household_key, drawn.household_key);
    assert_eq!(
        resident.ethnic_group,
        "White: English, Welsh, Scottish, Northern Irish or British"
    );
    let consent = consent::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(consent.resident_id, resident.id);
    assert_eq!(consent.given_at, app.clock.now());
    assert!(consent.wording.contains("residents' panel"));
    let redeemed = letter::Entity::find()
        .filter(letter::Column::RedeemedAt.is_not_null())
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(redeemed.len(), 1);
}

#[tokio::test]
async fn an_invitation_code_cannot_be_redeemed_twice() {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.2).await;
    let (_, codes) =
        round_with_codes(&app, json!({ "name": "R", "letters": 2, "seed": "1" })).await;
    register(&app, registration(&codes[0].code, "first@example.org")).await;
    let again = register(&app, registration(&codes[0].code, "second@example.org")).await;
    assert_eq!(code_of(&again), "CONFLICT");
    assert_eq!(app.count(resident::Entity).await, 1);
}

#[tokio::test]
async fn concurrent_redemptions_of_one_code_register_exactly_once() {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.2).await;
    let (_, codes) =
        round_with_codes(&app, json!({ "name": "R", "letters": 2, "seed": "1" })).await;
    let attempts = (0..8).map(|n| {
        let app = &app;
        let code = codes[0].code.clone();
        async move { register(app, registration(&code, &format!("racer{n}@example.org"))).await }
    });
    let results = futures_util::future::join_all(attempts).await;
    let successes = results
        .iter()
        .filter(|b| b["data"]["registrationCreate"]["residentId"].is_string())
        .count();
    assert_eq!(successes, 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|b| b.get("errors").is_some())
            .all(|b| code_of(b) == "CONFLICT")
    );
    assert_eq!(app.count(resident::Entity).await, 1);
}

#[tokio::test]
async fn a_mistyped_code_is_caught_by_its_check_character() {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.2).await;
    let (_, codes) =
        round_with_codes(&app, json!({ "name": "R", "letters": 1, "seed": "1" })).await;
    let mut typo: Vec<char> = codes[0].code.chars().collect();
    typo[0] = if typo[0] == 'A' { 'B' } else { 'A' };
    let body = register(
        &app,
        registration(&typo.into_iter().collect::<String>(), "t@example.org"),
    )
    .await;
    assert_eq!(code_of(&body), "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.code");
}

#[tokio::test]
async fn guessing_codes_is_rate_limited_per_client() {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.2).await;
    round_with_codes(&app, json!({ "name": "R", "letters": 1, "seed": "1" })).await;
    let mut rng = rand::rng();
    for _ in 0..10 {
        let guess =
            civic_panel::domain::recruitment::invitation_code::InvitationCode::generate(&mut rng)
                .display();
        let body = register(&app, registration(&guess, "g@example.org")).await;
        assert_eq!(code_of(&body), "NOT_FOUND");
    }
    let guess =
        civic_panel::domain::recruitment::invitation_code::InvitationCode::generate(&mut rng)
            .display();
    let body = register(&app, registration(&guess, "g@example.org")).await;
    assert_eq!(code_of(&body), "RATE_LIMITED");
}

/// A well-formed code that was never issued.
fn unknown_code() -> String {
    civic_panel::domain::recruitment::invitation_code::InvitationCode::generate(&mut rand::rng())
        .display()
}

#[tokio::test]
async fn twelve_residents_registering_at_once_from_one_address_all_get_in() {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.2).await;
    let (_, codes) =
        round_with_codes(&app, json!({ "name": "R", "letters": 12, "seed": "6" })).await;
    // One client address for all (the tests' requests share one), more people than the
    // per-client limit of failures, all at once.
    assert!(codes.len() > app.state.config.redeem_max_failures_per_client as usize);
    let attempts = codes.iter().enumerate().map(|(n, letter)| {
        let app = &app;
        async move {
            register(
                app,
                registration(&letter.code, &format!("kiosk{n}@example.org")),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    for body in &results {
        assert!(
            body["data"]["registrationCreate"]["residentId"].is_string(),
            "{body}"
        );
    }
    assert_eq!(app.count(resident::Entity).await, 12);
}

#[tokio::test]
async fn a_valid_code_registers_from_an_address_past_its_limit_while_guesses_stay_refused() {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.2).await;
    let (_, codes) =
        round_with_codes(&app, json!({ "name": "R", "letters": 2, "seed": "1" })).await;
    let limit = app.state.config.redeem_max_failures_per_client;
    for _ in 0..limit {
        let body = register(&app, registration(&unknown_code(), "g@example.org")).await;
        assert_eq!(code_of(&body), "NOT_FOUND");
    }
    let guess = register(&app, registration(&unknown_code(), "g@example.org")).await;
    assert_eq!(code_of(&guess), "RATE_LIMITED");
    // Someone else at the same address, with their own letter.
    let neighbour = register(&app, registration(&codes[0].code, "n@example.org")).await;
    assert!(
        neighbour["data"]["registrationCreate"]["residentId"].is_string(),
        "{neighbour}"
    );
    let guess = register(&app, registration(&unknown_code(), "g@example.org")).await;
    assert_eq!(code_of(&guess), "RATE_LIMITED");
}

#[tokio::test]
async fn a_burst_of_guesses_gets_no_more_lookups_than_the_global_limit_which_then_stops_everyone() {
    let app = TestApp::spawn_with(|config| {
        config.redeem_max_failures_per_client = 1_000;
        config.redeem_max_failures_global = 10;
    })
    .await;
    app.load_demo_register(0.2).await;
    let (_, codes) =
        round_with_codes(&app, json!({ "name": "R", "letters": 1, "seed": "1" })).await;
    let guesses = (0..30).map(|_| {
        let app = &app;
        async move { register(app, registration(&unknown_code(), "g@example.org")).await }
    });
    let results = futures_util::future::join_all(guesses).await;
    let answered = |code: &str| results.iter().filter(|b| code_of(b) == code).count();
    assert_eq!(answered("NOT_FOUND"), 10, "{results:?}");
    assert_eq!(answered("RATE_LIMITED"), 20);
    let valid = register(&app, registration(&codes[0].code, "v@example.org")).await;
    assert_eq!(code_of(&valid), "RATE_LIMITED", "enumeration stops for all");
    app.clock.advance(Duration::minutes(61));
    let valid = register(&app, registration(&codes[0].code, "v@example.org")).await;
    assert!(
        valid["data"]["registrationCreate"]["residentId"].is_string(),
        "and resumes once the window has passed: {valid}"
    );
}

#[tokio::test]
async fn mistyped_codes_are_not_counted_as_guesses() {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.2).await;
    round_with_codes(&app, json!({ "name": "R", "letters": 1, "seed": "1" })).await;
    let limit = app.state.config.redeem_max_failures_per_client;
    for _ in 0..limit + 5 {
        let mut typo: Vec<char> = unknown_code().chars().collect();
        typo[0] = if typo[0] == 'A' { 'B' } else { 'A' };
        let typo: String = typo.into_iter().collect();
        let body = register(&app, registration(&typo, "t@example.org")).await;
        assert_eq!(code_of(&body), "BAD_USER_INPUT", "{body}");
    }
    let guess = register(&app, registration(&unknown_code(), "g@example.org")).await;
    assert_eq!(
        code_of(&guess),
        "NOT_FOUND",
        "typos never used up the limit"
    );
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.2).await;
    let (_, codes) = round_with_codes(
        &app,
        json!({ "name": "R", "letters": 1, "seed": "1", "codeValidDays": 30 }),
    )
    .await;
    app.clock.advance(Duration::days(31));
    let body = register(&app, registration(&codes[0].code, "late@example.org")).await;
    assert_eq!(code_of(&body), "BAD_USER_INPUT");
    assert!(error_message(&body).contains("expired"));
}

#[tokio::test]
async fn bad_profiles_are_refused_and_leave_the_code_unused() {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.2).await;
    let (_, codes) = round_with_codes(
        &app,
        json!({ "name": "R", "letters": 1, "seed": "1", "minAge": 18 }),
    )
    .await;
    let code = &codes[0].code;
    let cases: [(&str, Value, &str); 5] = [
        ("dateOfBirth", json!("2030-01-01"), "input.dateOfBirth"),
        ("dateOfBirth", json!("2010-01-01"), "input.dateOfBirth"),
        ("consent", json!(false), "input.consent"),
        ("email", json!("not-an-email"), "input.email"),
        ("password", json!("short"), "input.password"),
    ];
    for (key, value, field) in cases {
        let mut input = registration(code, "p@example.org");
        input[key] = value;
        let body = register(&app, input).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let mut no_contact = registration(code, "p@example.org");
    no_contact["email"] = Value::Null;
    no_contact["password"] = Value::Null;
    assert_eq!(
        register(&app, no_contact).await["errors"][0]["extensions"]["field"],
        "input.email"
    );
    assert_eq!(app.count(resident::Entity).await, 0);
    let ok = register(&app, registration(code, "p@example.org")).await;
    assert!(
        ok["data"]["registrationCreate"]["residentId"].is_string(),
        "{ok}"
    );
}

#[tokio::test]
async fn one_person_per_household_is_enforced_when_the_round_asks() {
    let app = TestApp::spawn().await;
    let csv = "uprn,line1,postcode,ward_code,household_key\n1,Flat 1 Mill House,GL20 5AA,E05004418,H1\n2,Flat 2 Mill House,GL20 5AA,E05004418,H1\n";
    app.import_register(csv.as_bytes().to_vec()).await;
    let (_, codes) = round_with_codes(
        &app,
        json!({ "name": "R", "letters": 2, "seed": "1", "onePerHousehold": true }),
    )
    .await;
    let first = register(&app, registration(&codes[0].code, "one@example.org")).await;
    assert!(first["data"]["registrationCreate"]["residentId"].is_string());
    let second = register(&app, registration(&codes[1].code, "two@example.org")).await;
    assert_eq!(code_of(&second), "CONFLICT");
    assert!(error_message(&second).contains("household"));
    assert_eq!(app.count(resident::Entity).await, 1);
    let letters = letter::Entity::find()
        .filter(letter::Column::RedeemedAt.is_not_null())
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(
        letters.len(),
        1,
        "the refused registration leaves its code unused"
    );
}

#[tokio::test]
async fn incentives_are_owed_to_registrants_and_marked_when_given() {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.2).await;
    let officer = app.token_for(Role::Officer).await;
    let round = app
        .round_id(&officer, json!({ "name": "R", "letters": 3, "seed": "1", "incentive": { "description": "£10 voucher", "amountPence": 1000 } }))
        .await;
    let codes = app.issue_codes(&round).await;
    let body = register(&app, registration(&codes[0].code, "paid@example.org")).await;
    assert_eq!(body["data"]["registrationCreate"]["incentiveOwed"], true);
    let claims_query = "query($id: ID!) { recruitmentRound(id: $id) { incentive { description amountPence } incentiveClaims { edges { node { residentId fullName fulfilledAt } } } } }";
    let claims = app
        .graphql(claims_query, json!({ "id": round }), Some(&officer))
        .await;
    let list: Vec<Value> = claims["data"]["recruitmentRound"]["incentiveClaims"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .collect();
    assert_eq!(list.len(), 1);
    assert!(list[0]["fulfilledAt"].is_null());
    let fulfil = app
        .graphql("mutation($ids: [ID!]!) { incentiveFulfil(input: { residentIds: $ids }) { fulfilledCount } }", json!({ "ids": [list[0]["residentId"]] }), Some(&officer))
        .await;
    assert_eq!(fulfil["data"]["incentiveFulfil"]["fulfilledCount"], 1);
    let claims = app
        .graphql(claims_query, json!({ "id": round }), Some(&officer))
        .await;
    assert_eq!(
        claims["data"]["recruitmentRound"]["incentiveClaims"]["edges"][0]["node"]["fulfilledAt"],
        json!(app.clock.now().to_rfc3339())
    );

    let csv = app
        .send(
            axum::http::Request::builder()
                .uri(format!("/exports/rounds/{round}/incentives.csv"))
                .header("authorization", format!("Bearer {officer}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        csv.text.contains("Alex Resident")
            && csv.text.contains("£10 voucher")
            && csv.text.contains("1000")
    );
}

#[tokio::test]
async fn round_status_and_pool_composition_count_registrants_against_the_census() {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.5).await;
    app.load_benchmarks().await;
    let officer = app.token_for(Role::Officer).await;
    let round = app
        .round_id(&officer, json!({ "name": "R", "letters": 20, "seed": "2" }))
        .await;
    let codes = app.issue_codes(&round).await;
    for (n, letter) in codes.iter().take(4).enumerate() {
        let mut input = registration(&letter.code, &format!("r{n}@example.org"));
        input["sex"] = json!(if n == 0 { "MALE" } else { "FEMALE" });
        register(&app, input).await;
    }
    let query = "query($id: ID!) { recruitmentRound(id: $id) {
        status { total { drawn exported redeemed registrations registrationRate } }
        poolComposition(areaCode: \"E07000083\") { dimension categories { category count share populationShare representationRatio } } } }";
    let body = app
        .graphql(query, json!({ "id": round }), Some(&officer))
        .await;
    let total = &body["data"]["recruitmentRound"]["status"]["total"];
    assert_eq!(
        total,
        &json!({ "drawn": 20, "exported": 20, "redeemed": 4, "registrations": 4, "registrationRate": 0.2 })
    );
    let dims = body["data"]["recruitmentRound"]["poolComposition"]
        .as_array()
        .unwrap();
    let sex = dims.iter().find(|d| d["dimension"] == "sex").unwrap();
    let female = &sex["categories"][0];
    assert_eq!(
        (female["category"].as_str(), female["count"].as_u64()),
        (Some("female"), Some(3))
    );
    let population = 48_792.0 / 94_877.0;
    assert!((female["populationShare"].as_f64().unwrap() - population).abs() < 1e-12);
    assert!((female["representationRatio"].as_f64().unwrap() - 0.75 / population).abs() < 1e-12);
    let ages = dims.iter().find(|d| d["dimension"] == "age_band").unwrap();
    assert!(
        ages["categories"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["category"] != "0-4"),
        "children are not in the comparison"
    );
}

#[tokio::test]
async fn ons_labels_match_registrants_and_categories_that_match_nothing_are_named() {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.5).await;
    let officer = app.token_for(Role::Officer).await;
    // The labels ONS publishes (TS008, TS007A, TS038), a total row and a broad group.
    let csv = "area_code,area_name,dimension,category,count,universe
E07000083,Tewkesbury,sex,Female,48792,persons
E07000083,Tewkesbury,sex,Male,46085,persons
E07000083,Tewkesbury,sex,Total,94877,persons
E07000083,Tewkesbury,age_band,Aged 4 years and under,5314,persons
E07000083,Tewkesbury,age_band,Aged 15 to 19 years,4505,persons
E07000083,Tewkesbury,age_band,Aged 20 to 24 years,4106,persons
E07000083,Tewkesbury,disability,Disabled under the Equality Act: Day-to-day activities limited a lot,6000,persons
E07000083,Tewkesbury,disability,Disabled under the Equality Act: Day-to-day activities limited a little,9174,persons
E07000083,Tewkesbury,disability,Not disabled under the Equality Act: No long term physical or mental health conditions,79716,persons
E07000083,Tewkesbury,ethnic_group,White,80000,persons
";
    let import = "mutation($input: PopulationBenchmarksImportInput!) {
        populationBenchmarksImport(input: $input) { written unmatchedCategories { line dimension category } } }";
    let request = crate::helpers::upload_request(
        import,
        &json!({ "input": { "file": null } }),
        "variables.input.file",
        csv.as_bytes(),
        Some(&officer),
    );
    let imported = app.send(request).await.json();
    assert_eq!(
        imported["data"]["populationBenchmarksImport"]["unmatchedCategories"],
        json!([
            { "line": 4, "dimension": "sex", "category": "Total" },
            { "line": 11, "dimension": "ethnic_group", "category": "White" },
        ]),
        "the import says what it could not match: {imported}"
    );
    let round = app
        .round_id(&officer, json!({ "name": "R", "letters": 10, "seed": "3" }))
        .await;
    let codes = app.issue_codes(&round).await;
    for (n, letter) in codes.iter().take(3).enumerate() {
        let mut input = registration(&letter.code, &format!("o{n}@example.org"));
        input["sex"] = json!("FEMALE");
        input["disability"] = json!("DISABLED");
        register(&app, input).await;
    }
    let query = "query($id: ID!) { recruitmentRound(id: $id) {
        poolComposition(areaCode: \"E07000083\") { dimension unmatchedCategories categories { category count populationShare } } } }";
    let body = app
        .graphql(query, json!({ "id": round }), Some(&officer))
        .await;
    let dims = body["data"]["recruitmentRound"]["poolComposition"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    let dimension = |name: &str| dims.iter().find(|d| d["dimension"] == name).unwrap();
    let sex = dimension("sex");
    assert_eq!(sex["unmatchedCategories"], json!(["Total"]));
    let categories: Vec<(&str, u64)> = sex["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["category"].as_str().unwrap(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        categories,
        [("female", 3), ("male", 0)],
        "no unmatched twin"
    );
    let female_share = sex["categories"][0]["populationShare"].as_f64().unwrap();
    assert!(
        (female_share - 48_792.0 / 94_877.0).abs() < 1e-12,
        "the total row is left out"
    );
    let disability = dimension("disability");
    let disabled = &disability["categories"][0];
    assert_eq!(disabled["category"], "Disabled under the Equality Act");
    assert_eq!(disabled["count"], 3);
    assert!(
        (disabled["populationShare"].as_f64().unwrap() - 15_174.0 / 94_890.0).abs() < 1e-12,
        "the detailed TS038 values are summed: {disability}"
    );
    assert_eq!(
        dimension("ethnic_group")["unmatchedCategories"],
        json!(["White"])
    );
    assert_eq!(dimension("age_band")["unmatchedCategories"], json!([]));
}

#[tokio::test]
async fn scrutiny_reads_a_rounds_status_and_pool_composition_with_small_counts_hidden_but_no_person()
 {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.5).await;
    app.load_benchmarks().await;
    let officer = app.token_for(Role::Officer).await;
    let scrutiny = app.token_for(Role::Scrutiny).await;
    let round = app
        .round_id(&officer, json!({ "name": "R", "letters": 12, "seed": "4" }))
        .await;
    let codes = app.issue_codes(&round).await;
    for (n, letter) in codes.iter().take(3).enumerate() {
        register(
            &app,
            registration(&letter.code, &format!("s{n}@example.org")),
        )
        .await;
    }
    let aggregates = "query($id: ID!) { recruitmentRound(id: $id) { name drawnCount
        status { total { drawn registrations } byWard { group drawn registrations } byDecile { group registrations } }
        poolComposition(areaCode: \"E07000083\") { dimension categories { category count share } } } }";
    let seen_by_officer = app
        .graphql(aggregates, json!({ "id": round }), Some(&officer))
        .await;
    let seen_by_scrutiny = app
        .graphql(aggregates, json!({ "id": round }), Some(&scrutiny))
        .await;
    assert!(seen_by_scrutiny["errors"].is_null(), "{seen_by_scrutiny}");
    // Officers see every count; scrutiny the same tables with the small ones hidden.
    let officer_round = &seen_by_officer["data"]["recruitmentRound"];
    let scrutiny_round = &seen_by_scrutiny["data"]["recruitmentRound"];
    assert_eq!(officer_round["status"]["total"]["registrations"], 3);
    assert_eq!(
        scrutiny_round["status"]["total"]["registrations"],
        Value::Null
    );
    assert_eq!(scrutiny_round["status"]["total"]["drawn"], 12);
    let sex = |round: &Value| round["poolComposition"][1]["categories"][0].clone();
    assert_eq!(sex(officer_round)["count"], 3);
    assert_eq!(sex(scrutiny_round)["count"], Value::Null);
    assert_eq!(sex(scrutiny_round)["share"], Value::Null);
    fn small(value: &Value, key: &str) -> bool {
        match value {
            Value::Object(map) => map.iter().any(|(k, v)| small(v, k)),
            Value::Array(items) => items.iter().any(|v| small(v, key)),
            Value::Number(n) => {
                ["drawn", "registrations", "count"].contains(&key)
                    && n.as_u64().is_some_and(|n| (1..10).contains(&n))
            }
            _ => false,
        }
    }
    assert!(!small(scrutiny_round, ""), "{scrutiny_round}");
    // The attack on the round's tables (status by ward and decile, make-up by each
    // dimension, all over the same letters) narrows no hidden count below the threshold.
    let round_id =
        civic_panel::graphql::id::decode::<civic_panel::domain::ids::RoundId>(&round, "id")
            .unwrap();
    let (populations, tables, hidden) =
        civic_panel::service::recruitment::round_status::protection_of(&app.state, round_id)
            .await
            .unwrap();
    let (model, suppressed) =
        civic_panel::domain::reports::disclosure::tables::joint(&populations, &tables, &hidden)
            .unwrap();
    let ranges =
        civic_panel::domain::reports::disclosure::attack_plain(&model, &suppressed).unwrap();
    for (item, range) in ranges.iter().enumerate() {
        if let Some((low, high)) = range {
            assert!(
                high - low >= 10.0 - 1e-6,
                "item {item} pinned to {low}..{high}"
            );
        }
    }
    let listed = app
        .graphql(
            "{ recruitmentRounds { edges { node { status { total { drawn } } } } } }",
            json!({}),
            Some(&scrutiny),
        )
        .await;
    assert_eq!(
        listed["data"]["recruitmentRounds"]["edges"][0]["node"]["status"]["total"]["drawn"], 12,
        "{listed}"
    );
    // Registrants themselves stay with officers.
    let people = "query($id: ID!) { recruitmentRound(id: $id) { incentiveClaims { edges { node { fullName } } } } }";
    let refused = app
        .graphql(people, json!({ "id": round }), Some(&scrutiny))
        .await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    let audit = app
        .get(
            &format!("/exports/rounds/{round}/addresses.csv"),
            Some(&scrutiny),
        )
        .await;
    assert_eq!(audit.status, 403);
}

/// The token in the newest queued login-link email to `email`.
async fn queued_link_token(app: &TestApp, email: &str) -> String {
    use sea_orm::QueryOrder;
    let message = civic_panel::db::entities::outbox::Entity::find()
        .filter(civic_panel::db::entities::outbox::Column::Recipient.eq(email))
        .order_by_desc(civic_panel::db::entities::outbox::Column::Id)
        .one(app.db())
        .await
        .unwrap()
        .expect("a queued email");
    let start = message.body.find("/login?token=").expect("a login link") + "/login?token=".len();
    message.body[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

const FROM_LINK: &str = "mutation($token: String!) { sessionCreateFromLink(input: { token: $token }) { token account { email role } } }";

#[tokio::test]
async fn a_resident_without_a_password_logs_in_once_with_an_emailed_link() {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.2).await;
    let (_, codes) =
        round_with_codes(&app, json!({ "name": "R", "letters": 1, "seed": "1" })).await;
    let mut input = registration(&codes[0].code, "linked@example.org");
    input["password"] = Value::Null;
    let body = register(&app, input).await;
    assert!(
        body["data"]["registrationCreate"]["token"].is_null(),
        "{body}"
    );
    let token = queued_link_token(&app, "linked@example.org").await;
    assert!(token.starts_with("cpl_"));

    let session = app
        .graphql(FROM_LINK, json!({ "token": token }), None)
        .await;
    let bearer = session["data"]["sessionCreateFromLink"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = app
        .graphql("{ me { email role } }", json!({}), Some(&bearer))
        .await;
    assert_eq!(
        me["data"]["me"],
        json!({ "email": "linked@example.org", "role": "RESIDENT" })
    );
    let again = app
        .graphql(FROM_LINK, json!({ "token": token }), None)
        .await;
    assert_eq!(code_of(&again), "UNAUTHENTICATED", "a link works once");

    // A new link on request; it expires.
    let asked = app
        .graphql(
            "mutation { loginLinkRequest(input: { email: \"LINKED@example.org\" }) { accepted } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(asked["data"]["loginLinkRequest"]["accepted"], true);
    app.run_jobs().await;
    let fresh = queued_link_token(&app, "linked@example.org").await;
    assert_ne!(fresh, token);
    app.clock.advance(chrono::Duration::minutes(61));
    let late = app
        .graphql(FROM_LINK, json!({ "token": fresh }), None)
        .await;
    assert_eq!(code_of(&late), "UNAUTHENTICATED");
}

#[tokio::test]
async fn asking_for_a_link_says_nothing_about_whether_the_email_has_an_account() {
    let app = TestApp::spawn().await;
    app.create_account(Role::Officer, "officer@example.org")
        .await;
    for email in ["nobody@example.org", "officer@example.org"] {
        let body = app
            .graphql(
                "mutation($e: String!) { loginLinkRequest(input: { email: $e }) { accepted } }",
                json!({ "e": email }),
                None,
            )
            .await;
        assert_eq!(body["data"]["loginLinkRequest"]["accepted"], true);
    }
    app.run_jobs().await;
    // Links are for residents: staff log in with passwords, and nothing was queued.
    assert_eq!(
        app.count(civic_panel::db::entities::outbox::Entity).await,
        0
    );
    let limited = (0..4).map(|_| {
        app.graphql(
            "mutation { loginLinkRequest(input: { email: \"nobody@example.org\" }) { accepted } }",
            json!({}),
            None,
        )
    });
    let answers = futures_util::future::join_all(limited).await;
    assert!(
        answers.iter().any(|b| code_of(b) == "RATE_LIMITED"),
        "three requests per email an hour"
    );
}

#[tokio::test]
async fn the_minimum_age_is_reached_on_the_birthday_in_uk_time() {
    let app = TestApp::spawn().await;
    app.load_demo_register(0.2).await;
    // 23:30 UTC on 23 June 2027 is 00:30 on 24 June in the UK (British Summer Time).
    let start = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 23, 9, 0, 0).unwrap();
    let late_evening =
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2027, 6, 23, 23, 30, 0).unwrap();
    app.clock.advance(late_evening - start);
    assert_eq!(app.clock.now(), late_evening);
    let (_, codes) = round_with_codes(
        &app,
        json!({ "name": "R", "letters": 1, "seed": "1", "minAge": 16 }),
    )
    .await;
    let mut tomorrow = registration(&codes[0].code, "p@example.org");
    tomorrow["dateOfBirth"] = json!("2011-06-25");
    let body = register(&app, tomorrow).await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "input.dateOfBirth",
        "{body}"
    );
    let mut today = registration(&codes[0].code, "p@example.org");
    today["dateOfBirth"] = json!("2011-06-24");
    let body = register(&app, today).await;
    assert!(
        body["data"]["registrationCreate"]["residentId"].is_string(),
        "{body}"
    );
}

#[tokio::test]
async fn asking_for_a_link_takes_as_long_for_an_unknown_email_as_for_a_resident() {
    let app = TestApp::spawn_with(|config| {
        config.login_link_max_per_client = 10_000;
        config.login_link_max_per_email = 10_000;
    })
    .await;
    app.load_demo_register(0.2).await;
    let (_, codes) =
        round_with_codes(&app, json!({ "name": "R", "letters": 1, "seed": "1" })).await;
    let mut input = registration(&codes[0].code, "known@example.org");
    input["password"] = Value::Null;
    register(&app, input).await;
    let ask = "mutation($e: String!) { loginLinkRequest(input: { email: $e }) { accepted } }";
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    // Alternating, so drift in the machine's speed falls on both alike.
    for round in 0..40 {
        for (email, times) in [
            ("known@example.org", &mut known),
            ("nobody-here@example.org", &mut unknown),
        ] {
            let started = std::time::Instant::now();
            let body = app.graphql(ask, json!({ "e": email }), None).await;
            let took = started.elapsed();
            assert_eq!(body["data"]["loginLinkRequest"]["accepted"], true, "{body}");
            if round >= 5 {
                times.push(took);
            }
        }
    }
    let median = |times: &mut Vec<std::time::Duration>| {
        times.sort();
        times[times.len() / 2].as_secs_f64()
    };
    let (known, unknown) = (median(&mut known), median(&mut unknown));
    let ratio = known / unknown;
    assert!(
        (0.67..=1.5).contains(&ratio),
        "median {known:.6} s for a resident against {unknown:.6} s for nobody"
    );
    // The work is done behind the answer: the resident's link is queued by the worker.
    app.run_jobs().await;
    let links = civic_panel::db::entities::login_link::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(
        links.len(),
        1 + 40,
        "the registration's link and one per request"
    );
}
