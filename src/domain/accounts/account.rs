//! `Account`: a login as the rest of the service sees it (never its password hash).

use chrono::{DateTime, Utc};

use crate::domain::accounts::role::Role;
use crate::domain::email::EmailAddress;

pub use crate::domain::ids::AccountId;

/// A staff or resident login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The row's key, also the number in its `Account` global ID.
    pub id: AccountId,
    /// Lower-cased, unique.
    pub email: EmailAddress,
    /// How the account holder is addressed.
    pub display_name: String,
    /// What the holder may do.
    pub role: Role,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
    /// Disabled accounts cannot log in and their sessions stop working.
    pub disabled: bool,
}

/// Longest display name accepted.
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// Trims a display name and checks it is present and not too long.
pub fn parse_display_name(raw: &str) -> Result<String, &'static str> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        Err("Display name is required.")
    } else if trimmed.chars().count() > MAX_DISPLAY_NAME_CHARS {
        Err("Display name must be at most 200 characters.")
    } else if trimmed.chars().any(char::is_control) {
        Err("Display name must not contain control characters.")
    } else {
        Ok(trimmed.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_display_name_is_trimmed_and_must_not_be_blank() {
        assert_eq!(parse_display_name("  Priya Shah ").unwrap(), "Priya Shah");
        assert!(parse_display_name("   ").is_err());
        assert!(parse_display_name("a\u{0}b").is_err());
        assert!(parse_display_name(&"x".repeat(201)).is_err());
    }
}
