//! `TestApp`: the real router over a fresh database, driven in-process.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use rand::RngCore;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use tower::ServiceExt;

use civic_panel::config::{Config, DatabaseConfig};
use civic_panel::db;
use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::ids::RoundId;
use civic_panel::domain::panels::panel::MembershipStatus;
use civic_panel::jobs::mail::Mailer;
use civic_panel::jobs::worker::Worker;
use civic_panel::service::accounts::{self, NewAccount};
use civic_panel::state::clock::Clock;
use civic_panel::state::progress::Progress;
use civic_panel::{AppState, http};

/// A password every test account shares.
pub const PASSWORD: &str = "a long enough test password";

/// A response, fully read.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub bytes: Vec<u8>,
}

impl TestResponse {
    /// The body as JSON (panics with the body if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }

    /// The `Content-Type` header.
    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// `extensions.code` of the first error.
    pub fn first_error_code(&self) -> String {
        error_code(&self.json())
    }
}

/// `extensions.code` of the first error of a GraphQL response body.
pub fn error_code(body: &Value) -> String {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
        .to_owned()
}

/// Asserts the response was refused with `code`, its message naming `words`.
pub fn assert_refused(body: &Value, code: &str, words: &str) {
    assert_eq!(error_code(body), code, "{body}");
    assert!(
        error_message(body).contains(words),
        "{words:?} not named: {body}"
    );
}

/// The first error's message (panics when there is none).
pub fn error_message(body: &Value) -> &str {
    body["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {body}"))
}

/// A database of its own for one test: a fresh PostgreSQL schema, or an SQLite file in a
/// temporary folder (a file, not memory, so that readers and the writer are separate
/// connections in WAL mode, as in production). The folder lives as long as the guard.
pub async fn fresh_database() -> (DatabaseConfig, Option<Arc<tempfile::TempDir>>) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let schema = unique_name("t");
            let mut options = sea_orm::ConnectOptions::new(url.clone());
            options
                .connect_timeout(std::time::Duration::from_secs(5))
                .acquire_timeout(std::time::Duration::from_secs(5))
                .sqlx_logging(false);
            let admin = sea_orm::Database::connect(options)
                .await
                .expect("connect to PostgreSQL at TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                .await
                .expect("create test schema");
            admin.close().await.ok();
            let config = DatabaseConfig {
                database_url: with_search_path(&url, &schema),
                db_max_connections: 5,
            };
            (config, None)
        }
        _ => {
            let dir = tempfile::tempdir().expect("temporary folder");
            let config = DatabaseConfig {
                database_url: format!("sqlite://{}/test.db?mode=rwc", dir.path().display()),
                db_max_connections: 4,
            };
            (config, Some(Arc::new(dir)))
        }
    }
}

/// A PostgreSQL URL whose connections use `schema` (libpq `options`).
fn with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// A name no other test uses.
pub fn unique_name(prefix: &str) -> String {
    let mut bytes = [0u8; 6];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

/// The service over a fresh database, with a manual clock.
pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub clock: Clock,
    /// The SQLite database's folder (and the mail folder), kept while the app lives.
    pub dir: Arc<tempfile::TempDir>,
    _database: Option<Arc<tempfile::TempDir>>,
}

impl TestApp {
    /// Default test configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Test configuration changed by `adjust`.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_observed(adjust, None).await
    }

    /// A test app whose every database statement adds one to `statements`.
    pub async fn spawn_counting(statements: Arc<std::sync::atomic::AtomicUsize>) -> Self {
        Self::spawn_observed(|_| {}, Some(statements)).await
    }

    async fn spawn_observed(
        adjust: impl FnOnce(&mut Config),
        statements: Option<Arc<std::sync::atomic::AtomicUsize>>,
    ) -> Self {
        let (database, guard) = fresh_database().await;
        let dir = Arc::new(tempfile::tempdir().expect("temporary folder"));
        let mut config = Config::for_tests(&database.database_url);
        config.database = database;
        config.mail.mail_dir = dir.path().join("mail");
        adjust(&mut config);
        let mut connection = db::connect(&config.database).await.expect("connect");
        db::migrate(&connection).await.expect("migrate");
        if let Some(statements) = statements {
            // Requests' statements only: PostgreSQL's statistics refresh after an import
            // runs in the background whenever it gets round to it.
            connection.set_metric_callback(move |info| {
                if !info.statement.sql.starts_with("ANALYZE") {
                    statements.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
        let clock = Clock::manual(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
        let state = AppState::new(connection, config, clock.clone()).expect("state");
        let router = http::router(state.clone());
        Self {
            state,
            router,
            clock,
            dir,
            _database: guard,
        }
    }

    /// The same database and clock under a changed configuration.
    pub fn reconfigured(&self, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = (*self.state.config).clone();
        adjust(&mut config);
        let state = AppState {
            config: std::sync::Arc::new(config),
            ..self.state.clone()
        };
        Self {
            router: http::router(state.clone()),
            state,
            clock: self.clock.clone(),
            dir: Arc::clone(&self.dir),
            _database: self._database.clone(),
        }
    }

    /// The database (its writing connection, which sees everything committed).
    pub fn db(&self) -> &DatabaseConnection {
        self.state.db.writer()
    }

    /// A worker over this app, delivering mail by its configured transport.
    pub fn worker(&self) -> Worker {
        let mailer = Mailer::from_config(&self.state.config.mail).expect("mail transport");
        Worker::new(self.state.clone(), mailer)
    }

    /// Runs every queued job and delivers every due message; how many jobs ran.
    pub async fn run_jobs(&self) -> usize {
        self.worker().run_until_idle().await.expect("jobs run")
    }

    /// A job as the API shows it to `token` (its status, error and result).
    pub async fn job(&self, token: &str, id: &str) -> Value {
        let body = self.graphql(JOB, json!({ "id": id }), Some(token)).await;
        body["data"]["job"].clone()
    }

    /// Runs `document`, a mutation whose payload `field` holds `job { id }`, then the
    /// queued jobs; the job as it finished, asserted to have succeeded.
    pub async fn succeeded_job(
        &self,
        token: &str,
        document: &str,
        variables: Value,
        field: &str,
    ) -> Value {
        let body = self.graphql(document, variables, Some(token)).await;
        let id = body["data"][field]["job"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no job in {body}"))
            .to_owned();
        self.run_jobs().await;
        let job = self.job(token, &id).await;
        assert_eq!(job["status"], "SUCCEEDED", "{job}");
        job
    }

    /// Waits until the job satisfies `done`, polling through the API; fails after two
    /// minutes.
    pub async fn wait_for_job(
        &self,
        token: &str,
        id: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let job = self.job(token, id).await;
            if done(&job) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the job never got there: {job}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Sends a request from 127.0.0.1.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        self.send_from(request, [127, 0, 0, 1]).await
    }

    /// Sends a request as if from `ip`.
    pub async fn send_from(&self, mut request: Request<Body>, ip: [u8; 4]) -> TestResponse {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        TestResponse {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
            bytes: bytes.to_vec(),
        }
    }

    /// POSTs a GraphQL request body as `application/json`, optionally with a token.
    pub async fn post(&self, body: &Value, token: Option<&str>) -> TestResponse {
        self.send(post_request(body, token)).await
    }

    /// Runs a GraphQL operation and returns the response body.
    pub async fn graphql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let response = self
            .post(&json!({ "query": query, "variables": variables }), token)
            .await;
        response.json()
    }

    /// Makes an account with `role` directly through the service.
    pub async fn create_account(&self, role: Role, email: &str) {
        let new = NewAccount::parse(email, "Test Person", role, Some(PASSWORD)).expect("valid");
        accounts::create(&self.state, new)
            .await
            .expect("account created");
    }

    /// Logs in through the API and returns the bearer token.
    pub async fn log_in(&self, email: &str, password: &str) -> String {
        let body = self
            .graphql(
                LOG_IN,
                json!({ "email": email, "password": password }),
                None,
            )
            .await;
        body["data"]["sessionCreate"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("login failed: {body}"))
            .to_owned()
    }

    /// A fresh account of `role`, logged in: its token.
    pub async fn token_for(&self, role: Role) -> String {
        let email = format!("{}@example.org", unique_name(&role.as_str().to_lowercase()));
        self.create_account(role, &email).await;
        self.log_in(&email, PASSWORD).await
    }

    /// How many rows a table holds.
    pub async fn count<E>(&self, _entity: E) -> u64
    where
        E: EntityTrait,
        E::Model: Sync,
    {
        E::find().count(self.db()).await.expect("count")
    }
}

/// A POST to `/graphql` with `application/json`.
pub fn post_request(body: &Value, token: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri("/graphql")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::from(body.to_string())).expect("request")
}

/// The login mutation.
pub const LOG_IN: &str = "mutation($email: String!, $password: String!) {
    sessionCreate(input: { email: $email, password: $password }) {
        token expiresAt account { id email role }
    }
}";

/// A GraphQL multipart request uploading `bytes` as the variable at `path`
/// (e.g. `variables.input.file`).
pub fn upload_request(
    query: &str,
    variables: &Value,
    path: &str,
    bytes: &[u8],
    token: Option<&str>,
) -> Request<Body> {
    let boundary = "civicpanelboundary7MA4YWxkTrZu0gW";
    let operations = json!({ "query": query, "variables": variables });
    let mut body = Vec::new();
    let mut part = |name: &str, extra: &str, content: &[u8]| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    part("operations", "", operations.to_string().as_bytes());
    part("map", "", json!({ "0": [path] }).to_string().as_bytes());
    part(
        "0",
        "; filename=\"upload.csv\"\r\nContent-Type: text/csv",
        bytes,
    );
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri("/graphql")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        );
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::from(body)).expect("request")
}

/// The files of a ZIP, in archive order.
pub fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP");
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut content).unwrap();
            (file.name().to_owned(), content)
        })
        .collect()
}

/// Parses CSV bytes into rows of strings (header first).
pub fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

impl TestApp {
    /// Imports the synthetic Tewkesbury register (with `per_postcode` households per
    /// postcode) through the service; returns how many addresses it holds.
    pub async fn load_demo_register(&self, per_postcode: f64) -> u64 {
        let register = civic_panel::service::demo::tewkesbury_register(per_postcode).unwrap();
        let csv = civic_panel::service::demo::register_csv(&register).unwrap();
        self.import_register(csv).await
    }

    /// Imports register CSV bytes through the service; returns rows inserted.
    pub async fn import_register(&self, csv: Vec<u8>) -> u64 {
        let summary = civic_panel::service::register::addresses::import(
            &self.state,
            std::io::Cursor::new(csv),
            civic_panel::service::register::addresses::ImportOptions::default(),
            &Progress::new(),
            None,
        )
        .await
        .unwrap();
        summary.inserted
    }

    /// Imports the bundled Census 2021 benchmarks through the service.
    pub async fn load_benchmarks(&self) {
        let data = civic_panel::service::demo::CENSUS_BENCHMARKS.as_bytes();
        civic_panel::service::register::benchmarks::import(
            &self.state,
            &civic_panel::service::accounts::auth::Caller::System,
            std::io::Cursor::new(data),
            civic_panel::domain::text_input::TextEncoding::Utf8,
        )
        .await
        .unwrap();
    }

    /// Asks for a round through the API as `token` and runs the draw job. Returns the
    /// mutation's body when the request was refused, otherwise the finished job (its
    /// `status`, `error`, and `result.round` when it succeeded).
    pub async fn create_round(&self, token: &str, input: Value) -> Value {
        let body = self
            .graphql(
                "mutation($input: RecruitmentRoundCreateInput!) {
                    recruitmentRoundCreate(input: $input) { job { id status } }
                }",
                json!({ "input": input }),
                Some(token),
            )
            .await;
        let Some(job) = body["data"]["recruitmentRoundCreate"]["job"]["id"].as_str() else {
            return body;
        };
        assert_eq!(
            body["data"]["recruitmentRoundCreate"]["job"]["status"], "QUEUED",
            "{body}"
        );
        self.run_jobs().await;
        self.job(token, job).await
    }

    /// Draws a round and returns its ID (panics on error).
    pub async fn round_id(&self, token: &str, input: Value) -> String {
        let job = self.create_round(token, input).await;
        job["result"]["round"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("round not created: {job}"))
            .to_owned()
    }

    /// Mints and stores codes for a round's letters through the service.
    pub async fn issue_codes(
        &self,
        round_id: &str,
    ) -> Vec<civic_panel::domain::recruitment::letter_bundle::PrintedLetter> {
        let id = civic_panel::graphql::id::decode::<RoundId>(round_id, "id").unwrap();
        civic_panel::service::recruitment::letters::issue_codes(&self.state, id, false)
            .await
            .unwrap()
    }
}

impl TestApp {
    /// Posts a form (`application/x-www-form-urlencoded`) as a browser does.
    pub async fn post_form(&self, uri: &str, form: &str) -> TestResponse {
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned()))
            .expect("request");
        self.send(request).await
    }

    /// `GET uri` with an optional bearer token.
    pub async fn get(&self, uri: &str, token: Option<&str>) -> TestResponse {
        let mut builder = Request::builder().uri(uri);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(builder.body(Body::empty()).expect("request"))
            .await
    }

    /// Asks for a round's letter bundle as `token`: the mutation's body when it was
    /// refused; otherwise runs the export job and returns the finished job.
    pub async fn export_letters(&self, token: &str, round: &str, reissue: bool) -> Value {
        let body = self
            .graphql(
                "mutation($input: LetterBundleCreateInput!) {
                    letterBundleCreate(input: $input) { job { id status kind } }
                }",
                json!({ "input": { "roundId": round, "reissue": reissue } }),
                Some(token),
            )
            .await;
        let Some(job) = body["data"]["letterBundleCreate"]["job"]["id"].as_str() else {
            return body;
        };
        self.run_jobs().await;
        self.job(token, job).await
    }

    /// Exports a round's letters as `token` and downloads the bundle (panics on error).
    pub async fn download_letters(&self, token: &str, round: &str, reissue: bool) -> TestResponse {
        let job = self.export_letters(token, round, reissue).await;
        let url = job["result"]["downloadUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("no bundle: {job}"));
        let response = self.get(url, Some(token)).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text);
        response
    }
}

/// A job with what the tests look at.
pub const JOB: &str = "query($id: ID!) {
    job(id: $id) {
        id kind status error attempts cancelRequested
        progress { done total fraction }
        result {
            __typename
            ... on RecruitmentRoundDrawn {
                round { id seed drawnCount eligibleCount registerFingerprint algorithm }
            }
            ... on LetterBundle { letters downloadUrl fileName sizeBytes sha256 expiresAt }
            ... on AddressRegisterImportResult {
                rowsRead inserted updated unchanged rejectedCount
                rejectedRows { line key column reason } rejectedRowsDownloadUrl
            }
            ... on ConsultationInvited { consultationId email sms post alreadyInvited }
            ... on ConsultationLetters { letters mailMergeUrl: downloadUrl expiresAt }
            ... on ConsultationReminded { email sms optedOut }
        }
    }
}";

/// A registration input for `code` with a valid adult profile.
pub fn registration(code: &str, email: &str) -> Value {
    json!({
        "code": code, "fullName": "Alex Resident", "email": email,
        "dateOfBirth": "1990-05-17", "sex": "FEMALE", "ethnicGroup": "WHITE_BRITISH",
        "disability": "NOT_DISABLED", "consent": true, "password": "a long enough password"
    })
}

/// The registration mutation.
pub const REGISTER: &str = "mutation($input: RegistrationCreateInput!) {
    registrationCreate(input: $input) { residentId token incentiveOwed account { email role } }
}";

/// A registrant of `round` from `letter`, numbered `n`: in ward E05000001, decile 5, born
/// 1 May 1990, female, White British, not disabled, with no email or phone. Tests change
/// what they need with struct update syntax.
pub fn resident_row(
    letter: &civic_panel::db::entities::letter::Model,
    round: RoundId,
    n: usize,
    now: chrono::DateTime<Utc>,
) -> civic_panel::db::entities::resident::ActiveModel {
    use sea_orm::ActiveValue::Set;
    civic_panel::db::entities::resident::ActiveModel {
        account_id: Set(None),
        letter_id: Set(letter.id),
        round_id: Set(round),
        address_id: Set(letter.address_id),
        household_key: Set(format!("H{n}")),
        household_lock: Set(None),
        ward_code: Set("E05000001".to_owned()),
        deprivation_decile: Set(Some(5)),
        full_name: Set(format!("Resident {n}")),
        email: Set(None),
        phone: Set(None),
        date_of_birth: Set(chrono::NaiveDate::from_ymd_opt(1990, 5, 1).unwrap_or_default()),
        sex: Set("female".to_owned()),
        ethnic_group: Set("White: English, Welsh, Scottish, Northern Irish or British".to_owned()),
        disability: Set("Not disabled under the Equality Act".to_owned()),
        registered_at: Set(now),
        incentive_owed: Set(false),
        incentive_fulfilled_at: Set(None),
        withdrawn_at: Set(None),
        ..Default::default()
    }
}

impl TestApp {
    /// A panel of `n` registrants written straight to the database (selection is tested
    /// in `panels.rs`), all active members: each row is `resident_row` changed by
    /// `row(i, default)`. The panel's ID and the residents' row ids, in order.
    pub async fn panel_of_residents(
        &self,
        officer: &str,
        n: usize,
        row: impl Fn(
            usize,
            civic_panel::db::entities::resident::ActiveModel,
        ) -> civic_panel::db::entities::resident::ActiveModel,
    ) -> (String, Vec<i64>) {
        self.named_panel_of_residents(officer, "Residents Panel", n, row)
            .await
    }

    /// [`TestApp::panel_of_residents`] under another panel name (names are unique).
    pub async fn named_panel_of_residents(
        &self,
        officer: &str,
        name: &str,
        n: usize,
        row: impl Fn(
            usize,
            civic_panel::db::entities::resident::ActiveModel,
        ) -> civic_panel::db::entities::resident::ActiveModel,
    ) -> (String, Vec<i64>) {
        use civic_panel::db::entities::{letter, membership, resident};
        use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder};
        self.load_demo_register(1.0).await;
        let round = self
            .round_id(
                officer,
                json!({ "name": "Panel round", "letters": n, "seed": "11" }),
            )
            .await;
        let round = civic_panel::graphql::id::decode::<RoundId>(&round, "id").unwrap();
        let letters = letter::Entity::find()
            .filter(letter::Column::RoundId.eq(round))
            .order_by_asc(letter::Column::Id)
            .all(self.db())
            .await
            .unwrap();
        assert_eq!(letters.len(), n, "one letter per registrant");
        let now = self.clock.now();
        let mut ids = Vec::new();
        for (i, letter) in letters.iter().enumerate() {
            let inserted = resident::Entity::insert(row(i, resident_row(letter, round, i, now)))
                .exec(self.db())
                .await
                .unwrap();
            ids.push(inserted.last_insert_id.get());
        }
        let body = self
            .graphql(
                "mutation($input: PanelCreateInput!) { panelCreate(input: $input) { id } }",
                json!({ "input": { "name": name, "targetSize": n } }),
                Some(officer),
            )
            .await;
        let panel = body["data"]["panelCreate"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned();
        let panel_id =
            civic_panel::graphql::id::decode::<civic_panel::domain::ids::PanelId>(&panel, "id")
                .unwrap();
        for id in &ids {
            membership::Entity::insert(membership::ActiveModel {
                panel_id: Set(panel_id),
                resident_id: Set(civic_panel::domain::ids::ResidentId(*id)),
                run_id: Set(None),
                status: Set(MembershipStatus::Active),
                selected_at: Set(now),
                term_ends_at: Set(None),
                updated_at: Set(now),
                ..Default::default()
            })
            .exec(self.db())
            .await
            .unwrap();
        }
        (panel, ids)
    }
}
