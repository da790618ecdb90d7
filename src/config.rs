//! One `Config` for the whole service, read from environment variables (and the flags
//! that mirror them). Every variable is listed in the README; defaults make
//! `civic-panel serve` work on a fresh machine with nothing set.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::jobs::mail::MailConfig;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Where the service keeps its data.
#[derive(Clone, Debug, Args)]
pub struct DatabaseConfig {
    /// Database URL: `sqlite://path?mode=rwc` (the default, a file beside the working
    /// directory) or `postgres://user:password@host/database`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://civic-panel.db?mode=rwc"
    )]
    pub database_url: String,

    /// Largest number of pooled connections: PostgreSQL's pool, or SQLite's read-only
    /// connections beside its one writer.
    #[arg(long, env = "CIVIC_PANEL_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
}

/// The background worker: jobs (draws, exports, imports, login links) and delivery.
#[derive(Clone, Debug, Args)]
pub struct WorkerConfig {
    /// Run the worker inside `serve` (set false when separate `civic-panel worker`
    /// processes do the work).
    #[arg(long, env = "CIVIC_PANEL_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub worker: bool,

    /// Jobs one worker process runs at once (messages are delivered beside them).
    #[arg(long, env = "CIVIC_PANEL_WORKER_CONCURRENCY", default_value_t = 2)]
    pub worker_concurrency: u32,

    /// How often an idle worker looks for work queued by other processes, in milliseconds
    /// (work queued by its own process wakes it at once).
    #[arg(long, env = "CIVIC_PANEL_WORKER_POLL_MS", default_value_t = 1_000)]
    pub worker_poll_ms: u64,

    /// How long a claimed job or message stays held without word from its worker, in
    /// seconds; a worker renews its leases well within this, and a job whose worker died is
    /// taken up again once it runs out.
    #[arg(long, env = "CIVIC_PANEL_JOB_LEASE_SECS", default_value_t = 60)]
    pub job_lease_secs: u64,

    /// Delivery attempts of one message before it is given up.
    #[arg(long, env = "CIVIC_PANEL_DELIVERY_MAX_ATTEMPTS", default_value_t = 8)]
    pub delivery_max_attempts: u32,

    /// Messages one worker sends at once, each over its own connection to the relay.
    #[arg(long, env = "CIVIC_PANEL_DELIVERY_CONCURRENCY", default_value_t = 8)]
    pub delivery_concurrency: u32,

    /// Hours an export bundle stays available for download (its codes are only in it).
    #[arg(
        long,
        env = "CIVIC_PANEL_EXPORT_RETENTION_HOURS",
        default_value_t = 168
    )]
    pub export_retention_hours: u32,
}

impl WorkerConfig {
    /// The lease a claim holds.
    pub fn lease(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.job_lease_secs.max(1)).unwrap_or(60))
    }

    /// How often an idle worker polls.
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.worker_poll_ms.max(10))
    }

    /// How long an export stays downloadable.
    pub fn export_retention(&self) -> chrono::Duration {
        chrono::Duration::hours(i64::from(self.export_retention_hours.max(1)))
    }
}

/// The secret that keys stored invitation-code hashes.
#[derive(Clone, Args)]
pub struct SecretConfig {
    /// The code secret itself (at least 32 characters). Prefer the file form.
    #[arg(long, env = "CIVIC_PANEL_CODE_SECRET", hide_env_values = true)]
    pub code_secret: Option<String>,

    /// A file holding the code secret. With SQLite and no secret given, one is generated on
    /// first start in `<database file>.code-secret`; PostgreSQL needs one given.
    #[arg(long, env = "CIVIC_PANEL_CODE_SECRET_FILE")]
    pub code_secret_file: Option<std::path::PathBuf>,

    /// Earlier code secrets, comma-separated, still accepted for codes printed before a
    /// rotation (new codes always use the current secret).
    #[arg(long, env = "CIVIC_PANEL_CODE_SECRET_PREVIOUS", hide_env_values = true)]
    pub code_secret_previous: Option<String>,
}

impl std::fmt::Debug for SecretConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretConfig")
            .field(
                "code_secret",
                &self.code_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("code_secret_file", &self.code_secret_file)
            .field(
                "code_secret_previous",
                &self.code_secret_previous.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Cost parameters for argon2id password hashing.
#[derive(Clone, Copy, Debug, Args)]
pub struct PasswordHashConfig {
    /// argon2id memory cost in KiB (OWASP's recommended minimum is 19456).
    #[arg(long, env = "CIVIC_PANEL_ARGON2_MEMORY_KIB", default_value_t = 19_456)]
    pub argon2_memory_kib: u32,
    /// argon2id iterations.
    #[arg(long, env = "CIVIC_PANEL_ARGON2_ITERATIONS", default_value_t = 2)]
    pub argon2_iterations: u32,
    /// argon2id parallelism (lanes).
    #[arg(long, env = "CIVIC_PANEL_ARGON2_PARALLELISM", default_value_t = 1)]
    pub argon2_parallelism: u32,
}

/// Everything `civic-panel serve` needs.
#[derive(Clone, Debug, Args)]
pub struct Config {
    #[command(flatten)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    pub password_hash: PasswordHashConfig,

    #[command(flatten)]
    pub worker: WorkerConfig,

    #[command(flatten)]
    pub mail: MailConfig,

    #[command(flatten)]
    pub secrets: SecretConfig,

    /// Address and port to listen on.
    #[arg(long, env = "CIVIC_PANEL_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Serve the GraphiQL explorer when a browser asks `GET /graphql` for HTML.
    #[arg(long, env = "CIVIC_PANEL_GRAPHIQL", default_value_t = true, action = clap::ArgAction::Set)]
    pub graphiql: bool,

    /// Largest accepted request body for `/graphql`, in bytes.
    #[arg(
        long,
        env = "CIVIC_PANEL_BODY_LIMIT_BYTES",
        default_value_t = 1_048_576
    )]
    pub body_limit_bytes: usize,

    /// Deepest selection set a query may nest.
    #[arg(long, env = "CIVIC_PANEL_QUERY_DEPTH_LIMIT", default_value_t = 12)]
    pub query_depth_limit: usize,

    /// Largest complexity (fields counted, lists multiplied by page size) a query may have.
    #[arg(
        long,
        env = "CIVIC_PANEL_QUERY_COMPLEXITY_LIMIT",
        default_value_t = 2_000
    )]
    pub query_complexity_limit: usize,

    /// Seconds a request may run before it is abandoned (its transaction rolls back).
    #[arg(long, env = "CIVIC_PANEL_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Hours a login session stays valid.
    #[arg(long, env = "CIVIC_PANEL_SESSION_TTL_HOURS", default_value_t = 12)]
    pub session_ttl_hours: u32,

    /// Minutes a one-time login link stays valid.
    #[arg(long, env = "CIVIC_PANEL_LOGIN_LINK_TTL_MINUTES", default_value_t = 60)]
    pub login_link_ttl_minutes: u32,

    /// Failed logins allowed per account within the window before RATE_LIMITED.
    #[arg(
        long,
        env = "CIVIC_PANEL_LOGIN_MAX_FAILURES_PER_ACCOUNT",
        default_value_t = 5
    )]
    pub login_max_failures_per_account: u32,

    /// Failed logins allowed per client address within the window before RATE_LIMITED.
    #[arg(
        long,
        env = "CIVIC_PANEL_LOGIN_MAX_FAILURES_PER_CLIENT",
        default_value_t = 20
    )]
    pub login_max_failures_per_client: u32,

    /// Length of the failed-login window, in seconds.
    #[arg(long, env = "CIVIC_PANEL_LOGIN_WINDOW_SECS", default_value_t = 900)]
    pub login_window_secs: u64,

    /// One-time login links a client address may ask for per hour.
    #[arg(
        long,
        env = "CIVIC_PANEL_LOGIN_LINK_MAX_PER_CLIENT",
        default_value_t = 10
    )]
    pub login_link_max_per_client: u32,

    /// One-time login links one email address may be sent per hour.
    #[arg(
        long,
        env = "CIVIC_PANEL_LOGIN_LINK_MAX_PER_EMAIL",
        default_value_t = 3
    )]
    pub login_link_max_per_email: u32,

    /// Unknown printed codes (registration and consultation letters alike) allowed per
    /// client address per hour; past it that address's unknown codes are refused, while
    /// valid ones still work.
    #[arg(
        long,
        env = "CIVIC_PANEL_REDEEM_MAX_FAILURES_PER_CLIENT",
        default_value_t = 10
    )]
    pub redeem_max_failures_per_client: u32,

    /// Unknown printed codes allowed per hour across all clients; past it every look-up
    /// of a code is refused (this is what bounds guessing).
    #[arg(
        long,
        env = "CIVIC_PANEL_REDEEM_MAX_FAILURES_GLOBAL",
        default_value_t = 500
    )]
    pub redeem_max_failures_global: u32,

    /// Public address of the resident web client, used in letters' personal URLs and QR codes.
    #[arg(
        long,
        env = "CIVIC_PANEL_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,

    /// The address at which residents and their mail reach this server, for the tracking
    /// image and link in emails (`/t/o/…`, `/t/c/…`).
    #[arg(
        long,
        env = "CIVIC_PANEL_TRACKING_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub tracking_url: String,

    /// The council's name, at the top of every resident page.
    #[arg(long, env = "CIVIC_PANEL_COUNCIL_NAME", default_value = "Your council")]
    pub council_name: String,

    /// The council's colour (`#rrggbb`) for the resident pages' header and buttons, which
    /// carry white text on it: a colour too light for that (contrast below 4.5:1, WCAG
    /// 2.2 AA) is refused at start.
    #[arg(
        long,
        env = "CIVIC_PANEL_BRAND_COLOUR",
        default_value = "#1d4f91",
        value_parser = parse_brand_colour
    )]
    pub brand_colour: String,

    /// Opens of the tracking image less than this many seconds after a message's hand-off
    /// to the relay began, or after the relay accepted it, are machine opens (mail servers
    /// and privacy proxies fetch images on arrival), as are opens before any of the
    /// invitation's messages is recorded as sent.
    #[arg(long, env = "CIVIC_PANEL_MACHINE_OPEN_SECONDS", default_value_t = 10)]
    pub machine_open_seconds: i64,

    /// A file of mail-privacy proxy address ranges (one CIDR per line, as Apple publishes
    /// its Mail Privacy Protection egress ranges); opens from them are machine opens.
    #[arg(long, env = "CIVIC_PANEL_PROXY_RANGES_FILE")]
    pub proxy_ranges_file: Option<std::path::PathBuf>,

    /// Largest accepted upload (address registers, benchmarks), in bytes.
    #[arg(
        long,
        env = "CIVIC_PANEL_UPLOAD_LIMIT_BYTES",
        default_value_t = 268_435_456
    )]
    pub upload_limit_bytes: usize,

    /// Most data rows an address register import may have.
    #[arg(long, env = "CIVIC_PANEL_IMPORT_MAX_ROWS", default_value_t = 2_000_000)]
    pub import_max_rows: u64,

    /// Take the client address from the last `X-Forwarded-For` entry, the one the reverse
    /// proxy appended (only behind one trusted proxy).
    #[arg(long, env = "CIVIC_PANEL_TRUST_FORWARDED_FOR", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_forwarded_for: bool,

    /// Most open-link (QR code) responses accepted from one client address per hour.
    #[arg(
        long,
        env = "CIVIC_PANEL_OPEN_RESPONSES_PER_HOUR",
        default_value_t = 200
    )]
    pub open_responses_per_hour: u32,

    /// Counts below this are hidden from SCRUTINY (with secondary suppression); a
    /// report's own threshold may only raise it.
    #[arg(long, env = "CIVIC_PANEL_DISCLOSURE_THRESHOLD", default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..=1000))]
    pub disclosure_threshold: u64,

    /// Log format: `text` or `json`.
    #[arg(long, env = "CIVIC_PANEL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl Config {
    /// How long a request may run.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// How long a session lives.
    pub fn session_ttl(&self) -> chrono::Duration {
        chrono::Duration::hours(i64::from(self.session_ttl_hours))
    }

    /// The rules telling machine opens from people: the configured seconds, and the
    /// ranges in `proxy_ranges_file` (a line that is not a range is an error).
    pub fn open_rules(&self) -> anyhow::Result<crate::domain::consultations::tracking::OpenRules> {
        let mut rules = crate::domain::consultations::tracking::OpenRules {
            within_seconds: self.machine_open_seconds,
            ..Default::default()
        };
        if let Some(path) = &self.proxy_ranges_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let (ranges, bad) = crate::domain::consultations::tracking::read_ranges(&text);
            if let Some(line) = bad.first() {
                anyhow::bail!(
                    "{}: {line:?} is not an address range such as 17.0.0.0/8 ({} such lines)",
                    path.display(),
                    bad.len()
                );
            }
            rules.proxy_ranges = ranges;
        }
        Ok(rules)
    }

    /// The failed-login window.
    pub fn login_window(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.login_window_secs).unwrap_or(i64::MAX / 1000))
    }

    /// A configuration for tests: an in-memory database and cheap password hashing.
    pub fn for_tests(database_url: &str) -> Self {
        Self {
            database: DatabaseConfig {
                database_url: database_url.to_owned(),
                db_max_connections: 5,
            },
            password_hash: PasswordHashConfig {
                argon2_memory_kib: 64,
                argon2_iterations: 1,
                argon2_parallelism: 1,
            },
            worker: WorkerConfig {
                worker: false,
                worker_concurrency: 2,
                worker_poll_ms: 50,
                job_lease_secs: 30,
                delivery_max_attempts: 8,
                delivery_concurrency: 8,
                export_retention_hours: 168,
            },
            mail: MailConfig::for_tests(),
            secrets: SecretConfig {
                code_secret: Some(
                    "test secret for invitation codes, not for production".to_owned(),
                ),
                code_secret_file: None,
                code_secret_previous: None,
            },
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            graphiql: true,
            body_limit_bytes: 64 * 1024,
            query_depth_limit: 12,
            query_complexity_limit: 2_000,
            request_timeout_secs: 30,
            session_ttl_hours: 12,
            login_link_ttl_minutes: 60,
            login_max_failures_per_account: 5,
            login_max_failures_per_client: 20,
            login_window_secs: 900,
            login_link_max_per_client: 10,
            login_link_max_per_email: 3,
            redeem_max_failures_per_client: 10,
            redeem_max_failures_global: 5_000,
            public_url: "https://panel.example.gov.uk".to_owned(),
            tracking_url: "https://api.panel.example.gov.uk".to_owned(),
            council_name: "Tewkesbury Borough Council".to_owned(),
            brand_colour: "#1d4f91".to_owned(),
            machine_open_seconds: 10,
            proxy_ranges_file: None,
            upload_limit_bytes: 8 * 1024 * 1024,
            import_max_rows: 2_000_000,
            trust_forwarded_for: false,
            open_responses_per_hour: 200,
            disclosure_threshold: crate::domain::reports::disclosure::DEFAULT_THRESHOLD,
            log_format: LogFormat::Text,
        }
    }
}

/// A brand colour white text can sit on, as `#rrggbb` in lower case.
fn parse_brand_colour(text: &str) -> Result<String, String> {
    let colour = crate::domain::colour::Rgb::parse(text).map_err(|e| e.to_string())?;
    let contrast = colour.contrast_with_white();
    if contrast < crate::domain::colour::AA_TEXT_CONTRAST {
        return Err(format!(
            "white text on {colour} has a contrast of {contrast:.2}:1; WCAG 2.2 AA needs 4.5:1, so choose a darker colour"
        ));
    }
    Ok(colour.to_string())
}
