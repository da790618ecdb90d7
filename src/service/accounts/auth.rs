//! Who is calling, and the one place that decides whether they may.

use std::net::IpAddr;

use crate::db::views::Viewer;
use crate::domain::accounts::role::Role;
use crate::domain::ids::{AccountId, SessionId};
use crate::error::{AppError, AppResult};

/// A logged-in caller, resolved from a valid session token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthSession {
    /// The session (for logging out).
    pub session_id: SessionId,
    /// Whose session it is.
    pub account_id: AccountId,
    /// What they may do.
    pub role: Role,
}

/// Who is asking: passed into every use case that reads personal or aggregate data, so
/// that who may see what is decided in the service layer, the one place the API, the
/// exports and the background jobs all pass through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No token was sent.
    Anonymous,
    /// A valid session.
    Session(AuthSession),
    /// The operator at the command line (who holds the database and its secret anyway),
    /// or a background job doing what an authorised caller asked for when it was queued.
    System,
}

impl Caller {
    /// The session, or `UNAUTHENTICATED` (the system has none).
    pub fn session(&self) -> AppResult<&AuthSession> {
        match self {
            Caller::Anonymous | Caller::System => Err(AppError::Unauthenticated),
            Caller::Session(session) => Ok(session),
        }
    }

    /// Checks the caller may act as one of `allowed` (ADMIN and the system always may):
    /// `UNAUTHENTICATED` without a session, `FORBIDDEN` with the wrong role.
    pub fn require(&self, allowed: &[Role]) -> AppResult<()> {
        match self {
            Caller::System => Ok(()),
            Caller::Anonymous => Err(AppError::Unauthenticated),
            Caller::Session(session) if session.role.is_any_of(allowed) => Ok(()),
            Caller::Session(_) => Err(AppError::Forbidden),
        }
    }

    /// The account acting, if a person is (recorded as who did something).
    pub fn account(&self) -> Option<AccountId> {
        match self {
            Caller::Session(session) => Some(session.account_id),
            Caller::Anonymous | Caller::System => None,
        }
    }

    /// The rows the caller sees of the tables residents reach ([`crate::db::views`]).
    pub fn viewer(&self) -> Viewer {
        match self {
            Caller::System => Viewer::Everything,
            Caller::Anonymous => Viewer::Nobody,
            Caller::Session(session) => match session.role {
                Role::Admin => Viewer::Everything,
                Role::Officer | Role::Scrutiny => Viewer::Staff(session.account_id),
                Role::Resident => Viewer::Resident(session.account_id),
            },
        }
    }

    /// The view of the signed-in caller's own rows (their registrations, invitations and
    /// memberships), whatever their role: for what a person does as a panel member.
    pub fn own_view(&self) -> AppResult<Viewer> {
        Ok(Viewer::Resident(self.session()?.account_id))
    }

    /// The role acting; `None` for anonymous callers and the system.
    pub fn role(&self) -> Option<Role> {
        match self {
            Caller::Session(session) => Some(session.role),
            Caller::Anonymous | Caller::System => None,
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
