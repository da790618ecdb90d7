//! `AppError`: the one error type use cases return, and the stable codes clients see in
//! `extensions.code`.
//!
//! `AppError` deliberately does not implement `Display`: async-graphql converts anything
//! displayable into an error *without* a code, so keeping `Display` off means a resolver's
//! `?` can only go through our own conversion (in `graphql::error`), which always stamps
//! the code and hides internal detail.

use std::sync::Arc;

use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, SqlErr, sqlx};

/// Stable, documented error codes (the values of `extensions.code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// No valid session: log in, or the token is wrong, expired or revoked.
    Unauthenticated,
    /// Logged in, but the role may not do this.
    Forbidden,
    /// The thing asked for does not exist (or the caller may not know it does).
    NotFound,
    /// An argument is malformed or breaks a rule; `extensions.field` names it.
    BadUserInput,
    /// The request clashes with existing data (a duplicate, a state that has moved on).
    Conflict,
    /// Too many attempts; `extensions.retryAfterSeconds` says when to try again.
    RateLimited,
    /// Something failed on our side; the detail is logged, never shown.
    Internal,
    /// The service is too busy to answer now (the database had no free connection in
    /// time); `extensions.retryAfterSeconds` says when to try again.
    Unavailable,
    /// The HTTP request is not a well-formed GraphQL-over-HTTP request.
    BadRequest,
    /// The GraphQL document does not parse.
    GraphqlParseFailed,
    /// The GraphQL document does not validate against the schema.
    GraphqlValidationFailed,
    /// The query nests deeper than the configured limit.
    QueryTooDeep,
    /// The query is more complex than the configured limit.
    QueryTooComplex,
    /// The request body is larger than the configured limit.
    PayloadTooLarge,
    /// The request did not finish within the configured time.
    Timeout,
}

impl ErrorCode {
    /// The wire form, SCREAMING_CASE.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Conflict => "CONFLICT",
            Self::RateLimited => "RATE_LIMITED",
            Self::Internal => "INTERNAL",
            Self::Unavailable => "UNAVAILABLE",
            Self::BadRequest => "BAD_REQUEST",
            Self::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Self::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Self::QueryTooDeep => "QUERY_TOO_DEEP",
            Self::QueryTooComplex => "QUERY_TOO_COMPLEX",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::Timeout => "TIMEOUT",
        }
    }
}

/// What a use case can fail with.
#[derive(Debug)]
pub enum AppError {
    /// See [`ErrorCode::Unauthenticated`]: no session was presented.
    Unauthenticated,
    /// `UNAUTHENTICATED`: the email or password is wrong (which one is not said).
    InvalidCredentials,
    /// `UNAUTHENTICATED`: the bearer token is wrong, expired or revoked.
    InvalidSession,
    /// See [`ErrorCode::Forbidden`].
    Forbidden,
    /// See [`ErrorCode::NotFound`]; `what` names the kind of thing ("account").
    NotFound { what: &'static str },
    /// See [`ErrorCode::BadUserInput`]; `field` is the input path, e.g. `input.email`.
    BadUserInput { field: String, message: String },
    /// See [`ErrorCode::Conflict`].
    Conflict { message: String },
    /// See [`ErrorCode::RateLimited`].
    RateLimited { retry_after_secs: u64 },
    /// `CONFLICT`: long work stopped because someone cancelled it.
    Cancelled,
    /// See [`ErrorCode::Unavailable`]; the detail is logged.
    Unavailable {
        retry_after_secs: u64,
        detail: anyhow::Error,
    },
    /// See [`ErrorCode::Internal`]; the detail is logged, not returned.
    Internal(anyhow::Error),
}

impl AppError {
    /// A bad argument, naming the field.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A clash with existing data.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
        }
    }

    /// An unexpected failure, kept for the log.
    pub fn internal(detail: impl Into<anyhow::Error>) -> Self {
        Self::Internal(detail.into())
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated | Self::InvalidCredentials | Self::InvalidSession => {
                ErrorCode::Unauthenticated
            }
            Self::Forbidden => ErrorCode::Forbidden,
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::BadUserInput { .. } => ErrorCode::BadUserInput,
            Self::Conflict { .. } | Self::Cancelled => ErrorCode::Conflict,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Unavailable { .. } => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The message a client may see (never internal detail).
    pub fn public_message(&self) -> String {
        match self {
            Self::Unauthenticated => "Authentication required: log in and send the session token \
                                      as `Authorization: Bearer <token>`."
                .to_owned(),
            Self::InvalidCredentials => "The email address or password is wrong.".to_owned(),
            Self::InvalidSession => {
                "The session token is wrong, expired or revoked. Log in again.".to_owned()
            }
            Self::Forbidden => "Your role is not allowed to do this.".to_owned(),
            Self::NotFound { what } => format!("No such {what}."),
            Self::BadUserInput { message, .. } | Self::Conflict { message } => message.clone(),
            Self::RateLimited { retry_after_secs } => {
                format!("Too many attempts. Try again in {retry_after_secs} seconds.")
            }
            Self::Cancelled => "The work was cancelled.".to_owned(),
            Self::Unavailable {
                retry_after_secs, ..
            } => format!("The service is busy. Try again in {retry_after_secs} seconds."),
            Self::Internal(_) => "Internal server error.".to_owned(),
        }
    }

    /// Seconds the client should wait before trying again, for codes that say so.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs }
            | Self::Unavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// Whether the same request may succeed if tried again later unchanged (the service
    /// was busy or failed on its side); a background job is retried only then.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Internal(_))
    }
}

/// Whether a driver error means "no connection free in time" or "the database file is
/// locked by another writer": the service is busy, not broken.
fn is_busy(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => {
            // SQLite reports its (extended) result code as a number; the low byte is the
            // primary code: SQLITE_BUSY (5) or SQLITE_LOCKED (6).
            db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                && db
                    .code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .is_some_and(|code| matches!(code & 0xff, 5 | 6))
        }
        _ => false,
    }
}

/// How long a busy client is asked to wait.
const BUSY_RETRY_SECS: u64 = 2;

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        let busy = match &err {
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => true,
            DbErr::Conn(RuntimeErr::SqlxError(e))
            | DbErr::Exec(RuntimeErr::SqlxError(e))
            | DbErr::Query(RuntimeErr::SqlxError(e)) => is_busy(e),
            _ => false,
        };
        if busy {
            return Self::Unavailable {
                retry_after_secs: BUSY_RETRY_SECS,
                detail: err.into(),
            };
        }
        // A unique violation that reaches here was not anticipated by the use case, but it
        // is still the client's clash, not our failure.
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::conflict("This already exists."),
            _ => Self::Internal(err.into()),
        }
    }
}

impl From<crate::domain::reports::disclosure::DisclosureError> for AppError {
    fn from(err: crate::domain::reports::disclosure::DisclosureError) -> Self {
        // Tables that do not fit together are our fault, never the caller's.
        Self::Internal(err.into())
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        // Through the ORM's error type, so a unique violation still reads as a conflict.
        DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err))).into()
    }
}

impl From<AppError> for anyhow::Error {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Internal(inner) | AppError::Unavailable { detail: inner, .. } => inner,
            other => anyhow::anyhow!("{}: {}", other.code().as_str(), other.public_message()),
        }
    }
}

/// Shorthand for use-case results.
pub type AppResult<T> = Result<T, AppError>;
