//! What SCRUTINY loses to disclosure control: as little as the attack allows, never the
//! headline funnel while a cell beside a small count can be hidden instead.

use civic_panel::domain::consultations::tracking::Stage;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use civic_panel::db::entities::{answer, invitation, resident, response};
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::consultations::consultation::AnswerChannel;
use civic_panel::domain::ids::ConsultationId;
use civic_panel::domain::reports::disclosure;
use civic_panel::domain::reports::disclosure::tables::joint;
use civic_panel::graphql::id;
use civic_panel::service::reports::{self, ReportOptions};

use crate::helpers::TestApp;
use crate::reports::{AREA, Member, answered_survey, group, split};

const FUNNEL: &str = "query($id: ID!, $input: ReportInput) {
    consultationReport(id: $id, input: $input) {
        funnel { counts { invited sent opened clicked started completed openLink respondents } }
        byChannel { totals { invited completed } groups { label counts { completed } } }
        splits { name totals { invited completed respondents } }
    }
}";

const ETHNIC: [&str; 4] = [
    "White: English, Welsh, Scottish, Northern Irish or British",
    "Asian, Asian British or Asian Welsh: Indian",
    "Black, Black British, Black Welsh, Caribbean or African: African",
    "Mixed or Multiple ethnic groups: White and Asian",
];

/// Members 0 to 244 have an email address, 245 to 274 only a phone.
const BY_EMAIL: usize = 245;

/// The council run's panel: 275 members of every age from 18 to 87, both sexes, a few
/// of three ethnic minorities, twelve wards and ten deciles; 245 reachable by email and
/// 30 by text message only. The email members 0 to 51 answer, and the first two text
/// message members: 54 completions.
fn council() -> Vec<Member> {
    (0..275)
        .map(|i| {
            let born: &'static str =
                Box::leak(format!("{}-05-01", 2008 - (i * 37) % 70).into_boxed_str());
            let answers = i < 52 || (BY_EMAIL..BY_EMAIL + 2).contains(&i);
            Member {
                born,
                sex: if i % 2 == 0 { "female" } else { "male" },
                ethnic_group: ETHNIC[match i {
                    _ if i % 23 == 0 => 1,
                    _ if i % 29 == 0 => 2,
                    _ if i % 31 == 0 => 3,
                    _ => 0,
                }],
                rating: answers.then_some((i * 3 % 11) as u8),
            }
        })
        .collect()
}

/// The furthest stage of member `i`'s invitation, if they did not complete.
fn stage_of(i: usize) -> Option<&'static str> {
    if i < BY_EMAIL {
        match i {
            0..52 => None,
            52..110 => Some("started"),
            110..150 => Some("clicked"),
            150..200 => Some("opened"),
            200..240 => Some("sent"),
            _ => Some("created"),
        }
    } else {
        match i - BY_EMAIL {
            0..2 => None,
            2..5 => Some("started"),
            5..20 => Some("clicked"),
            _ => Some("sent"),
        }
    }
}

/// The council run's consultation, answered and tracked: invited 275, sent 270, opened
/// (or further) 220, clicked 170, started 115, completed 54 (two of them by text
/// message), and 12 responses through the open link, spread over ages and both sexes:
/// 66 respondents.
async fn council_run(app: &TestApp, officer: &str) -> String {
    let members = council();
    let (panel, _) = app
        .panel_of_residents(officer, members.len(), |i, row| {
            let member = &members[i];
            let by_email = i < BY_EMAIL;
            resident::ActiveModel {
                ward_code: Set(format!("E050100{:02}", 1 + i % 12)),
                deprivation_decile: Set(Some(1 + (i % 10) as i16)),
                full_name: Set(format!("Member {i}")),
                email: Set(by_email.then(|| format!("member{i}@example.org"))),
                phone: Set((!by_email).then(|| format!("+4477009{i:05}"))),
                date_of_birth: Set(member.born.parse().unwrap()),
                sex: Set(member.sex.to_owned()),
                ethnic_group: Set(member.ethnic_group.to_owned()),
                ..row
            }
        })
        .await;
    let consultation = answered_survey(app, officer, &panel, &members, "Corporate plan").await;
    let consultation_id = id::decode::<ConsultationId>(&consultation, "id").unwrap();
    let invitations = invitation::Entity::find()
        .filter(invitation::Column::ConsultationId.eq(consultation_id))
        .order_by_asc(invitation::Column::ResidentId)
        .all(app.db())
        .await
        .unwrap();
    let now = app.clock.now();
    for (i, invitation) in invitations.into_iter().enumerate() {
        assert_eq!(
            invitation.channel.as_str(),
            if i < BY_EMAIL { "email" } else { "sms" }
        );
        let Some(stage) = stage_of(i) else {
            assert_eq!(invitation.stage, Stage::Completed);
            continue;
        };
        let reached = |s: &str| {
            let order = ["created", "sent", "opened", "clicked", "started"];
            let at = |x: &str| order.iter().position(|o| *o == x).unwrap_or(0);
            // Text messages have no image to open.
            (at(stage) >= at(s) && !(s == "opened" && i >= BY_EMAIL)).then_some(now)
        };
        invitation::Entity::update(invitation::ActiveModel {
            id: Set(invitation.id),
            stage: Set(stage.parse().unwrap()),
            sent_at: Set(reached("sent")),
            opened_at: Set(reached("opened")),
            clicked_at: Set(reached("clicked")),
            started_at: Set(reached("started")),
            ..Default::default()
        })
        .exec(app.db())
        .await
        .unwrap();
    }
    let bands = ["20-24", "25-29", "35-39", "40-44", "50-54", "65-69"];
    for k in 0..12 {
        let stored = response::Entity::insert(response::ActiveModel {
            consultation_id: Set(consultation_id),
            invitation_id: Set(None),
            submission_key: Set(Some(format!("{}:open{k}", consultation_id.get()))),
            channel: Set(AnswerChannel::Qr),
            submitted_on: Set(now.date_naive()),
            submitted_at: Set(Some(now)),
            age_band: Set(Some(bands[k % bands.len()].to_owned())),
            sex: Set(Some(if k % 3 == 0 { "male" } else { "female" }.to_owned())),
            ethnic_group: Set(Some(ETHNIC[0].to_owned())),
            disability: Set(None),
            ward_code: Set(None),
            deprivation_decile: Set(None),
            ..Default::default()
        })
        .exec(app.db())
        .await
        .unwrap();
        answer::Entity::insert(answer::ActiveModel {
            response_id: Set(stored.last_insert_id),
            question_key: Set("satisfaction".to_owned()),
            scale: Set(Some((k % 11) as i16)),
            ..Default::default()
        })
        .exec(app.db())
        .await
        .unwrap();
    }
    consultation
}

#[tokio::test]
async fn two_text_message_completions_leave_scrutiny_the_headline_funnel() {
    let app = TestApp::spawn().await;
    app.load_benchmarks().await;
    let officer = app.token_for(Role::Officer).await;
    let scrutiny = app.token_for(Role::Scrutiny).await;
    let consultation = council_run(&app, &officer).await;
    let ask = |token: String| {
        let consultation = consultation.clone();
        let app = &app;
        async move {
            let body = app
                .graphql(
                    FUNNEL,
                    json!({ "id": consultation, "input": { "areaCode": AREA } }),
                    Some(&token),
                )
                .await;
            assert!(body["errors"].is_null(), "{body}");
            body["data"]["consultationReport"].clone()
        }
    };
    let officers = ask(officer.clone()).await;
    let funnel = json!({ "invited": 275, "sent": 270, "opened": 220, "clicked": 170,
                         "started": 115, "completed": 54, "openLink": 12, "respondents": 66 });
    assert_eq!(officers["funnel"]["counts"], funnel);
    let sms = group(&officers["byChannel"], "sms");
    assert_eq!(sms["counts"]["completed"], 2, "{officers}");
    let report = ask(scrutiny.clone()).await;
    assert_eq!(
        report["funnel"]["counts"], funnel,
        "the headline funnel is shown"
    );
    assert_eq!(report["byChannel"]["totals"]["completed"], 54);
    let sms = group(&report["byChannel"], "sms");
    assert_eq!(sms["counts"]["completed"], Value::Null, "the 2 are hidden");
    // Every split shows its totals (the same headline).
    for s in report["splits"].as_array().unwrap() {
        assert_eq!(s["totals"]["invited"], 275, "{}", s["name"]);
        assert_eq!(s["totals"]["completed"], 54, "{}", s["name"]);
        assert_eq!(s["totals"]["respondents"], 66, "{}", s["name"]);
    }
    assert_eq!(split(&report, "sex")["totals"]["respondents"], 66);
    // And the attack on the protection served finds no hidden count narrower than 10.
    let id = id::decode::<ConsultationId>(&consultation, "id").unwrap();
    let options = ReportOptions {
        area_code: Some(AREA.to_owned()),
        ..ReportOptions::default()
    };
    let (populations, tables, hidden) = reports::protection_of(&app.state, id, &options)
        .await
        .unwrap();
    let (model, suppressed) = joint(&populations, &tables, &hidden).unwrap();
    for (item, &h) in suppressed.iter().enumerate() {
        let value = model.value(item);
        assert!(h || value == 0 || value >= 10, "item {item} shows {value}");
    }
    for (item, range) in disclosure::attack(&model, &suppressed)
        .unwrap()
        .iter()
        .enumerate()
    {
        if let Some((low, high)) = range {
            assert!(
                high - low >= 10.0 - 1e-6,
                "item {item} pinned to {low}..{high}"
            );
        }
    }
}
