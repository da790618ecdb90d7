//! The command line: `create-admin`, `migrate`, `export-schema`, imports, the lottery
//! tools and `serve`, run as a user would.

use std::process::Command;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use civic_panel::config::DatabaseConfig;
use civic_panel::db::{self, entities::account};
use civic_panel::domain::accounts::role::Role;

/// The binary, with cheap password hashing, the tests' code secret (so codes it mints can
/// be checked here) and mail kept out of the working directory.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_civic-panel"));
    let config = civic_panel::Config::for_tests("sqlite::memory:");
    command
        .env_remove("DATABASE_URL")
        .env("CIVIC_PANEL_ARGON2_MEMORY_KIB", "64")
        .env("CIVIC_PANEL_ARGON2_ITERATIONS", "1")
        .env(
            "CIVIC_PANEL_CODE_SECRET",
            config.secrets.code_secret.unwrap_or_default(),
        )
        .env(
            "CIVIC_PANEL_MAIL_DIR",
            std::env::temp_dir().join("civic-panel-cli-test-mail"),
        )
        .env("RUST_LOG", "warn");
    command
}

/// A database the binary can open by URL: a temporary SQLite file, or a fresh schema.
pub async fn database() -> (DatabaseConfig, Option<std::sync::Arc<tempfile::TempDir>>) {
    crate::helpers::fresh_database().await
}

#[tokio::test]
async fn create_admin_makes_an_admin_who_can_log_in() {
    let (database, _dir) = database().await;
    let output = binary()
        .args([
            "create-admin",
            "--email",
            "Lead@Council.gov.uk",
            "--name",
            "Engagement Lead",
        ])
        .env("DATABASE_URL", &database.database_url)
        .env("CIVIC_PANEL_ADMIN_PASSWORD", "a long enough admin password")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("lead@council.gov.uk"));

    let connection = db::connect(&database).await.unwrap();
    let admin = account::Entity::find()
        .filter(account::Column::Email.eq("lead@council.gov.uk"))
        .one(connection.writer())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert!(admin.password_hash.unwrap().starts_with("$argon2id$"));

    // A second admin with the same email is refused, and the process says why.
    let again = binary()
        .args(["create-admin", "--email", "lead@council.gov.uk"])
        .env("DATABASE_URL", &database.database_url)
        .env("CIVIC_PANEL_ADMIN_PASSWORD", "a long enough admin password")
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("CONFLICT"));
}

#[tokio::test]
async fn create_admin_refuses_a_short_password_and_writes_nothing() {
    let (database, _dir) = database().await;
    let output = binary()
        .args(["create-admin", "--email", "lead@council.gov.uk"])
        .env("DATABASE_URL", &database.database_url)
        .env("CIVIC_PANEL_ADMIN_PASSWORD", "short")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("BAD_USER_INPUT"));
    let connection = db::connect(&database).await.unwrap();
    db::migrate(&connection).await.unwrap();
    assert!(
        account::Entity::find()
            .one(connection.writer())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn migrate_creates_the_schema_and_is_idempotent() {
    let (database, _dir) = database().await;
    for _ in 0..2 {
        let output = binary()
            .arg("migrate")
            .env("DATABASE_URL", &database.database_url)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let connection = db::connect(&database).await.unwrap();
    assert!(
        account::Entity::find()
            .one(connection.writer())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn every_migration_rolls_back_and_applies_again() {
    use migrations::{Migrator, MigratorTrait};
    let app = crate::helpers::TestApp::spawn().await;
    let applied = Migrator::get_applied_migrations(app.db()).await.unwrap();
    assert_eq!(applied.len(), Migrator::migrations().len());
    Migrator::down(app.db(), None).await.unwrap();
    assert!(
        Migrator::get_applied_migrations(app.db())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(account::Entity::find().one(app.db()).await.is_err());
    Migrator::up(app.db(), None).await.unwrap();
    assert_eq!(
        Migrator::get_applied_migrations(app.db())
            .await
            .unwrap()
            .len(),
        Migrator::migrations().len()
    );
    assert!(
        account::Entity::find()
            .one(app.db())
            .await
            .unwrap()
            .is_none()
    );
}

#[test]
fn export_schema_prints_the_committed_contract() {
    let output = binary().arg("export-schema").output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        civic_panel::graphql::sdl()
    );
}

#[tokio::test]
async fn demo_import_draw_verify_and_export_work_from_the_command_line() {
    let (database, _dir) = database().await;
    let run = |args: &[&str]| {
        binary()
            .args(args)
            .env("DATABASE_URL", &database.database_url)
            .env("CIVIC_PANEL_PUBLIC_URL", "https://panel.example.gov.uk")
            .output()
            .unwrap()
    };
    let demo = run(&["demo", "--households-per-postcode", "1"]);
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let said = String::from_utf8_lossy(&demo.stdout).into_owned();
    assert!(
        said.contains("synthetic") && said.contains("216 census benchmark counts"),
        "{said}"
    );

    let register = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(register.path(), "uprn,line1,postcode,ward_code\nX1,1 New Road,gl205aa,E05004418\nX2,2 New Road,BAD,E05004418\n").unwrap();
    let import = run(&["import", "addresses", register.path().to_str().unwrap()]);
    let said = String::from_utf8_lossy(&import.stdout).into_owned();
    assert!(
        said.contains("2 rows read: 1 inserted, 0 updated, 0 unchanged, 1 rejected."),
        "{said}"
    );
    assert!(said.contains("line 3:"), "{said}");

    let connection = db::connect(&database).await.unwrap();
    let config = civic_panel::Config::for_tests(&database.database_url);
    let state = civic_panel::AppState::new(
        connection,
        config,
        civic_panel::state::clock::Clock::system(),
    )
    .unwrap();
    let input = civic_panel::service::recruitment::validate(
        civic_panel::service::recruitment::RoundRequest {
            name: "CLI".to_owned(),
            letters: 25,
            seed: Some("99".to_owned()),
            exclude_member_households: true,
            code_valid_days: 90,
            min_age: 16,
            ..Default::default()
        },
    )
    .unwrap();
    let progress = civic_panel::state::progress::Progress::new();
    let round = civic_panel::service::recruitment::draw(&state, &input, None, &progress)
        .await
        .unwrap()
        .to_string();

    let verify = run(&["lottery", "verify", &round]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(String::from_utf8_lossy(&verify.stdout).contains("the 25 addresses are identical"));

    // Published, the draw record is checked with no database at all.
    let published = tempfile::tempdir().unwrap();
    let record = published.path().join("round-draw-record.json");
    let record_path = record.to_str().unwrap();
    let publish = run(&["lottery", "publish", &round, "--out", record_path]);
    assert!(
        publish.status.success(),
        "{}",
        String::from_utf8_lossy(&publish.stderr)
    );
    let again = run(&["lottery", "publish", &round, "--out", record_path]);
    assert!(
        !again.status.success(),
        "an existing file is not overwritten"
    );
    let standalone = binary()
        .args(["lottery", "verify", "--frame", record_path])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&standalone.stdout).into_owned();
    assert!(
        standalone.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&standalone.stderr)
    );
    assert!(said.contains("gives the 25 addresses listed"), "{said}");
    let mut tampered: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    let moved = tampered["frame"][0]["keys"][0].clone();
    tampered["frame"][1]["keys"]
        .as_array_mut()
        .unwrap()
        .push(moved);
    tampered["frame"][0]["keys"]
        .as_array_mut()
        .unwrap()
        .remove(0);
    std::fs::write(&record, serde_json::to_vec(&tampered).unwrap()).unwrap();
    let caught = binary()
        .args(["lottery", "verify", "--frame", record_path])
        .output()
        .unwrap();
    assert_eq!(caught.status.code(), Some(1));
    let said = String::from_utf8_lossy(&caught.stderr).into_owned();
    assert!(said.contains("the frame was altered"), "{said}");

    let out = tempfile::tempdir().unwrap();
    let export = run(&[
        "lottery",
        "export",
        &round,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let letters = std::fs::read_to_string(out.path().join("letters.csv")).unwrap();
    assert_eq!(letters.lines().count(), 26);
    assert!(letters.contains("https://panel.example.gov.uk/join?code="));
    let pngs = std::fs::read_dir(out.path().join("qr")).unwrap().count();
    assert_eq!(pngs, 50, "a PNG and an SVG per letter");
    let audit = std::fs::read_to_string(out.path().join("addresses.csv")).unwrap();
    assert_eq!(audit.lines().count(), 26);
    assert!(
        audit
            .lines()
            .skip(1)
            .all(|row| row.ends_with(",true,false")),
        "the audit list shows the letters just exported as exported: {audit}"
    );

    // Exporting into the same folder again never overwrites the only copy of the codes.
    let again = run(&[
        "lottery",
        "export",
        &round,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds a bundle of 25 letters"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("letters.csv")).unwrap(),
        letters
    );
}

#[tokio::test]
async fn the_server_logs_json_lines_with_request_ids_and_stops_gracefully_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};

    let (database, _dir) = database().await;
    let mut child = binary()
        .args(["serve", "--log-format", "json", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &database.database_url)
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut address = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        let event: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if let Some(found) = event["address"].as_str() {
            address = Some(found.to_owned());
            break;
        }
    }
    let address = address.expect("the server says where it listens");

    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nx-request-id: trace-me-42\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("x-request-id: trace-me-42"), "{reply}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<serde_json::Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(child.wait().unwrap().success(), "exit 0 after SIGTERM");
    let finished = rest
        .iter()
        .find(|e| e["message"] == "request finished")
        .expect("the request was logged");
    assert_eq!(finished["span"]["request_id"], "trace-me-42", "{finished}");
    assert!(rest.iter().any(|e| e["message"] == "civic-panel stopped"));
}

#[tokio::test]
async fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let (database, _dir) = database().await;
    let output = binary()
        .arg("migrate")
        .env("DATABASE_URL", &database.database_url)
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("INFO"), "the run logged something: {log}");
    assert!(!log.contains('\u{1b}'), "no escape sequences: {log:?}");
}

#[tokio::test]
async fn import_reads_an_excel_csv_in_windows_1252_and_writes_every_refused_row_beside_it() {
    let (database, _dir) = database().await;
    let run = |args: &[&str]| {
        binary()
            .args(args)
            .env("DATABASE_URL", &database.database_url)
            .output()
            .unwrap()
    };
    let folder = tempfile::tempdir().unwrap();
    let register = folder.path().join("Register Extract.csv");
    // Plain "CSV" from Excel: CRLF, Windows-1252 (é is 0xE9), a cell with a line break.
    let mut csv = b"UPRN,Address Line 1,Postcode,Ward Code\r\n".to_vec();
    csv.extend_from_slice(b"1,\"Flat 1\r\nCaf\xe9 House\",GL19 3BB,E05004418\r\n");
    for n in 0..30 {
        csv.extend_from_slice(format!("B{n},{n} Bad Row,NOPE,E05004418\r\n").as_bytes());
    }
    std::fs::write(&register, &csv).unwrap();
    let path = register.to_str().unwrap();

    let as_utf8 = run(&["import", "addresses", path]);
    let said = String::from_utf8_lossy(&as_utf8.stdout).into_owned();
    assert!(as_utf8.status.success(), "{said}");
    assert!(
        said.contains("0 inserted") && said.contains("31 rejected"),
        "{said}"
    );
    assert!(said.contains("line 2: line1 is not valid UTF-8"), "{said}");
    assert!(said.contains("Windows-1252"), "{said}");

    let imported = run(&["import", "addresses", path, "--encoding", "windows-1252"]);
    let said = String::from_utf8_lossy(&imported.stdout).into_owned();
    assert!(imported.status.success(), "{said}");
    assert!(said.contains("31 rows read: 1 inserted"), "{said}");
    // Lines as the spreadsheet numbers them: the first bad row starts on line 4.
    assert!(said.contains("  line 4: postcode \"NOPE\""), "{said}");
    assert!(said.contains("and 10 more"), "{said}");
    let list_path = folder.path().join("Register Extract.rejected.csv");
    assert!(said.contains(list_path.to_str().unwrap()), "{said}");
    let mut list = csv::Reader::from_path(&list_path).unwrap();
    let rows: Vec<csv::StringRecord> = list.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 30);
    assert_eq!(
        (&rows[29][0], &rows[29][1], &rows[29][2]),
        ("33", "B29", "postcode")
    );

    let connection = db::connect(&database).await.unwrap();
    let stored = civic_panel::db::entities::address::Entity::find()
        .one(connection.writer())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.line1, "Flat 1\nCaf\u{e9} House");

    let chosen = folder.path().join("refused.csv");
    let latin1 = run(&[
        "import",
        "addresses",
        path,
        "--encoding=latin1",
        "--rejections",
        chosen.to_str().unwrap(),
    ]);
    assert!(latin1.status.success());
    assert_eq!(
        csv::Reader::from_path(&chosen).unwrap().records().count(),
        30
    );

    let unknown = run(&["import", "addresses", path, "--encoding", "ebcdic"]);
    assert_eq!(unknown.status.code(), Some(2));
    let said = String::from_utf8_lossy(&unknown.stderr).into_owned();
    assert!(said.contains("utf-8 or windows-1252"), "{said}");
}

#[test]
fn select_reads_the_papers_files_and_gives_everyone_one_tenth_with_maximin_and_leximin() {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/selection");
    let out = tempfile::tempdir().unwrap();
    let run = |method: &str| {
        binary()
            .args([
                "select",
                "--people",
                fixtures
                    .join("example_small_20/respondents.csv")
                    .to_str()
                    .unwrap(),
                "--quotas",
                fixtures
                    .join("example_small_20/categories.csv")
                    .to_str()
                    .unwrap(),
                "--k",
                "20",
                "--method",
                method,
                "--runs",
                "500",
                "--seed",
                "12",
                "--out",
                out.path().to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let fair = run("maximin");
    let said = String::from_utf8_lossy(&fair.stdout).into_owned();
    assert!(
        fair.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&fair.stderr)
    );
    assert!(
        said.contains("min 0.1000, median 0.1000, max 0.1000"),
        "{said}"
    );
    let probabilities: Vec<csv::StringRecord> =
        csv::Reader::from_path(out.path().join("probabilities.csv"))
            .unwrap()
            .records()
            .map(Result::unwrap)
            .collect();
    assert_eq!(probabilities.len(), 200);
    assert!(
        probabilities
            .iter()
            .all(|r| r[1].parse::<f64>().unwrap() > 0.099)
    );
    let panel = std::fs::read_to_string(out.path().join("panel.csv")).unwrap();
    assert_eq!(panel.lines().count(), 21);
    // The lottery: 1,000 tickets of 20, committed to by the SHA-256 of lottery.txt, and
    // the panel is the ticket drawn.
    let text = std::fs::read_to_string(out.path().join("lottery.txt")).unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    };
    assert!(said.contains(&format!("SHA-256 {sha}")), "{said}");
    let drawn: usize = said
        .split("ticket ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    let ticket_line = text.lines().nth(drawn).unwrap();
    let mut ids: Vec<&str> = ticket_line.split(':').nth(1).unwrap().split(',').collect();
    let mut panel_ids: Vec<&str> = panel.lines().skip(1).collect();
    ids.sort_unstable();
    panel_ids.sort_unstable();
    assert_eq!(ids, panel_ids);
    let rows = std::fs::read_to_string(out.path().join("lottery.csv")).unwrap();
    assert_eq!(rows.lines().count(), 1 + 1_000 * 20);

    let greedy = run("greedy");
    let said = String::from_utf8_lossy(&greedy.stdout).into_owned();
    assert!(greedy.status.success(), "{said}");
    let lowest: f64 = said
        .split("min ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|min| min.parse().ok())
        .unwrap();
    assert!(lowest < 0.05, "the lone female conservative: {said}");

    let fairest = run("leximin");
    let said = String::from_utf8_lossy(&fairest.stdout).into_owned();
    assert!(
        said.contains("min 0.1000, median 0.1000, max 0.1000"),
        "{said}"
    );

    let unknown = run("lottery");
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn select_with_quotas_no_panel_can_meet_names_them_and_suggests_a_relaxation() {
    let dir = tempfile::tempdir().unwrap();
    let people = dir.path().join("pool.csv");
    let quotas = dir.path().join("quotas.csv");
    let mut pool = String::from("id,sex\r\n");
    for n in 0..30 {
        pool.push_str(&format!(
            "p{n},{}\r\n",
            if n < 5 { "Female" } else { "Male" }
        ));
    }
    std::fs::write(&people, pool).unwrap();
    std::fs::write(
        &quotas,
        "feature,value,min,max\nsex,female,8,10\nsex,male,8,20\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = binary()
        .args(["select", "--people", people.to_str().unwrap(), "--quotas"])
        .arg(&quotas)
        .args(["--k", "20", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        said.contains("sex female: the minimum is 8 but the pool has 5"),
        "{said}"
    );
    assert!(said.contains("suggested-quotas.csv"), "{said}");
    let suggested = std::fs::read_to_string(out.join("suggested-quotas.csv")).unwrap();
    assert!(suggested.contains("sex,female,5,10"), "{suggested}");
}

#[test]
fn select_with_a_household_column_never_draws_two_from_one_household() {
    let dir = tempfile::tempdir().unwrap();
    let people = dir.path().join("pool.csv");
    let quotas = dir.path().join("quotas.csv");
    std::fs::write(
        &people,
        "id,sex,flat\np1,female,A\np2,male,A\np3,female,B\np4,male,B\n",
    )
    .unwrap();
    std::fs::write(
        &quotas,
        "feature,value,min,max\nsex,female,0,2\nsex,male,0,2\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        binary()
            .args(["select", "--people", people.to_str().unwrap(), "--quotas"])
            .arg(&quotas)
            .args(["--k", "2", "--seed", "5", "--tickets", "10"])
            .args(["--out", out.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    let output = run(&["--household", "flat"]);
    let said = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        said.contains("min 0.5000, median 0.5000, max 0.5000"),
        "{said}"
    );
    // Every ticket of the lottery holds one person from flat A and one from flat B.
    let text = std::fs::read_to_string(out.join("lottery.txt")).unwrap();
    for line in text.lines().skip(1) {
        let ids = line.split(':').nth(1).unwrap();
        assert!(ids.starts_with("p1,") || ids.starts_with("p2,"), "{line}");
        assert!(ids.ends_with(",p3") || ids.ends_with(",p4"), "{line}");
    }
    let panel = std::fs::read_to_string(out.join("panel.csv")).unwrap();
    assert_eq!(panel.lines().count(), 3);

    // Three seats cannot go to two households.
    let crowded = binary()
        .args(["select", "--people", people.to_str().unwrap(), "--quotas"])
        .arg(&quotas)
        .args([
            "--k",
            "3",
            "--household",
            "flat",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!crowded.status.success());
    let said = String::from_utf8_lossy(&crowded.stderr).into_owned();
    assert!(said.contains("needs 3 households"), "{said}");

    let unknown = run(&["--household", "address"]);
    assert!(!unknown.status.success());
    let said = String::from_utf8_lossy(&unknown.stderr).into_owned();
    assert!(said.contains("no column \"address\""), "{said}");
}

#[test]
fn serve_refuses_a_brand_colour_white_text_cannot_be_read_on() {
    for (colour, said) in [
        ("#ffdd00", "WCAG 2.2 AA needs 4.5:1"),
        ("navy", "# and six hexadecimal digits"),
    ] {
        let output = binary()
            .args(["serve", "--brand-colour", colour])
            .env("DATABASE_URL", "sqlite::memory:")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{colour}");
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(error.contains("--brand-colour"), "{error}");
        assert!(error.contains(said), "{error}");
    }
}
