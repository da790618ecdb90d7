//! `TestApp`: the real router over a fresh database, driven in-process.

use std::net::SocketAddr;

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
use civic_panel::domain::role::Role;
use civic_panel::service::accounts::{self, NewAccount};
use civic_panel::service::clock::Clock;
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

/// A database of its own for one test.
pub async fn fresh_database() -> DatabaseConfig {
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
            DatabaseConfig {
                database_url: with_search_path(&url, &schema),
                db_max_connections: 5,
            }
        }
        _ => DatabaseConfig {
            database_url: "sqlite::memory:".to_owned(),
            db_max_connections: 1,
        },
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
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}_{hex}")
}

/// The service over a fresh database, with a manual clock.
pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub clock: Clock,
}

impl TestApp {
    /// Default test configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Test configuration changed by `adjust`.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let database = fresh_database().await;
        let mut config = Config::for_tests(&database.database_url);
        config.database = database;
        adjust(&mut config);
        let connection = db::connect(&config.database).await.expect("connect");
        db::migrate(&connection).await.expect("migrate");
        let clock = Clock::manual(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
        let state = AppState::new(connection, config, clock.clone()).expect("state");
        let router = http::router(state.clone());
        Self {
            state,
            router,
            clock,
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
        }
    }

    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
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

/// The files of a stored (uncompressed) ZIP, as civic-panel writes them.
pub fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut at = 0;
    while bytes.len() >= at + 30 && bytes[at..at + 4] == [0x50, 0x4b, 0x03, 0x04] {
        let u16_at = |i: usize| u16::from_le_bytes([bytes[at + i], bytes[at + i + 1]]) as usize;
        let size = u32::from_le_bytes(bytes[at + 18..at + 22].try_into().unwrap()) as usize;
        let (name_len, extra_len) = (u16_at(26), u16_at(28));
        let name_start = at + 30;
        let data_start = name_start + name_len + extra_len;
        let name = String::from_utf8(bytes[name_start..name_start + name_len].to_vec()).unwrap();
        files.push((name, bytes[data_start..data_start + size].to_vec()));
        at = data_start + size;
    }
    files
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
        let summary = civic_panel::service::addresses::import(
            self.db(),
            &self.clock,
            std::io::Cursor::new(csv),
            civic_panel::service::addresses::ImportOptions::default(),
            None,
        )
        .await
        .unwrap();
        summary.inserted
    }

    /// Imports the bundled Census 2021 benchmarks through the service.
    pub async fn load_benchmarks(&self) {
        let data = civic_panel::service::demo::CENSUS_BENCHMARKS.as_bytes();
        civic_panel::service::benchmarks::import(&self.state, std::io::Cursor::new(data))
            .await
            .unwrap();
    }

    /// Draws a round through the API as `token`; returns the response body.
    pub async fn create_round(&self, token: &str, input: Value) -> Value {
        self.graphql(
            "mutation($input: RecruitmentRoundCreateInput!) {
                recruitmentRoundCreate(input: $input) { round { id seed drawnCount eligibleCount registerFingerprint algorithm } }
            }",
            json!({ "input": input }),
            Some(token),
        )
        .await
    }

    /// Draws a round and returns its ID (panics on error).
    pub async fn round_id(&self, token: &str, input: Value) -> String {
        let body = self.create_round(token, input).await;
        body["data"]["recruitmentRoundCreate"]["round"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("round not created: {body}"))
            .to_owned()
    }

    /// Mints codes for a round's letters through the service.
    pub async fn issue_codes(
        &self,
        round_id: &str,
    ) -> Vec<civic_panel::service::letters::PrintedLetter> {
        let id = civic_panel::graphql::id::decode("RecruitmentRound", round_id, "id").unwrap();
        civic_panel::service::letters::issue_codes(&self.state, id, false)
            .await
            .unwrap()
    }
}

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
