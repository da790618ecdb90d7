//! Roles and what each may do. See DESIGN.md, "Users and what each may do".

use std::fmt;
use std::str::FromStr;

/// Who someone is to the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Engagement lead: everything, including accounts and erasure.
    Admin,
    /// Engagement officer: recruitment, panels, consultations, member data.
    Officer,
    /// Scrutiny committee member: aggregate reports only, never microdata.
    Scrutiny,
    /// Panel member: their own profile, consent and answers.
    Resident,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Officer, Role::Scrutiny, Role::Resident];

    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Officer => "OFFICER",
            Role::Scrutiny => "SCRUTINY",
            Role::Resident => "RESIDENT",
        }
    }

    /// Whether a caller with this role passes a check that names `allowed`.
    /// ADMIN passes every check.
    pub fn is_any_of(self, allowed: &[Role]) -> bool {
        self == Role::Admin || allowed.contains(&self)
    }

    /// Roles an ADMIN may give a new staff account (residents register with a code).
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Officer | Role::Scrutiny)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored role string that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_stored_form() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("admin".parse::<Role>().is_err());
    }

    #[test]
    fn admin_passes_every_check_and_others_only_their_own() {
        assert!(Role::Admin.is_any_of(&[Role::Officer]));
        assert!(Role::Officer.is_any_of(&[Role::Officer, Role::Scrutiny]));
        assert!(!Role::Scrutiny.is_any_of(&[Role::Officer]));
        assert!(!Role::Resident.is_any_of(&[Role::Officer, Role::Scrutiny]));
    }

    #[test]
    fn residents_are_not_staff() {
        assert!(!Role::Resident.is_staff());
        assert!(Role::Scrutiny.is_staff());
    }
}
