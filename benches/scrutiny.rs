//! SCRUTINY's reports beside OFFICER's (run with `cargo bench --bench scrutiny`): a panel
//! of `BENCH_MEMBERS` members (default 1,000) of every age, both sexes, seven ethnic
//! groups, twenty wards and ten deciles, reached by email, text message and post; a
//! consultation with every question kind, its invitations spread over the funnel (a
//! quarter completed, every answer written), a few open-link responses; a second panel
//! selected from the same registrants by maximin and drawn; the recruitment round they
//! came from.
//!
//! For each report (the consultation's report, the panel's health, the selection run's
//! report, the round's status) and for the consultation's CSV and HTML page, the time of
//! OFFICER's copy and of SCRUTINY's, in the same run: *cold* is SCRUTINY's first read
//! after a change of the counts (nothing stored, nothing remembered: the protection is
//! computed and stored), *warm* a read once it is stored. Best and median of `RUNS`
//! after one to warm caches. What each protection hides is printed too. On SQLite (a
//! file in a temporary folder), and on PostgreSQL too when `BENCH_DATABASE_URL` names a
//! database (a schema of its own is made and dropped). BENCHMARKS.md records the results.

mod common;

use common::{Numbers, on_each_database};

use std::time::{Duration, Instant};

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use civic_panel::config::{Config, DatabaseConfig};
use civic_panel::db::entities::{answer, invitation, letter, membership, resident, response};
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::consultations::consultation::{AnswerChannel, Channel, Step};
use civic_panel::domain::consultations::questionnaire::QuestionKind;
use civic_panel::domain::consultations::tracking::Stage;
use civic_panel::domain::ids::{
    AccountId, ConsultationId, PanelId, ResponseId, RoundId, SelectionRunId, SessionId,
};
use civic_panel::domain::panels::panel::MembershipStatus;
use civic_panel::domain::reports::disclosure::tables::{self as disclosure, Loss};
use civic_panel::service::accounts::auth::{AuthSession, Caller};
use civic_panel::service::consultations::invitations::{self, InviteJob, InviteRequest};
use civic_panel::service::consultations::{self, ConsultationRequest, QuestionRequest};
use civic_panel::service::panels::{self, PanelRequest};
use civic_panel::service::recruitment::{self, RoundRequest};
use civic_panel::service::selection::{self, DrawnNumber, Method, SelectionJob, SelectionRequest};
use civic_panel::service::{
    demo, panels::panel_report, recruitment::round_status, register::addresses, reports,
    reports::report_csv, reports::report_html, selection::selection_report,
};
use civic_panel::state::caches::Publications;
use civic_panel::state::clock::Clock;
use civic_panel::state::progress::Progress;
use civic_panel::{AppState, db};

const AREA: &str = "E07000083";
const RUNS: usize = 7;

const ETHNIC: [&str; 7] = [
    "White: English, Welsh, Scottish, Northern Irish or British",
    "White: Other White",
    "Asian, Asian British or Asian Welsh: Indian",
    "Asian, Asian British or Asian Welsh: Pakistani",
    "Black, Black British, Black Welsh, Caribbean or African: African",
    "Mixed or Multiple ethnic groups: White and Asian",
    "Other ethnic group: Any other ethnic group",
];

/// What the bench reads.
struct Subjects {
    consultation: ConsultationId,
    panel: PanelId,
    run: SelectionRunId,
    round: RoundId,
}

fn question(key: &str, kind: QuestionKind, labels: &[&str]) -> QuestionRequest {
    QuestionRequest {
        key: key.to_owned(),
        text: format!("Question {key}?"),
        kind,
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        required: false,
        show_when: None,
        about_you: None,
    }
}

fn options(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| (*k).to_owned()).collect()
}

/// A state over `url`, migrated, with the bundled census benchmarks and a panel, a
/// consultation, a selection run and a round as described above.
async fn setup(url: &str, members: usize) -> anyhow::Result<(AppState, Subjects)> {
    let database = DatabaseConfig {
        database_url: url.to_owned(),
        db_max_connections: 4,
    };
    let connection = db::connect(&database).await?;
    db::migrate(&connection).await?;
    let mut config = Config::for_tests(url);
    config.database = database;
    let state = AppState::new(connection, config, Clock::system())?;
    let system = Caller::System;
    civic_panel::service::register::benchmarks::import(
        &state,
        &system,
        std::io::Cursor::new(demo::CENSUS_BENCHMARKS.as_bytes()),
        civic_panel::domain::text_input::TextEncoding::Utf8,
    )
    .await?;
    let mut per_postcode = 2.0;
    let register = loop {
        let register = demo::tewkesbury_register(per_postcode)?;
        if register.len() >= members * 4 {
            break register;
        }
        per_postcode *= 2.0;
    };
    addresses::import(
        &state,
        std::io::Cursor::new(demo::register_csv(&register)?),
        addresses::ImportOptions::default(),
        &Progress::new(),
        None,
    )
    .await?;
    let input = recruitment::validate(RoundRequest {
        name: "Panel".to_owned(),
        letters: i64::try_from(members * 2)?,
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
    let now = state.clock.now();
    let today = now.date_naive();
    let mut numbers = Numbers(2026);
    let mut rows = Vec::new();
    for (n, l) in letters.iter().take(members).enumerate() {
        let age = 16 + (numbers.below(40) + numbers.below(40)) as i32;
        let reach = numbers.below(20);
        rows.push(resident::ActiveModel {
            account_id: Set(None),
            letter_id: Set(l.id),
            round_id: Set(round),
            address_id: Set(l.address_id),
            household_key: Set(format!("H{n}")),
            household_lock: Set(None),
            ward_code: Set(format!("E050100{:02}", numbers.below(20))),
            deprivation_decile: Set(Some(1 + numbers.below(10) as i16)),
            full_name: Set(format!("Member {n}")),
            email: Set((reach < 16).then(|| format!("member{n}@example.org"))),
            phone: Set((16..19).contains(&reach).then(|| format!("+4477009{n:05}"))),
            date_of_birth: Set(today
                .checked_sub_months(chrono::Months::new(age as u32 * 12 + 3))
                .unwrap_or(today)),
            sex: Set(if numbers.below(100) < 53 {
                "female"
            } else {
                "male"
            }
            .to_owned()),
            ethnic_group: Set(ETHNIC[(numbers.below(100) as usize).min(93) / 15 % 7].to_owned()),
            disability: Set(if numbers.below(5) == 0 {
                "Disabled under the Equality Act"
            } else {
                "Not disabled under the Equality Act"
            }
            .to_owned()),
            registered_at: Set(now),
            incentive_owed: Set(false),
            incentive_fulfilled_at: Set(None),
            withdrawn_at: Set(None),
            ..Default::default()
        });
    }
    for chunk in rows.chunks(500) {
        resident::Entity::insert_many(chunk.to_vec())
            .exec(state.db.writer())
            .await?;
    }
    // Every letter printed; those of registrants, and a few more, redeemed.
    let db = state.db.writer();
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE letters SET exported_at = $1 WHERE round_id = $2",
        [now.into(), round.get().into()],
    ))
    .await?;
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE letters SET redeemed_at = $1 \
         WHERE id IN (SELECT letter_id FROM residents) OR id % 50 = 3",
        [now.into()],
    ))
    .await?;
    let residents: Vec<i64> = resident::Entity::find()
        .all(state.db.writer())
        .await?
        .into_iter()
        .map(|r| r.id.get())
        .collect();
    let panel = panels::create(
        &state,
        &system,
        PanelRequest {
            name: "Residents Panel".to_owned(),
            target_size: i64::try_from(members)?,
            term_months: 24,
            ..PanelRequest::default()
        },
    )
    .await?;
    let mut rows = Vec::new();
    for (i, id) in residents.iter().enumerate() {
        rows.push(membership::ActiveModel {
            panel_id: Set(panel.id),
            resident_id: Set(civic_panel::domain::ids::ResidentId(*id)),
            run_id: Set(None),
            status: Set(if i % 20 == 7 {
                MembershipStatus::Withdrawn
            } else {
                MembershipStatus::Active
            }),
            selected_at: Set(now),
            term_ends_at: Set(None),
            updated_at: Set(now),
            ..Default::default()
        });
    }
    for chunk in rows.chunks(500) {
        membership::Entity::insert_many(chunk.to_vec())
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
            open_link: true,
            reminder_gap_hours: 72,
            ..ConsultationRequest::default()
        },
    )
    .await?;
    let services = options(&["bins", "parks", "libraries", "leisure", "housing"]);
    consultations::set_questions(
        &state,
        &system,
        consultation.id,
        vec![
            question("satisfaction", QuestionKind::Rating, &[]),
            question("priorities", QuestionKind::Agreement, &[]),
            question(
                "area",
                QuestionKind::SingleChoice {
                    options: options(&["good", "fair", "poor", "unsure"]),
                },
                &["Good", "Fair", "Poor", "Not sure"],
            ),
            question(
                "services",
                QuestionKind::MultipleChoice {
                    options: services.clone(),
                    max: None,
                },
                &["Bins", "Parks", "Libraries", "Leisure", "Housing"],
            ),
            question(
                "contact",
                QuestionKind::MultipleChoice {
                    options: options(&["email", "letter", "phone"]),
                    max: Some(1),
                },
                &["Email", "Letter", "Phone"],
            ),
            question(
                "spend",
                QuestionKind::Ranking {
                    options: options(&["roads", "schools", "care", "parks"]),
                },
                &["Roads", "Schools", "Care", "Parks"],
            ),
            question("why", QuestionKind::FreeText { max_chars: 500 }, &[]),
        ],
    )
    .await?;
    consultations::transition(&state, &system, consultation.id, Step::Open).await?;
    invitations::run_invite(
        &state,
        &InviteJob {
            consultation_id: consultation.id,
            request: InviteRequest { prefer: None },
        },
        &Progress::new(),
    )
    .await?;
    // The funnel: a quarter completed, the rest spread over the stages before.
    let invited = invitation::Entity::find()
        .filter(invitation::Column::ConsultationId.eq(consultation.id))
        .all(state.db.writer())
        .await?;
    let profiles: std::collections::HashMap<i64, resident::Model> = resident::Entity::find()
        .all(state.db.writer())
        .await?
        .into_iter()
        .map(|r| (r.id.get(), r))
        .collect();
    let db = state.db.writer();
    let mut answers = Vec::new();
    let mut next_response = 1i64;
    for invitation in &invited {
        let roll = numbers.below(100);
        let stage = match roll {
            0..25 => Stage::Completed,
            25..35 => Stage::Started,
            35..50 => Stage::Clicked,
            50..70 => Stage::Opened,
            70..97 => Stage::Sent,
            _ => Stage::Created,
        };
        let reached = |s: Stage| (stage >= s).then_some(now);
        invitation::Entity::update(invitation::ActiveModel {
            id: Set(invitation.id),
            stage: Set(stage),
            sent_at: Set(reached(Stage::Sent)),
            opened_at: Set(reached(Stage::Opened).filter(|_| invitation.channel == Channel::Email)),
            clicked_at: Set(reached(Stage::Clicked)),
            started_at: Set(reached(Stage::Started)),
            completed_at: Set(reached(Stage::Completed)),
            completed_channel: Set(reached(Stage::Completed).map(|_| AnswerChannel::Web)),
            ..Default::default()
        })
        .exec(db)
        .await?;
        if stage != Stage::Completed {
            continue;
        }
        let member = &profiles[&invitation.resident_id.get()];
        let id = next_response;
        next_response += 1;
        response::Entity::insert(response::ActiveModel {
            id: Set(ResponseId(id)),
            consultation_id: Set(consultation.id),
            invitation_id: Set(Some(invitation.id)),
            submission_key: Set(None),
            channel: Set(AnswerChannel::Web),
            submitted_on: Set(today),
            submitted_at: Set(Some(now)),
            age_band: Set(civic_panel::domain::register::demographics::age_on(
                member.date_of_birth,
                today,
            )
            .map(|a| civic_panel::domain::register::demographics::AgeBand::of(a).label())),
            sex: Set(Some(member.sex.clone())),
            ethnic_group: Set(Some(member.ethnic_group.clone())),
            disability: Set(Some(member.disability.clone())),
            ward_code: Set(Some(member.ward_code.clone())),
            deprivation_decile: Set(member.deprivation_decile),
        })
        .exec(db)
        .await?;
        answers.extend(answers_of(id, &mut numbers, &services));
    }
    // A few answers through the open link.
    for k in 0..30 {
        let id = next_response;
        next_response += 1;
        response::Entity::insert(response::ActiveModel {
            id: Set(ResponseId(id)),
            consultation_id: Set(consultation.id),
            invitation_id: Set(None),
            submission_key: Set(Some(format!("{}:open{k}", consultation.id.get()))),
            channel: Set(AnswerChannel::Qr),
            submitted_on: Set(today),
            submitted_at: Set(None),
            age_band: Set(Some(["20-24", "35-39", "50-54", "70-74"][k % 4].to_owned())),
            sex: Set(Some(if k % 3 == 0 { "male" } else { "female" }.to_owned())),
            ethnic_group: Set(Some(ETHNIC[0].to_owned())),
            disability: Set(None),
            ward_code: Set(None),
            deprivation_decile: Set(None),
        })
        .exec(db)
        .await?;
        answers.extend(answers_of(id, &mut numbers, &services));
    }
    for chunk in answers.chunks(500) {
        answer::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        db.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('responses', 'id'), (SELECT MAX(id) FROM responses))",
        )
        .await?;
    }
    // A second panel, selected from the same registrants and drawn.
    let chosen = panels::create(
        &state,
        &system,
        PanelRequest {
            name: "Citizens' Assembly".to_owned(),
            target_size: 40,
            term_months: 12,
            ..PanelRequest::default()
        },
    )
    .await?;
    panels::import_quotas(
        &state,
        &system,
        chosen.id,
        "feature,value,min,max\nsex,female,15,25\nsex,male,15,25\n\
         disability,Disabled under the Equality Act,4,12\n\
         disability,Not disabled under the Equality Act,28,36\n",
    )
    .await?;
    let (run, _) = selection::start(
        &state,
        &system,
        SelectionRequest {
            panel: chosen.id,
            method: Method::Maximin,
            seed: Some("11".to_owned()),
            tickets: 1_000,
            greedy_runs: 100,
            time_limit_seconds: 300,
            top_up: false,
        },
    )
    .await?;
    selection::run(&state, &SelectionJob { run_id: run.id }, &Progress::new()).await?;
    selection::draw(&state, &system, run.id, DrawnNumber::Entered(1)).await?;
    Ok((
        state,
        Subjects {
            consultation: consultation.id,
            panel: panel.id,
            run: run.id,
            round,
        },
    ))
}

/// One respondent's answers to every question.
fn answers_of(id: i64, numbers: &mut Numbers, services: &[String]) -> Vec<answer::ActiveModel> {
    let row = |key: &str| answer::ActiveModel {
        response_id: Set(ResponseId(id)),
        question_key: Set(key.to_owned()),
        ..Default::default()
    };
    let mut rows = vec![
        answer::ActiveModel {
            scale: Set(Some(numbers.below(11) as i16)),
            ..row("satisfaction")
        },
        answer::ActiveModel {
            scale: Set(Some(1 + numbers.below(5) as i16)),
            ..row("priorities")
        },
        answer::ActiveModel {
            option_key: Set(Some(
                ["good", "fair", "poor", "unsure"][numbers.below(4) as usize].to_owned(),
            )),
            ..row("area")
        },
        answer::ActiveModel {
            option_key: Set(Some(
                ["email", "letter", "phone"][(numbers.below(10) as usize).min(8) / 4].to_owned(),
            )),
            ..row("contact")
        },
        answer::ActiveModel {
            text: Set(Some("A comment.".to_owned())),
            ..row("why")
        },
    ];
    let mut ticked = false;
    for (i, service) in services.iter().enumerate() {
        if numbers.below(10) < [8, 5, 2, 3, 1][i] || (!ticked && i + 1 == services.len()) {
            ticked = true;
            rows.push(answer::ActiveModel {
                option_key: Set(Some(service.clone())),
                ..row("services")
            });
        }
    }
    let first = numbers.below(4) as usize;
    for (rank, option) in ["roads", "schools", "care", "parks"]
        .iter()
        .cycle()
        .skip(first)
        .take(4)
        .enumerate()
    {
        rows.push(answer::ActiveModel {
            option_key: Set(Some((*option).to_owned())),
            rank: Set(Some(rank as i32 + 1)),
            ..row("spend")
        });
    }
    rows
}

/// The fastest and the median of `RUNS` timings of `work`, each after `before`.
async fn timed<B, BF, F, Fut>(mut before: B, mut work: F) -> anyhow::Result<(Duration, Duration)>
where
    B: FnMut() -> BF,
    BF: std::future::Future<Output = anyhow::Result<()>>,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    before().await?;
    work().await?; // warm caches
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        before().await?;
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

fn scrutiny() -> Caller {
    Caller::Session(AuthSession {
        session_id: SessionId(1),
        account_id: AccountId(1),
        role: Role::Scrutiny,
    })
}

/// A report read as a caller, as what the timings time.
#[derive(Clone, Copy)]
enum Read {
    Report,
    Csv,
    Html,
    Panel,
    Selection,
    Round,
}

async fn read(
    state: &AppState,
    caller: &Caller,
    subjects: &Subjects,
    what: Read,
) -> anyhow::Result<()> {
    let options = reports::ReportOptions {
        area_code: Some(AREA.to_owned()),
        ..reports::ReportOptions::default()
    };
    match what {
        Read::Report | Read::Csv | Read::Html => {
            let report =
                reports::consultation_report(state, caller, subjects.consultation, &options)
                    .await?;
            match what {
                Read::Csv => {
                    report_csv::csv(&report)?;
                }
                Read::Html => {
                    report_html::html(&report);
                }
                _ => {}
            }
        }
        Read::Panel => {
            panel_report::panel_report(
                state,
                caller,
                subjects.panel,
                &options,
                reports::ReportDimension::AgeBand,
            )
            .await?;
        }
        Read::Selection => {
            selection_report::published(state, caller, subjects.run).await?;
        }
        Read::Round => {
            round_status::statuses(state, caller, &[subjects.round]).await?;
        }
    }
    Ok(())
}

/// Forgets every stored and remembered protection: the next read is the first after a
/// change.
async fn forget(state: &mut AppState) -> anyhow::Result<()> {
    state
        .db
        .writer()
        .execute_unprepared("DELETE FROM publications")
        .await?;
    state.publications = Publications::default();
    Ok(())
}

async fn bench(name: &str, url: &str, members: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let (state, subjects) = setup(url, members).await?;
    let report = reports::consultation_report(
        &state,
        &Caller::System,
        subjects.consultation,
        &reports::ReportOptions {
            area_code: Some(AREA.to_owned()),
            ..reports::ReportOptions::default()
        },
    )
    .await?;
    println!(
        "{name}: {members} members written, invited, answered, selected in {:.1} s; funnel {:?}",
        started.elapsed().as_secs_f64(),
        report.funnel.totals
    );
    let options = reports::ReportOptions {
        area_code: Some(AREA.to_owned()),
        ..reports::ReportOptions::default()
    };
    let officer = Caller::System;
    println!(
        "{name}: | read | officer best / median | scrutiny cold best / median | ÷ officer | scrutiny warm best / median | ÷ officer |"
    );
    for (label, what) in [
        ("consultation report", Read::Report),
        ("its CSV", Read::Csv),
        ("its HTML page", Read::Html),
        ("panel report", Read::Panel),
        ("selection report", Read::Selection),
        ("round status", Read::Round),
    ] {
        let cell = std::cell::RefCell::new(state.clone());
        let o = timed(
            || async { Ok(()) },
            || async { read(&state, &officer, &subjects, what).await },
        )
        .await?;
        let cold = timed(
            || async {
                let mut s = cell.borrow().clone();
                forget(&mut s).await?;
                *cell.borrow_mut() = s;
                Ok(())
            },
            || async {
                let s = cell.borrow().clone();
                read(&s, &scrutiny(), &subjects, what).await
            },
        )
        .await?;
        let warm = timed(
            || async { Ok(()) },
            || async { read(&state, &scrutiny(), &subjects, what).await },
        )
        .await?;
        println!(
            "{name}: | {label} | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {:.1} | {:.1} / {:.1} ms | {:.1} |",
            ms(o.0),
            ms(o.1),
            ms(cold.0),
            ms(cold.1),
            ms(cold.1) / ms(o.1),
            ms(warm.0),
            ms(warm.1),
            ms(warm.1) / ms(o.1),
        );
    }
    // What each protection hides.
    let threshold = state.config.disclosure_threshold;
    let lost = |(p, t, h): (Vec<_>, Vec<_>, Vec<_>)| -> anyhow::Result<Loss> {
        Ok(disclosure::loss(&p, &t, &h, threshold)?)
    };
    for (label, loss) in [
        (
            "consultation report",
            lost(reports::protection_of(&state, subjects.consultation, &options).await?)?,
        ),
        (
            "panel report",
            lost(panel_report::protection_of(&state, subjects.panel, &options).await?)?,
        ),
        (
            "selection report",
            lost(selection_report::protection_of(&state, subjects.run).await?)?,
        ),
        (
            "round status",
            lost(round_status::protection_of(&state, subjects.round).await?)?,
        ),
    ] {
        println!("{name}: hidden in the {label}: {loss:?}");
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let members: usize = std::env::var("BENCH_MEMBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    on_each_database(|name, url| async move { bench(name, &url, members).await })
}
