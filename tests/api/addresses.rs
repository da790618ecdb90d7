//! Importing the address register: idempotent, updates in place, bad rows reported; through
//! the API an import is a job whose result is the summary.

use axum::http::StatusCode;
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};

use civic_panel::db::entities::address;
use civic_panel::domain::accounts::role::Role;

use crate::helpers::{TestApp, upload_request};

const IMPORT: &str = "mutation($input: AddressRegisterImportInput!) {
    addressRegisterImport(input: $input) { job { id status kind } }
}";

/// Uploads a register as `token` and runs the import job: the mutation's body when the
/// upload was refused, otherwise the finished job (`status`, `error`, `result`).
async fn import(app: &TestApp, token: &str, csv: &[u8]) -> Value {
    import_as(app, token, csv, json!({ "file": null })).await
}

/// [`import`] with the given `input` (whose `file` is replaced by the upload).
async fn import_as(app: &TestApp, token: &str, csv: &[u8], input: Value) -> Value {
    let request = upload_request(
        IMPORT,
        &json!({ "input": input }),
        "variables.input.file",
        csv,
        Some(token),
    );
    let body = app.send(request).await.json();
    let Some(job) = body["data"]["addressRegisterImport"]["job"]["id"].as_str() else {
        return body;
    };
    assert_eq!(
        body["data"]["addressRegisterImport"]["job"]["kind"],
        "ADDRESS_IMPORT"
    );
    app.run_jobs().await;
    app.job(token, job).await
}

const HEADER: &str = "UPRN,Address Line 1,Town,Postcode,Ward Code,IMD Decile\n";

#[tokio::test]
async fn the_tewkesbury_register_imports_through_the_api_and_a_reimport_changes_nothing() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let register = civic_panel::service::demo::tewkesbury_register(2.0).unwrap();
    let csv = civic_panel::service::demo::register_csv(&register).unwrap();
    let rows = register.len() as u64;
    assert!(
        rows > 4_000,
        "about two households for each of 2,662 postcodes: {rows}"
    );

    let first = import(&app, &officer, &csv).await;
    let summary = &first["result"];
    assert_eq!(summary["rowsRead"], rows, "{first}");
    assert_eq!(summary["inserted"], rows);
    assert_eq!(summary["rejectedCount"], 0);
    assert_eq!(app.count(address::Entity).await, rows);

    let again = import(&app, &officer, &csv).await;
    let summary = &again["result"];
    assert_eq!(
        (summary["inserted"].as_u64(), summary["updated"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(summary["unchanged"], rows);
    assert_eq!(app.count(address::Entity).await, rows);
    let count = app
        .graphql("{ addressCount }", json!({}), Some(&officer))
        .await;
    assert_eq!(count["data"]["addressCount"], rows);
}

#[tokio::test]
async fn a_changed_row_is_updated_in_place_and_postcodes_are_normalised() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let v1 = format!(
        "{HEADER}100,1 Mill Lane,Tewkesbury,gl193bb,E05004418,3\n101,2 Mill Lane,Tewkesbury,GL19 3BB,E05004418,\n"
    );
    import(&app, &officer, v1.as_bytes()).await;
    let v2 = format!(
        "{HEADER}100,1 Mill Lane,Tewkesbury, GL193BB ,E05004418,3\n101,2a Mill Lane,Tewkesbury,GL19 3BB,E05004418,\n"
    );
    let body = import(&app, &officer, v2.as_bytes()).await;
    let summary = &body["result"];
    assert_eq!(
        (
            summary["inserted"].as_u64(),
            summary["updated"].as_u64(),
            summary["unchanged"].as_u64()
        ),
        (Some(0), Some(1), Some(1))
    );
    let rows = address::Entity::find()
        .order_by_asc(address::Column::AddressKey)
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].postcode, "GL19 3BB");
    assert_eq!(rows[0].deprivation_decile, Some(3));
    assert_eq!(rows[1].line1, "2a Mill Lane");
    assert_eq!(rows[1].postcode, "GL19 3BB");
    assert_eq!(rows[1].household_key, "101");
}

#[tokio::test]
async fn bad_rows_are_rejected_with_their_line_and_reason_and_the_rest_imported() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let mut csv = HEADER.as_bytes().to_vec();
    csv.extend_from_slice(b"1,1 Good Street,Tewkesbury,GL19 3BB,E05004418,1\n");
    csv.extend_from_slice(b"2,2 Bad Postcode,Tewkesbury,NOTAPOSTCODE,E05004418,1\n");
    csv.extend_from_slice(b"3,3 Bad Ward,Tewkesbury,GL19 3BB,WARD9,1\n");
    csv.extend_from_slice(b"1,Duplicate Key,Tewkesbury,GL19 3BB,E05004418,1\n");
    csv.extend_from_slice(b"4,4 Bad Decile,Tewkesbury,GL19 3BB,E05004418,11\n");
    csv.extend_from_slice(b"5,5 Bad \xff Bytes,Tewkesbury,GL19 3BB,E05004418,1\n");
    csv.extend_from_slice(b"6,,Tewkesbury,GL19 3BB,E05004418,1\n");
    csv.extend_from_slice(b"7,7 Good Street,Tewkesbury,GL19 3BB,E05004418,\n");
    let body = import(&app, &officer, &csv).await;
    let summary = &body["result"];
    assert_eq!(summary["inserted"], 2, "{body}");
    assert_eq!(summary["rejectedCount"], 6);
    let rejected: Vec<(u64, String)> = summary["rejectedRows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rejected.iter().map(|(line, _)| *line).collect::<Vec<_>>(),
        vec![3, 4, 5, 6, 7, 8]
    );
    assert!(rejected[0].1.contains("NOTAPOSTCODE"), "{rejected:?}");
    assert!(rejected[1].1.contains("WARD9"), "{rejected:?}");
    assert!(
        rejected[2].1.contains("line 2"),
        "duplicate names the first line: {rejected:?}"
    );
    assert!(rejected[4].1.contains("UTF-8"), "{rejected:?}");
    assert_eq!(app.count(address::Entity).await, 2);
}

#[tokio::test]
async fn a_file_missing_required_columns_is_refused_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let job = import(&app, &officer, b"UPRN,Town\n1,Tewkesbury\n").await;
    assert_eq!(job["status"], "FAILED", "{job}");
    assert_eq!(job["attempts"], 1, "a refused file is not tried again");
    let message = job["error"].as_str().unwrap();
    assert!(
        message.contains("postcode") && message.contains("ward") && message.contains("(file)"),
        "{message}"
    );
    assert_eq!(app.count(address::Entity).await, 0);
}

#[tokio::test]
async fn a_file_past_the_row_limit_is_refused_whole_and_nothing_is_written() {
    let app = TestApp::spawn_with(|config| config.import_max_rows = 5).await;
    let officer = app.token_for(Role::Officer).await;
    let mut csv = HEADER.to_owned();
    for n in 0..6 {
        csv.push_str(&format!(
            "{n},{n} Long Lane,Tewkesbury,GL19 3BB,E05004418,\n"
        ));
    }
    let job = import(&app, &officer, csv.as_bytes()).await;
    assert_eq!(job["status"], "FAILED", "{job}");
    assert!(
        job["error"].as_str().unwrap().contains("more than 5 rows"),
        "{job}"
    );
    assert_eq!(app.count(address::Entity).await, 0);
}

#[tokio::test]
async fn an_upload_over_the_limit_is_413() {
    let app = TestApp::spawn_with(|config| config.upload_limit_bytes = 1_000).await;
    let officer = app.token_for(Role::Officer).await;
    let csv = format!(
        "{HEADER}{}",
        "1,1 Lane,Tewkesbury,GL19 3BB,E05004418,\n".repeat(100)
    );
    let request = upload_request(
        IMPORT,
        &json!({ "input": { "file": null } }),
        "variables.input.file",
        csv.as_bytes(),
        Some(&officer),
    );
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.first_error_code(), "PAYLOAD_TOO_LARGE");
    assert_eq!(app.count(address::Entity).await, 0);
}

#[tokio::test]
async fn scrutiny_members_cannot_import_the_register() {
    let app = TestApp::spawn().await;
    let scrutiny = app.token_for(Role::Scrutiny).await;
    let body = import(
        &app,
        &scrutiny,
        format!("{HEADER}1,1 Lane,T,GL19 3BB,E05004418,\n").as_bytes(),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert_eq!(app.count(address::Entity).await, 0);
}

#[tokio::test]
async fn a_file_that_fills_its_last_batch_exactly_imports_whole() {
    let app = TestApp::spawn().await;
    let mut csv = HEADER.to_owned();
    for n in 0..4 {
        csv.push_str(&format!(
            "{n},{n} Even Street,Tewkesbury,GL19 3BB,E05004418,\n"
        ));
    }
    let options = civic_panel::service::register::addresses::ImportOptions {
        max_rows: 10,
        batch_size: 2,
        ..Default::default()
    };
    for expected_inserted in [4, 0] {
        let summary = civic_panel::service::register::addresses::import(
            &app.state,
            std::io::Cursor::new(csv.clone().into_bytes()),
            options,
            &civic_panel::state::progress::Progress::new(),
            None,
        )
        .await
        .unwrap();
        assert_eq!(summary.inserted, expected_inserted);
        assert_eq!(summary.rows_read, 4);
    }
    assert_eq!(app.count(address::Entity).await, 4);
}

#[tokio::test]
async fn a_mixed_reimport_counts_each_row_once_and_keeps_awkward_text_exactly() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let v1 = format!(
        "{HEADER}200,1 Mill Lane,Tewkesbury,GL19 3BB,E05004418,\n\
         201,2 Mill Lane,Tewkesbury,GL19 3BB,E05004418,4\n\
         202,3 Mill Lane,Tewkesbury,GL19 3BB,E05004418,5\n"
    );
    import(&app, &officer, v1.as_bytes()).await;
    app.clock.advance(chrono::Duration::hours(1));
    // 200 gains a decile (NULL to a value), 201 loses its own (a value to NULL), 202 is
    // as it was, 203 is new; 203's first line holds a tab, a backslash, a line break,
    // quotes and Welsh text, which a bulk loader must not mangle.
    let awkward = "Fflat 2\tCefn, C:\\\\Hen \"Felin\"\nLlawr Uchaf Ŵ";
    let v2 = format!(
        "{HEADER}200,1 Mill Lane,Tewkesbury,GL19 3BB,E05004418,2\n\
         201,2 Mill Lane,Tewkesbury,GL19 3BB,E05004418,\n\
         202,3 Mill Lane,Tewkesbury,GL19 3BB,E05004418,5\n\
         203,\"{}\",Tewkesbury,GL19 3BB,E05004418,1\n",
        awkward.replace('"', "\"\"")
    );
    let body = import(&app, &officer, v2.as_bytes()).await;
    let summary = &body["result"];
    assert_eq!(
        (
            summary["rowsRead"].as_u64(),
            summary["inserted"].as_u64(),
            summary["updated"].as_u64(),
            summary["unchanged"].as_u64()
        ),
        (Some(4), Some(1), Some(2), Some(1)),
        "{body}"
    );
    let rows = address::Entity::find()
        .order_by_asc(address::Column::AddressKey)
        .all(app.db())
        .await
        .unwrap();
    let deciles: Vec<Option<i16>> = rows.iter().map(|r| r.deprivation_decile).collect();
    assert_eq!(deciles, [Some(2), None, Some(5), Some(1)]);
    assert_eq!(rows[3].line1, awkward);
    assert_eq!(rows[3].line2, None);
    // Changed rows get a new time stamp; unchanged ones keep theirs.
    let stamped: Vec<bool> = rows
        .iter()
        .map(|r| r.updated_at > rows[2].created_at)
        .collect();
    assert_eq!(stamped, [true, true, false, true]);
}

#[tokio::test]
async fn a_file_past_the_limit_is_refused_before_anything_is_written() {
    use civic_panel::service::register::addresses::{self, ImportOptions};
    let app = TestApp::spawn().await;
    let rows = |range: std::ops::Range<u32>| {
        let mut csv = HEADER.to_owned();
        for n in range {
            csv.push_str(&format!(
                "{n},{n} Long Lane,Tewkesbury,GL19 3BB,E05004418,\n"
            ));
        }
        csv.into_bytes()
    };
    let options = ImportOptions {
        max_rows: 250,
        batch_size: 100,
        ..ImportOptions::default()
    };
    let progress = civic_panel::state::progress::Progress::new();
    let run = |csv: Vec<u8>| {
        addresses::import(
            &app.state,
            std::io::Cursor::new(csv),
            options,
            &progress,
            None,
        )
    };
    // Three batches' worth: into an empty register (PostgreSQL's COPY straight into the
    // table) and into one that has rows (COPY into a staging table).
    for existing in [0, 50] {
        if existing > 0 {
            run(rows(0..existing)).await.unwrap();
        }
        let err = run(rows(1_000..1_300)).await.unwrap_err();
        assert_eq!(err.code(), civic_panel::error::ErrorCode::BadUserInput);
        assert_eq!(app.count(address::Entity).await, u64::from(existing));
    }
    // A file whose quoted fields hold more line breaks than the limit, but fewer rows, is
    // counted properly and imported.
    let mut quoted = HEADER.to_owned();
    for n in 0..200 {
        quoted.push_str(&format!(
            "{n},\"Flat {n}\nFirst floor\",Tewkesbury,GL19 3BB,E05004418,\n"
        ));
    }
    let summary = run(quoted.into_bytes()).await.unwrap();
    assert_eq!((summary.inserted, summary.updated), (150, 50));
    assert_eq!(app.count(address::Entity).await, 200);
}

/// A register whose bad rows follow cells holding line breaks, with `ending` after every
/// line (inside the quoted cells too): its bad rows start on lines 5, 6 and 9.
fn register_with_multiline_cells(ending: &str) -> Vec<u8> {
    let lines = [
        "UPRN,Address Line 1,Town,Postcode,Ward Code,IMD Decile",
        "1,\"Flat 1",
        "The Old School\",Tewkesbury,GL19 3BB,E05004418,1",
        "2,2 Good Street,Tewkesbury,GL19 3BB,E05004418,",
        "3,3 Bad Postcode,Tewkesbury,NOTAPOSTCODE,E05004418,1",
        "4,\"4 Mill Lane",
        "Rear\",Tewkesbury,GL19 3BB,WARD9,1",
        "5,5 Good Street,Tewkesbury,GL19 3BB,E05004418,",
        "2,Second Two,Tewkesbury,GL19 3BB,E05004418,",
    ];
    let mut csv = lines.join(ending);
    csv.push_str(ending);
    csv.into_bytes()
}

#[tokio::test]
async fn crlf_and_lf_uploads_report_the_same_lines_past_cells_holding_line_breaks() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    for ending in ["\n", "\r\n"] {
        let body = import(&app, &officer, &register_with_multiline_cells(ending)).await;
        let summary = &body["result"];
        assert_eq!(summary["rejectedCount"], 3, "{body}");
        let rows = summary["rejectedRows"].as_array().unwrap();
        let found: Vec<(u64, &str, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r["line"].as_u64().unwrap(),
                    r["key"].as_str().unwrap(),
                    r["column"].as_str().unwrap_or("(row)"),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (5, "3", "postcode"),
                (6, "4", "ward_code"),
                (9, "2", "(row)")
            ],
            "{ending:?}"
        );
        assert!(
            rows[2]["reason"]
                .as_str()
                .unwrap()
                .contains("first on line 4"),
            "{ending:?}: {body}"
        );
        let stored = address::Entity::find()
            .order_by_asc(address::Column::AddressKey)
            .all(app.db())
            .await
            .unwrap();
        assert_eq!(stored[0].line1, "Flat 1\nThe Old School", "{ending:?}");
    }
}

#[tokio::test]
async fn every_rejected_row_can_be_downloaded_as_csv_past_the_listed_thousand() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let mut csv = HEADER.replace('\n', "\r\n");
    csv.push_str("1,1 Good Street,Tewkesbury,GL19 3BB,E05004418,1\r\n");
    for n in 0..1_205 {
        csv.push_str(&format!(
            "B{n},\"{n} Bad, Street\",Tewkesbury,NOPE,E05004418,\r\n"
        ));
    }
    let body = import(&app, &officer, csv.as_bytes()).await;
    let summary = &body["result"];
    assert_eq!(summary["rejectedCount"], 1_205, "{body}");
    assert_eq!(summary["rejectedRows"].as_array().unwrap().len(), 1_000);
    let url = summary["rejectedRowsDownloadUrl"].as_str().unwrap();

    let scrutiny = app.token_for(Role::Scrutiny).await;
    assert_eq!(
        app.get(url, Some(&scrutiny)).await.status,
        StatusCode::FORBIDDEN
    );
    let download = app.get(url, Some(&officer)).await;
    assert_eq!(download.status, StatusCode::OK, "{}", download.text);
    assert!(download.content_type().starts_with("text/csv"));
    let mut list = csv::Reader::from_reader(download.bytes.as_slice());
    assert_eq!(
        list.headers().unwrap(),
        vec!["line", "key", "column", "reason"]
    );
    let rows: Vec<csv::StringRecord> = list.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1_205);
    for (n, row) in rows.iter().enumerate() {
        assert_eq!(row[0], (n + 3).to_string());
        assert_eq!(row[1], format!("B{n}"));
        assert_eq!(row[2], *"postcode");
        assert!(row[3].contains("NOPE"), "{row:?}");
    }

    // A clean file has no list to download.
    let clean = import(
        &app,
        &officer,
        format!("{HEADER}9,9 Good Street,Tewkesbury,GL19 3BB,E05004418,\n").as_bytes(),
    )
    .await;
    assert_eq!(clean["result"]["rejectedCount"], 0, "{clean}");
    assert!(clean["result"]["rejectedRowsDownloadUrl"].is_null());
}

#[tokio::test]
async fn a_windows_1252_upload_is_refused_row_by_row_with_advice_and_read_when_asked() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    // What Excel writes as plain "CSV" on a UK machine: é is 0xE9, ŵ has no byte at all
    // in Windows-1252 so Excel never writes it there, the en dash is 0x96.
    let mut csv = HEADER.replace('\n', "\r\n").into_bytes();
    csv.extend_from_slice(b"1,1 Caf\xe9 Row,Tewkesbury,GL19 3BB,E05004418,1\r\n");
    csv.extend_from_slice(b"2,2 Mill Lane \x96 Rear,Tewkesbury,GL19 3BB,E05004418,1\r\n");
    csv.extend_from_slice(b"3,3 Plain Street,Tewkesbury,GL19 3BB,E05004418,1\r\n");

    let as_utf8 = import(&app, &officer, &csv).await;
    let summary = &as_utf8["result"];
    assert_eq!(summary["rejectedCount"], 2, "{as_utf8}");
    let reason = summary["rejectedRows"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("UTF-8") && reason.contains("Windows-1252"),
        "{reason}"
    );

    let as_cp1252 = import_as(
        &app,
        &officer,
        &csv,
        json!({ "file": null, "encoding": "WINDOWS_1252" }),
    )
    .await;
    let summary = &as_cp1252["result"];
    assert_eq!(
        (
            summary["rejectedCount"].as_u64(),
            summary["inserted"].as_u64()
        ),
        (Some(0), Some(2)),
        "{as_cp1252}"
    );
    let lines: Vec<String> = address::Entity::find()
        .order_by_asc(address::Column::AddressKey)
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.line1)
        .collect();
    assert_eq!(
        lines,
        [
            "1 Caf\u{e9} Row",
            "2 Mill Lane \u{2013} Rear",
            "3 Plain Street"
        ]
    );

    let unknown = import_as(
        &app,
        &officer,
        &csv,
        json!({ "file": null, "encoding": "EBCDIC" }),
    )
    .await;
    let message = unknown["errors"][0]["message"].as_str().unwrap_or("");
    assert!(message.contains("EBCDIC"), "{unknown}");
    assert!(unknown["data"].is_null(), "no job was queued: {unknown}");
    assert_eq!(app.count(address::Entity).await, 3, "nothing more imported");
}
