//! Exporting letters: codes minted at export, stored only as hashes, with QR images.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use civic_panel::db::entities::letter;
use civic_panel::domain::invitation_code::InvitationCode;
use civic_panel::domain::role::Role;

use crate::helpers::{REGISTER, TestApp, csv_rows, registration, unzip};

fn export(round: &str, token: Option<&str>, reissue: bool) -> Request<Body> {
    let mut builder = Request::builder().method(Method::POST).uri(format!(
        "/exports/rounds/{round}/letters.zip?reissue={reissue}"
    ));
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn exported_letters_carry_codes_urls_and_qr_images_and_only_hashes_are_kept() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.5).await;
    let round = app
        .round_id(
            &officer,
            json!({ "name": "Print", "letters": 40, "seed": "11" }),
        )
        .await;

    let response = app.send(export(&round, Some(&officer), false)).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.content_type(), "application/zip");
    let files = unzip(&response.bytes);
    let (_, csv) = files
        .iter()
        .find(|(name, _)| name == "letters.csv")
        .unwrap();
    let rows = csv_rows(csv);
    assert_eq!(
        rows[0][..9],
        [
            "reference",
            "addressee",
            "line1",
            "line2",
            "line3",
            "town",
            "postcode",
            "code",
            "url"
        ]
    );
    assert_eq!(rows.len(), 41);
    let stored: Vec<String> = letter::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .filter_map(|l| l.code_hash)
        .collect();
    assert_eq!(stored.len(), 40);
    for row in &rows[1..] {
        let code = InvitationCode::parse(&row[7]).expect("a valid printed code");
        assert_eq!(
            row[8],
            format!("https://panel.example.gov.uk/join?code={}", row[7])
        );
        assert!(
            stored.contains(&code.hash_hex()),
            "the hash of {} is stored",
            row[7]
        );
        assert!(!stored.contains(&row[7]), "the code itself is not stored");
        let png = files
            .iter()
            .find(|(name, _)| *name == row[9])
            .expect("its PNG");
        assert_eq!(&png.1[..8], b"\x89PNG\r\n\x1a\n");
        assert!(
            files
                .iter()
                .any(|(name, svg)| *name == row[10] && svg.starts_with(b"<svg"))
        );
    }
    let exported = letter::Entity::find()
        .filter(letter::Column::ExportedAt.is_not_null())
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(exported.len(), 40);

    // A second export has nothing new to print.
    let again = app.send(export(&round, Some(&officer), false)).await;
    let files = unzip(&again.bytes);
    assert_eq!(csv_rows(&files[0].1).len(), 1);
}

#[tokio::test]
async fn reissuing_replaces_codes_and_the_old_ones_stop_working() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.2).await;
    let round = app
        .round_id(
            &officer,
            json!({ "name": "Lost print file", "letters": 3, "seed": "5" }),
        )
        .await;
    let old = app.issue_codes(&round).await;
    let response = app.send(export(&round, Some(&officer), true)).await;
    let files = unzip(&response.bytes);
    let rows = csv_rows(&files[0].1);
    assert_eq!(rows.len(), 4);
    let stale = app
        .graphql(
            REGISTER,
            json!({ "input": registration(&old[0].code, "old@example.org") }),
            None,
        )
        .await;
    assert_eq!(stale["errors"][0]["extensions"]["code"], "NOT_FOUND");
    let fresh = app
        .graphql(
            REGISTER,
            json!({ "input": registration(&rows[1][7], "new@example.org") }),
            None,
        )
        .await;
    assert!(
        fresh["data"]["registrationCreate"]["residentId"].is_string(),
        "{fresh}"
    );
}

#[tokio::test]
async fn only_officers_may_export_and_the_audit_list_has_no_codes() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let scrutiny = app.token_for(Role::Scrutiny).await;
    app.load_demo_register(0.2).await;
    let round = app
        .round_id(
            &officer,
            json!({ "name": "Audit", "letters": 10, "seed": "8" }),
        )
        .await;
    assert_eq!(
        app.send(export(&round, None, false)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let forbidden = app.send(export(&round, Some(&scrutiny), false)).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.first_error_code(), "FORBIDDEN");
    assert!(
        letter::Entity::find()
            .all(app.db())
            .await
            .unwrap()
            .iter()
            .all(|l| l.code_hash.is_none())
    );
    let missing = app
        .send(export("UmVjcnVpdG1lbnRSb3VuZDo5OTk", Some(&officer), false))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let codes = app.issue_codes(&round).await;
    let audit = app
        .send(
            Request::builder()
                .uri(format!("/exports/rounds/{round}/addresses.csv"))
                .header(header::AUTHORIZATION, format!("Bearer {officer}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(audit.status, StatusCode::OK);
    let rows = csv_rows(audit.text.as_bytes());
    assert_eq!(rows.len(), 11);
    assert_eq!(
        rows[0],
        [
            "reference",
            "address_key",
            "line1",
            "postcode",
            "ward_code",
            "exported",
            "redeemed"
        ]
    );
    assert!(codes.iter().all(|c| !audit.text.contains(&c.code)));
}
