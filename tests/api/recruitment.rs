//! The recruitment lottery: proportional strata, oversampling, exclusions, reproducibility.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{Value, json};

use civic_panel::db::entities::{address, letter, recruitment_round};
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::ids::RoundId;
use civic_panel::domain::recruitment::sampling::largest_remainder;
use civic_panel::service::recruitment::{self, Verification};

use crate::helpers::{REGISTER, TestApp, registration};

const STATUS: &str = "query($id: ID!) { recruitmentRound(id: $id) { drawnCount status {
    total { drawn exported redeemed registrations registrationRate }
    byWard { group drawn } byDecile { group drawn registrations } } } }";

fn round_number(id: &str) -> RoundId {
    civic_panel::graphql::id::decode::<RoundId>(id, "id").unwrap()
}

/// Address keys of a round's letters, sorted.
async fn drawn_keys(app: &TestApp, id: &str) -> Vec<String> {
    let address_ids: Vec<i64> = letter::Entity::find()
        .select_only()
        .column(letter::Column::AddressId)
        .filter(letter::Column::RoundId.eq(round_number(id).get()))
        .into_tuple()
        .all(app.db())
        .await
        .unwrap();
    let mut keys: Vec<String> = address::Entity::find()
        .filter(address::Column::Id.is_in(address_ids))
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.address_key)
        .collect();
    keys.sort();
    keys
}

/// Addresses per ward in the register.
async fn ward_sizes(app: &TestApp) -> Vec<(String, f64)> {
    let mut sizes: BTreeMap<String, f64> = BTreeMap::new();
    for a in address::Entity::find().all(app.db()).await.unwrap() {
        *sizes.entry(a.ward_code).or_default() += 1.0;
    }
    sizes.into_iter().collect()
}

#[tokio::test]
async fn a_round_draws_exactly_n_letters_allocated_to_wards_by_largest_remainder() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let register = app.load_demo_register(2.0).await;
    let id = app
        .round_id(
            &officer,
            json!({ "name": "Spring", "letters": 500, "seed": "7" }),
        )
        .await;
    let body = app
        .graphql(STATUS, json!({ "id": id }), Some(&officer))
        .await;
    let round = &body["data"]["recruitmentRound"];
    assert_eq!(round["drawnCount"], 500);
    assert_eq!(round["status"]["total"]["drawn"], 500);

    let sizes = ward_sizes(&app).await;
    assert_eq!(sizes.iter().map(|(_, n)| n).sum::<f64>() as u64, register);
    let expected = largest_remainder(&sizes, 500);
    let drawn = drawn_by_ward(&app, &officer, &id).await;
    for ((ward, _), want) in sizes.iter().zip(expected) {
        assert_eq!(drawn.get(ward).copied().unwrap_or(0), want, "{ward}");
    }
}

/// Letters per ward in a round's status.
async fn drawn_by_ward(app: &TestApp, token: &str, id: &str) -> BTreeMap<String, u64> {
    let body = app.graphql(STATUS, json!({ "id": id }), Some(token)).await;
    body["data"]["recruitmentRound"]["status"]["byWard"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|w| {
            (
                w["group"].as_str().unwrap().to_owned(),
                w["drawn"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn ward_shares_by_addresses_keep_each_wards_share_while_deciles_are_oversampled() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    // Two wards of 300 addresses; a third of the first is in decile 1, the rest decile 5.
    let mut csv = String::from("uprn,line1,postcode,ward_code,decile\n");
    for n in 0..600 {
        let (ward, decile) = match n {
            0..100 => ("E05004418", 1),
            100..300 => ("E05004418", 5),
            _ => ("E05004419", 5),
        };
        csv.push_str(&format!(
            "{n:06},{n} Share Street,GL20 5AA,{ward},{decile}\n"
        ));
    }
    app.import_register(csv.into_bytes()).await;
    let weights = json!([{ "decile": 1, "weight": 4.0 }]);
    let by_weight = app
        .round_id(
            &officer,
            json!({ "name": "W", "letters": 60, "seed": "11", "decileWeights": weights }),
        )
        .await;
    let by_addresses = app
        .round_id(
            &officer,
            json!({ "name": "A", "letters": 60, "seed": "11", "decileWeights": weights,
                    "wardShares": "BY_ADDRESSES" }),
        )
        .await;
    let split = |drawn: BTreeMap<String, u64>| drawn.into_values().collect::<Vec<_>>();
    // By weight the first ward weighs 100 × 4 + 200 = 600 against 300: two thirds.
    assert_eq!(
        split(drawn_by_ward(&app, &officer, &by_weight).await),
        [40, 20]
    );
    assert_eq!(
        split(drawn_by_ward(&app, &officer, &by_addresses).await),
        [30, 30]
    );
    // Within the first ward decile 1 still weighs 4 to 1: 2/3 of its letters expected,
    // against the third of its addresses.
    let decile_one = drawn_keys(&app, &by_addresses)
        .await
        .iter()
        .filter(|k| k.parse::<u32>().unwrap() < 100)
        .count();
    assert!(
        decile_one >= 15,
        "{decile_one} of the first ward's 30 letters went to decile 1"
    );

    let query =
        "query($id: ID!) { recruitmentRound(id: $id) { algorithm parameters { wardShares } } }";
    let body = app
        .graphql(query, json!({ "id": by_addresses }), Some(&officer))
        .await;
    let round = &body["data"]["recruitmentRound"];
    assert_eq!(round["parameters"]["wardShares"], "BY_ADDRESSES");
    assert_eq!(
        round["algorithm"],
        civic_panel::domain::recruitment::sampling::ALGORITHM_BY_ADDRESSES
    );
    for id in [&by_weight, &by_addresses] {
        assert!(matches!(
            recruitment::verify(&app.state, round_number(id))
                .await
                .unwrap(),
            Verification::Identical { .. }
        ));
    }
}

#[tokio::test]
async fn the_same_seed_on_the_same_register_draws_the_same_addresses_and_verifies() {
    let first = TestApp::spawn().await;
    let second = TestApp::spawn().await;
    let mut ids = Vec::new();
    for app in [&first, &second] {
        let officer = app.token_for(Role::Officer).await;
        app.load_demo_register(1.0).await;
        ids.push(
            app.round_id(
                &officer,
                json!({ "name": "R", "letters": 120, "seed": "20261123" }),
            )
            .await,
        );
    }
    let keys = drawn_keys(&first, &ids[0]).await;
    assert_eq!(keys.len(), 120);
    assert_eq!(keys, drawn_keys(&second, &ids[1]).await);

    let officer = first.token_for(Role::Officer).await;
    let other = first
        .round_id(
            &officer,
            json!({ "name": "R2", "letters": 120, "seed": "20261124" }),
        )
        .await;
    assert_ne!(
        keys,
        drawn_keys(&first, &other).await,
        "another seed draws other addresses"
    );

    let verified = recruitment::verify(&first.state, round_number(&ids[0]))
        .await
        .unwrap();
    assert_eq!(
        verified,
        Verification::Identical {
            letters: 120,
            from_record: true
        }
    );
}

#[tokio::test]
async fn a_fixed_seed_on_a_fixed_register_always_draws_these_addresses() {
    // Golden test: pins the whole path from CSV to letters. It may only change together
    // with the algorithm's name.
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let mut csv = String::from("uprn,line1,postcode,ward_code,deprivation_decile\n");
    for n in 0..30 {
        let ward = ["E05004418", "E05004419", "E05004420"][n % 3];
        csv.push_str(&format!(
            "{:03},{n} Church Street,GL20 5AA,{ward},{}\n",
            n,
            n % 10 + 1
        ));
    }
    app.import_register(csv.into_bytes()).await;
    let id = app
        .round_id(&officer, json!({ "name": "Golden", "letters": 7, "seed": "42", "decileWeights": [{ "decile": 1, "weight": 1.5 }] }))
        .await;
    let keys = drawn_keys(&app, &id).await;
    assert_eq!(keys, GOLDEN_KEYS, "the draw for seed 42 changed");
}

const GOLDEN_KEYS: [&str; 7] = ["000", "007", "010", "011", "018", "021", "029"];

#[tokio::test]
async fn oversampling_deprived_deciles_draws_more_of_them() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let mut csv = String::from("uprn,line1,postcode,ward_code,deprivation_decile\n");
    for n in 0..1000 {
        csv.push_str(&format!(
            "{n},{n} High Street,GL20 5AA,E05004418,{}\n",
            if n < 200 { 1 } else { 6 }
        ));
    }
    app.import_register(csv.into_bytes()).await;
    let id = app
        .round_id(
            &officer,
            json!({ "name": "Weighted", "letters": 400, "seed": "1",
            "decileWeights": [{ "decile": 1, "weight": 3.0 }] }),
        )
        .await;
    let body = app
        .graphql(STATUS, json!({ "id": id }), Some(&officer))
        .await;
    let deciles = body["data"]["recruitmentRound"]["status"]["byDecile"]
        .as_array()
        .unwrap()
        .clone();
    let decile_one = deciles.iter().find(|d| d["group"] == "1").unwrap()["drawn"]
        .as_u64()
        .unwrap();
    // Proportional would give 80 of 400; weight 3 on a fifth of the frame aims at 3/7 of
    // the letters (about 171). The draw is random within the stratum, so allow slack.
    assert!(decile_one > 130, "decile 1 drew {decile_one}: {deciles:?}");
}

#[tokio::test]
async fn recently_invited_addresses_and_member_households_are_excluded() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.2).await;
    let total = app.count(address::Entity).await;
    let first = app
        .round_id(
            &officer,
            json!({ "name": "First", "letters": 300, "seed": "3" }),
        )
        .await;
    let codes = app.issue_codes(&first).await;
    let body = app
        .graphql(
            REGISTER,
            json!({ "input": registration(&codes[0].code, "member@example.org") }),
            None,
        )
        .await;
    assert!(
        body["data"]["registrationCreate"]["residentId"].is_string(),
        "{body}"
    );

    app.clock.advance(chrono::Duration::days(30));
    let officer = app.token_for(Role::Officer).await;
    let second = app
        .create_round(&officer, json!({ "name": "Second", "letters": 50, "seed": "4", "excludeInvitedWithinMonths": 12 }))
        .await;
    let round = &second["result"]["round"];
    assert_eq!(round["eligibleCount"], total - 300, "{second}");
    let first_keys = drawn_keys(&app, &first).await;
    let second_keys = drawn_keys(&app, round["id"].as_str().unwrap()).await;
    assert!(second_keys.iter().all(|k| !first_keys.contains(k)));

    // Without the invitation exclusion, only the member's household is left out.
    let third = app
        .create_round(
            &officer,
            json!({ "name": "Third", "letters": 5, "seed": "5" }),
        )
        .await;
    assert_eq!(third["result"]["round"]["eligibleCount"], total - 1);
}

#[tokio::test]
async fn a_draw_larger_than_the_eligible_register_fails_its_job_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.1).await;
    let total = app.count(address::Entity).await;
    let job = app
        .create_round(
            &officer,
            json!({ "name": "Too many", "letters": total + 1 }),
        )
        .await;
    assert_eq!(job["status"], "FAILED", "{job}");
    assert_eq!(job["attempts"], 1, "bad input is not tried again");
    let error = job["error"].as_str().unwrap();
    assert!(error.contains(&format!("only {total}")), "{error}");
    assert!(error.contains("(input.letters)"), "{error}");
    assert!(job["result"].is_null());
    assert_eq!(app.count(recruitment_round::Entity).await, 0);
    assert_eq!(app.count(letter::Entity).await, 0);
}

#[tokio::test]
async fn bad_round_parameters_name_their_field() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.1).await;
    let cases: [(Value, &str); 5] = [
        (json!({ "name": " ", "letters": 5 }), "input.name"),
        (
            json!({ "name": "x", "letters": 5, "seed": "-1" }),
            "input.seed",
        ),
        (
            json!({ "name": "x", "letters": 5, "decileWeights": [{ "decile": 11, "weight": 2.0 }] }),
            "input.decileWeights",
        ),
        (
            json!({ "name": "x", "letters": 5, "minAge": 5 }),
            "input.minAge",
        ),
        (json!({ "name": "x", "letters": 0 }), "input.letters"),
    ];
    for (input, field) in cases {
        let body = app.create_round(&officer, input).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    assert_eq!(app.count(recruitment_round::Entity).await, 0);
}

#[tokio::test]
async fn planning_turns_a_target_into_letters_per_ward() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(1.0).await;
    let body = app
        .graphql("{ recruitmentPlan(targetRegistrations: 100) { lettersNeeded expectedRate byWard { wardCode letters } } }", json!({}), Some(&officer))
        .await;
    let plan = &body["data"]["recruitmentPlan"];
    assert_eq!(
        plan["lettersNeeded"], 2500,
        "100 registrations at 4 % need 2,500 letters: {body}"
    );
    let by_ward = plan["byWard"].as_array().unwrap();
    assert_eq!(by_ward.len(), 22);
    assert_eq!(
        by_ward
            .iter()
            .map(|w| w["letters"].as_u64().unwrap())
            .sum::<u64>(),
        2500
    );

    let bad = app
        .graphql(
            "{ recruitmentPlan(targetRegistrations: 10, expectedRate: 0) { lettersNeeded } }",
            json!({}),
            Some(&officer),
        )
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_round_verifies_from_its_draw_record_after_the_register_changes() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.2).await;
    let id = app
        .round_id(
            &officer,
            json!({ "name": "R", "letters": 20, "seed": "9",
                    "decileWeights": [{ "decile": 1, "weight": 2.0 }] }),
        )
        .await;
    let round = round_number(&id);
    let verified = Verification::Identical {
        letters: 20,
        from_record: true,
    };
    assert_eq!(
        recruitment::verify(&app.state, round).await.unwrap(),
        verified
    );

    // The monthly refresh: a drawn address moves ward and decile, another address appears,
    // and an address imported before the draw's time changes.
    let drawn = drawn_keys(&app, &id).await;
    let refresh = format!(
        "uprn,line1,postcode,ward_code,decile\n\
         {},1 Moved Road,GL20 5AA,E05004419,1\n\
         999000000001,1 New Road,GL20 5AA,E05004418,3\n",
        drawn[0]
    );
    app.clock.advance(chrono::Duration::seconds(-60));
    app.import_register(refresh.into_bytes()).await;
    assert_eq!(
        recruitment::verify(&app.state, round).await.unwrap(),
        verified
    );

    // A round drawn before records were kept can only be checked against the register.
    recruitment_round::Entity::update_many()
        .col_expr(
            recruitment_round::Column::DrawRecordFileId,
            sea_orm::sea_query::Expr::value(Option::<i64>::None),
        )
        .exec(app.db())
        .await
        .unwrap();
    assert!(matches!(
        recruitment::verify(&app.state, round).await.unwrap(),
        Verification::RegisterChanged { .. }
    ));
}

#[tokio::test]
async fn a_draw_record_is_downloaded_by_officers_and_an_altered_one_is_caught() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.2).await;
    let id = app
        .round_id(
            &officer,
            json!({ "name": "R", "letters": 15, "seed": "77" }),
        )
        .await;
    let query = "query($id: ID!) { recruitmentRound(id: $id) { drawRecordDownloadUrl } }";
    let body = app
        .graphql(query, json!({ "id": id }), Some(&officer))
        .await;
    let url = body["data"]["recruitmentRound"]["drawRecordDownloadUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let scrutiny = app.token_for(Role::Scrutiny).await;
    let refused = app
        .graphql(query, json!({ "id": id }), Some(&scrutiny))
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert_eq!(
        app.get(&url, Some(&scrutiny)).await.status,
        StatusCode::FORBIDDEN
    );

    let download = app.get(&url, Some(&officer)).await;
    assert_eq!(download.status, StatusCode::OK);
    assert!(download.content_type().starts_with("application/json"));
    let record: Value = serde_json::from_slice(&download.bytes).unwrap();
    assert_eq!(record["format"], "civic-panel-draw-record/1");
    assert_eq!(record["seed"], "77");
    let mut drawn: Vec<String> = record["drawn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    drawn.sort();
    assert_eq!(drawn, drawn_keys(&app, &id).await);
    let keys: usize = record["frame"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["keys"].as_array().unwrap().len())
        .sum();
    assert_eq!(keys as u64, record["eligible"].as_u64().unwrap());
    // Nothing about people or full addresses: keys, wards and weights only.
    assert!(!download.text.contains("Road") && !download.text.contains("GL20"));

    // A record altered in the database is caught, not trusted.
    let mut altered = record.clone();
    altered["frame"][0]["weight"] = json!(5.0);
    civic_panel::db::entities::stored_file_chunk::Entity::update_many()
        .col_expr(
            civic_panel::db::entities::stored_file_chunk::Column::Data,
            sea_orm::sea_query::Expr::value(serde_json::to_vec(&altered).unwrap()),
        )
        .exec(app.db())
        .await
        .unwrap();
    let found = recruitment::verify(&app.state, round_number(&id))
        .await
        .unwrap();
    assert!(
        matches!(&found, Verification::RecordAltered { detail } if detail.contains("fingerprint")),
        "{found:?}"
    );
}

#[tokio::test]
async fn a_register_larger_than_a_read_page_is_drawn_from_whole() {
    // SQLite reads the frame in pages of 65,536 addresses; 70,000 make two, and every
    // one of them must be eligible and the draw must verify.
    let app = TestApp::spawn().await;
    let mut csv = String::from("uprn,line1,postcode,ward_code\n");
    for n in 0..70_000u32 {
        let ward = ["E05004418", "E05004419", "E05004420"][(n % 3) as usize];
        csv.push_str(&format!("{n:08},{n} Page Road,GL20 5AA,{ward}\n"));
    }
    assert_eq!(app.import_register(csv.into_bytes()).await, 70_000);
    let officer = app.token_for(Role::Officer).await;
    let id = app
        .round_id(
            &officer,
            json!({ "name": "Big", "letters": 300, "seed": "9" }),
        )
        .await;
    let round = recruitment_round::Entity::find_by_id(round_number(&id).get())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(round.eligible_count, 70_000);
    assert_eq!(round.drawn_count, 300);
    assert_eq!(
        recruitment::verify(&app.state, round_number(&id))
            .await
            .unwrap(),
        Verification::Identical {
            letters: 300,
            from_record: true
        }
    );
}
