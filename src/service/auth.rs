//! Who is calling, and the one place that decides whether they may.

use std::net::IpAddr;

use crate::domain::account::AccountId;
use crate::domain::role::Role;
use crate::error::{AppError, AppResult};

/// A logged-in caller, resolved from a valid session token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthSession {
    /// The session's row id (for logging out).
    pub session_id: i64,
    /// Whose session it is.
    pub account_id: AccountId,
    /// What they may do.
    pub role: Role,
}

/// The caller of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No token was sent.
    Anonymous,
    /// A valid session.
    Session(AuthSession),
}

impl Caller {
    /// The session, or `UNAUTHENTICATED`.
    pub fn session(&self) -> AppResult<&AuthSession> {
        match self {
            Caller::Anonymous => Err(AppError::Unauthenticated),
            Caller::Session(session) => Ok(session),
        }
    }

    /// The session if its role is one of `allowed` (ADMIN always is): `UNAUTHENTICATED`
    /// without a session, `FORBIDDEN` with the wrong role.
    pub fn require(&self, allowed: &[Role]) -> AppResult<&AuthSession> {
        let session = self.session()?;
        if session.role.is_any_of(allowed) {
            Ok(session)
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// Where a request came from, for per-client rate limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    /// A stable bucket key ("unknown" when the address could not be determined).
    pub fn key(&self) -> String {
        self.0
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}
