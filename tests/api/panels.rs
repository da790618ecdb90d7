//! Panels and fair selection through the API: quotas, selection jobs with probabilities,
//! the transparent lottery and its public draw, memberships and top-ups.

use serde_json::{Value, json};

use civic_panel::domain::accounts::role::Role;

use crate::helpers::{REGISTER, TestApp, assert_refused, error_code, error_message};

pub const SMALL_QUOTAS: &str =
    include_str!("../fixtures/selection/example_small_20/categories.csv");
const SMALL_PEOPLE: &str = include_str!("../fixtures/selection/example_small_20/respondents.csv");
const LARGE_QUOTAS: &str = include_str!("../fixtures/selection/example_large_200/categories.csv");
const LARGE_PEOPLE: &str = include_str!("../fixtures/selection/example_large_200/respondents.csv");

/// A registrant to create: sex (`FEMALE`/`MALE`), date of birth, and custom attributes.
pub struct Registrant {
    pub sex: &'static str,
    pub born: String,
    pub attributes: Vec<(String, String)>,
}

/// Registers `people` through the API (a round with a letter each, their codes, one
/// registration each); returns each one's resident ID and session token, in order.
pub async fn register_pool(app: &TestApp, people: &[Registrant]) -> Vec<(String, String)> {
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(1.0).await;
    let round = app
        .round_id(
            &officer,
            json!({ "name": "Pool", "letters": people.len(), "seed": "7", "minAge": 11 }),
        )
        .await;
    let codes = app.issue_codes(&round).await;
    let mut registered = Vec::new();
    for (i, (person, letter)) in people.iter().zip(&codes).enumerate() {
        let body = app
            .graphql(
                REGISTER,
                json!({ "input": {
                    "code": letter.code, "fullName": format!("Resident {i}"),
                    "email": format!("resident{i}@example.org"),
                    "dateOfBirth": person.born, "sex": person.sex,
                    "ethnicGroup": "WHITE_BRITISH", "disability": "NOT_DISABLED", "consent": true,
                    "password": "a long enough password"
                }}),
                None,
            )
            .await;
        let created = &body["data"]["registrationCreate"];
        registered.push((
            created["residentId"]
                .as_str()
                .unwrap_or_else(|| panic!("registration failed: {body}"))
                .to_owned(),
            created["token"].as_str().unwrap().to_owned(),
        ));
    }
    let mut header = vec!["resident_id".to_owned()];
    header.extend(
        people
            .first()
            .map(|p| {
                p.attributes
                    .iter()
                    .map(|(n, _)| n.to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    );
    if header.len() > 1 {
        let mut csv = header.join(",") + "\r\n";
        for ((id, _), person) in registered.iter().zip(people) {
            let values: Vec<String> = person.attributes.iter().map(|(_, v)| v.clone()).collect();
            csv.push_str(&format!("{id},{}\r\n", values.join(",")));
        }
        let body = app
            .graphql(
                "mutation($input: ResidentAttributesImportInput!) {
                    residentAttributesImport(input: $input) { residents values }
                }",
                json!({ "input": { "csv": csv } }),
                Some(&officer),
            )
            .await;
        assert_eq!(
            body["data"]["residentAttributesImport"]["residents"],
            people.len(),
            "{body}"
        );
    }
    registered
}

/// Puts `people` in the pool quickly, for pools too big to register one by one in a test:
/// a round with a letter each, then a registrant row per letter written straight to the
/// database (registration itself is tested in `registration.rs`); custom attributes go
/// through the API. Returns the resident IDs.
async fn seed_pool(app: &TestApp, people: &[Registrant]) -> Vec<String> {
    let households: Vec<String> = (0..people.len()).map(|i| format!("H{i}")).collect();
    seed_pool_in_households(app, people, &households).await
}

/// [`seed_pool`] with each registrant's household key given.
async fn seed_pool_in_households(
    app: &TestApp,
    people: &[Registrant],
    households: &[String],
) -> Vec<String> {
    use civic_panel::db::entities::{letter, resident};
    use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(4.0).await;
    let round = app
        .round_id(
            &officer,
            json!({ "name": "Pool", "letters": people.len(), "seed": "7", "minAge": 11 }),
        )
        .await;
    let round = civic_panel::graphql::id::decode::<civic_panel::domain::ids::RoundId>(&round, "id")
        .unwrap();
    let letters = letter::Entity::find()
        .filter(letter::Column::RoundId.eq(round))
        .order_by_asc(letter::Column::Id)
        .all(app.db())
        .await
        .unwrap();
    let now = app.clock.now();
    let rows: Vec<resident::ActiveModel> = people
        .iter()
        .zip(&letters)
        .zip(households)
        .enumerate()
        .map(|(i, ((person, letter), household))| resident::ActiveModel {
            account_id: Set(None),
            letter_id: Set(letter.id),
            round_id: Set(round),
            address_id: Set(letter.address_id),
            household_key: Set(household.clone()),
            household_lock: Set(None),
            ward_code: Set("E05000001".to_owned()),
            deprivation_decile: Set(Some(5)),
            full_name: Set(format!("Resident {i}")),
            email: Set(None),
            phone: Set(None),
            date_of_birth: Set(person.born.parse().unwrap()),
            sex: Set(person.sex.to_lowercase()),
            ethnic_group: Set(
                "White: English, Welsh, Scottish, Northern Irish or British".to_owned()
            ),
            disability: Set("Not disabled under the Equality Act".to_owned()),
            registered_at: Set(now),
            incentive_owed: Set(false),
            incentive_fulfilled_at: Set(None),
            withdrawn_at: Set(None),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(500) {
        resident::Entity::insert_many(chunk.to_vec())
            .exec(app.db())
            .await
            .unwrap();
    }
    let ids: Vec<i64> = resident::Entity::find()
        .order_by_asc(resident::Column::Id)
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id.get())
        .collect();
    let names: Vec<&str> = people[0]
        .attributes
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    let mut csv = format!("resident_id,{}\n", names.join(","));
    for (id, person) in ids.iter().zip(people) {
        let values: Vec<&str> = person.attributes.iter().map(|(_, v)| v.as_str()).collect();
        csv.push_str(&format!("{id},{}\n", values.join(",")));
    }
    let body = app
        .graphql(
            "mutation($input: ResidentAttributesImportInput!) {
                residentAttributesImport(input: $input) { residents }
            }",
            json!({ "input": { "csv": csv } }),
            Some(&officer),
        )
        .await;
    assert_eq!(
        body["data"]["residentAttributesImport"]["residents"],
        people.len(),
        "{body}"
    );
    ids.iter()
        .map(|id| civic_panel::graphql::id::encode(civic_panel::domain::ids::ResidentId(*id)).0)
        .collect()
}

/// The paper's `example_small_20` pool.
pub fn small_pool() -> Vec<Registrant> {
    paper_pool(SMALL_PEOPLE)
}

/// One of the paper's pools as registrants: gender as sex, leaning as an attribute.
fn paper_pool(people: &str) -> Vec<Registrant> {
    people
        .lines()
        .skip(1)
        .map(|line| {
            let (gender, leaning) = line.trim().split_once(',').unwrap();
            Registrant {
                sex: if gender == "female" { "FEMALE" } else { "MALE" },
                born: "1980-01-01".to_owned(),
                attributes: vec![("leaning".to_owned(), leaning.to_owned())],
            }
        })
        .collect()
}

pub async fn create_panel(app: &TestApp, officer: &str, input: Value) -> String {
    let body = app
        .graphql(
            "mutation($input: PanelCreateInput!) { panelCreate(input: $input) { id name } }",
            json!({ "input": input }),
            Some(officer),
        )
        .await;
    body["data"]["panelCreate"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no panel: {body}"))
        .to_owned()
}

pub async fn import_quotas(app: &TestApp, officer: &str, panel: &str, csv: &str) -> Value {
    app.graphql(
        "mutation($input: PanelQuotasImportInput!) {
            panelQuotasImport(input: $input) { feature value min max }
        }",
        json!({ "input": { "panelId": panel, "csv": csv } }),
        Some(officer),
    )
    .await
}

const START: &str = "mutation($input: SelectionStartInput!) {
    selectionStart(input: $input) { run { id k } job { id status } }
}";

const RUN: &str = "query($id: ID!) {
    selectionRun(id: $id) {
        id method k tickets poolSize types minimumProbability medianProbability
        maximumProbability largestProbabilityShift lotterySha256 lotteryText lotteryDownloadUrl distributionDownloadUrl drawnNumber
        drawSource infeasibleReasons suggestedQuotasCsv probabilitiesCsv reportCsv
        report { feature value min max sitting pool selected populationShare probabilityMin probabilityMax }
        job { status error }
    }
}";

/// Starts a selection, runs its job, and returns the run.
pub async fn select(app: &TestApp, officer: &str, input: Value) -> Value {
    let body = app
        .graphql(START, json!({ "input": input }), Some(officer))
        .await;
    let run = body["data"]["selectionStart"]["run"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("not started: {body}"))
        .to_owned();
    app.run_jobs().await;
    let body = app.graphql(RUN, json!({ "id": run }), Some(officer)).await;
    body["data"]["selectionRun"].clone()
}

/// Starts a selection of `panel` with `options` (method, seed, …) besides it.
async fn start(app: &TestApp, officer: &str, panel: &str, options: Value) -> Value {
    let mut input = options;
    input["panelId"] = json!(panel);
    app.graphql(START, json!({ "input": input }), Some(officer))
        .await
}

fn probabilities(run: &Value) -> Vec<(String, f64)> {
    run["probabilitiesCsv"]
        .as_str()
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (cells[0].to_owned(), cells[1].parse().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn the_papers_small_instance_gives_everyone_one_in_ten_and_greedy_does_not() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    register_pool(&app, &small_pool()).await;
    let panel = create_panel(
        &app,
        &officer,
        json!({ "name": "Residents Panel", "targetSize": 20 }),
    )
    .await;
    let quotas = import_quotas(&app, &officer, &panel, SMALL_QUOTAS).await;
    assert_eq!(
        quotas["data"]["panelQuotasImport"][0],
        json!({ "feature": "gender", "value": "female", "min": 9, "max": 20 }),
        "{quotas}"
    );
    for method in ["MAXIMIN", "LEXIMIN"] {
        let run = select(
            &app,
            &officer,
            json!({ "panelId": panel, "method": method, "seed": "42", "tickets": 1000 }),
        )
        .await;
        assert_eq!(run["job"]["status"], "SUCCEEDED", "{run}");
        assert_eq!(run["poolSize"], 200);
        let all = probabilities(&run);
        assert_eq!(all.len(), 200);
        for (resident, p) in &all {
            assert!(
                (p - 0.1).abs() <= 0.001,
                "{method}: resident {resident} has {p}"
            );
        }
        assert!((run["minimumProbability"].as_f64().unwrap() - 0.1).abs() <= 0.001);
        // The chances as a chart, for officers only.
        let chart = format!(
            "/exports/selection-runs/{}/probabilities.svg",
            run["id"].as_str().unwrap()
        );
        let svg = app.get(&chart, Some(&officer)).await;
        assert_eq!(svg.status, 200);
        assert_eq!(svg.content_type(), "image/svg+xml");
        let svg = String::from_utf8(svg.bytes.clone()).unwrap();
        assert!(svg.contains("200 people") && !svg.contains("NaN"), "{svg}");
        let scrutiny = app.token_for(Role::Scrutiny).await;
        assert_eq!(app.get(&chart, Some(&scrutiny)).await.status, 403);
        // The lottery's text is what its hash commits to.
        let text = run["lotteryText"].as_str().unwrap();
        assert!(text.starts_with("civic-panel-lottery/1\n"));
        assert_eq!(text.lines().count(), 1001);
        use sha2::Digest;
        assert_eq!(
            run["lotterySha256"],
            hex::encode(sha2::Sha256::digest(text.as_bytes()))
        );
        let download = app
            .get(run["lotteryDownloadUrl"].as_str().unwrap(), Some(&officer))
            .await;
        assert_eq!(download.text, text, "the download is the committed text");
        // The fair distribution: probabilities adding up to 1, each panel of 20.
        let distribution = app
            .get(
                run["distributionDownloadUrl"].as_str().unwrap(),
                Some(&officer),
            )
            .await
            .text;
        let mut lines = distribution.lines();
        assert_eq!(lines.next(), Some("panel,probability,gender,leaning,count"));
        let mut panels: std::collections::BTreeMap<u32, (f64, u32)> = Default::default();
        for line in lines {
            let cells: Vec<&str> = line.split(',').collect();
            let entry = panels.entry(cells[0].parse().unwrap()).or_default();
            entry.0 = cells[1].parse().unwrap();
            entry.1 += cells[4].parse::<u32>().unwrap();
        }
        assert!(
            panels.values().all(|(_, members)| *members == 20),
            "{distribution}"
        );
        let total: f64 = panels.values().map(|(p, _)| p).sum();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
        // The only female conservative is in every fair panel only one time in ten.
        let report = run["report"].as_array().unwrap();
        let female = report.iter().find(|r| r["value"] == "female").unwrap();
        assert_eq!(female["pool"], 100);
    }
    let greedy = select(
        &app,
        &officer,
        json!({ "panelId": panel, "method": "GREEDY", "seed": "42", "greedyRuns": 2000 }),
    )
    .await;
    assert_eq!(greedy["job"]["status"], "SUCCEEDED", "{greedy}");
    assert_eq!(greedy["tickets"], 1);
    let lowest = greedy["minimumProbability"].as_f64().unwrap();
    // The paper: greedy gives some people at most 1.21 %.
    assert!(lowest < 0.05, "greedy's lowest probability is {lowest}");
}

#[tokio::test]
async fn the_papers_large_instance_gives_everyone_one_in_ten_through_the_api() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let people = paper_pool(LARGE_PEOPLE);
    assert_eq!(people.len(), 2000);
    seed_pool(&app, &people).await;
    let panel = create_panel(
        &app,
        &officer,
        json!({ "name": "Assembly", "targetSize": 200 }),
    )
    .await;
    import_quotas(&app, &officer, &panel, LARGE_QUOTAS).await;
    for method in ["MAXIMIN", "LEXIMIN"] {
        let run = select(
            &app,
            &officer,
            json!({ "panelId": panel, "method": method, "seed": "1" }),
        )
        .await;
        assert_eq!(run["job"]["status"], "SUCCEEDED", "{run}");
        assert_eq!(run["poolSize"], 2000);
        let all = probabilities(&run);
        assert_eq!(all.len(), 2000);
        for (resident, p) in &all {
            assert!(
                (p - 0.1).abs() <= 0.001,
                "{method}: resident {resident} has {p}"
            );
        }
    }
}

#[tokio::test]
async fn a_drawn_number_makes_its_ticket_the_panel_and_members_move_through_their_lifecycle() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let people = register_pool(&app, &small_pool()).await;
    let panel = create_panel(
        &app,
        &officer,
        json!({ "name": "Residents Panel", "targetSize": 20, "termMonths": 24 }),
    )
    .await;
    import_quotas(&app, &officer, &panel, SMALL_QUOTAS).await;
    let run = select(
        &app,
        &officer,
        json!({ "panelId": panel, "method": "MAXIMIN", "seed": "5", "tickets": 100 }),
    )
    .await;
    let run_id = run["id"].as_str().unwrap();
    // Out of range, both ways at once, and SCRUTINY: refused.
    let draw = "mutation($input: SelectionDrawInput!) {
        selectionDraw(input: $input) { drawnNumber drawSource }
    }";
    let body = app
        .graphql(
            draw,
            json!({ "input": { "runId": run_id, "number": 101 } }),
            Some(&officer),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let body = app
        .graphql(
            draw,
            json!({ "input": { "runId": run_id, "number": 1, "randomSources": ["1 2 3"] } }),
            Some(&officer),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let scrutiny = app.token_for(Role::Scrutiny).await;
    let body = app
        .graphql(
            draw,
            json!({ "input": { "runId": run_id, "number": 1 } }),
            Some(&scrutiny),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    // RFC 3797 from public numbers: the number is derived, and named with its key.
    let body = app
        .graphql(
            draw,
            json!({ "input": { "runId": run_id, "randomSources": ["9 18 26 34 41 45", "9319"] } }),
            Some(&officer),
        )
        .await;
    let drawn = &body["data"]["selectionDraw"];
    assert_eq!(
        drawn["drawSource"], "rfc3797:9.18.26.34.41.45./9319./",
        "{body}"
    );
    let number = drawn["drawnNumber"].as_u64().unwrap();
    let body = app
        .graphql(
            draw,
            json!({ "input": { "runId": run_id, "number": 1 } }),
            Some(&officer),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");

    // The members are exactly the ticket's residents, and the quotas hold.
    let text = run["lotteryText"].as_str().unwrap();
    let ticket: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with(&format!("{number}:")))
        .unwrap()
        .split_once(':')
        .unwrap()
        .1
        .split(',')
        .collect();
    assert_eq!(ticket.len(), 20);
    let members = app
        .graphql(
            "query($id: ID!) { panel(id: $id) {
                memberCounts { status count }
                memberships(first: 100) { edges { node {
                    id residentId status termEndsAt events { from to reason byAccountId }
                } } }
            } }",
            json!({ "id": panel }),
            Some(&officer),
        )
        .await;
    let edges = members["data"]["panel"]["memberships"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(edges.len(), 20, "{members}");
    let run_after = app
        .graphql(RUN, json!({ "id": run_id }), Some(&officer))
        .await;
    let report = run_after["data"]["selectionRun"]["report"]
        .as_array()
        .unwrap()
        .clone();
    for row in &report {
        let selected = row["selected"].as_u64().unwrap();
        assert!(
            selected >= row["min"].as_u64().unwrap() && selected <= row["max"].as_u64().unwrap(),
            "{row}"
        );
    }
    let first = &edges[0]["node"];
    assert_eq!(first["status"], "SELECTED");
    assert_eq!(first["events"][0]["to"], "SELECTED");
    assert!(
        first["events"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("ticket")
    );

    // Lifecycle: selected → active → paused → active; selected → paused is refused.
    let change = "mutation($input: MembershipStatusChangeInput!) {
        membershipStatusChange(input: $input) { status events { from to reason } }
    }";
    let second = edges[1]["node"]["id"].as_str().unwrap();
    let body = app
        .graphql(
            change,
            json!({ "input": { "membershipId": second, "status": "PAUSED" } }),
            Some(&officer),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    let membership = first["id"].as_str().unwrap();
    for status in ["ACTIVE", "PAUSED", "ACTIVE"] {
        let body = app
            .graphql(
                change,
                json!({ "input": { "membershipId": membership, "status": status, "reason": "letter" } }),
                Some(&officer),
            )
            .await;
        assert_eq!(
            body["data"]["membershipStatusChange"]["status"], status,
            "{body}"
        );
    }
    let body = app
        .graphql(
            change,
            json!({ "input": { "membershipId": membership, "status": "TERM_ENDED" } }),
            Some(&officer),
        )
        .await;
    let events = &body["data"]["membershipStatusChange"]["events"];
    assert_eq!(events.as_array().unwrap().len(), 5, "{body}");
    assert_eq!(events[4]["from"], "ACTIVE");
    assert_eq!(events[4]["to"], "TERM_ENDED");

    // A member withdraws themselves; someone not on the panel cannot.
    let member_resident = edges[1]["node"]["residentId"].as_str().unwrap();
    let (_, member_token) = people.iter().find(|(id, _)| id == member_resident).unwrap();
    // The member reads their own history in the answer (the withdrawal is theirs, so
    // its account is given; the officer's who recorded the selection is not).
    let withdraw = "mutation($input: PanelWithdrawInput!) {
        panelWithdraw(input: $input) { status events { from to reason byAccountId } }
    }";
    let body = app
        .graphql(
            withdraw,
            json!({ "input": { "panelId": panel, "reason": "moving away" } }),
            Some(member_token),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let answer = &body["data"]["panelWithdraw"];
    assert_eq!(answer["status"], "WITHDRAWN", "{body}");
    let events = answer["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{body}");
    assert_eq!(events[0]["to"], "SELECTED");
    assert!(events[0]["byAccountId"].is_null(), "{body}");
    assert_eq!(events[1]["from"], "SELECTED");
    assert_eq!(events[1]["to"], "WITHDRAWN");
    assert_eq!(events[1]["reason"], "moving away");
    assert!(events[1]["byAccountId"].is_string(), "{body}");
    let withdrawn = app
        .graphql(
            "query($id: ID!) { panel(id: $id) { memberships(status: WITHDRAWN) { edges { node {
                residentId events { to reason byAccountId }
            } } } } }",
            json!({ "id": panel }),
            Some(&officer),
        )
        .await;
    let node = &withdrawn["data"]["panel"]["memberships"]["edges"][0]["node"];
    assert_eq!(node["residentId"], member_resident, "{withdrawn}");
    assert_eq!(node["events"][1]["to"], "WITHDRAWN");
    assert_eq!(node["events"][1]["reason"], "moving away");
    assert!(node["events"][1]["byAccountId"].is_string());
    let outsider = people
        .iter()
        .find(|(id, _)| !edges.iter().any(|e| e["node"]["residentId"] == id.as_str()))
        .unwrap();
    let body = app
        .graphql(
            withdraw,
            json!({ "input": { "panelId": panel } }),
            Some(&outsider.1),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");

    // A fresh selection is refused while members sit; a top-up fills the two seats
    // left, from registrants never on the panel, keeping everyone sitting.
    let body = start(&app, &officer, &panel, json!({ "method": "MAXIMIN" })).await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    let top_up = select(
        &app,
        &officer,
        json!({ "panelId": panel, "method": "LEXIMIN", "topUp": true, "seed": "9", "tickets": 10 }),
    )
    .await;
    assert_eq!(top_up["job"]["status"], "SUCCEEDED", "{top_up}");
    assert_eq!(top_up["k"], 2);
    assert_eq!(top_up["poolSize"], 180);
    let sitting: u64 = top_up["report"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["feature"] == "gender")
        .map(|r| r["sitting"].as_u64().unwrap())
        .sum();
    assert_eq!(sitting, 18);
    let body = app
        .graphql(
            draw,
            json!({ "input": { "runId": top_up["id"], "number": 3 } }),
            Some(&officer),
        )
        .await;
    assert_eq!(body["data"]["selectionDraw"]["drawnNumber"], 3, "{body}");
    let counts = app
        .graphql(
            "query($id: ID!) { panel(id: $id) { memberCounts { status count } } }",
            json!({ "id": panel }),
            Some(&officer),
        )
        .await;
    let count_of = |status: &str| {
        counts["data"]["panel"]["memberCounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["status"] == status)
            .unwrap()["count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        count_of("SELECTED") + count_of("ACTIVE") + count_of("PAUSED"),
        20
    );
    assert_eq!(count_of("WITHDRAWN"), 1);
    assert_eq!(count_of("TERM_ENDED"), 1);
}

#[tokio::test]
async fn quotas_no_panel_can_meet_are_refused_at_once_or_answered_with_a_relaxation() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    register_pool(&app, &small_pool()).await;
    let panel = create_panel(&app, &officer, json!({ "name": "P", "targetSize": 20 })).await;
    // Minimums above the panel size: refused before any job.
    import_quotas(
        &app,
        &officer,
        &panel,
        "feature,value,min,max\r\ngender,female,15,20\r\ngender,male,15,20\r\nleaning,liberal,0,20\r\nleaning,conservative,0,20\r\n",
    )
    .await;
    let body = start(&app, &officer, &panel, json!({})).await;
    assert_refused(&body, "BAD_USER_INPUT", "gender");
    // A value the quotas do not list: named, refused.
    import_quotas(
        &app,
        &officer,
        &panel,
        "feature,value,min,max\ngender,female,0,20\n",
    )
    .await;
    let body = start(&app, &officer, &panel, json!({})).await;
    assert_refused(&body, "BAD_USER_INPUT", "male");
    // Only one woman is conservative, so ten women and twenty conservatives cannot
    // sit together: the job fails and suggests the smallest relaxation.
    import_quotas(
        &app,
        &officer,
        &panel,
        "feature,value,min,max\ngender,female,10,10\ngender,male,10,10\nleaning,liberal,0,0\nleaning,conservative,20,20\n",
    )
    .await;
    let run = select(
        &app,
        &officer,
        json!({ "panelId": panel, "method": "MAXIMIN" }),
    )
    .await;
    assert_eq!(run["job"]["status"], "FAILED", "{run}");
    assert!(
        run["job"]["error"]
            .as_str()
            .unwrap()
            .contains("No panel meets the quotas")
    );
    // The conflict is named: which features, and which of their bounds.
    assert_eq!(
        run["infeasibleReasons"],
        json!([
            "the quotas of gender and leaning cannot be met together in a panel of 20 from this pool \
             (gender male at most 10; leaning conservative at least 20)"
        ]),
        "{run}"
    );
    let suggested = run["suggestedQuotasCsv"].as_str().unwrap();
    assert!(
        suggested.starts_with("feature,value,min,max"),
        "{suggested}"
    );
    // The suggestion works.
    import_quotas(&app, &officer, &panel, suggested).await;
    let run = select(
        &app,
        &officer,
        json!({ "panelId": panel, "method": "MAXIMIN" }),
    )
    .await;
    assert_eq!(run["job"]["status"], "SUCCEEDED", "{run}");
}

#[tokio::test]
async fn one_selection_per_panel_runs_at_a_time_and_a_cancelled_one_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    register_pool(&app, &small_pool()).await;
    let panel = create_panel(&app, &officer, json!({ "name": "P", "targetSize": 20 })).await;
    import_quotas(&app, &officer, &panel, SMALL_QUOTAS).await;
    let first = start(&app, &officer, &panel, json!({})).await;
    let job = first["data"]["selectionStart"]["job"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = first["data"]["selectionStart"]["run"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = start(&app, &officer, &panel, json!({})).await;
    assert_eq!(error_code(&second), "CONFLICT", "{second}");
    let body = app
        .graphql(
            "mutation($id: ID!) { jobCancel(input: { id: $id }) { job { status } } }",
            json!({ "id": job }),
            Some(&officer),
        )
        .await;
    assert_eq!(
        body["data"]["jobCancel"]["job"]["status"], "CANCELLED",
        "{body}"
    );
    app.run_jobs().await;
    let body = app.graphql(RUN, json!({ "id": run }), Some(&officer)).await;
    let cancelled = &body["data"]["selectionRun"];
    assert_eq!(cancelled["job"]["status"], "CANCELLED", "{body}");
    assert!(cancelled["poolSize"].is_null());
    assert_eq!(
        cancelled["probabilitiesCsv"],
        "resident_id,probability,lottery_probability\n"
    );
    let body = app
        .graphql(
            "mutation($input: SelectionDrawInput!) { selectionDraw(input: $input) { id } }",
            json!({ "input": { "runId": run, "number": 1 } }),
            Some(&officer),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    // The panel is free for the next selection.
    let again = select(
        &app,
        &officer,
        json!({ "panelId": panel, "method": "MAXIMIN" }),
    )
    .await;
    assert_eq!(again["job"]["status"], "SUCCEEDED", "{again}");
}

#[tokio::test]
async fn a_youth_forum_takes_its_age_range_and_needs_a_guardian_under_13() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    // Selection is on 2026-11-23 (the test clock): ages 11 to 19.
    let born = [
        "2015-06-01", // 11: needs a guardian
        "2014-01-01", // 12: needs a guardian
        "2014-02-01", // 12
        "2012-01-01", // 14
        "2011-01-01", // 15
        "2010-01-01", // 16
        "2009-01-01", // 17
        "2008-01-01", // 18
        "2007-11-23", // 19 today: too old
    ];
    let people: Vec<Registrant> = born
        .iter()
        .enumerate()
        .map(|(i, b)| Registrant {
            sex: if i % 2 == 0 { "FEMALE" } else { "MALE" },
            born: (*b).to_owned(),
            attributes: Vec::new(),
        })
        .collect();
    let registered = register_pool(&app, &people).await;
    app.load_benchmarks().await;
    let panel = create_panel(
        &app,
        &officer,
        json!({ "name": "Youth Forum", "minAge": 11, "maxAge": 18, "targetSize": 3, "areaCode": "E07000083" }),
    )
    .await;
    import_quotas(
        &app,
        &officer,
        &panel,
        "feature,value,min,max\nage_band,10-14,1,2\nage_band,15-19,1,2\n",
    )
    .await;
    let run = select(
        &app,
        &officer,
        json!({ "panelId": panel, "method": "LEXIMIN" }),
    )
    .await;
    assert_eq!(run["job"]["status"], "SUCCEEDED", "{run}");
    // 14, 15, 16, 17, 18: the under-13s wait for their guardians.
    assert_eq!(run["poolSize"], 5, "{run}");
    let body = app
        .graphql(
            "mutation($input: GuardianConsentRecordInput!) {
                guardianConsentRecord(input: $input) { residentId recordedAt }
            }",
            json!({ "input": {
                "residentId": registered[1].0, "guardianName": "Sam Parent",
                "relationship": "mother", "method": "signed form"
            }}),
            Some(&officer),
        )
        .await;
    assert_eq!(
        body["data"]["guardianConsentRecord"]["residentId"], registered[1].0,
        "{body}"
    );
    let run = select(
        &app,
        &officer,
        json!({ "panelId": panel, "method": "LEXIMIN" }),
    )
    .await;
    assert_eq!(run["poolSize"], 6, "{run}");
    let young = run["report"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["value"] == "10-14")
        .unwrap()
        .clone();
    assert_eq!(young["pool"], 2);
    // The census share of 11-14 year-olds among 11-18 year-olds: 10-14 and 15-19 each
    // pro-rated to four years of five.
    let share = young["populationShare"].as_f64().unwrap();
    assert!(share > 0.4 && share < 0.6, "{young}");
    let csv = run["reportCsv"].as_str().unwrap();
    assert!(csv.starts_with("item,value\npanel,Youth Forum\n"), "{csv}");
    assert!(csv.contains("\nmethod,leximin\n"), "{csv}");
    assert!(csv.contains("\n\nfeature,value,min,max,population_share,sitting,pool,selected"));
    assert!(csv.contains(",lowest\n"), "{csv}");
    let all = probabilities(&run);
    assert!(all.iter().all(|(_, p)| *p > 0.0));
    let total: f64 = all.iter().map(|(_, p)| p).sum();
    assert!((total - 3.0).abs() < 1e-6, "{total}");
}

#[tokio::test]
async fn quotas_are_derived_from_the_census_for_the_panels_ages_and_round_trip_as_csv() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_benchmarks().await;
    app.load_demo_register(0.2).await;
    let panel = create_panel(
        &app,
        &officer,
        json!({ "name": "Residents Panel", "minAge": 16, "targetSize": 60, "areaCode": "E07000083" }),
    )
    .await;
    let body = app
        .graphql(
            "mutation($input: PanelQuotasDeriveInput!) {
                panelQuotasDerive(input: $input) { feature value min max }
            }",
            json!({ "input": { "panelId": panel, "tolerance": 0.1,
                "features": ["age_band", "sex", "ethnic_group_broad", "ward"] } }),
            Some(&officer),
        )
        .await;
    let quotas = body["data"]["panelQuotasDerive"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    let ages: Vec<&Value> = quotas
        .iter()
        .filter(|q| q["feature"] == "age_band")
        .collect();
    assert_eq!(
        ages[0]["value"], "15-19",
        "16 and over: the first band is 15-19"
    );
    for feature in ["age_band", "sex", "ethnic_group_broad", "ward"] {
        let rows: Vec<&Value> = quotas.iter().filter(|q| q["feature"] == feature).collect();
        assert!(!rows.is_empty(), "{feature}");
        let mins: u64 = rows.iter().map(|q| q["min"].as_u64().unwrap()).sum();
        let maxes: u64 = rows.iter().map(|q| q["max"].as_u64().unwrap()).sum();
        assert!(mins <= 60 && maxes >= 60, "{feature}: {mins}..{maxes}");
    }
    let sexes: Vec<&str> = quotas
        .iter()
        .filter(|q| q["feature"] == "sex")
        .map(|q| q["value"].as_str().unwrap())
        .collect();
    assert_eq!(sexes, ["female", "male"]);
    // Exported and imported again, the quotas are the same.
    let csv = app
        .graphql(
            "query($id: ID!) { panel(id: $id) { quotasCsv } }",
            json!({ "id": panel }),
            Some(&officer),
        )
        .await;
    let csv = csv["data"]["panel"]["quotasCsv"]
        .as_str()
        .unwrap()
        .to_owned();
    let again = import_quotas(&app, &officer, &panel, &csv).await;
    assert_eq!(
        again["data"]["panelQuotasImport"].as_array().unwrap(),
        quotas
    );
    // An unknown area or feature is named.
    let body = app
        .graphql(
            "mutation($input: PanelQuotasDeriveInput!) { panelQuotasDerive(input: $input) { value } }",
            json!({ "input": { "panelId": panel, "features": ["shoe_size"] } }),
            Some(&officer),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let scrutiny = app.token_for(Role::Scrutiny).await;
    let body = app
        .graphql("{ panels { nodes { id } } }", json!({}), Some(&scrutiny))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    // The panel is a node: fetched again by its ID alone, by those who may see it.
    let node = "query($id: ID!) { node(id: $id) { id ... on Panel { name targetSize } } }";
    let body = app
        .graphql(node, json!({ "id": panel }), Some(&officer))
        .await;
    assert_eq!(body["data"]["node"]["name"], "Residents Panel", "{body}");
    let body = app
        .graphql(node, json!({ "id": panel }), Some(&scrutiny))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
}

#[tokio::test]
async fn two_selections_started_at_once_for_one_panel_give_one_run() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    seed_pool(&app, &small_pool()).await;
    let panel = create_panel(&app, &officer, json!({ "name": "P", "targetSize": 20 })).await;
    import_quotas(&app, &officer, &panel, SMALL_QUOTAS).await;
    let input = json!({ "input": { "panelId": panel, "method": "MAXIMIN" } });
    let (a, b) = tokio::join!(
        app.graphql(START, input.clone(), Some(&officer)),
        app.graphql(START, input.clone(), Some(&officer)),
    );
    let started = [&a, &b]
        .iter()
        .filter(|body| body["data"]["selectionStart"]["run"]["id"].is_string())
        .count();
    let refused: Vec<String> = [&a, &b]
        .iter()
        .filter(|body| body["errors"].is_array())
        .map(|body| error_code(body))
        .collect();
    assert_eq!(started, 1, "{a} {b}");
    assert_eq!(refused, ["CONFLICT"]);
    use sea_orm::EntityTrait;
    let runs = civic_panel::db::entities::selection_run::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(runs.len(), 1, "the refused start left no run behind");
}

#[tokio::test]
async fn a_selection_whose_worker_died_is_finished_by_another_or_fails_visibly() {
    use civic_panel::db::queue;
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    seed_pool(&app, &small_pool()).await;
    let panel = create_panel(&app, &officer, json!({ "name": "P", "targetSize": 20 })).await;
    import_quotas(&app, &officer, &panel, SMALL_QUOTAS).await;
    let lease = app.state.config.worker.lease();
    // A worker claims the selection and dies; once its lease runs out another finishes it.
    let body = start(&app, &officer, &panel, json!({ "method": "MAXIMIN" })).await;
    let run = body["data"]["selectionStart"]["run"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = app.clock.now();
    assert_eq!(
        queue::claim_jobs(app.db(), "dead", now, now + lease, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(app.run_jobs().await, 0, "held by its lease");
    app.clock.advance(lease + chrono::Duration::seconds(1));
    assert_eq!(app.run_jobs().await, 1);
    let done = app.graphql(RUN, json!({ "id": run }), Some(&officer)).await;
    assert_eq!(
        done["data"]["selectionRun"]["job"]["status"], "SUCCEEDED",
        "{done}"
    );
    assert!(
        (done["data"]["selectionRun"]["minimumProbability"]
            .as_f64()
            .unwrap()
            - 0.1)
            .abs()
            < 0.001
    );
    // A selection whose workers keep dying fails for good, saying so, with nothing stored.
    let body = start(&app, &officer, &panel, json!({ "method": "MAXIMIN" })).await;
    let run = body["data"]["selectionStart"]["run"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for n in 0..2 {
        let now = app.clock.now();
        let claimed = queue::claim_jobs(app.db(), &format!("dead-{n}"), now, now + lease, 1)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        app.clock.advance(lease + chrono::Duration::seconds(1));
    }
    app.run_jobs().await;
    let failed = app.graphql(RUN, json!({ "id": run }), Some(&officer)).await;
    let failed = &failed["data"]["selectionRun"];
    assert_eq!(failed["job"]["status"], "FAILED", "{failed}");
    assert!(
        failed["job"]["error"]
            .as_str()
            .unwrap()
            .contains("Stopped after")
    );
    assert!(failed["poolSize"].is_null());
    assert!(failed["lotterySha256"].is_null());
}

/// A panel of 60 over a council-like pool of 800 with six skewed features (as custom
/// attributes), quotas at the population share ± 10 %: a solve of some seconds.
async fn synthetic_panel(app: &TestApp, officer: &str) -> String {
    let (people_csv, quotas_csv) =
        civic_panel::domain::selection::synthetic_pool::pool(800, 60, 0.1, 3);
    let mut lines = people_csv.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .skip(1)
        .map(|name| format!("syn_{name}"))
        .collect();
    let people: Vec<Registrant> = lines
        .map(|line| Registrant {
            sex: "FEMALE",
            born: "1980-01-01".to_owned(),
            attributes: header
                .iter()
                .zip(line.split(',').skip(1))
                .map(|(n, v)| (n.clone(), v.to_owned()))
                .collect(),
        })
        .collect();
    seed_pool(app, &people).await;
    let quotas: String = quotas_csv
        .lines()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 {
                format!("{line}\n")
            } else {
                format!("syn_{line}\n")
            }
        })
        .collect();
    let panel = create_panel(app, officer, json!({ "name": "P", "targetSize": 60 })).await;
    let body = import_quotas(app, officer, &panel, &quotas).await;
    assert!(body["data"]["panelQuotasImport"].is_array(), "{body}");
    panel
}

#[tokio::test]
async fn a_solve_that_runs_out_of_time_fails_saying_so() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let panel = synthetic_panel(&app, &officer).await;
    let run = select(
        &app,
        &officer,
        json!({ "panelId": panel, "method": "LEXIMIN", "timeLimitSeconds": 1 }),
    )
    .await;
    assert_eq!(run["job"]["status"], "FAILED", "{run}");
    assert!(
        run["job"]["error"]
            .as_str()
            .unwrap()
            .contains("time limit of 1 s"),
        "{run}"
    );
    assert!(run["poolSize"].is_null());
}

#[tokio::test]
async fn a_panel_of_one_per_household_never_takes_two_from_one_home() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let people: Vec<Registrant> = ["FEMALE", "MALE", "FEMALE", "MALE"]
        .iter()
        .map(|sex| Registrant {
            sex,
            born: "1970-01-01".to_owned(),
            attributes: Vec::new(),
        })
        .collect();
    let homes: Vec<String> = ["A", "A", "B", "B"].iter().map(|h| h.to_string()).collect();
    let ids = seed_pool_in_households(&app, &people, &homes).await;
    let panel = create_panel(
        &app,
        &officer,
        json!({ "name": "P", "targetSize": 2, "onePerHousehold": true }),
    )
    .await;
    import_quotas(
        &app,
        &officer,
        &panel,
        "feature,value,min,max\nsex,female,0,2\nsex,male,0,2\n",
    )
    .await;
    let run = select(
        &app,
        &officer,
        json!({ "panelId": panel, "method": "LEXIMIN", "tickets": 100 }),
    )
    .await;
    assert_eq!(run["job"]["status"], "SUCCEEDED", "{run}");
    for (_, p) in probabilities(&run) {
        assert!((p - 0.5).abs() < 1e-6, "{p}");
    }
    // Every ticket takes one from each home.
    let number = |id: &str| {
        let (_, n) = civic_panel::graphql::id::decode_any(id, "id").unwrap();
        n.to_string()
    };
    let home_a = [number(&ids[0]), number(&ids[1])];
    for line in run["lotteryText"].as_str().unwrap().lines().skip(1) {
        let members: Vec<&str> = line.split_once(':').unwrap().1.split(',').collect();
        assert_eq!(members.len(), 2);
        let from_a = members
            .iter()
            .filter(|m| home_a.contains(&m.to_string()))
            .count();
        assert_eq!(from_a, 1, "{line}");
    }
}

#[tokio::test]
async fn an_empty_or_too_small_pool_is_refused_before_any_job() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let panel = create_panel(&app, &officer, json!({ "name": "P", "targetSize": 5 })).await;
    import_quotas(
        &app,
        &officer,
        &panel,
        "feature,value,min,max\nsex,female,0,5\nsex,male,0,5\n",
    )
    .await;
    let body = start(&app, &officer, &panel, json!({})).await;
    assert_refused(&body, "BAD_USER_INPUT", "pool");
    let people: Vec<Registrant> = ["FEMALE", "MALE", "FEMALE"]
        .iter()
        .map(|sex| Registrant {
            sex,
            born: "1970-01-01".to_owned(),
            attributes: Vec::new(),
        })
        .collect();
    seed_pool(&app, &people).await;
    let body = start(&app, &officer, &panel, json!({})).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(error_message(&body).contains('3'), "{body}");
    // A panel with no quotas, and bad numbers, are refused too.
    let bare = create_panel(&app, &officer, json!({ "name": "Bare", "targetSize": 2 })).await;
    let body = start(&app, &officer, &bare, json!({})).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    for bad in [
        json!({ "tickets": 0 }),
        json!({ "timeLimitSeconds": 0 }),
        json!({ "seed": "-1" }),
    ] {
        let mut input = json!({ "panelId": panel });
        input
            .as_object_mut()
            .unwrap()
            .extend(bad.as_object().unwrap().clone());
        let body = app
            .graphql(START, json!({ "input": input }), Some(&officer))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}: {body}");
    }
    let body = app
        .graphql(
            "mutation { panelCreate(input: { name: \"Y\", minAge: 18, maxAge: 11, targetSize: 3 }) { id } }",
            json!({}),
            Some(&officer),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let body = app
        .graphql(
            "mutation { panelCreate(input: { name: \"P\", targetSize: 3 }) { id } }",
            json!({}),
            Some(&officer),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
}

#[tokio::test]
async fn a_running_selection_stops_when_cancelled_and_stores_nothing() {
    let app = TestApp::spawn_with(|config| config.worker.job_lease_secs = 3).await;
    let officer = app.token_for(Role::Officer).await;
    let panel = synthetic_panel(&app, &officer).await;
    let body = start(
        &app,
        &officer,
        &panel,
        json!({ "method": "LEXIMIN", "timeLimitSeconds": 3600 }),
    )
    .await;
    let job = body["data"]["selectionStart"]["job"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = body["data"]["selectionStart"]["run"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(app.worker().run(async move {
        let _ = stopped.await;
    }));
    // Running: the pool is built (progress 1 of 3) and the solver is at work.
    app.wait_for_job(&officer, &job, |job| {
        job["status"] == "RUNNING" && job["progress"]["done"].as_u64().unwrap_or(0) >= 1
    })
    .await;
    let asked = app
        .graphql(
            "mutation($id: ID!) { jobCancel(input: { id: $id }) { job { cancelRequested } } }",
            json!({ "id": job }),
            Some(&officer),
        )
        .await;
    assert_eq!(
        asked["data"]["jobCancel"]["job"]["cancelRequested"], true,
        "{asked}"
    );
    let done = app
        .wait_for_job(&officer, &job, |job| job["status"] != "RUNNING")
        .await;
    assert_eq!(done["status"], "CANCELLED", "{done}");
    let _ = stop.send(());
    worker.await.unwrap();
    let body = app.graphql(RUN, json!({ "id": run }), Some(&officer)).await;
    let cancelled = &body["data"]["selectionRun"];
    assert!(cancelled["poolSize"].is_null(), "{body}");
    assert!(cancelled["lotterySha256"].is_null());
    assert_eq!(
        cancelled["probabilitiesCsv"],
        "resident_id,probability,lottery_probability\n"
    );
}

pub const SELECTION_REPORT: &str = "query($id: ID!) {
    selectionReport(id: $id) {
        runId panelName method topUp k poolSize drawnNumber threshold suppressed
        probabilities { minimum median maximum }
        values {
            feature value quotaMin quotaMax sitting pool selected
            probabilities { minimum maximum }
        }
    }
}";

fn value_row<'a>(report: &'a Value, feature: &str, value: &str) -> &'a Value {
    report["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["feature"] == feature && v["value"] == value)
        .unwrap_or_else(|| panic!("no {feature} {value}: {report}"))
}

#[tokio::test]
async fn scrutiny_reads_a_selection_report_whose_small_groups_no_attack_recovers() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let scrutiny = app.token_for(Role::Scrutiny).await;
    // The paper's pool, and three registrants of a third leaning: a group too small to
    // publish.
    let mut pool = small_pool();
    pool.extend((0..3).map(|_| Registrant {
        sex: "FEMALE",
        born: "1990-06-01".to_owned(),
        attributes: vec![("leaning".to_owned(), "green".to_owned())],
    }));
    register_pool(&app, &pool).await;
    let panel = create_panel(
        &app,
        &officer,
        json!({ "name": "Residents Panel", "targetSize": 20 }),
    )
    .await;
    let quotas = format!("{SMALL_QUOTAS}\nleaning,green,0,3\n");
    let imported = import_quotas(&app, &officer, &panel, &quotas).await;
    assert!(imported["errors"].is_null(), "{imported}");
    let run = select(
        &app,
        &officer,
        json!({ "panelId": panel, "method": "MAXIMIN", "seed": "7", "tickets": 100 }),
    )
    .await;
    assert_eq!(run["job"]["status"], "SUCCEEDED", "{run}");
    let run_id = run["id"].as_str().unwrap().to_owned();
    let body = app
        .graphql(
            "mutation($input: SelectionDrawInput!) { selectionDraw(input: $input) { id } }",
            json!({ "input": { "runId": run_id, "number": 1 } }),
            Some(&officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");

    // OFFICER: every count, the selected ones included.
    let body = app
        .graphql(SELECTION_REPORT, json!({ "id": run_id }), Some(&officer))
        .await;
    let report = &body["data"]["selectionReport"];
    assert_eq!(report["poolSize"], 203, "{body}");
    assert_eq!(report["threshold"], Value::Null);
    assert_eq!(report["suppressed"], false);
    let green = value_row(report, "leaning", "green");
    assert_eq!(green["pool"], 3);
    assert_eq!(green["quotaMax"], 3);
    let selected: u64 = report["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["feature"] == "gender")
        .map(|v| v["selected"].as_u64().unwrap())
        .sum();
    assert_eq!(selected, 20);

    // SCRUTINY finds the run from the panel's report.
    let body = app
        .graphql(
            "query($id: ID!) { panelReport(id: $id) { selectionRunIds } }",
            json!({ "id": panel }),
            Some(&scrutiny),
        )
        .await;
    assert_eq!(
        body["data"]["panelReport"]["selectionRunIds"],
        json!([run_id]),
        "{body}"
    );
    let body = app
        .graphql(SELECTION_REPORT, json!({ "id": run_id }), Some(&scrutiny))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let report = &body["data"]["selectionReport"];
    assert_eq!(report["threshold"], 10);
    assert_eq!(report["suppressed"], true);
    assert_eq!(report["k"], 20);
    let green = value_row(report, "leaning", "green");
    // The small group: its count, its probabilities and its narrow quota withheld.
    assert_eq!(green["pool"], Value::Null, "{report}");
    assert_eq!(green["probabilities"], Value::Null);
    assert_eq!(green["quotaMin"], Value::Null);
    assert_eq!(green["quotaMax"], Value::Null);
    // A wide quota is shown; the pool's own counts where large enough.
    let women = value_row(report, "gender", "female");
    assert_eq!(women["quotaMin"], 9);
    assert_eq!(women["quotaMax"], 20);
    assert_eq!(women["pool"], 103);
    // Secondary suppression: the green count is not the total less the rest.
    let liberal = &value_row(report, "leaning", "liberal")["pool"];
    let conservative = &value_row(report, "leaning", "conservative")["pool"];
    assert!(
        liberal.is_null() || conservative.is_null() || report["poolSize"].is_null(),
        "{report}"
    );
    // No selected counts, and no count from 1 to 9 anywhere.
    for row in report["values"].as_array().unwrap() {
        assert_eq!(row["selected"], Value::Null, "{row}");
        for key in ["pool", "sitting"] {
            if let Some(n) = row[key].as_u64() {
                assert!(n == 0 || n >= 10, "{key} = {n} shown: {row}");
            }
        }
    }
    // The attack: every hidden count keeps a range at least the threshold wide.
    let run =
        civic_panel::graphql::id::decode::<civic_panel::domain::ids::SelectionRunId>(&run_id, "id")
            .unwrap();
    let (populations, tables, hidden) =
        civic_panel::service::selection::selection_report::protection_of(&app.state, run)
            .await
            .unwrap();
    let (model, suppressed) =
        civic_panel::domain::reports::disclosure::tables::joint(&populations, &tables, &hidden)
            .unwrap();
    assert!(!suppressed.is_empty());
    for range in civic_panel::domain::reports::disclosure::attack_plain(&model, &suppressed)
        .unwrap()
        .iter()
        .flatten()
    {
        assert!(range.1 - range.0 >= 10.0 - 1e-6, "pinned to {range:?}");
    }
    // The CSV export: the same protection; no selected counts for SCRUTINY.
    let uri = format!("/exports/selection-runs/{run_id}/report.csv");
    let file = app.get(&uri, Some(&scrutiny)).await;
    assert_eq!(file.status, 200);
    let rows = crate::helpers::csv_rows(&file.bytes);
    let cell = |rows: &[Vec<String>], table: &str, group: &str, measure: &str| {
        rows.iter()
            .find(|r| r[0] == table && r[1] == group && r[2] == measure)
            .map(|r| (r[3].clone(), r[4].clone()))
    };
    assert_eq!(
        cell(&rows, "value:leaning", "green", "pool"),
        Some((String::new(), "suppressed".to_owned()))
    );
    assert_eq!(
        cell(&rows, "value:gender", "female", "pool"),
        Some(("103".to_owned(), String::new()))
    );
    assert!(rows.iter().all(|r| r[2] != "selected"), "{rows:?}");
    for row in &rows[1..] {
        if ["pool", "sitting", "pool_size"].contains(&row[2].as_str())
            && let Ok(n) = row[3].parse::<u64>()
        {
            assert!(n == 0 || n >= 10, "{row:?}");
        }
    }
    let rows = crate::helpers::csv_rows(&app.get(&uri, Some(&officer)).await.bytes);
    assert_eq!(
        cell(&rows, "value:leaning", "green", "pool"),
        Some(("3".to_owned(), String::new()))
    );
    assert!(rows.iter().any(|r| r[2] == "selected"));
    // Residents may not read it.
    let resident = app.token_for(Role::Resident).await;
    let body = app
        .graphql(SELECTION_REPORT, json!({ "id": run_id }), Some(&resident))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert_eq!(app.get(&uri, Some(&resident)).await.status, 403);
}

/// A panel of 20 over the paper's small pool, with its quotas.
async fn paper_panel(app: &TestApp, officer: &str) -> String {
    seed_pool(app, &small_pool()).await;
    let panel = create_panel(
        app,
        officer,
        json!({ "name": "Ward forum", "targetSize": 20 }),
    )
    .await;
    import_quotas(app, officer, &panel, SMALL_QUOTAS).await;
    panel
}

/// A computed maximin selection of `panel` with a lottery of ten tickets.
async fn maximin(app: &TestApp, officer: &str, panel: &str, seed: &str) -> Value {
    select(
        app,
        officer,
        json!({ "panelId": panel, "method": "MAXIMIN", "seed": seed, "tickets": 10 }),
    )
    .await
}

const DRAW: &str = "mutation($input: SelectionDrawInput!) {
    selectionDraw(input: $input) { id drawnNumber }
}";

const SUPERSEDED: &str = "query($id: ID!) {
    selectionRun(id: $id) { superseded supersededReason drawnNumber }
}";

/// Members holding a seat (selected, active or paused).
async fn sitting(app: &TestApp, officer: &str, panel: &str) -> u64 {
    let body = app
        .graphql(
            "query($id: ID!) { panel(id: $id) { memberCounts { status count } } }",
            json!({ "id": panel }),
            Some(officer),
        )
        .await;
    body["data"]["panel"]["memberCounts"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .filter(|c| ["SELECTED", "ACTIVE", "PAUSED"].contains(&c["status"].as_str().unwrap()))
        .map(|c| c["count"].as_u64().unwrap())
        .sum()
}

/// The panel's sitting memberships' ids.
async fn sitting_memberships(app: &TestApp, officer: &str, panel: &str) -> Vec<String> {
    let body = app
        .graphql(
            "query($id: ID!) { panel(id: $id) { memberships(first: 100, status: SELECTED) {
                edges { node { id } } } } }",
            json!({ "id": panel }),
            Some(officer),
        )
        .await;
    body["data"]["panel"]["memberships"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn withdraw_member(app: &TestApp, officer: &str, membership: &str) {
    let body = app
        .graphql(
            "mutation($input: MembershipStatusChangeInput!) {
                membershipStatusChange(input: $input) { status } }",
            json!({ "input": { "membershipId": membership, "status": "WITHDRAWN", "reason": "moved" } }),
            Some(officer),
        )
        .await;
    assert_eq!(
        body["data"]["membershipStatusChange"]["status"], "WITHDRAWN",
        "{body}"
    );
}

async fn assert_superseded(app: &TestApp, officer: &str, run: &Value, words: &str) {
    let body = app
        .graphql(
            DRAW,
            json!({ "input": { "runId": run["id"], "number": 1 } }),
            Some(officer),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    let message = error_message(&body);
    assert!(
        message.contains("superseded") && message.contains(words),
        "{message}"
    );
    let body = app
        .graphql(SUPERSEDED, json!({ "id": run["id"] }), Some(officer))
        .await;
    let view = &body["data"]["selectionRun"];
    assert_eq!(view["superseded"], true, "{body}");
    assert!(
        message.ends_with(view["supersededReason"].as_str().unwrap()),
        "{body}"
    );
    assert!(
        view["drawnNumber"].is_null(),
        "the refused draw left nothing: {body}"
    );
}

#[tokio::test]
async fn a_run_computed_before_another_was_drawn_is_superseded_and_never_overfills_the_panel() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let panel = paper_panel(&app, &officer).await;
    let first = maximin(&app, &officer, &panel, "1").await;
    let second = maximin(&app, &officer, &panel, "2").await;
    for run in [&first, &second] {
        let body = app
            .graphql(SUPERSEDED, json!({ "id": run["id"] }), Some(&officer))
            .await;
        assert_eq!(body["data"]["selectionRun"]["superseded"], false, "{body}");
        assert!(body["data"]["selectionRun"]["supersededReason"].is_null());
    }
    let body = app
        .graphql(
            DRAW,
            json!({ "input": { "runId": second["id"], "number": 4 } }),
            Some(&officer),
        )
        .await;
    assert_eq!(body["data"]["selectionDraw"]["drawnNumber"], 4, "{body}");
    assert_superseded(&app, &officer, &first, "20 members now sit on the panel").await;
    assert_eq!(sitting(&app, &officer, &panel).await, 20);
    // A drawn run is not superseded by its own members.
    let body = app
        .graphql(SUPERSEDED, json!({ "id": second["id"] }), Some(&officer))
        .await;
    assert_eq!(body["data"]["selectionRun"]["superseded"], false, "{body}");

    // Everyone drawn leaves again: the old run is still not the panel's to draw.
    for membership in sitting_memberships(&app, &officer, &panel).await {
        withdraw_member(&app, &officer, &membership).await;
    }
    assert_eq!(sitting(&app, &officer, &panel).await, 0);
    assert_superseded(
        &app,
        &officer,
        &first,
        "Another selection of this panel was drawn",
    )
    .await;
}

#[tokio::test]
async fn two_top_ups_computed_from_the_same_sitting_members_cannot_both_be_drawn() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let panel = paper_panel(&app, &officer).await;
    let full = maximin(&app, &officer, &panel, "3").await;
    let body = app
        .graphql(
            DRAW,
            json!({ "input": { "runId": full["id"], "number": 1 } }),
            Some(&officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let members = sitting_memberships(&app, &officer, &panel).await;
    for membership in &members[..4] {
        withdraw_member(&app, &officer, membership).await;
    }
    let top_up = json!({ "panelId": panel, "method": "MAXIMIN", "topUp": true, "tickets": 10 });
    let a = select(&app, &officer, top_up.clone()).await;
    let b = select(&app, &officer, top_up.clone()).await;
    assert_eq!(
        (a["k"].as_u64(), b["k"].as_u64()),
        (Some(4), Some(4)),
        "{a} {b}"
    );
    let body = app
        .graphql(
            DRAW,
            json!({ "input": { "runId": a["id"], "number": 2 } }),
            Some(&officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_superseded(&app, &officer, &b, "16 sitting then, 20 now").await;
    assert_eq!(sitting(&app, &officer, &panel).await, 20);

    // A top-up computed, then one more member leaves: its seats have changed too.
    let members = sitting_memberships(&app, &officer, &panel).await;
    withdraw_member(&app, &officer, &members[0]).await;
    withdraw_member(&app, &officer, &members[1]).await;
    let c = select(&app, &officer, top_up.clone()).await;
    assert_eq!(c["k"], 2, "{c}");
    withdraw_member(&app, &officer, &members[2]).await;
    assert_superseded(&app, &officer, &c, "18 sitting then, 17 now").await;
    assert_eq!(sitting(&app, &officer, &panel).await, 17);
    // A top-up computed for the panel as it is now is drawn.
    let d = select(&app, &officer, top_up).await;
    assert_eq!(d["k"], 3, "{d}");
    let body = app
        .graphql(
            DRAW,
            json!({ "input": { "runId": d["id"], "number": 1 } }),
            Some(&officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(sitting(&app, &officer, &panel).await, 20);
}

#[tokio::test]
async fn two_runs_drawn_at_the_same_moment_seat_one_panel() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let panel = paper_panel(&app, &officer).await;
    let a = maximin(&app, &officer, &panel, "11").await;
    let b = maximin(&app, &officer, &panel, "12").await;
    // Tickets with no resident in common, so that nothing but the draw's own check (no
    // membership would clash) can stop the second.
    let tickets = |run: &Value| -> Vec<(u64, Vec<String>)> {
        run["lotteryText"]
            .as_str()
            .unwrap()
            .lines()
            .filter_map(|line| line.split_once(':'))
            .filter_map(|(n, ids)| {
                Some((n.parse().ok()?, ids.split(',').map(str::to_owned).collect()))
            })
            .collect()
    };
    let (n, m) = tickets(&a)
        .iter()
        .flat_map(|(n, x)| {
            tickets(&b)
                .into_iter()
                .filter(|(_, y)| !y.iter().any(|id| x.contains(id)))
                .map(move |(m, _)| (*n, m))
        })
        .next()
        .expect("two tickets with no one in common");
    let (x, y) = tokio::join!(
        app.graphql(
            DRAW,
            json!({ "input": { "runId": a["id"], "number": n } }),
            Some(&officer)
        ),
        app.graphql(
            DRAW,
            json!({ "input": { "runId": b["id"], "number": m } }),
            Some(&officer)
        ),
    );
    let drawn = [&x, &y]
        .iter()
        .filter(|body| body["errors"].is_null())
        .count();
    assert_eq!(drawn, 1, "{x} {y}");
    let refused = if x["errors"].is_null() { &y } else { &x };
    assert_eq!(error_code(refused), "CONFLICT", "{refused}");
    assert_eq!(sitting(&app, &officer, &panel).await, 20);
}
