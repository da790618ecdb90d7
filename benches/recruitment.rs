//! Recruitment benchmarks (run with `cargo bench --bench recruitment`):
//!
//! 1. importing a 1,000,000-row address register, beside the database's own bulk loader
//!    (`sqlite3 .import`, PostgreSQL `\copy`) in the same run, twice: loading the same file
//!    into a bare table with the same unique key, and loading the rows our import stored
//!    into a freshly migrated `addresses` table (the same columns, keys and indexes);
//! 2. drawing 30,000 letters from the 1,000,000 addresses, then minting and writing their
//!    codes (the printer's export, without QR images);
//! 3. exporting a 20,000-letter bundle with QR images as a background job (the path an
//!    officer's `letterBundleCreate` takes), beside rendering the same bundle on one
//!    thread (the baseline the parallel rendering is compared with).
//!
//! SQLite always runs (a file in a temporary folder). PostgreSQL runs when
//! `BENCH_DATABASE_URL` points at a database whose user may create schemas; the bulk
//! loader baselines need the `sqlite3` and `psql` command-line tools on PATH.
//! Results are printed as a table; BENCHMARKS.md records them.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::ConnectionTrait;

use civic_panel::config::{Config, DatabaseConfig};
use civic_panel::domain::recruitment::letter_bundle;
use civic_panel::domain::register::demo_register::read_postcode_frame;
use civic_panel::jobs::mail::Mailer;
use civic_panel::jobs::worker::Worker;
use civic_panel::service::accounts::auth::Caller;
use civic_panel::service::recruitment::{self, RoundRequest};
use civic_panel::service::register::addresses::{self, ImportOptions};
use civic_panel::service::{demo, jobs, recruitment::letters};
use civic_panel::state::clock::Clock;
use civic_panel::state::progress::Progress;
use civic_panel::{AppState, db};

const ROWS: usize = 1_000_000;
const LETTERS: u64 = 30_000;

/// A deterministic 1,000,000-row register over the real Tewkesbury postcodes and wards.
fn write_register(path: &Path) -> std::io::Result<()> {
    let frame = read_postcode_frame(demo::TEWKESBURY_POSTCODES.as_bytes())
        .map_err(std::io::Error::other)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "uprn,line1,town,postcode,ward_code,deprivation_decile")?;
    for n in 0..ROWS {
        let unit = &frame[n % frame.len()];
        let decile = (n / frame.len()) % 10 + 1;
        writeln!(
            out,
            "{:012},{} Bench Street,Tewkesbury,{},{},{decile}",
            990_000_000_000u64 + n as u64,
            n / frame.len() + 1,
            unit.postcode,
            unit.ward_code
        )?;
    }
    out.flush()
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

async fn state_for(url: &str, schema: Option<&str>) -> anyhow::Result<AppState> {
    let database = DatabaseConfig {
        database_url: url.to_owned(),
        db_max_connections: 4,
    };
    let connection = db::connect_with(&database, schema).await?;
    db::migrate(&connection).await?;
    let mut config = Config::for_tests(url);
    config.database = database;
    config.mail.mail_dir = std::env::temp_dir().join("civic-panel-bench-mail");
    AppState::new(connection, config, Clock::system())
}

/// Imports the register file; the summary and how long it took.
async fn timed_import(
    state: &AppState,
    register: &Path,
) -> anyhow::Result<(addresses::ImportSummary, Duration)> {
    let started = Instant::now();
    let file = std::fs::File::open(register)?;
    let summary = addresses::import(
        state,
        file,
        ImportOptions::default(),
        &Progress::new(),
        None,
    )
    .await?;
    Ok((summary, started.elapsed()))
}

/// Our import, the draw and the code minting, on one database.
async fn run_ours(
    label: &str,
    state: &AppState,
    register: &Path,
) -> anyhow::Result<Vec<(String, Duration)>> {
    let mut results = Vec::new();
    let (summary, took) = timed_import(state, register).await?;
    results.push((format!("{label}: import 1,000,000 addresses"), took));
    assert_eq!(summary.inserted, ROWS as u64, "every row inserted");

    let (summary, took) = timed_import(state, register).await?;
    results.push((format!("{label}: re-import, nothing changed"), took));
    assert_eq!(summary.unchanged, ROWS as u64);

    let input = recruitment::validate(RoundRequest {
        name: "Benchmark".to_owned(),
        letters: i64::try_from(LETTERS)?,
        seed: Some("20261123".to_owned()),
        decile_weights: vec![(1, 1.5), (2, 1.5), (3, 1.5)],
        exclude_invited_within_months: Some(12),
        exclude_member_households: true,
        code_valid_days: 90,
        min_age: 16,
        ..RoundRequest::default()
    })?;
    let started = Instant::now();
    let round = recruitment::draw(state, &input, None, &Progress::new()).await?;
    let drawn = started.elapsed();
    results.push((
        format!("{label}: draw 30,000 of 1,000,000 (letters written)"),
        drawn,
    ));
    let started = Instant::now();
    let printed = letters::issue_codes(state, round, false).await?;
    let minted = started.elapsed();
    assert_eq!(printed.len(), LETTERS as usize);
    results.push((format!("{label}: mint and store 30,000 codes"), minted));
    results.push((
        format!("{label}: draw + codes + invitations, total"),
        drawn + minted,
    ));

    // The printer's bundle of 20,000 letters with QR images, as an officer gets it: a job
    // run by the worker (reissuing, since every letter has a code by now).
    let started = Instant::now();
    let job = letters::request_export(state, &Caller::System, round, true).await?;
    let mailer = Mailer::from_config(&state.config.mail)?;
    let ran = Worker::new(state.clone(), mailer).run_until_idle().await?;
    let exported = started.elapsed();
    let job = jobs::find_any(state.db.reader(), job.id).await?;
    anyhow::ensure!(
        ran == 1 && job.result.is_some(),
        "the export job failed: {job:?}"
    );
    results.push((
        format!("{label}: export 20,000 letters with QR images (job)"),
        exported,
    ));
    Ok(results)
}

/// Rendering a 20,000-letter bundle with QR images in memory, on one thread and on every
/// core: the baseline and the speed-up the export job's rendering gets.
fn render_bundles() -> anyhow::Result<Vec<(String, Duration)>> {
    let printed: Vec<letter_bundle::PrintedLetter> = (0..20_000)
        .map(|n| letter_bundle::PrintedLetter {
            reference: format!("L{n}"),
            address: letter_bundle::LetterAddress {
                line1: format!("{n} Bench Street"),
                line2: None,
                line3: None,
                town: Some("Tewkesbury".to_owned()),
                postcode: "GL20 5AA".to_owned(),
            },
            code: "7K3M9-QXW25".to_owned(),
            url: format!("https://panel.example.gov.uk/join?code=7K3M9-Q{n:05}"),
        })
        .collect();
    let mut results = Vec::new();
    // Where one thread's time goes, per step, over the first 2,000 letters.
    let sample = &printed[..2_000];
    let started = Instant::now();
    let matrices: Vec<_> = sample
        .iter()
        .map(|l| civic_panel::domain::qr::encode(&l.url))
        .collect::<Result<_, _>>()?;
    results.push((
        "QR encoding, 2,000 letters, 1 thread".to_owned(),
        started.elapsed(),
    ));
    let started = Instant::now();
    for matrix in &matrices {
        civic_panel::domain::qr::to_png(matrix, letter_bundle::PNG_MODULE_PX)?;
    }
    results.push((
        "PNG drawing, 2,000 letters, 1 thread".to_owned(),
        started.elapsed(),
    ));
    let started = Instant::now();
    for matrix in &matrices {
        civic_panel::domain::qr::to_svg(matrix, letter_bundle::PNG_MODULE_PX);
    }
    results.push((
        "SVG drawing, 2,000 letters, 1 thread".to_owned(),
        started.elapsed(),
    ));
    let threads = letter_bundle::available_threads();
    for (label, threads) in [("1 thread (baseline)", 1), ("every core", threads)] {
        let started = Instant::now();
        let bundle = letter_bundle::write_zip(&printed, Vec::new(), threads, |_| {})?;
        results.push((
            format!(
                "render 20,000 letters' QR bundle in memory, {label} ({} MB)",
                bundle.len() / 1_000_000
            ),
            started.elapsed(),
        ));
    }
    Ok(results)
}

/// `sqlite3 .import` of the register file into a bare table with the same unique key.
fn sqlite_bulk_loader(register: &Path, dir: &Path) -> anyhow::Result<Duration> {
    let db = dir.join("bulk.db");
    let script = format!(
        "PRAGMA journal_mode=WAL;\nCREATE TABLE staging(uprn TEXT NOT NULL UNIQUE, line1 TEXT, town TEXT, postcode TEXT, ward_code TEXT, deprivation_decile INTEGER);\n.mode csv\n.import --skip 1 {} staging\n",
        register.display()
    );
    run_timed("sqlite3", &[db.to_string_lossy().as_ref()], &script)
}

/// `sqlite3 .import` of the rows our import stored (exported as CSV first, untimed) into
/// the `addresses` table of the freshly migrated database `fresh`. CSV has no NULL, so
/// empty fields load as empty text.
fn sqlite_same_table_loader(ours: &Path, fresh: &Path, dir: &Path) -> anyhow::Result<Duration> {
    let rows = dir.join("stored-rows.csv");
    let status = Command::new("sqlite3")
        .arg(ours)
        .args(["-csv", "SELECT * FROM addresses"])
        .stdout(std::fs::File::create(&rows)?)
        .status()?;
    anyhow::ensure!(status.success(), "sqlite3 could not export the addresses");
    let script = format!(
        "PRAGMA journal_mode=WAL;\n.mode csv\n.import {} addresses\n",
        rows.display()
    );
    run_timed("sqlite3", &[fresh.to_string_lossy().as_ref()], &script)
}

/// `psql \copy` of the rows our import stored in schema `ours` (exported first, untimed)
/// into the `addresses` table of the freshly migrated schema `fresh`.
fn postgres_same_table_loader(
    url: &str,
    ours: &str,
    fresh: &str,
    dir: &Path,
) -> anyhow::Result<Duration> {
    let rows = dir.join("stored-rows.txt");
    let export = format!("\\copy \"{ours}\".addresses TO '{}'\n", rows.display());
    run_timed("psql", &[url, "-q", "-v", "ON_ERROR_STOP=1"], &export)?;
    let load = format!("\\copy \"{fresh}\".addresses FROM '{}'\n", rows.display());
    run_timed("psql", &[url, "-q", "-v", "ON_ERROR_STOP=1"], &load)
}

/// Runs `program` with `script` on its standard input; the time until it exits.
fn run_timed(program: &str, args: &[&str], script: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or_else(|| anyhow::anyhow!("{program} has no standard input"))?
        .write_all(script.as_bytes())?;
    let status = child.wait()?;
    anyhow::ensure!(status.success(), "{program} failed");
    Ok(started.elapsed())
}

/// `psql \copy` of the register file into a bare table with the same unique key.
fn postgres_bulk_loader(url: &str, schema: &str, register: &Path) -> anyhow::Result<Duration> {
    let sql = format!(
        "CREATE TABLE \"{schema}\".staging(uprn TEXT NOT NULL UNIQUE, line1 TEXT, town TEXT, postcode TEXT, ward_code TEXT, deprivation_decile SMALLINT);\n\\copy \"{schema}\".staging FROM '{}' CSV HEADER\n",
        register.display()
    );
    run_timed("psql", &[url, "-q", "-v", "ON_ERROR_STOP=1"], &sql)
}

/// The connection URL for `schema` on the PostgreSQL server at `url`.
fn in_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// Adds one database's results to `rows`: the two loader baselines (`loader` names the
/// tool), our timings, and our import's ratio to each baseline.
fn record(
    rows: &mut Vec<(String, String)>,
    label: &str,
    loader: &str,
    (bare, same): (Option<Duration>, Option<Duration>),
    ours: &[(String, Duration)],
) {
    let baselines = [
        ("the file into a bare table", "bare-table loader", bare),
        (
            "the stored rows into `addresses`",
            "same-table loader",
            same,
        ),
    ];
    for (what, _, time) in &baselines {
        if let Some(time) = time {
            rows.push((
                format!("{label}: {loader} of {what} (baseline)"),
                seconds(*time),
            ));
        }
    }
    rows.extend(ours.iter().map(|(what, d)| (what.clone(), seconds(*d))));
    for (_, name, time) in &baselines {
        if let (Some(time), Some((_, import))) = (time, ours.first()) {
            rows.push((
                format!("{label}: import ÷ {name}"),
                format!("{:.1}×", import.as_secs_f64() / time.as_secs_f64()),
            ));
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    civic_panel::telemetry::init(civic_panel::config::LogFormat::Text);
    let dir = tempfile::tempdir()?;
    let register = dir.path().join("register.csv");
    write_register(&register)?;
    let size = std::fs::metadata(&register)?.len();
    println!(
        "register: {ROWS} rows, {:.1} MB, at {}",
        size as f64 / 1e6,
        Utc::now().to_rfc3339()
    );
    let mut rows: Vec<(String, String)> = Vec::new();
    let only_render = std::env::var("BENCH_ONLY").as_deref() == Ok("render");
    if !only_render {
        run_databases(&register, dir.path(), &mut rows).await?;
    }
    // Last, so its minute of full load does not slow the database measurements.
    let rendered = render_bundles()?;
    if let [.., (_, one), (_, all)] = rendered.as_slice() {
        rows.extend(rendered.iter().map(|(what, d)| (what.clone(), seconds(*d))));
        rows.push((
            "render on every core ÷ on one thread".to_owned(),
            format!("{:.2}×", all.as_secs_f64() / one.as_secs_f64()),
        ));
    }
    println!("\n| measurement | result |\n|---|---|");
    for (label, result) in &rows {
        println!("| {label} | {result} |");
    }
    Ok(())
}

/// Our import, draw, codes and export on SQLite (and PostgreSQL when configured), each
/// beside the database's own loaders.
async fn run_databases(
    register: &Path,
    dir: &Path,
    rows: &mut Vec<(String, String)>,
) -> anyhow::Result<()> {
    let bare = sqlite_bulk_loader(register, dir)
        .inspect_err(|e| println!("SQLite baseline skipped: {e}"))
        .ok();
    let ours_path = dir.join("bench.db");
    let state = state_for(&format!("sqlite://{}?mode=rwc", ours_path.display()), None).await?;
    let ours = run_ours("SQLite", &state, register).await?;
    let fresh = dir.join("fresh.db");
    state_for(&format!("sqlite://{}?mode=rwc", fresh.display()), None)
        .await?
        .db
        .close()
        .await;
    let same = sqlite_same_table_loader(&ours_path, &fresh, dir)
        .inspect_err(|e| println!("SQLite same-table baseline skipped: {e}"))
        .ok();
    record(rows, "SQLite", "sqlite3 .import", (bare, same), &ours);

    if let Ok(pg) = std::env::var("BENCH_DATABASE_URL") {
        let schema = format!("bench_{}", std::process::id());
        let fresh = format!("bench_{}_fresh", std::process::id());
        let admin = sea_orm::Database::connect(pg.as_str()).await?;
        for name in [&schema, &fresh] {
            admin
                .execute_unprepared(&format!("CREATE SCHEMA \"{name}\""))
                .await?;
        }
        let bare = postgres_bulk_loader(&pg, &schema, register)
            .inspect_err(|e| println!("PostgreSQL baseline skipped: {e}"))
            .ok();
        let state = state_for(&in_schema(&pg, &schema), Some(&schema)).await?;
        let ours = run_ours("PostgreSQL", &state, register).await?;
        state_for(&in_schema(&pg, &fresh), Some(&fresh))
            .await?
            .db
            .close()
            .await;
        let same = postgres_same_table_loader(&pg, &schema, &fresh, dir)
            .inspect_err(|e| println!("PostgreSQL same-table baseline skipped: {e}"))
            .ok();
        record(rows, "PostgreSQL", "psql \\copy", (bare, same), &ours);
        for name in [&schema, &fresh] {
            admin
                .execute_unprepared(&format!("DROP SCHEMA \"{name}\" CASCADE"))
                .await?;
        }
    } else {
        println!("PostgreSQL skipped: set BENCH_DATABASE_URL");
    }
    Ok(())
}
