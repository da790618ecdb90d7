//! The `civic-panel` command line: `serve`, `worker`, `migrate`, `create-admin`, imports,
//! lottery tools, `demo`, `export-schema`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::config::{Config, DatabaseConfig, LogFormat};
use crate::domain::accounts::role::Role;
use crate::domain::ids::RoundId;
use crate::domain::recruitment::draw_record::{DrawRecord, RecordCheck};
use crate::domain::text_input::TextEncoding;
use crate::jobs::mail::Mailer;
use crate::jobs::worker::Worker;
use crate::service::accounts::auth::Caller;
use crate::service::accounts::{self, NewAccount};
use crate::service::recruitment::{self, Verification};
use crate::service::register::addresses::{self, ImportOptions};
use crate::service::{demo as demo_data, recruitment::letters, register::benchmarks};
use crate::state::AppState;
use crate::state::clock::Clock;
use crate::state::progress::Progress;
use crate::{db, graphql, http, telemetry};

/// civic-panel: recruit, run and report on a representative residents' panel.
#[derive(Debug, Parser)]
#[command(name = "civic-panel", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the GraphQL server (migrating the database first), with a background worker
    /// beside it unless CIVIC_PANEL_WORKER=false.
    Serve(Box<Config>),
    /// Run only the background worker: jobs (draws, exports, imports, login links) and
    /// message delivery. Any number may share one PostgreSQL database.
    Worker(Box<Config>),
    /// Bring the database schema up to date, then exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Create an ADMIN account. The password comes from CIVIC_PANEL_ADMIN_PASSWORD or a prompt.
    CreateAdmin {
        /// The admin's email address.
        #[arg(long)]
        email: String,
        /// How the admin is addressed.
        #[arg(long, default_value = "Administrator")]
        name: String,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Import a CSV file: the address register or census benchmarks.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Recruitment lottery tools: verify a draw, export a round's letters.
    Lottery {
        #[command(subcommand)]
        what: LotteryCommand,
    },
    /// Load the demo: a synthetic Tewkesbury register (real postcodes and wards, made-up
    /// households) and the real Census 2021 benchmarks.
    Demo {
        /// Households per postcode (the UK average is about 15).
        #[arg(long, default_value_t = 15.0)]
        households_per_postcode: f64,
        /// Only write the synthetic register CSV here; import nothing.
        #[arg(long)]
        write_register: Option<PathBuf>,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Select a panel from a pool against quotas, with no database: reads a people CSV
    /// (an `id` column and one column per feature) and a quotas CSV
    /// (`feature,value,min,max`), and writes probabilities.csv and panel.csv.
    Select {
        /// The pool: an `id` column (else the row number is the id) and a column per feature.
        #[arg(long)]
        people: PathBuf,
        /// The quotas: `feature,value,min,max` (or `category,feature,min,max`).
        #[arg(long)]
        quotas: PathBuf,
        /// Panel size.
        #[arg(long)]
        k: u32,
        /// The people file's column naming each person's household: at most one person
        /// per household is selected (an empty cell is a household of one).
        #[arg(long, value_name = "COLUMN")]
        household: Option<String>,
        /// `leximin` (the fairest distribution), `maximin` (only the lowest probability
        /// as high as it can be) or `greedy` (the legacy method, its probabilities
        /// estimated from repeated runs).
        #[arg(long, default_value = "leximin", value_parser = ["leximin", "maximin", "greedy"])]
        method: String,
        /// Runs of the greedy method to estimate its probabilities.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
        /// Seed of the draw (and of the greedy runs); a random one when absent.
        #[arg(long)]
        seed: Option<u64>,
        /// Seconds the solver may take.
        #[arg(long, default_value_t = 300)]
        time_limit: u64,
        /// Tickets in the transparent lottery the distribution is rounded to.
        #[arg(long, default_value_t = 1_000)]
        tickets: u32,
        /// The ticket drawn in public (1 to --tickets); drawn from the seed when absent.
        #[arg(long)]
        number: Option<u32>,
        /// Folder to write probabilities.csv and panel.csv into (created if missing).
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Print the GraphQL schema (SDL, sorted), or write it to a file.
    ExportSchema {
        /// Write here instead of standard output (e.g. `schema.graphql`).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// The address register (CSV with UPRN, line1, postcode, ward code, …), with progress.
    Addresses {
        /// The CSV file.
        file: PathBuf,
        /// The file's character encoding: utf-8 (default), or windows-1252 (also
        /// latin1, cp1252, iso-8859-1) for plain "CSV" saved by Excel.
        #[arg(long, default_value = "utf-8", value_parser = parse_encoding)]
        encoding: TextEncoding,
        /// Where to write every refused row as CSV (line, key, column, reason). By
        /// default `<file>.rejected.csv` beside the file, written only when rows are refused.
        #[arg(long)]
        rejections: Option<PathBuf>,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Census benchmarks (`area_code,area_name,dimension,category,count,universe`).
    Benchmarks {
        /// The CSV file.
        file: PathBuf,
        /// The file's character encoding: utf-8 (default) or windows-1252.
        #[arg(long, default_value = "utf-8", value_parser = parse_encoding)]
        encoding: TextEncoding,
        #[command(flatten)]
        config: Box<Config>,
    },
}

#[derive(Debug, Subcommand)]
enum LotteryCommand {
    /// Re-run a round's draw and compare it with the letters written at the time, from
    /// the round's draw record (so later register changes do not matter); or, with
    /// --frame, re-run a published draw record with no database at all. Exits 0 when
    /// identical.
    Verify {
        /// The round's number (or its GraphQL ID).
        #[arg(required_unless_present = "frame", conflicts_with = "frame")]
        round: Option<String>,
        /// A draw record file (from `lottery publish` or a council's website).
        #[arg(long, value_name = "FILE")]
        frame: Option<PathBuf>,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Write a round's draw record (its frame of eligible address keys, wards and
    /// weights, the seed, the parameters and the keys drawn) for publication.
    Publish {
        /// The round's number (or its GraphQL ID).
        round: String,
        /// The file to write (refused if it exists).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Mint codes and write the printer's files: letters.csv, addresses.csv, qr/*.png|svg.
    Export {
        /// The round's number (or its GraphQL ID).
        round: String,
        /// Folder to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Replace the codes of every unredeemed letter (the old ones stop working).
        #[arg(long)]
        reissue: bool,
        #[command(flatten)]
        config: Box<Config>,
    },
}

/// Parses the command line and runs the command.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(config) => serve(*config).await,
        Command::Worker(config) => worker(*config).await,
        Command::Migrate { database } => {
            telemetry::init(LogFormat::Text);
            let connection = db::connect(&database).await?;
            db::migrate(&connection).await?;
            tracing::info!("database is up to date");
            Ok(())
        }
        Command::CreateAdmin {
            email,
            name,
            config,
        } => create_admin(*config, &email, &name).await,
        Command::Import { what } => match what {
            ImportCommand::Addresses {
                file,
                encoding,
                rejections,
                config,
            } => import_addresses(*config, &file, encoding, rejections).await,
            ImportCommand::Benchmarks {
                file,
                encoding,
                config,
            } => {
                telemetry::init(config.log_format);
                let state = open(*config).await?;
                let file = std::fs::File::open(&file)
                    .with_context(|| format!("cannot open {}", file.display()))?;
                let summary = benchmarks::import(&state, &Caller::System, file, encoding).await?;
                println!(
                    "{} benchmark counts written, {} rows rejected.",
                    summary.written,
                    summary.rejected.len()
                );
                for r in &summary.rejected {
                    println!("  line {}: {}", r.line, r.reason);
                }
                if !summary.unmatched.is_empty() {
                    println!(
                        "{} rows name a category no profile can match (see README, \
                         \"Benchmark vocabulary\"); they are kept but compared with nobody:",
                        summary.unmatched.len()
                    );
                    for u in &summary.unmatched {
                        println!("  line {}: {} \"{}\"", u.line, u.dimension, u.category);
                    }
                }
                Ok(())
            }
        },
        Command::Lottery { what } => match what {
            LotteryCommand::Verify {
                round: Some(round),
                frame: None,
                config,
            } => verify_round(*config, &round).await,
            LotteryCommand::Verify {
                frame: Some(file), ..
            } => verify_record_file(&file),
            LotteryCommand::Verify { .. } => {
                anyhow::bail!("say which round to verify, or give --frame FILE")
            }
            LotteryCommand::Publish { round, out, config } => {
                publish_round(*config, &round, &out).await
            }
            LotteryCommand::Export {
                round,
                out,
                reissue,
                config,
            } => export_round(*config, &round, &out, reissue).await,
        },
        Command::Demo {
            households_per_postcode,
            write_register,
            config,
        } => demo(*config, households_per_postcode, write_register).await,
        Command::Select {
            people,
            quotas,
            k,
            household,
            method,
            runs,
            seed,
            time_limit,
            tickets,
            number,
            out,
        } => select_panel(&SelectArgs {
            people,
            quotas,
            k,
            household,
            method,
            runs,
            seed: seed.unwrap_or_else(rand::random),
            time_limit: std::time::Duration::from_secs(time_limit),
            tickets,
            number,
            out,
        }),
        Command::ExportSchema { output } => {
            let sdl = graphql::sdl();
            match output {
                Some(path) => std::fs::write(&path, sdl)?,
                None => std::io::stdout().write_all(sdl.as_bytes())?,
            }
            Ok(())
        }
    }
}

async fn open(config: Config) -> anyhow::Result<AppState> {
    let connection = db::connect(&config.database).await?;
    db::migrate(&connection).await?;
    AppState::new(connection, config, Clock::system())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    telemetry::init(config.log_format);
    let bind = config.bind;
    let run_worker = config.worker.worker;
    let mailer = Mailer::from_config(&config.mail)?;
    let state = open(config).await?;
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = run_worker.then(|| {
        let mut stopped = stopped.clone();
        let worker = Worker::new(state.clone(), mailer);
        tokio::spawn(worker.run(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }))
    });
    http::serve(state.clone(), listener, async move {
        http::shutdown_signal().await;
        let _ = stop.send(true);
    })
    .await?;
    if let Some(worker) = worker {
        worker.await?;
    }
    state.drain().await;
    state.db.close().await;
    tracing::info!("civic-panel stopped");
    Ok(())
}

async fn worker(config: Config) -> anyhow::Result<()> {
    telemetry::init(config.log_format);
    let mailer = Mailer::from_config(&config.mail)?;
    let state = open(config).await?;
    Worker::new(state.clone(), mailer)
        .run(http::shutdown_signal())
        .await;
    state.db.close().await;
    tracing::info!("civic-panel worker stopped");
    Ok(())
}

async fn create_admin(config: Config, email: &str, name: &str) -> anyhow::Result<()> {
    telemetry::init(config.log_format);
    let password = match std::env::var("CIVIC_PANEL_ADMIN_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            let first = rpassword::prompt_password("Password for the new admin: ")?;
            let again = rpassword::prompt_password("Repeat the password: ")?;
            anyhow::ensure!(first == again, "the two passwords differ");
            first
        }
    };
    let new = NewAccount::parse(email, name, Role::Admin, Some(&password))?;
    let state = open(config).await?;
    let account = accounts::create(&state, new).await?;
    println!(
        "Created ADMIN account {} ({}).",
        account.email, account.display_name
    );
    Ok(())
}

/// A round given as a number or as its GraphQL ID.
fn round_id(raw: &str) -> anyhow::Result<RoundId> {
    if let Ok(n) = raw.trim().parse::<i64>() {
        return Ok(RoundId(n));
    }
    Ok(crate::global_id::decode::<RoundId>(raw, "round")?)
}

/// An encoding named on the command line.
fn parse_encoding(label: &str) -> Result<TextEncoding, String> {
    TextEncoding::from_label(label)
        .ok_or_else(|| format!("{label:?} is not an encoding we read; use utf-8 or windows-1252"))
}

/// Refused rows printed by `import addresses`; the rest are in the rejection list.
const PRINTED_REJECTIONS: usize = 20;

/// Where `import addresses` writes every refused row unless told: `<file>.rejected.csv`.
fn default_rejections_path(file: &std::path::Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map_or_else(|| "register".into(), |s| s.to_string_lossy().into_owned());
    file.with_file_name(format!("{stem}.rejected.csv"))
}

async fn import_addresses(
    config: Config,
    file: &std::path::Path,
    encoding: TextEncoding,
    rejections: Option<PathBuf>,
) -> anyhow::Result<()> {
    telemetry::init(config.log_format);
    let max_rows = config.import_max_rows;
    let reader =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let asked = rejections.is_some();
    let list_path = rejections.unwrap_or_else(|| default_rejections_path(file));
    let folder = match list_path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let list = tempfile::NamedTempFile::new_in(&folder).with_context(|| {
        format!(
            "cannot write the list of refused rows in {}; choose another place with --rejections",
            folder.display()
        )
    })?;
    let state = open(config).await?;
    let bar = indicatif::ProgressBar::new(reader.metadata()?.len());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} ({eta} left)")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = Progress::new();
    let ticker = {
        let (bar, progress) = (bar.clone(), progress.clone());
        tokio::spawn(async move {
            loop {
                bar.set_position(progress.snapshot().0);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
    };
    let options = ImportOptions {
        max_rows,
        encoding,
        ..ImportOptions::default()
    };
    let summary = addresses::import(
        &state,
        reader,
        options,
        &progress,
        Some(list.as_file().try_clone()?),
    )
    .await;
    ticker.abort();
    bar.finish_and_clear();
    let summary = summary?;
    println!(
        "{} rows read: {} inserted, {} updated, {} unchanged, {} rejected.",
        summary.rows_read,
        summary.inserted,
        summary.updated,
        summary.unchanged,
        summary.rejected_count
    );
    for r in summary.rejected.iter().take(PRINTED_REJECTIONS) {
        println!("  line {}: {}", r.line, r.reason);
    }
    if summary.rejected_count > PRINTED_REJECTIONS as u64 {
        println!(
            "  … and {} more.",
            summary.rejected_count - PRINTED_REJECTIONS as u64
        );
    }
    if summary.rejected_count > 0 || asked {
        list.persist(&list_path)
            .with_context(|| format!("cannot write {}", list_path.display()))?;
        println!(
            "Every refused row (line, key, column, reason): {}",
            list_path.display()
        );
    }
    Ok(())
}

async fn verify_round(config: Config, round: &str) -> anyhow::Result<()> {
    telemetry::init(config.log_format);
    let id = round_id(round)?;
    let state = open(config).await?;
    match recruitment::verify(&state, id).await? {
        Verification::Identical {
            letters,
            from_record,
        } => {
            let from = if from_record {
                "its draw record"
            } else {
                "the register"
            };
            println!(
                "Round {id}: re-drawn from {from} and its seed, the {letters} addresses are \
                 identical."
            );
            Ok(())
        }
        Verification::Different { stored, redrawn } => {
            anyhow::bail!(
                "round {id}: the re-drawn list differs ({redrawn} re-drawn, {stored} stored)"
            )
        }
        Verification::RegisterChanged { stored, now } => anyhow::bail!(
            "round {id} was drawn before draw records were kept, and the register changed \
             since (fingerprint {stored} then, {now} now); verify against a copy of the \
             database taken at the draw"
        ),
        Verification::RecordAltered { detail } => {
            anyhow::bail!("round {id}: its draw record does not match the round: {detail}")
        }
    }
}

/// `lottery verify --frame FILE`: re-runs a published draw record, with no database.
fn verify_record_file(file: &std::path::Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let record: DrawRecord = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a draw record", file.display()))?;
    match record.check()? {
        RecordCheck::Identical { letters, eligible } => {
            println!(
                "{}: the frame of {eligible} addresses matches its fingerprint {}, and \
                 re-drawn with seed {} by {} it gives the {letters} addresses listed.",
                file.display(),
                record.frame_sha256,
                record.seed,
                record.algorithm
            );
            Ok(())
        }
        RecordCheck::FrameAltered { stated, computed } => anyhow::bail!(
            "{}: the frame was altered: its fingerprint is {computed}, not the {stated} \
             the record states",
            file.display()
        ),
        RecordCheck::Different {
            listed,
            redrawn,
            examples,
        } => anyhow::bail!(
            "{}: the draw gives other addresses than the {listed} listed ({redrawn} re-drawn; \
             for example {})",
            file.display(),
            examples.join(", ")
        ),
    }
}

/// `lottery publish ROUND --out FILE`: writes the round's draw record.
async fn publish_round(config: Config, round: &str, out: &std::path::Path) -> anyhow::Result<()> {
    telemetry::init(config.log_format);
    let id = round_id(round)?;
    let state = open(config).await?;
    let file = recruitment::draw_record(&state, &Caller::System, id).await?;
    let bytes = db::files::read_all(state.db.reader(), file).await?;
    let mut target = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .with_context(|| format!("cannot create {} (it must not exist yet)", out.display()))?;
    target.write_all(&bytes)?;
    println!(
        "Round {id}: draw record written to {} ({} bytes). Anyone can check it with \
         `civic-panel lottery verify --frame {}`.",
        out.display(),
        bytes.len(),
        out.display()
    );
    Ok(())
}

async fn export_round(
    config: Config,
    round: &str,
    out: &std::path::Path,
    reissue: bool,
) -> anyhow::Result<()> {
    telemetry::init(config.log_format);
    let id = round_id(round)?;
    let state = open(config).await?;
    let exported = letters::export_to_folder(&state, id, reissue, out).await?;
    println!(
        "Round {id}: {} letters written to {} (letters.csv, addresses.csv, qr/). Codes exist only in these files.",
        exported.letters,
        out.display()
    );
    Ok(())
}

async fn demo(
    config: Config,
    households_per_postcode: f64,
    write_register: Option<PathBuf>,
) -> anyhow::Result<()> {
    telemetry::init(config.log_format);
    let register = demo_data::tewkesbury_register(households_per_postcode)?;
    let csv = demo_data::register_csv(&register)?;
    if let Some(path) = write_register {
        std::fs::write(&path, &csv)?;
        println!(
            "Wrote {} synthetic Tewkesbury addresses to {}.",
            register.len(),
            path.display()
        );
        println!("{}", crate::domain::register::demo_register::SYNTHETIC_NOTE);
        return Ok(());
    }
    let state = open(config).await?;
    let summary = addresses::import(
        &state,
        std::io::Cursor::new(csv),
        ImportOptions::default(),
        &Progress::new(),
        None,
    )
    .await?;
    let benchmark_summary = benchmarks::import(
        &state,
        &Caller::System,
        std::io::Cursor::new(demo_data::CENSUS_BENCHMARKS.as_bytes()),
        TextEncoding::Utf8,
    )
    .await?;
    println!(
        "Demo loaded: {} synthetic Tewkesbury addresses ({} new) and {} census benchmark counts.",
        summary.rows_read, summary.inserted, benchmark_summary.written
    );
    println!("{}", crate::domain::register::demo_register::SYNTHETIC_NOTE);
    Ok(())
}

/// What `civic-panel select` was asked.
struct SelectArgs {
    people: PathBuf,
    quotas: PathBuf,
    k: u32,
    household: Option<String>,
    method: String,
    runs: u32,
    seed: u64,
    time_limit: std::time::Duration,
    tickets: u32,
    number: Option<u32>,
    out: PathBuf,
}

/// `civic-panel select`: the panel selection of `domain::selection` on files.
fn select_panel(args: &SelectArgs) -> anyhow::Result<()> {
    use crate::domain::selection;
    let open = |path: &std::path::Path| {
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))
    };
    let features = selection::read_quotas(open(&args.quotas)?)?;
    let instance = selection::read_people_in_households(
        open(&args.people)?,
        features,
        args.k,
        args.household.as_deref(),
    )?;
    if args.tickets == 0 || args.number.is_some_and(|n| n == 0 || n > args.tickets) {
        anyhow::bail!("--number must be a ticket from 1 to {}", args.tickets);
    }
    if let Err(err) = instance.check() {
        return Err(suggest_quotas(&instance, args, err));
    }
    let started = std::time::Instant::now();
    let mut lottery_note = String::new();
    let (probabilities, panel) = if args.method == "greedy" {
        let by_type = selection::estimate_greedy(&instance, args.runs, args.seed)?;
        let mut rng = <rand_chacha::ChaCha20Rng as rand::SeedableRng>::seed_from_u64(args.seed);
        let composition = (0..args.runs)
            .find_map(|_| selection::greedy(&instance, &mut rng))
            .ok_or_else(|| anyhow::anyhow!("the greedy method got stuck in every run"))?;
        let fixed = selection::Distribution {
            panels: vec![(composition, 1.0)],
            type_probabilities: by_type,
        };
        (
            fixed.person_probabilities(&instance),
            fixed.draw(&instance, args.seed),
        )
    } else {
        let fair = if args.method == "maximin" {
            selection::maximin(&instance, args.time_limit)
        } else {
            selection::leximin(&instance, args.time_limit)
        };
        let fair = match fair {
            Ok(fair) => fair,
            Err(err @ selection::SelectionError::Infeasible { .. }) => {
                return Err(suggest_quotas(&instance, args, err));
            }
            Err(err) => return Err(err.into()),
        };
        let lottery = fair.lottery(&instance, args.tickets, args.seed);
        let number = args.number.unwrap_or_else(|| {
            let mut rng = <rand_chacha::ChaCha20Rng as rand::SeedableRng>::seed_from_u64(args.seed);
            rand::Rng::random_range(&mut rng, 1..=args.tickets)
        });
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        std::fs::write(args.out.join("lottery.txt"), lottery.text(&instance))?;
        let mut file = csv::Writer::from_path(args.out.join("lottery.csv"))?;
        file.write_record(["ticket", "id"])?;
        for (ticket, members) in lottery.tickets.iter().enumerate() {
            for &person in members {
                file.write_record([(ticket + 1).to_string().as_str(), &instance.ids[person]])?;
            }
        }
        file.flush()?;
        lottery_note = format!(
            " Lottery of {} tickets (lottery.txt, SHA-256 {}; rounding moved anyone's \
             probability by at most {:.4}); ticket {number} drawn.",
            args.tickets, lottery.sha256, lottery.largest_shift
        );
        let drawn = lottery.tickets[number as usize - 1].clone();
        (fair.person_probabilities(&instance), drawn)
    };
    let took = started.elapsed();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut file = csv::Writer::from_path(args.out.join("probabilities.csv"))?;
    file.write_record(["id", "probability"])?;
    for (id, p) in instance.ids.iter().zip(&probabilities) {
        file.write_record([id.as_str(), &format!("{p:.6}")])?;
    }
    file.flush()?;
    let mut file = csv::Writer::from_path(args.out.join("panel.csv"))?;
    file.write_record(["id"])?;
    for &person in &panel {
        file.write_record([instance.ids[person].as_str()])?;
    }
    file.flush()?;
    let mut sorted = probabilities.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    println!(
        "{} from a pool of {} ({} types), panel of {}: probability min {:.4}, median {:.4}, \
         max {:.4}; {:.2} s. Seed {}. Wrote probabilities.csv and panel.csv to {}.{}",
        args.method,
        instance.pool_size(),
        instance.types.len(),
        args.k,
        sorted.first().copied().unwrap_or(0.0),
        median,
        sorted.last().copied().unwrap_or(0.0),
        took.as_secs_f64(),
        args.seed,
        args.out.display(),
        lottery_note
    );
    Ok(())
}

/// The error for quotas no panel can meet, having written the smallest relaxation that
/// one can meet to `suggested-quotas.csv` when there is one.
fn suggest_quotas(
    instance: &crate::domain::selection::Instance,
    args: &SelectArgs,
    err: crate::domain::selection::SelectionError,
) -> anyhow::Error {
    use crate::domain::selection;
    let Ok(relaxed) = instance.relaxed_quotas(args.time_limit) else {
        return err.into();
    };
    let path = args.out.join("suggested-quotas.csv");
    let written = std::fs::create_dir_all(&args.out)
        .and_then(|()| std::fs::write(&path, selection::quotas_csv(&relaxed)));
    match written {
        Ok(()) => anyhow::anyhow!(
            "{err}. The smallest change that a panel can meet is in {}",
            path.display()
        ),
        Err(_) => err.into(),
    }
}
