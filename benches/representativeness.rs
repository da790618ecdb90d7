//! The representativeness report's benchmark (run with `cargo bench --bench
//! representativeness`): a consultation with 100,000 open-link responses, each with a
//! profile on six dimensions and two answers (a 0–10 rating and a single choice), reported
//! by `service::reports::consultation_report`: the representativeness alone (funnel,
//! every split against the census, the young people, the R-indicator: what `consultationReport`
//! works out when weighting and questions are not asked for), and in full (raking on age
//! band and sex and both questions' results, weighted and not) as an officer and as a
//! scrutiny member (with disclosure control): SCRUTINY's stored protection, and its first
//! read after a change (the protection computed and stored); then the CSV and the HTML
//! page of both copies.
//!
//! The baseline, timed in the same run on the same data, is one grouped count of the
//! responses by one dimension: the least any report of them must do. On SQLite (a file in
//! a temporary folder) always, and on PostgreSQL too when `BENCH_DATABASE_URL` names a
//! database (a schema of its own is made and dropped). `BENCH_RESPONSES` sets the number
//! of responses (default 100,000). Results are printed; BENCHMARKS.md records them.

mod common;

use common::{Numbers, on_each_database};

use std::time::{Duration, Instant};

use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, Statement};

use civic_panel::config::{Config, DatabaseConfig};
use civic_panel::db::entities::{answer, response};
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::consultations::consultation::{AnswerChannel, Step};
use civic_panel::domain::consultations::questionnaire::QuestionKind;
use civic_panel::domain::ids::{AccountId, SessionId};
use civic_panel::domain::ids::{ConsultationId, ResponseId};
use civic_panel::service::accounts::auth::{AuthSession, Caller};
use civic_panel::service::consultations::{self, ConsultationRequest, QuestionRequest};
use civic_panel::service::reports::{self, ReportOptions};
use civic_panel::service::{reports::report_csv, reports::report_html};
use civic_panel::state::caches::Publications;
use civic_panel::state::clock::Clock;
use civic_panel::{AppState, db};

const AREA: &str = "E07000083";
const RUNS: usize = 7;

/// A state over `url`, migrated, with the bundled census benchmarks.
async fn state_on(url: &str) -> anyhow::Result<AppState> {
    let database = DatabaseConfig {
        database_url: url.to_owned(),
        db_max_connections: 4,
    };
    let connection = db::connect(&database).await?;
    db::migrate(&connection).await?;
    let mut config = Config::for_tests(url);
    config.database = database;
    let state = AppState::new(connection, config, Clock::system())?;
    civic_panel::service::register::benchmarks::import(
        &state,
        &Caller::System,
        std::io::Cursor::new(civic_panel::service::demo::CENSUS_BENCHMARKS.as_bytes()),
        civic_panel::domain::text_input::TextEncoding::Utf8,
    )
    .await?;
    Ok(state)
}

/// An open consultation with a rating and a choice, and `n` responses to it.
async fn consultation_with(state: &AppState, n: usize) -> anyhow::Result<ConsultationId> {
    let system = Caller::System;
    let consultation = consultations::create(
        state,
        &system,
        ConsultationRequest {
            title: "Park survey".to_owned(),
            summary: "Tell us about the park.".to_owned(),
            open_link: true,
            reminder_gap_hours: 72,
            ..ConsultationRequest::default()
        },
    )
    .await?;
    let question = |key: &str, kind: QuestionKind, labels: &[&str]| QuestionRequest {
        key: key.to_owned(),
        text: "How happy are you with the park?".to_owned(),
        kind,
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        required: true,
        show_when: None,
        about_you: None,
    };
    consultations::set_questions(
        state,
        &system,
        consultation.id,
        vec![
            question("satisfaction", QuestionKind::Rating, &[]),
            question(
                "again",
                QuestionKind::SingleChoice {
                    options: vec!["yes".to_owned(), "no".to_owned()],
                },
                &["Yes", "No"],
            ),
        ],
    )
    .await?;
    consultations::transition(state, &system, consultation.id, Step::Open).await?;
    let bands = [
        "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54", "55-59", "60-64",
        "65-69", "70-74", "75-79", "80-84", "85+",
    ];
    let ethnic = [
        "White: English, Welsh, Scottish, Northern Irish or British",
        "White: Other White",
        "Asian, Asian British or Asian Welsh: Indian",
        "Asian, Asian British or Asian Welsh: Pakistani",
        "Black, Black British, Black Welsh, Caribbean or African: African",
        "Mixed or Multiple ethnic groups: White and Asian",
        "Other ethnic group: Any other ethnic group",
    ];
    let mut numbers = Numbers(42);
    let today = chrono::Utc::now().date_naive();
    let db = state.db.writer();
    let first_id = 1;
    for chunk in 0..n.div_ceil(1_000) {
        let size = (n - chunk * 1_000).min(1_000);
        let mut responses = Vec::with_capacity(size);
        let mut answers = Vec::with_capacity(2 * size);
        for i in 0..size {
            let id = (first_id + chunk * 1_000 + i) as i64;
            // Older people and women answer more, as they do.
            let band = bands[(numbers.below(10) + numbers.below(6)) as usize % bands.len()];
            let given = |numbers: &mut Numbers, value: &str| {
                (numbers.below(20) != 0).then(|| value.to_owned())
            };
            let sex = if numbers.below(100) < 56 {
                "female"
            } else {
                "male"
            };
            let disability = if numbers.below(5) == 0 {
                "Disabled under the Equality Act"
            } else {
                "Not disabled under the Equality Act"
            };
            let ethnic_group = ethnic[(numbers.below(100) as usize).min(93) / 15 % ethnic.len()];
            responses.push(response::ActiveModel {
                id: Set(ResponseId(id)),
                consultation_id: Set(consultation.id),
                invitation_id: Set(None),
                submission_key: Set(Some(format!("k{id}"))),
                channel: Set(AnswerChannel::Qr),
                submitted_on: Set(today),
                submitted_at: Set(None),
                age_band: Set(given(&mut numbers, band)),
                sex: Set(given(&mut numbers, sex)),
                ethnic_group: Set(given(&mut numbers, ethnic_group)),
                disability: Set(given(&mut numbers, disability)),
                ward_code: Set(Some(format!("E050100{:02}", numbers.below(20)))),
                deprivation_decile: Set(Some(1 + numbers.below(10) as i16)),
            });
            answers.push(answer::ActiveModel {
                response_id: Set(ResponseId(id)),
                question_key: Set("satisfaction".to_owned()),
                scale: Set(Some(numbers.below(11) as i16)),
                ..Default::default()
            });
            answers.push(answer::ActiveModel {
                response_id: Set(ResponseId(id)),
                question_key: Set("again".to_owned()),
                option_key: Set(Some(
                    if numbers.below(3) == 0 { "no" } else { "yes" }.to_owned(),
                )),
                ..Default::default()
            });
        }
        response::Entity::insert_many(responses).exec(db).await?;
        answer::Entity::insert_many(answers).exec(db).await?;
    }
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        // Responses were written with their ids; move the sequence past them.
        db.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('responses', 'id'), (SELECT MAX(id) FROM responses))",
        )
        .await?;
        db.execute_unprepared("ANALYZE responses").await?;
        db.execute_unprepared("ANALYZE answers").await?;
    }
    Ok(consultation.id)
}

/// The fastest and the median of `RUNS` timings of `work`.
async fn timed<F, Fut>(mut work: F) -> anyhow::Result<(Duration, Duration)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    work().await?; // warm caches
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        work().await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok((times[0], times[RUNS / 2]))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

async fn bench(name: &str, url: &str, n: usize) -> anyhow::Result<()> {
    let state = state_on(url).await?;
    let started = Instant::now();
    let id = consultation_with(&state, n).await?;
    println!(
        "{name}: {n} responses written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let options = ReportOptions {
        area_code: Some(AREA.to_owned()),
        ..ReportOptions::default()
    };
    let db = state.db.reader();
    let baseline = timed(|| async {
        db.query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT age_band, COUNT(*) FROM responses WHERE consultation_id = $1 GROUP BY 1",
            [id.get().into()],
        ))
        .await?;
        Ok(())
    })
    .await?;
    println!(
        "{name}: baseline, one grouped count by one dimension: best {:.1} ms, median {:.1} ms",
        ms(baseline.0),
        ms(baseline.1)
    );
    let scrutiny = Caller::Session(AuthSession {
        session_id: SessionId(1),
        account_id: AccountId(1),
        role: Role::Scrutiny,
    });
    let representativeness = ReportOptions {
        results: false,
        ..options.clone()
    };
    for (who, caller, options) in [
        (
            "officer, representativeness only",
            Caller::System,
            &representativeness,
        ),
        ("officer, with weighted results", Caller::System, &options),
        (
            "scrutiny, with weighted results",
            scrutiny.clone(),
            &options,
        ),
    ] {
        let report = reports::consultation_report(&state, &caller, id, options).await?;
        let respondents = report.funnel.totals[reports::RESPONDENTS];
        let (best, median) = timed(|| async {
            reports::consultation_report(&state, &caller, id, options).await?;
            Ok(())
        })
        .await?;
        println!(
            "{name}: full report as {who}: best {:.1} ms, median {:.1} ms ({:.1}x / {:.1}x the baseline); {respondents:?} respondents, weighted {}, n_eff {:.0}",
            ms(best),
            ms(median),
            ms(best) / ms(baseline.0),
            ms(median) / ms(baseline.1),
            report.weighting.weighted,
            report.weighting.effective_n.unwrap_or(0.0),
        );
    }
    // SCRUTINY's first read after a change of the counts (nothing stored, nothing
    // remembered: the protection is computed and stored), and the CSV and HTML page of
    // both copies once stored.
    let mut cold = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        state
            .db
            .writer()
            .execute_unprepared("DELETE FROM publications")
            .await?;
        let fresh = AppState {
            publications: Publications::default(),
            ..state.clone()
        };
        let started = Instant::now();
        reports::consultation_report(&fresh, &scrutiny, id, &options).await?;
        cold.push(started.elapsed());
    }
    cold.sort();
    println!(
        "{name}: full report as scrutiny, first read after a change: best {:.1} ms, median {:.1} ms",
        ms(cold[0]),
        ms(cold[RUNS / 2])
    );
    for (who, caller) in [("officer", Caller::System), ("scrutiny", scrutiny.clone())] {
        for (file, html) in [("CSV", false), ("HTML page", true)] {
            let (best, median) = timed(|| async {
                let report = reports::consultation_report(&state, &caller, id, &options).await?;
                if html {
                    report_html::html(&report);
                } else {
                    report_csv::csv(&report)?;
                }
                Ok(())
            })
            .await?;
            println!(
                "{name}: report and its {file} as {who}: best {:.1} ms, median {:.1} ms",
                ms(best),
                ms(median)
            );
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("BENCH_RESPONSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    on_each_database(|name, url| async move { bench(name, &url, n).await })
}
