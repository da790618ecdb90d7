//! Reports through the API: a consultation's funnel, its respondents against the census,
//! response propensities (the R-indicator and its partials, with the published two-group
//! known answer), weighting and scores; SCRUTINY's copy with small counts hidden, checked
//! by attacking it; and bad requests refused with clear codes.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use civic_panel::db::entities::{invitation, membership, resident};
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::ids::{ConsultationId, PanelId};
use civic_panel::domain::reports::disclosure;
use civic_panel::domain::reports::disclosure::tables::joint;
use civic_panel::graphql::id;
use civic_panel::service::reports::{self, ReportOptions};

use crate::helpers::{TestApp, csv_rows, error_code};

/// Tewkesbury, the area of the bundled demonstration register.
pub const AREA: &str = "E07000083";

/// One member of the test panel.
pub struct Member {
    pub born: &'static str,
    pub sex: &'static str,
    pub ethnic_group: &'static str,
    /// Whether they answer, and with which 0–10 rating.
    pub rating: Option<u8>,
}

const WHITE_BRITISH: &str = "White: English, Welsh, Scottish, Northern Irish or British";
const INDIAN: &str = "Asian, Asian British or Asian Welsh: Indian";

/// 24 women, of whom 12 answer, and 16 men, of whom 4 answer: the response propensities
/// of the two-group example (0.5 and 0.25). Three members are aged 16 to 24 and three are
/// of Indian ethnic group.
pub fn members() -> Vec<Member> {
    let mut members = Vec::new();
    for i in 0..40u8 {
        let female = i < 24;
        let answers = if female { i < 12 } else { i < 28 };
        members.push(Member {
            born: match i {
                0 | 24 => "2005-03-01",
                30 => "2008-01-10",
                _ if i % 2 == 0 => "1980-06-15",
                _ => "1960-09-30",
            },
            sex: if female { "female" } else { "male" },
            ethnic_group: if matches!(i, 5 | 6 | 30) {
                INDIAN
            } else {
                WHITE_BRITISH
            },
            rating: answers.then_some(if i % 3 == 0 { 10 } else { 3 + i % 7 }),
        });
    }
    members
}

/// A panel of `members`, written straight to the database (selection is tested in
/// `panels.rs`); its ID.
pub async fn panel_of(app: &TestApp, officer: &str, members: &[Member]) -> String {
    let (panel, _) = app
        .panel_of_residents(officer, members.len(), |i, row| {
            let member = &members[i];
            resident::ActiveModel {
                ward_code: Set(if i % 2 == 0 { "E05010001" } else { "E05010002" }.to_owned()),
                deprivation_decile: Set(Some(1 + (i % 10) as i16)),
                full_name: Set(format!("Member {i}")),
                email: Set(Some(format!("member{i}@example.org"))),
                date_of_birth: Set(member.born.parse().unwrap()),
                sex: Set(member.sex.to_owned()),
                ethnic_group: Set(member.ethnic_group.to_owned()),
                ..row
            }
        })
        .await;
    panel
}

/// The services member `i` ticks: bins, but for members 1 and 2, who used only the
/// libraries; the parks for even members.
fn services(i: usize) -> Vec<&'static str> {
    match i {
        1 | 2 => vec!["libraries"],
        _ if i.is_multiple_of(2) => vec!["bins", "parks"],
        _ => vec!["bins"],
    }
}

/// A satisfaction survey for `panel` (a 0–10 rating, a free-text comment, the services
/// used, several of three, and one way to be contacted: the letter for members 1 to 3,
/// email for the rest), opened, its invitations sent, and the answering members'
/// answers entered from paper.
pub async fn answered_survey(
    app: &TestApp,
    officer: &str,
    panel: &str,
    members: &[Member],
    title: &str,
) -> String {
    let body = app
        .graphql(
            "mutation($input: ConsultationCreateInput!) {
                consultationCreate(input: $input) { consultation { id } } }",
            json!({ "input": { "title": title, "panelId": panel,
                               "summary": "Tell us how we are doing." } }),
            Some(officer),
        )
        .await;
    let consultation = body["data"]["consultationCreate"]["consultation"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let body = app
        .graphql(
            "mutation($input: ConsultationQuestionsSetInput!) {
                consultationQuestionsSet(input: $input) { questions { key } } }",
            json!({ "input": { "consultationId": consultation, "questions": [
                { "key": "satisfaction", "kind": "RATING", "required": true,
                  "text": "How happy are you with the council, from 0 to 10?" },
                { "key": "why", "kind": "FREE_TEXT", "maxChars": 200, "required": false,
                  "text": "Tell us why." },
                { "key": "services", "kind": "MULTIPLE_CHOICE", "required": false,
                  "options": [{ "key": "bins", "label": "Bins" },
                              { "key": "parks", "label": "Parks" },
                              { "key": "libraries", "label": "Libraries" }],
                  "text": "Which services did you use this year?" },
                { "key": "contact", "kind": "MULTIPLE_CHOICE", "maxChoices": 1,
                  "required": false,
                  "options": [{ "key": "email", "label": "Email" },
                              { "key": "letter", "label": "Letter" },
                              { "key": "phone", "label": "Phone" }],
                  "text": "How should we contact you?" }
            ] } }),
            Some(officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let body = app
        .graphql(
            "mutation($id: ID!) { consultationOpen(input: { consultationId: $id }) {
                consultation { status } } }",
            json!({ "id": consultation }),
            Some(officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let body = app
        .graphql(
            "mutation($input: ConsultationInviteInput!) {
                consultationInvite(input: $input) { job { id } } }",
            json!({ "input": { "consultationId": consultation } }),
            Some(officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    app.run_jobs().await;
    let consultation_id = id::decode::<ConsultationId>(&consultation, "id").unwrap();
    let invitations = invitation::Entity::find()
        .filter(invitation::Column::ConsultationId.eq(consultation_id))
        .order_by_asc(invitation::Column::ResidentId)
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(invitations.len(), members.len());
    for (i, (member, invitation)) in members.iter().zip(&invitations).enumerate() {
        let Some(rating) = member.rating else {
            continue;
        };
        let contact = if (1..=3).contains(&i) {
            "letter"
        } else {
            "email"
        };
        let body = app
            .graphql(
                "mutation($input: ResponseEnterInput!) { responseEnter(input: $input) { stage } }",
                json!({ "input": {
                    "invitationId": id::encode(invitation.id),
                    "channel": "PAPER",
                    "answers": [
                        { "questionKey": "satisfaction", "value": rating },
                        { "questionKey": "why", "text": "A private comment." },
                        { "questionKey": "services", "options": services(i) },
                        { "questionKey": "contact", "options": [contact] }
                    ]
                } }),
                Some(officer),
            )
            .await;
        assert_eq!(
            body["data"]["responseEnter"]["stage"], "COMPLETED",
            "{body}"
        );
    }
    consultation
}

pub const REPORT: &str = "query($id: ID!, $input: ReportInput) {
    consultationReport(id: $id, input: $input) {
        title areaCode threshold suppressed
        funnel { counts { invited sent opened completed respondents } bounced machineOpenedOnly }
        byChannel { name totals { invited completed } }
        splits {
            name benchmarked notes dissimilarity
            chiSquare { statistic degreesOfFreedom pValue }
            partialIndicator { unconditional conditional }
            totals { invited completed respondents }
            groups {
                label populationShare invitedShare respondentShare responseRate flag
                counts { invited sent completed respondents openLink }
                representationRatio { value low high }
                partialIndicator { unconditional conditional }
            }
        }
        youngPeople { notes groups { label populationShare counts { invited completed } } }
        byDay { day sent completed }
        propensity { dimensions rIndicator propensitySd meanPropensity note }
        weighting {
            dimensions weighted converged iterations effectiveSampleSize designEffect
            respondents leftOut droppedCategories note
        }
        questions {
            key kind answered
            options { key count share weightedShare }
            score { value standardError low high }
            weightedScore { value }
            change { previousTitle difference pValue significant previous { value } }
        }
    }
}";

/// A question's result for one option.
pub fn option<'a>(question: &'a Value, key: &str) -> &'a Value {
    question["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["key"] == key)
        .unwrap_or_else(|| panic!("no option {key} in {question}"))
}

pub fn split<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["splits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} split in {report}"))
}

pub fn group<'a>(split: &'a Value, label: &str) -> &'a Value {
    split["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["label"] == label)
        .unwrap_or_else(|| panic!("no {label} in {split}"))
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-6)
}

/// The benchmark count of one category in the test area, from the bundled file.
pub fn census(dimension: &str, category: &str) -> f64 {
    civic_panel::service::demo::CENSUS_BENCHMARKS
        .lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f[0] == AREA && f[2] == dimension && f[3] == category)
        .map(|f| f[4].parse().unwrap())
        .unwrap()
}

#[tokio::test]
async fn an_officer_reads_the_funnel_respondents_against_the_census_propensities_and_weighted_scores()
 {
    let app = TestApp::spawn().await;
    app.load_benchmarks().await;
    let officer = app.token_for(Role::Officer).await;
    let members = members();
    let panel = panel_of(&app, &officer, &members).await;
    let consultation = answered_survey(&app, &officer, &panel, &members, "Satisfaction").await;
    let body = app
        .graphql(
            REPORT,
            json!({ "id": consultation, "input": {
                "areaCode": AREA, "propensityDimensions": ["SEX"], "weightingDimensions": ["SEX"]
            } }),
            Some(&officer),
        )
        .await;
    let report = &body["data"]["consultationReport"];
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(report["threshold"], Value::Null, "officers see everything");
    assert_eq!(report["suppressed"], false);
    // The funnel: 40 invited by email and sent, 16 completed on paper.
    let funnel = &report["funnel"]["counts"];
    assert_eq!(
        (funnel["invited"].as_u64(), funnel["sent"].as_u64()),
        (Some(40), Some(40))
    );
    assert_eq!(funnel["completed"], 16);
    assert_eq!(funnel["respondents"], 16);
    assert_eq!(report["funnel"]["bounced"], 0);
    // By sex: response rates 0.5 and 0.25, shares against the census.
    let sex = split(report, "sex");
    let (women, men) = (group(sex, "female"), group(sex, "male"));
    assert_eq!(women["counts"]["invited"], 24);
    assert_eq!(women["counts"]["completed"], 12);
    assert_eq!(men["counts"]["completed"], 4);
    assert!(close(&women["responseRate"], 0.5) && close(&men["responseRate"], 0.25));
    let female_share = census("sex", "female") / (census("sex", "female") + census("sex", "male"));
    assert!(close(&women["populationShare"], female_share), "{women}");
    assert!(close(&women["respondentShare"], 0.75));
    assert!(close(
        &women["representationRatio"]["value"],
        0.75 / female_share
    ));
    assert_eq!(men["flag"], "UNDER", "{men}");
    assert_eq!(women["flag"], "OVER", "{women}");
    // Dissimilarity: half the sum of share differences.
    let expected = ((0.75 - female_share).abs() + (0.25 - (1.0 - female_share)).abs()) / 2.0;
    assert!(close(&sex["dissimilarity"], expected), "{sex}");
    assert_eq!(sex["chiSquare"]["degreesOfFreedom"], 1);
    // The published two-group example: category partials +0.077460 and −0.094868
    // (Schouten, Shlomo and Skinner 2011); R with 40 people (divisor N − 1).
    let partial = |g: &Value| g["partialIndicator"]["unconditional"].as_f64().unwrap();
    assert!((partial(women) - 0.077_460).abs() < 5e-7, "{women}");
    assert!((partial(men) + 0.094_868).abs() < 5e-7, "{men}");
    let s = ((24.0 * 0.1f64.powi(2) + 16.0 * 0.15f64.powi(2)) / 39.0).sqrt();
    let propensity = &report["propensity"];
    assert!(close(&propensity["propensitySd"], s), "{propensity}");
    assert!(close(&propensity["rIndicator"], 1.0 - 2.0 * s));
    assert!(close(&propensity["meanPropensity"], 0.4));
    assert!((sex["partialIndicator"]["unconditional"].as_f64().unwrap() - 0.122_474).abs() < 5e-7);
    // Young people: three members aged 16 to 24, two of whom answered.
    let young = &report["youngPeople"];
    let aged = group(young, "Aged 16 to 24");
    assert_eq!(aged["counts"]["invited"], 3, "{young}");
    assert_eq!(aged["counts"]["completed"], 2);
    assert!(
        young["notes"]
            .to_string()
            .contains("15-19 is cut at 16: 4/5"),
        "{young}"
    );
    let band = |b: &str| census("age_band", b);
    let adults: f64 = 0.8 * band("15-19")
        + [
            "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54", "55-59", "60-64",
            "65-69", "70-74", "75-79", "80-84", "85+",
        ]
        .iter()
        .map(|b| band(b))
        .sum::<f64>();
    assert!(close(
        &aged["populationShare"],
        (0.8 * band("15-19") + band("20-24")) / adults
    ));
    // A split without a benchmark says so.
    let ward = split(report, "ward");
    assert_eq!(ward["benchmarked"], false);
    assert!(
        ward["notes"]
            .to_string()
            .contains("No population benchmark")
    );
    // Weighted to the census on sex: the weighted NPS counts women and men at their
    // population shares.
    let weighting = &report["weighting"];
    assert_eq!(weighting["weighted"], true, "{weighting}");
    assert_eq!(weighting["converged"], true);
    assert_eq!(weighting["respondents"], 16);
    let satisfaction = &report["questions"][0];
    assert_eq!(satisfaction["answered"], 16);
    let rating_of = |m: &Member| m.rating.map(f64::from);
    let nps = |ratings: &[(f64, f64)]| {
        let total: f64 = ratings.iter().map(|(_, w)| w).sum();
        let share = |keep: &dyn Fn(f64) -> bool| {
            ratings
                .iter()
                .filter(|(r, _)| keep(*r))
                .map(|(_, w)| w)
                .sum::<f64>()
                / total
        };
        100.0 * (share(&|r| r >= 9.0) - share(&|r| r <= 6.0))
    };
    let weight_women = female_share * 16.0 / 12.0;
    let weight_men = (1.0 - female_share) * 16.0 / 4.0;
    let unweighted: Vec<(f64, f64)> = members
        .iter()
        .filter_map(rating_of)
        .map(|r| (r, 1.0))
        .collect();
    let weighted: Vec<(f64, f64)> = members
        .iter()
        .filter_map(|m| {
            rating_of(m).map(|r| {
                (
                    r,
                    if m.sex == "female" {
                        weight_women
                    } else {
                        weight_men
                    },
                )
            })
        })
        .collect();
    assert!(
        close(&satisfaction["score"]["value"], nps(&unweighted)),
        "{satisfaction}"
    );
    assert!(close(
        &satisfaction["weightedScore"]["value"],
        nps(&weighted)
    ));
    let ten = &satisfaction["options"][10];
    let tens = members.iter().filter(|m| m.rating == Some(10)).count();
    assert_eq!(ten["count"], tens as u64);
    // Free text: counted, never shown.
    assert_eq!(report["questions"][1]["kind"], "free_text");
    assert_eq!(report["questions"][1]["answered"], 16);
    assert!(!body.to_string().contains("A private comment"));
    // Several options each: a share of those who answered, adding up to more than one.
    let services = &report["questions"][2];
    assert_eq!(services["kind"], "multiple_choice");
    assert_eq!(services["answered"], 16, "{services}");
    assert_eq!(option(services, "bins")["count"], 14);
    assert_eq!(option(services, "parks")["count"], 7);
    assert!(close(&option(services, "libraries")["share"], 2.0 / 16.0));
    let contact = &report["questions"][3];
    assert_eq!(contact["answered"], 16, "{contact}");
    assert_eq!(option(contact, "letter")["count"], 3);
    assert_eq!(option(contact, "email")["count"], 13);
    assert_eq!(option(contact, "phone")["count"], 0);
    assert_eq!(report["byDay"][0]["completed"], 16, "{report}");
    // The page for committee papers: every count, charts inline, the scores written out.
    let page = format!("/exports/consultations/{consultation}/report.html?areaCode={AREA}");
    let html = app.get(&page, Some(&officer)).await;
    assert_eq!(html.status, 200);
    let text = String::from_utf8(html.bytes.clone()).unwrap();
    assert!(
        text.contains("Net Promoter Score") && text.contains("<svg"),
        "{text}"
    );
    assert!(!text.contains("[c]"), "officers see every count");
}

#[tokio::test]
async fn scrutiny_sees_no_small_count_and_the_attack_on_every_table_recovers_none() {
    let app = TestApp::spawn().await;
    app.load_benchmarks().await;
    let officer = app.token_for(Role::Officer).await;
    let scrutiny = app.token_for(Role::Scrutiny).await;
    let members = members();
    let panel = panel_of(&app, &officer, &members).await;
    let consultation = answered_survey(&app, &officer, &panel, &members, "Satisfaction").await;
    let body = app
        .graphql(
            REPORT,
            json!({ "id": consultation, "input": { "areaCode": AREA } }),
            Some(&scrutiny),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let report = &body["data"]["consultationReport"];
    assert_eq!(report["threshold"], 10);
    assert_eq!(report["suppressed"], true);
    // No count from 1 to 9 anywhere SCRUTINY can read.
    fn small_counts(value: &Value, key: &str, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    small_counts(v, k, found);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| small_counts(v, key, found)),
            Value::Number(n) => {
                let counts = [
                    "invited",
                    "sent",
                    "opened",
                    "clicked",
                    "started",
                    "completed",
                    "openLink",
                    "respondents",
                    "count",
                    "answered",
                    "bounced",
                    "machineOpenedOnly",
                    "leftOut",
                ];
                if counts.contains(&key) && n.as_u64().is_some_and(|n| (1..10).contains(&n)) {
                    found.push(format!("{key} = {n}"));
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    small_counts(report, "", &mut found);
    assert!(found.is_empty(), "small counts shown: {found:?}");
    // Men's 4 completions are hidden, and so is something beside them (the women's 12
    // or the total), or the 4 would be 16 − 12.
    let sex = split(report, "sex");
    assert_eq!(group(sex, "male")["counts"]["completed"], Value::Null);
    assert!(
        group(sex, "female")["counts"]["completed"].is_null()
            || sex["totals"]["completed"].is_null()
    );
    assert_eq!(group(sex, "male")["responseRate"], Value::Null);
    assert_eq!(report["byDay"], json!([]), "no daily series for SCRUTINY");
    // Weighted figures and the comparison with the previous round are for officers; young
    // people are whole census bands added up from the age-band table.
    assert_eq!(report["weighting"]["effectiveSampleSize"], Value::Null);
    assert!(report["questions"][0]["weightedScore"].is_null());
    assert!(
        report["youngPeople"]["notes"]
            .to_string()
            .contains("whole census age bands"),
        "{}",
        report["youngPeople"]
    );
    assert!(!body.to_string().contains("A private comment"));
    // 14 of the 16 who answered ticked the bins: the 2 who did not are protected too, so
    // the bins' count and the number who answered are not both shown.
    let services = &report["questions"][2];
    assert!(
        services["answered"].is_null() || option(services, "bins")["count"].is_null(),
        "{services}"
    );
    assert_eq!(option(services, "parks")["count"], Value::Null);
    assert_eq!(option(services, "libraries")["count"], Value::Null);
    // At most one tick: the options add up to who answered (nobody answers with none),
    // so the 3 letters are not the 16 less the 13 emails and the 0 phones.
    let contact = &report["questions"][3];
    assert_eq!(option(contact, "letter")["count"], Value::Null, "{contact}");
    assert!(
        contact["answered"].is_null() || option(contact, "email")["count"].is_null(),
        "{contact}"
    );
    // The attack: for every table SCRUTINY reads, the linear programmes bounding each
    // hidden count from everything published beside it (all tables of the report,
    // linked through their shared people) leave every hidden count a range at least
    // the threshold wide.
    let consultation_id = id::decode::<ConsultationId>(&consultation, "id").unwrap();
    let options = ReportOptions {
        area_code: Some(AREA.to_owned()),
        ..ReportOptions::default()
    };
    let (populations, tables, hidden) =
        reports::protection_of(&app.state, consultation_id, &options)
            .await
            .unwrap();
    let (model, suppressed) = joint(&populations, &tables, &hidden).unwrap();
    assert!(suppressed.iter().any(|&s| s), "something is hidden");
    for (item, &h) in suppressed.iter().enumerate() {
        let value = model.value(item);
        assert!(h || value == 0 || value >= 10, "item {item} shows {value}");
    }
    let ranges = disclosure::attack_plain(&model, &suppressed).unwrap();
    for (item, range) in ranges.iter().enumerate() {
        if let Some((low, high)) = range {
            assert!(
                high - low >= 10.0 - 1e-6,
                "hidden item {item} ({}) is pinned to {low}..{high}",
                model.value(item)
            );
        }
    }
    // Without the secondary suppressions the attack would win: hiding only the small
    // counts lets it pin one.
    let naive: Vec<bool> = (0..model.items.len())
        .map(|i| {
            let v = model.value(i);
            v > 0 && v < 10
        })
        .collect();
    let pinned = disclosure::attack(&model, &naive)
        .unwrap()
        .iter()
        .flatten()
        .any(|(low, high)| high - low < 10.0 - 1e-6);
    assert!(pinned, "the attack finds a small count hidden alone");
    assert!(suppressed.iter().filter(|&&s| s).count() >= 2);
    // The CSV export hides what the API hides; officers get every count.
    let uri = format!("/exports/consultations/{consultation}/report.csv?areaCode={AREA}");
    let file = app.get(&uri, Some(&scrutiny)).await;
    assert_eq!(file.status, 200);
    assert!(
        file.bytes.starts_with("\u{feff}".as_bytes()),
        "a BOM for Excel"
    );
    let rows = csv_rows(&file.bytes);
    assert_eq!(rows[0][1..], ["group", "measure", "value", "note"]);
    let cell = |rows: &[Vec<String>], table: &str, group: &str, measure: &str| {
        rows.iter()
            .find(|r| r[0] == table && r[1] == group && r[2] == measure)
            .map(|r| (r[3].clone(), r[4].clone()))
            .unwrap_or_else(|| panic!("no {table}/{group}/{measure}"))
    };
    assert_eq!(
        cell(&rows, "sex", "male", "completed"),
        (String::new(), "suppressed".to_owned())
    );
    for row in &rows[1..] {
        if let Ok(n) = row[3].parse::<u64>() {
            let count = !row[2].contains("share") && !row[2].contains("ratio");
            assert!(!count || n == 0 || n >= 10, "{row:?}");
        }
    }
    let file = app.get(&uri, Some(&officer)).await;
    let rows = csv_rows(&file.bytes);
    assert_eq!(
        cell(&rows, "sex", "male", "completed"),
        ("4".to_owned(), String::new())
    );
    let resident = app.token_for(Role::Resident).await;
    assert_eq!(app.get(&uri, Some(&resident)).await.status, 403);
    // The HTML report and the charts: the same protection.
    let page = format!("/exports/consultations/{consultation}/report.html?areaCode={AREA}");
    let html = app.get(&page, Some(&scrutiny)).await;
    assert_eq!(html.status, 200);
    assert!(html.content_type().starts_with("text/html"));
    let text = String::from_utf8(html.bytes.clone()).unwrap();
    assert!(
        text.contains("<svg") && text.contains("[c]"),
        "charts inline, hidden cells marked"
    );
    assert!(!text.contains("A private comment") && !text.contains("<script"));
    roxmltree::Document::parse(text.trim_start_matches("<!DOCTYPE html>").trim())
        .expect("the page is well-formed");
    let chart = format!("/exports/consultations/{consultation}/charts/sex.svg?areaCode={AREA}");
    let svg = app.get(&chart, Some(&scrutiny)).await;
    assert_eq!(svg.status, 200);
    assert_eq!(svg.content_type(), "image/svg+xml");
    let svg = String::from_utf8(svg.bytes.clone()).unwrap();
    roxmltree::Document::parse(&svg).expect("the chart is well-formed");
    let missing =
        format!("/exports/consultations/{consultation}/charts/nothing.svg?areaCode={AREA}");
    assert_eq!(app.get(&missing, Some(&scrutiny)).await.status, 404);
}

#[tokio::test]
async fn bad_report_requests_get_clear_codes_and_an_empty_consultation_reports_zeros() {
    let app = TestApp::spawn().await;
    app.load_benchmarks().await;
    let officer = app.token_for(Role::Officer).await;
    let resident = app.token_for(Role::Resident).await;
    let members = members();
    let panel = panel_of(&app, &officer, &members).await;
    let body = app
        .graphql(
            "mutation($input: ConsultationCreateInput!) {
                consultationCreate(input: $input) { consultation { id } } }",
            json!({ "input": { "title": "Nobody yet", "panelId": panel, "summary": "Soon." } }),
            Some(&officer),
        )
        .await;
    let consultation = body["data"]["consultationCreate"]["consultation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ask = |input: Value, token: String| {
        let consultation = consultation.clone();
        let app = &app;
        async move {
            app.graphql(
                REPORT,
                json!({ "id": consultation, "input": input }),
                Some(&token),
            )
            .await
        }
    };
    // Several areas are imported: the report must be told which.
    let body = ask(json!({}), officer.clone()).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.areaCode");
    let body = ask(json!({ "areaCode": "E99999999" }), officer.clone()).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let body = ask(
        json!({ "areaCode": AREA, "flagBeyond": 1.5 }),
        officer.clone(),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.flagBeyond");
    let body = ask(
        json!({ "areaCode": AREA, "youngPeople": { "from": 30, "to": 20 } }),
        officer.clone(),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        "input.youngPeople"
    );
    let body = ask(
        json!({ "areaCode": AREA, "trim": { "low": 2.0, "high": 3.0 } }),
        officer.clone(),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.trim");
    let body = ask(json!({ "areaCode": AREA }), resident.clone()).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let body = app
        .graphql(
            REPORT,
            json!({ "id": id::encode(ConsultationId(999_999)), "input": { "areaCode": AREA } }),
            Some(&officer),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    // Nobody invited, nobody answered: zeros and honest notes, never NaN.
    let body = ask(
        json!({ "areaCode": AREA, "weightingDimensions": ["AGE_BAND", "WARD"] }),
        officer.clone(),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    let report = &body["data"]["consultationReport"];
    assert_eq!(report["funnel"]["counts"]["invited"], 0);
    assert_eq!(report["propensity"]["rIndicator"], Value::Null);
    assert_eq!(report["propensity"]["note"], "Nobody was invited.");
    assert_eq!(report["weighting"]["weighted"], false);
    assert!(
        report["weighting"]["note"]
            .as_str()
            .unwrap()
            .contains("no benchmark for ward"),
        "{report}"
    );
    let sex = split(report, "sex");
    assert_eq!(group(sex, "female")["respondentShare"], Value::Null);
    assert_eq!(group(sex, "female")["responseRate"], Value::Null);
    assert_eq!(sex["dissimilarity"], Value::Null);
    assert!(!body.to_string().contains("NaN"));
    // SCRUTINY asking for the empty report sees zeros (zeros are not small counts).
    let scrutiny = app.token_for(Role::Scrutiny).await;
    let body = ask(json!({ "areaCode": AREA }), scrutiny).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        body["data"]["consultationReport"]["funnel"]["counts"]["invited"],
        0
    );
}

const PANEL_REPORT: &str = "query($id: ID!, $input: ReportInput) {
    panelReport(id: $id, input: $input, seriesDimension: SEX) {
        name threshold suppressed seriesDimension
        splits {
            name totals { members sitting left responding lapsed neverResponded }
            groups {
                label populationShare sittingShare representationRatio leavingRate lapseRate
                counts { members sitting left responding lapsed neverResponded }
            }
        }
        series { title openedOn groups { label invited completed responseRate } }
    }
}";

#[tokio::test]
async fn a_panels_health_shows_who_left_and_who_stopped_responding_by_group() {
    let app = TestApp::spawn().await;
    app.load_benchmarks().await;
    let officer = app.token_for(Role::Officer).await;
    let scrutiny = app.token_for(Role::Scrutiny).await;
    let members = members();
    let panel = panel_of(&app, &officer, &members).await;
    answered_survey(&app, &officer, &panel, &members, "Spring").await;
    // Two more rounds nobody answers: the spring respondents have lapsed.
    let silent: Vec<Member> = self::members()
        .into_iter()
        .map(|m| Member { rating: None, ..m })
        .collect();
    answered_survey(&app, &officer, &panel, &silent, "Summer").await;
    answered_survey(&app, &officer, &panel, &silent, "Autumn").await;
    // Four men who never answered leave.
    let panel_id = id::decode::<PanelId>(&panel, "id").unwrap();
    let leavers: Vec<civic_panel::domain::ids::MembershipId> = membership::Entity::find()
        .filter(membership::Column::PanelId.eq(panel_id))
        .order_by_desc(membership::Column::ResidentId)
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .take(4)
        .map(|m| m.id)
        .collect();
    membership::Entity::update_many()
        .col_expr(
            membership::Column::Status,
            sea_orm::sea_query::Expr::value("withdrawn"),
        )
        .filter(membership::Column::Id.is_in(leavers))
        .exec(app.db())
        .await
        .unwrap();
    let body = app
        .graphql(
            PANEL_REPORT,
            json!({ "id": panel, "input": { "areaCode": AREA } }),
            Some(&officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let report = &body["data"]["panelReport"];
    let sex = split(report, "sex");
    let counts = |label: &str| group(sex, label)["counts"].clone();
    assert_eq!(
        counts("female"),
        json!({ "members": 24, "sitting": 24, "left": 0, "responding": 0, "lapsed": 12,
                "neverResponded": 12 })
    );
    assert_eq!(
        counts("male"),
        json!({ "members": 16, "sitting": 12, "left": 4, "responding": 0, "lapsed": 4,
                "neverResponded": 12 })
    );
    assert!(close(&group(sex, "male")["leavingRate"], 0.25));
    assert!(close(&group(sex, "female")["lapseRate"], 1.0));
    assert!(close(&group(sex, "female")["sittingShare"], 24.0 / 36.0));
    // The series, consultation by consultation, as each one's own report shows it.
    let series = report["series"].as_array().unwrap();
    assert_eq!(series.len(), 3);
    assert_eq!(series[0]["title"], "Spring");
    let women = |point: &Value| {
        point["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["label"] == "female")
            .cloned()
            .unwrap()
    };
    assert_eq!(women(&series[0])["completed"], 12);
    assert!(close(&women(&series[0])["responseRate"], 0.5));
    assert_eq!(women(&series[2])["completed"], 0);
    // SCRUTINY: no small count, and the attack on the panel's tables finds nothing.
    let body = app
        .graphql(
            PANEL_REPORT,
            json!({ "id": panel, "input": { "areaCode": AREA } }),
            Some(&scrutiny),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let report = &body["data"]["panelReport"];
    assert_eq!(report["threshold"], 10);
    assert_eq!(
        group(split(report, "sex"), "male")["counts"]["left"],
        Value::Null
    );
    let text = report.to_string();
    for key in [
        "members",
        "sitting",
        "left",
        "responding",
        "lapsed",
        "neverResponded",
        "invited",
        "completed",
    ] {
        for n in 1..10 {
            assert!(
                !text.contains(&format!("\"{key}\":{n},"))
                    && !text.contains(&format!("\"{key}\":{n}}}")),
                "{key} = {n} shown"
            );
        }
    }
    let options = ReportOptions {
        area_code: Some(AREA.to_owned()),
        ..ReportOptions::default()
    };
    let (populations, tables, hidden) =
        civic_panel::service::panels::panel_report::protection_of(&app.state, panel_id, &options)
            .await
            .unwrap();
    let (model, suppressed) = joint(&populations, &tables, &hidden).unwrap();
    for range in disclosure::attack_plain(&model, &suppressed)
        .unwrap()
        .iter()
        .flatten()
    {
        assert!(range.1 - range.0 >= 10.0 - 1e-6, "pinned to {range:?}");
    }
    // The CSV export: what the API hides is `suppressed`, and no small count is written;
    // officers get every count.
    let uri = format!("/exports/panels/{panel}/report.csv?areaCode={AREA}&seriesDimension=sex");
    let file = app.get(&uri, Some(&scrutiny)).await;
    assert_eq!(file.status, 200);
    assert!(file.bytes.starts_with("\u{feff}".as_bytes()));
    let rows = csv_rows(&file.bytes);
    let find = |rows: &[Vec<String>], table: &str, group: &str, measure: &str| {
        rows.iter()
            .find(|r| {
                r[0].trim_start_matches('\u{feff}') == table && r[1] == group && r[2] == measure
            })
            .map(|r| (r[3].clone(), r[4].clone()))
            .unwrap_or_else(|| panic!("no {table}/{group}/{measure}"))
    };
    assert_eq!(
        find(&rows, "panel:sex", "male", "left"),
        (String::new(), "suppressed".to_owned())
    );
    for row in &rows[1..] {
        if let Ok(n) = row[3].parse::<u64>() {
            assert!(n == 0 || n >= 10, "{row:?}");
        }
    }
    assert!(rows.iter().any(|r| r[0] == "series:sex"), "the series");
    let rows = csv_rows(&app.get(&uri, Some(&officer)).await.bytes);
    let left = find(&rows, "panel:sex", "male", "left");
    assert_eq!(left.1, "", "officers see the count: {left:?}");
    assert!(left.0.parse::<u64>().is_ok());
    let bad = app
        .get(
            &format!("/exports/panels/{panel}/report.csv?seriesDimension=shoe_size"),
            Some(&officer),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        String::from_utf8_lossy(&bad.bytes).contains("BAD_USER_INPUT"),
        "{}",
        String::from_utf8_lossy(&bad.bytes)
    );
    let resident = app.token_for(Role::Resident).await;
    assert_eq!(app.get(&uri, Some(&resident)).await.status, 403);
}
