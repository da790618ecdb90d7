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
    /// A stable bucket key ("unknown" when the address could not be determined). IPv6
    /// addresses are keyed by their /64 network: one subscriber usually holds a whole /64,
    /// so keying the full address would give them unlimited buckets.
    pub fn key(&self) -> String {
        match self.0 {
            None => "unknown".to_owned(),
            Some(IpAddr::V4(ip)) => ip.to_string(),
            Some(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = ip.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_bit_network() {
        let a = ClientAddress(Some("2001:db8:1:2:aaaa::1".parse().unwrap()));
        let b = ClientAddress(Some("2001:db8:1:2:bbbb::9".parse().unwrap()));
        assert_eq!(a.key(), b.key());
        assert_eq!(a.key(), "2001:db8:1:2::/64");
        let mapped = ClientAddress(Some("::ffff:192.0.2.7".parse().unwrap()));
        assert_eq!(mapped.key(), "192.0.2.7");
        assert_eq!(ClientAddress(None).key(), "unknown");
    }
}
