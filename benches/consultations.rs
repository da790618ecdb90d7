//! Consultation benchmarks (run with `cargo bench --bench consultations`), on SQLite (a
//! file in a temporary folder), the server and its load in one process on loopback:
//!
//! 1. delivery: a panel of 30,000 members invited (the invite job) and every email sent by
//!    the worker to an SMTP server on loopback (a minimal sink in this file), checking that
//!    none arrives twice;
//! 2. the tracking image and the tracking link, beside `/healthz` (a static route on the
//!    same server) as the baseline, checking that every event was stored: each as fast as
//!    its connections go, then at 10,000 requests a second (open loop: a request's latency
//!    counts from when it was due, so a slow answer is not hidden by those it held back);
//! 3. fetching a consultation by token (`invitationByToken`);
//! 4. submitting answers from 200 concurrent clients, each also repeating one submission,
//!    checking that every completion is counted once.
//!
//! Each HTTP figure is requests per second and the 50th and 99th percentile latency over
//! keep-alive connections; the load generator shares the machine's cores with the server.
//! `BENCH_MEMBERS` sets the panel size (default 30,000). Results are printed as a table;
//! BENCHMARKS.md records them.

#[path = "../tests/api/mime.rs"]
#[allow(dead_code, clippy::unwrap_used)]
mod mime;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use civic_panel::config::{Config, DatabaseConfig};
use civic_panel::db::entities::{letter, membership, resident, response, tracking_event};
use civic_panel::db::group_commit::{BatchStats, DURATION_BUCKETS_MS};
use civic_panel::domain::consultations::consultation::Step;
use civic_panel::domain::consultations::questionnaire::QuestionKind;
use civic_panel::domain::panels::panel::MembershipStatus;
use civic_panel::jobs::mail::{MailTransportKind, Mailer, SmtpTls};
use civic_panel::jobs::worker::Worker;
use civic_panel::service::accounts::auth::Caller;
use civic_panel::service::consultations::invitations::{self, InviteRequest};
use civic_panel::service::consultations::{self, ConsultationRequest, QuestionRequest};
use civic_panel::service::panels::{self, PanelRequest};
use civic_panel::service::recruitment::{self, RoundRequest};
use civic_panel::service::{demo, register::addresses};
use civic_panel::state::clock::Clock;
use civic_panel::state::progress::Progress;
use civic_panel::{AppState, db, http};

/// A minimal SMTP server that accepts every message and keeps it.
async fn smtp_sink() -> anyhow::Result<(u16, Arc<Mutex<Vec<Vec<u8>>>>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let messages: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let kept = Arc::clone(&messages);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = Arc::clone(&kept);
            tokio::spawn(async move {
                let _ = smtp_session(stream, kept).await;
            });
        }
    });
    Ok((port, messages))
}

async fn smtp_session(stream: TcpStream, kept: Arc<Mutex<Vec<Vec<u8>>>>) -> std::io::Result<()> {
    // Answers go at once (no waiting to coalesce small writes), as a real relay's do.
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => write.write_all(b"250-sink\r\n250 8BITMIME\r\n").await?,
            "DATA" => {
                write.write_all(b"354 go on\r\n").await?;
                let mut data = Vec::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.extend_from_slice(line.strip_prefix('.').unwrap_or(&line).as_bytes());
                }
                if let Ok(mut kept) = kept.lock() {
                    kept.push(data);
                }
                write.write_all(b"250 kept\r\n").await?;
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => write.write_all(b"250 ok\r\n").await?,
        }
    }
}

/// One keep-alive HTTP/1.1 connection's request; its status.
async fn exchange(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: &mut tokio::net::tcp::OwnedWriteHalf,
    request: &[u8],
) -> anyhow::Result<u16> {
    writer.write_all(request).await?;
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let status: u16 = line.split_whitespace().nth(1).unwrap_or("0").parse()?;
    let mut length = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(status)
}

/// Sends `total` requests (`make(i)`) over `connections` keep-alive connections, each
/// connection sending its next request as soon as the last is answered; the time taken,
/// every latency, and how many answered `expect`.
async fn load(
    address: SocketAddr,
    connections: usize,
    total: usize,
    expect: u16,
    make: Arc<dyn Fn(usize) -> Vec<u8> + Send + Sync>,
) -> anyhow::Result<(Duration, Vec<Duration>, usize)> {
    send(address, connections, total, None, expect, make).await
}

/// Sends `total` requests as [`load`] does, or with a `rate`, request `i` being due
/// `i / rate` seconds after the start (an open-loop load at `rate` a second). A request
/// sent late because its connection was still waiting for an earlier answer counts its
/// latency from when it was due, so a slow answer is not hidden by the requests it held
/// back.
async fn send(
    address: SocketAddr,
    connections: usize,
    total: usize,
    rate: Option<f64>,
    expect: u16,
    make: Arc<dyn Fn(usize) -> Vec<u8> + Send + Sync>,
) -> anyhow::Result<(Duration, Vec<Duration>, usize)> {
    let started = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..connections {
        let make = Arc::clone(&make);
        tasks.spawn(async move {
            let stream = TcpStream::connect(address).await?;
            stream.set_nodelay(true)?;
            let (read, mut write) = stream.into_split();
            let mut read = BufReader::new(read);
            let mut latencies = Vec::new();
            let mut ok = 0;
            let mut i = c;
            while i < total {
                let request = make(i);
                let mut sent = tokio::time::Instant::now();
                if let Some(rate) = rate {
                    let due = started + Duration::from_secs_f64(i as f64 / rate);
                    if due > sent {
                        // On time: the timer's own lateness is not the server's.
                        tokio::time::sleep_until(due).await;
                        sent = tokio::time::Instant::now();
                    } else {
                        sent = due;
                    }
                }
                let status = exchange(&mut read, &mut write, &request).await?;
                latencies.push(sent.elapsed());
                ok += usize::from(status == expect);
                i += connections;
            }
            anyhow::Ok((latencies, ok))
        });
    }
    let mut latencies = Vec::with_capacity(total);
    let mut ok = 0;
    while let Some(done) = tasks.join_next().await {
        let (l, o) = done??;
        latencies.extend(l);
        ok += o;
    }
    Ok((started.elapsed(), latencies, ok))
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n").into_bytes()
}

fn post_graphql(body: &serde_json::Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "POST /graphql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A row of the results table.
struct Row {
    what: String,
    requests: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    ok: usize,
}

fn row(what: &str, (took, mut latencies, ok): (Duration, Vec<Duration>, usize)) -> Row {
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Row {
        what: what.to_owned(),
        requests: latencies.len(),
        per_second: latencies.len() as f64 / took.as_secs_f64(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        ok,
    }
}

/// How the tracking writer's batches went during one load: how many, their mean size,
/// the longest, and how many took each range of milliseconds to write.
fn batch_line(what: &str, before: &BatchStats, after: &BatchStats) -> String {
    let batches = after.batches - before.batches;
    let items = after.items - before.items;
    let mut lower = 0;
    let buckets: Vec<String> = after
        .by_duration
        .iter()
        .zip(&before.by_duration)
        .enumerate()
        .map(|(i, (a, b))| {
            let range = match DURATION_BUCKETS_MS.get(i) {
                Some(&upper) => format!("{lower}-{upper} ms"),
                None => format!("> {lower} ms"),
            };
            lower = DURATION_BUCKETS_MS.get(i).copied().unwrap_or(lower);
            format!("{range}: {}", a - b)
        })
        .collect();
    format!(
        "batches during {what}: {batches}, {:.1} events each; longest so far {:.1} ms ({} events); {}",
        items as f64 / batches.max(1) as f64,
        after.longest.as_secs_f64() * 1000.0,
        after.longest_items,
        buckets.join(", ")
    )
}

/// The database, the panel of `members` (with emails) and an open Corporate Plan survey.
async fn setup(
    members: usize,
    smtp_port: u16,
    dir: &std::path::Path,
) -> anyhow::Result<(AppState, civic_panel::domain::ids::ConsultationId)> {
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let database = DatabaseConfig {
        database_url: url.clone(),
        db_max_connections: 8,
    };
    let connection = db::connect(&database).await?;
    db::migrate(&connection).await?;
    let mut config = Config::for_tests(&url);
    config.database = database;
    config.mail.mail_transport = MailTransportKind::Smtp;
    config.mail.smtp_host = Some("127.0.0.1".to_owned());
    config.mail.smtp_port = Some(smtp_port);
    config.mail.smtp_tls = SmtpTls::None;
    config.mail.mail_dir = dir.join("mail");
    config.open_responses_per_hour = u32::MAX;
    let state = AppState::new(connection, config, Clock::system())?;
    let system = Caller::System;

    let mut per_postcode = 10.0;
    let register = loop {
        let register = demo::tewkesbury_register(per_postcode)?;
        if register.len() >= members {
            break register;
        }
        per_postcode *= 2.0;
    };
    let csv = demo::register_csv(&register)?;
    addresses::import(
        &state,
        std::io::Cursor::new(csv),
        addresses::ImportOptions::default(),
        &Progress::new(),
        None,
    )
    .await?;
    let input = recruitment::validate(RoundRequest {
        name: "Panel".to_owned(),
        letters: i64::try_from(members)?,
        seed: Some("7".to_owned()),
        code_valid_days: 90,
        min_age: 16,
        ..RoundRequest::default()
    })?;
    let round = recruitment::draw(&state, &input, None, &Progress::new()).await?;
    let letters = letter::Entity::find()
        .filter(letter::Column::RoundId.eq(round))
        .all(state.db.writer())
        .await?;
    let panel = panels::create(
        &state,
        &system,
        PanelRequest {
            name: "Residents Panel".to_owned(),
            // The selection's k is capped; the memberships written below are not.
            target_size: i64::try_from(members.min(10_000))?,
            term_months: 24,
            ..PanelRequest::default()
        },
    )
    .await?;
    let now = state.clock.now();
    for (chunk_no, chunk) in letters.chunks(1_000).enumerate() {
        let rows: Vec<resident::ActiveModel> = chunk
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let n = chunk_no * 1_000 + i;
                resident::ActiveModel {
                    account_id: Set(None),
                    letter_id: Set(l.id),
                    round_id: Set(round),
                    address_id: Set(l.address_id),
                    household_key: Set(format!("H{n}")),
                    household_lock: Set(None),
                    ward_code: Set("E05000001".to_owned()),
                    deprivation_decile: Set(Some(5)),
                    full_name: Set(format!("Member {n}")),
                    email: Set(Some(format!("member{n}@example.org"))),
                    phone: Set(None),
                    date_of_birth: Set(chrono::NaiveDate::from_ymd_opt(
                        1960 + (n % 45) as i32,
                        3,
                        1,
                    )
                    .unwrap_or_default()),
                    sex: Set(if n % 2 == 0 { "female" } else { "male" }.to_owned()),
                    ethnic_group: Set(
                        "White: English, Welsh, Scottish, Northern Irish or British".to_owned()
                    ),
                    disability: Set("Not disabled under the Equality Act".to_owned()),
                    registered_at: Set(now),
                    incentive_owed: Set(false),
                    incentive_fulfilled_at: Set(None),
                    withdrawn_at: Set(None),
                    ..Default::default()
                }
            })
            .collect();
        resident::Entity::insert_many(rows)
            .exec(state.db.writer())
            .await?;
    }
    let residents: Vec<i64> = resident::Entity::find()
        .all(state.db.writer())
        .await?
        .into_iter()
        .map(|r| r.id.get())
        .collect();
    for chunk in residents.chunks(1_000) {
        let rows: Vec<membership::ActiveModel> = chunk
            .iter()
            .map(|id| membership::ActiveModel {
                panel_id: Set(panel.id),
                resident_id: Set(civic_panel::domain::ids::ResidentId(*id)),
                run_id: Set(None),
                status: Set(MembershipStatus::Active),
                selected_at: Set(now),
                term_ends_at: Set(None),
                updated_at: Set(now),
                ..Default::default()
            })
            .collect();
        membership::Entity::insert_many(rows)
            .exec(state.db.writer())
            .await?;
    }
    let consultation = consultations::create(
        &state,
        &system,
        ConsultationRequest {
            title: "Our Corporate Plan".to_owned(),
            summary: "Tell us what you think of our plan.".to_owned(),
            panel: Some(panel.id),
            max_reminders: 2,
            reminder_gap_hours: 72,
            ..ConsultationRequest::default()
        },
    )
    .await?;
    let mut questions: Vec<QuestionRequest> = (1..=10)
        .map(|i| QuestionRequest {
            key: format!("commitment_{i}"),
            text: format!("Commitment {i} matters to me."),
            kind: QuestionKind::Agreement,
            labels: Vec::new(),
            required: true,
            show_when: None,
            about_you: None,
        })
        .collect();
    questions.push(QuestionRequest {
        key: "satisfaction".to_owned(),
        text: "How happy are you with the council, from 0 to 10?".to_owned(),
        kind: QuestionKind::Rating,
        labels: Vec::new(),
        required: true,
        show_when: None,
        about_you: None,
    });
    consultations::set_questions(&state, &system, consultation.id, questions).await?;
    consultations::transition(&state, &system, consultation.id, Step::Open).await?;
    Ok((state, consultation.id))
}

fn main() -> anyhow::Result<()> {
    let members: usize = std::env::var("BENCH_MEMBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(members))
}

async fn run(members: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (smtp_port, received) = smtp_sink().await?;
    let (state, consultation) = setup(members, smtp_port, dir.path()).await?;

    // 1. Delivery: the invite job, then the worker's outbox to the SMTP sink.
    let started = Instant::now();
    invitations::start_invite(
        &state,
        &Caller::System,
        consultation,
        InviteRequest::default(),
    )
    .await?;
    let worker = Worker::new(state.clone(), Mailer::from_config(&state.config.mail)?);
    worker.run_until_idle().await?;
    let delivered = started.elapsed();
    let messages = received.lock().map(|m| m.clone()).unwrap_or_default();
    let ids: HashSet<String> = messages
        .iter()
        .filter_map(|m| mime::header(m, "Message-ID"))
        .collect();
    println!(
        "delivery: {members} invitations made and emailed in {:.1} s ({:.0}/s); {} received, {} distinct Message-IDs",
        delivered.as_secs_f64(),
        members as f64 / delivered.as_secs_f64(),
        messages.len(),
        ids.len()
    );
    let tokens: Vec<String> = messages
        .iter()
        .filter_map(|m| mime::body_part(m, "text/plain"))
        .filter_map(|text| {
            let start = text.find("/t/c/")? + 5;
            text[start..].split_whitespace().next().map(str::to_owned)
        })
        .collect();
    let tokens = Arc::new(tokens);
    let events_before = |kind: &'static str| {
        let db = state.db.writer().clone();
        async move {
            tracking_event::Entity::find()
                .filter(tracking_event::Column::Kind.eq(kind))
                .count(&db)
                .await
        }
    };

    // The server, on loopback.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let router = http::router(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });

    let mut rows = Vec::new();
    let requests = 100_000;
    // The baseline twice, as the tracking routes below: as fast as 64 connections go,
    // then at the target's 10,000 a second (the tail the machine itself gives a route
    // that does nothing).
    let paced = 10_000.0;
    rows.push(row(
        "GET /healthz (baseline)",
        load(address, 64, requests, 200, Arc::new(|_| get("/healthz"))).await?,
    ));
    rows.push(row(
        &format!("GET /healthz (baseline) at {paced:.0}/s"),
        send(
            address,
            64,
            requests,
            Some(paced),
            200,
            Arc::new(|_| get("/healthz")),
        )
        .await?,
    ));
    // Each tracking route twice: as fast as 64 connections go, then at the target's
    // 10,000 a second (its p99 is the target's).
    let mut stored = Vec::new();
    let mut batches = Vec::new();
    for (route, kind, status) in [("o", "opened", 200), ("c", "clicked", 302)] {
        let name = if route == "o" {
            "tracking image"
        } else {
            "tracking link"
        };
        for rate in [None, Some(paced)] {
            let before = events_before(kind).await?;
            let stats_before = state.tracker.stats();
            let t = Arc::clone(&tokens);
            let make: Arc<dyn Fn(usize) -> Vec<u8> + Send + Sync> =
                Arc::new(move |i| get(&format!("/t/{route}/{}", t[i % t.len()])));
            let (what, measured) = match rate {
                None => (
                    format!("GET /t/{route}/<token> ({name})"),
                    load(address, 64, requests, status, make).await?,
                ),
                Some(rate) => (
                    format!("GET /t/{route}/<token> ({name}) at {rate:.0}/s"),
                    send(address, 64, requests, Some(rate), status, make).await?,
                ),
            };
            rows.push(row(&what, measured));
            batches.push((what.clone(), stats_before, state.tracker.stats()));
            stored.push((what, events_before(kind).await? - before));
        }
    }
    for (what, events) in stored {
        println!("events stored: {events} {what} of {requests} requests");
    }
    for (what, before, after) in batches {
        println!("{}", batch_line(&what, &before, &after));
    }

    let t = Arc::clone(&tokens);
    let fetch = "query($t: String!) { invitationByToken(token: $t) { stage consultation { title questions { key kind required } } savedAnswers { questionKey } } }";
    rows.push(row(
        "POST /graphql invitationByToken",
        load(
            address,
            64,
            20_000,
            200,
            Arc::new(move |i| {
                post_graphql(
                    &serde_json::json!({ "query": fetch, "variables": { "t": t[i % t.len()] } }),
                )
            }),
        )
        .await?,
    ));

    // Submissions: 200 clients, each token submitted by one client, and each client
    // repeating its first submission at the end.
    let submitters = 200;
    let submissions = tokens.len().min(20_000);
    let t = Arc::clone(&tokens);
    let submit = "mutation($input: ResponseSubmitInput!) { responseSubmit(input: $input) { stage duplicate } }";
    let answers: Vec<serde_json::Value> = (1..=10)
        .map(
            |i| serde_json::json!({ "questionKey": format!("commitment_{i}"), "value": 1 + i % 5 }),
        )
        .chain(std::iter::once(
            serde_json::json!({ "questionKey": "satisfaction", "value": 8 }),
        ))
        .collect();
    let answers = Arc::new(answers);
    let total = submissions + submitters;
    rows.push(row(
        "POST /graphql responseSubmit (200 clients)",
        load(
            address,
            submitters,
            total,
            200,
            Arc::new(move |i| {
                // The last round repeats each client's first token.
                let token = if i >= submissions {
                    &t[i - submissions]
                } else {
                    &t[i]
                };
                post_graphql(
                    &serde_json::json!({ "query": submit, "variables": { "input": {
                "token": token, "answers": *answers } } }),
                )
            }),
        )
        .await?,
    ));
    let responses = response::Entity::find().count(state.db.writer()).await?;
    let completed = events_before("completed").await?;
    println!(
        "submissions: {submissions} distinct tokens and {submitters} repeats; {responses} responses and {completed} completion events stored"
    );

    println!();
    println!(
        "| request | requests | per second | ÷ baseline | p50 ms | p99 ms | expected answers |"
    );
    println!("|---|---|---|---|---|---|---|");
    let baseline = rows.first().map_or(1.0, |r| r.per_second);
    for r in &rows {
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            r.what,
            r.requests,
            r.per_second,
            r.per_second / baseline,
            r.p50_ms,
            r.p99_ms,
            r.ok
        );
    }
    Ok(())
}
