//! SCRUTINY's protected publications: computed once per change of the counts, whatever
//! the requests' options, however many ask at once, and shared by every server on the
//! database.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Statement};
use serde_json::json;

use civic_panel::db::entities::invitation;
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::ids::{AccountId, ConsultationId, SessionId};
use civic_panel::graphql::id;
use civic_panel::service::accounts::auth::{AuthSession, Caller};
use civic_panel::service::reports::{self, ReportOptions};
use civic_panel::state::caches::Publications;

use crate::helpers::TestApp;
use crate::reports::{AREA, REPORT, answered_survey, members, panel_of};

/// Rows in the store.
async fn stored(app: &TestApp) -> i64 {
    let db = app.db();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM publications",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

fn scrutiny() -> Caller {
    Caller::Session(AuthSession {
        session_id: SessionId(1),
        account_id: AccountId(1),
        role: Role::Scrutiny,
    })
}

#[tokio::test]
async fn scrutinys_protection_is_computed_once_per_change_and_served_to_every_request_and_server() {
    let app = TestApp::spawn().await;
    app.load_benchmarks().await;
    let officer = app.token_for(Role::Officer).await;
    let scrutiny_token = app.token_for(Role::Scrutiny).await;
    let members = members();
    let panel = panel_of(&app, &officer, &members).await;
    let consultation = answered_survey(&app, &officer, &panel, &members, "Satisfaction").await;
    // Officers read without any protection.
    let body = app
        .graphql(
            REPORT,
            json!({ "id": consultation, "input": { "areaCode": AREA } }),
            Some(&officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(app.state.publications.computed(), 0);
    // Ten scrutiny members at once, then the files: one computation, one stored row.
    let asks = (0..10).map(|_| {
        app.graphql(
            REPORT,
            json!({ "id": consultation, "input": { "areaCode": AREA } }),
            Some(&scrutiny_token),
        )
    });
    let bodies = futures_util::future::join_all(asks).await;
    for body in &bodies {
        assert!(body["errors"].is_null(), "{body}");
        assert_eq!(body, &bodies[0], "every request gets the same report");
    }
    for file in ["report.csv", "report.html", "charts/sex.svg"] {
        let uri = format!("/exports/consultations/{consultation}/{file}?areaCode={AREA}");
        assert_eq!(app.get(&uri, Some(&scrutiny_token)).await.status, 200);
    }
    assert_eq!(app.state.publications.computed(), 1);
    assert_eq!(stored(&app).await, 1);
    // Other options (another area's population, another minimum age) are the same counts:
    // the same protection.
    for input in [
        json!({ "areaCode": "E08000022" }),
        json!({ "areaCode": AREA, "minAge": 18, "flagBeyond": 0.1 }),
    ] {
        let body = app
            .graphql(
                REPORT,
                json!({ "id": consultation, "input": input }),
                Some(&scrutiny_token),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
        let hidden =
            |b: &serde_json::Value| b["data"]["consultationReport"]["splits"][1]["groups"].clone();
        assert_eq!(
            hidden(&body)
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["label"] == "male")
                .map(|g| g["counts"].clone()),
            hidden(&bodies[0])
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["label"] == "male")
                .map(|g| g["counts"].clone()),
        );
    }
    assert_eq!(app.state.publications.computed(), 1, "no new protection");
    // A second server on the same database finds the stored protection.
    let other = civic_panel::AppState {
        publications: Publications::default(),
        ..app.state.clone()
    };
    let id = id::decode::<ConsultationId>(&consultation, "id").unwrap();
    let options = ReportOptions {
        area_code: Some(AREA.to_owned()),
        ..ReportOptions::default()
    };
    let here = reports::consultation_report(&app.state, &scrutiny(), id, &options)
        .await
        .unwrap();
    let there = reports::consultation_report(&other, &scrutiny(), id, &options)
        .await
        .unwrap();
    assert_eq!(here, there);
    assert_eq!(other.publications.computed(), 0, "found, not computed");
    // A change of the counts (one more completion): computed once more, then served.
    let waiting = invitation::Entity::find()
        .filter(invitation::Column::ConsultationId.eq(id))
        .filter(invitation::Column::CompletedAt.is_null())
        .order_by_asc(invitation::Column::Id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let body = app
        .graphql(
            "mutation($input: ResponseEnterInput!) { responseEnter(input: $input) { stage } }",
            json!({ "input": {
                "invitationId": id::encode(waiting.id),
                "channel": "PAPER",
                "answers": [{ "questionKey": "satisfaction", "value": 7 }]
            } }),
            Some(&officer),
        )
        .await;
    assert_eq!(
        body["data"]["responseEnter"]["stage"], "COMPLETED",
        "{body}"
    );
    for _ in 0..3 {
        reports::consultation_report(&app.state, &scrutiny(), id, &options)
            .await
            .unwrap();
    }
    assert_eq!(app.state.publications.computed(), 2);
    assert_eq!(stored(&app).await, 2);
}
