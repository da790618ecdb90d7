//! Exporting letters: codes minted at export and stored only as keyed hashes, the bundle
//! built by a job and downloaded, with QR images.

use axum::http::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use civic_panel::db::entities::letter;
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::recruitment::invitation_code::InvitationCode;

use crate::helpers::{REGISTER, TestApp, csv_rows, registration, unzip};

/// What a PNG QR code says, read by an independent decoder.
fn scan(png: &[u8]) -> String {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let side = frame.width as usize;
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| pixels[y * side + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    grids[0].decode().unwrap().1
}

#[tokio::test]
async fn exported_letters_carry_codes_urls_and_qr_images_and_only_keyed_hashes_are_kept() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.5).await;
    let round = app
        .round_id(
            &officer,
            json!({ "name": "Print", "letters": 40, "seed": "11" }),
        )
        .await;

    let job = app.export_letters(&officer, &round, false).await;
    assert_eq!(job["status"], "SUCCEEDED", "{job}");
    assert_eq!(job["kind"], "LETTER_EXPORT");
    assert_eq!(job["result"]["letters"], 40);
    let response = app
        .get(
            job["result"]["downloadUrl"].as_str().unwrap(),
            Some(&officer),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.content_type(), "application/zip");
    assert_eq!(job["result"]["sizeBytes"], response.bytes.len());
    assert_eq!(
        job["result"]["sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&response.bytes))
    );
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
            stored.contains(&app.state.codes.stored_hash(&code)),
            "the keyed hash of {} is stored",
            row[7]
        );
        assert!(
            !stored.contains(&code.legacy_hash_hex()),
            "not its plain SHA-256, which a stolen database could be searched for"
        );
        assert!(!stored.contains(&row[7]), "the code itself is not stored");
        let png = files
            .iter()
            .find(|(name, _)| *name == row[9])
            .expect("its PNG");
        assert_eq!(&png.1[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(
            scan(&png.1),
            row[8],
            "the QR code scans to the personal URL"
        );
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
    let again = app.download_letters(&officer, &round, false).await;
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
    let response = app.download_letters(&officer, &round, true).await;
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
async fn only_officers_may_export_or_download_and_the_audit_list_has_no_codes() {
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
    let forbidden = app.export_letters(&scrutiny, &round, false).await;
    assert_eq!(forbidden["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert!(
        letter::Entity::find()
            .all(app.db())
            .await
            .unwrap()
            .iter()
            .all(|l| l.code_hash.is_none())
    );
    let missing = app
        .export_letters(&officer, "UmVjcnVpdG1lbnRSb3VuZDo5OTk", false)
        .await;
    assert_eq!(missing["errors"][0]["extensions"]["code"], "NOT_FOUND");

    let job = app.export_letters(&officer, &round, false).await;
    let url = job["result"]["downloadUrl"].as_str().unwrap();
    assert_eq!(app.get(url, None).await.status, StatusCode::UNAUTHORIZED);
    let refused = app.get(url, Some(&scrutiny)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.first_error_code(), "FORBIDDEN");
    let bundle = app.get(url, Some(&officer)).await;
    let codes: Vec<String> = csv_rows(&unzip(&bundle.bytes)[0].1)[1..]
        .iter()
        .map(|row| row[7].clone())
        .collect();
    assert_eq!(codes.len(), 10);

    let audit = app
        .get(
            &format!("/exports/rounds/{round}/addresses.csv"),
            Some(&officer),
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
            "deprivation_decile",
            "weight",
            "exported",
            "redeemed"
        ]
    );
    assert!(rows[1..].iter().all(|row| row[7] == "true"));
    assert!(codes.iter().all(|c| !audit.text.contains(c.as_str())));
}

#[tokio::test]
async fn the_audit_list_gives_each_letters_ward_decile_and_the_weight_it_was_drawn_with() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.5).await;
    let round = app
        .round_id(
            &officer,
            json!({ "name": "Weighted", "letters": 60, "seed": "8",
                    "decileWeights": [{ "decile": 1, "weight": 3.0 }, { "decile": 2, "weight": 2.0 }] }),
        )
        .await;
    let audit = app
        .get(
            &format!("/exports/rounds/{round}/addresses.csv"),
            Some(&officer),
        )
        .await;
    let rows = csv_rows(audit.text.as_bytes());
    assert_eq!(rows.len(), 61);
    let addresses = civic_panel::db::entities::address::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    let mut deciles_seen = std::collections::BTreeSet::new();
    for row in &rows[1..] {
        let address = addresses.iter().find(|a| a.address_key == row[1]).unwrap();
        assert_eq!(row[4], address.ward_code, "{row:?}");
        let decile = address.deprivation_decile;
        assert_eq!(row[5], decile.map(|d| d.to_string()).unwrap_or_default());
        let weight = match decile {
            Some(1) => 3.0,
            Some(2) => 2.0,
            _ => 1.0,
        };
        assert_eq!(row[6].parse::<f64>().unwrap(), weight, "{row:?}");
        deciles_seen.insert(decile);
    }
    assert!(
        deciles_seen.len() > 2,
        "weighted and unweighted letters both checked"
    );
}

#[tokio::test]
async fn a_bundle_expires_and_is_then_gone() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.2).await;
    let round = app
        .round_id(
            &officer,
            json!({ "name": "Expiry", "letters": 2, "seed": "3" }),
        )
        .await;
    let job = app.export_letters(&officer, &round, false).await;
    let url = job["result"]["downloadUrl"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&url, Some(&officer)).await.status, StatusCode::OK);
    app.clock.advance(chrono::Duration::hours(169));
    let officer = app.token_for(Role::Officer).await;
    let gone = app.get(&url, Some(&officer)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.first_error_code(), "NOT_FOUND");
}

#[tokio::test]
async fn two_exports_of_one_round_cannot_be_queued_at_once() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    app.load_demo_register(0.2).await;
    let round = app
        .round_id(
            &officer,
            json!({ "name": "Twice", "letters": 4, "seed": "9" }),
        )
        .await;
    let start = "mutation($input: LetterBundleCreateInput!) {
        letterBundleCreate(input: $input) { job { id } }
    }";
    let input = json!({ "input": { "roundId": round } });
    let first = app.graphql(start, input.clone(), Some(&officer)).await;
    assert!(
        first["data"]["letterBundleCreate"]["job"]["id"].is_string(),
        "{first}"
    );
    let second = app.graphql(start, input.clone(), Some(&officer)).await;
    assert_eq!(
        second["errors"][0]["extensions"]["code"], "CONFLICT",
        "{second}"
    );
    app.run_jobs().await;
    let third = app.graphql(start, input, Some(&officer)).await;
    assert!(
        third["data"]["letterBundleCreate"]["job"]["id"].is_string(),
        "{third}"
    );
}
