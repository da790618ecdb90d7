//! `NewPassword`: a password someone is choosing, checked against a length policy.
//!
//! Following NCSC and NIST SP 800-63B guidance, length is the rule (at least 12
//! characters) and there are no composition rules. The upper bound stops a multi-megabyte
//! "password" from turning hashing into a denial of service.

use std::fmt;

/// Fewest characters a new password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Most characters a password may have.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than [`MIN_PASSWORD_CHARS`].
    #[error("Password must be at least {MIN_PASSWORD_CHARS} characters long.")]
    TooShort,
    /// Longer than [`MAX_PASSWORD_CHARS`].
    #[error("Password must be at most {MAX_PASSWORD_CHARS} characters long.")]
    TooLong,
}

/// A password that meets the policy. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct NewPassword(String);

impl NewPassword {
    /// Checks the policy.
    pub fn parse(raw: &str) -> Result<Self, PasswordError> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            Err(PasswordError::TooShort)
        } else if chars > MAX_PASSWORD_CHARS {
            Err(PasswordError::TooLong)
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    /// The secret, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_of_twelve_characters_is_accepted_and_eleven_is_not() {
        assert!(NewPassword::parse("abcdefghijkl").is_ok());
        assert_eq!(
            NewPassword::parse("abcdefghijk").err(),
            Some(PasswordError::TooShort)
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // Twelve two-byte characters.
        assert!(NewPassword::parse(&"é".repeat(12)).is_ok());
        assert_eq!(
            NewPassword::parse(&"é".repeat(11)).err(),
            Some(PasswordError::TooShort)
        );
    }

    #[test]
    fn an_enormous_password_is_refused() {
        assert_eq!(
            NewPassword::parse(&"x".repeat(257)).err(),
            Some(PasswordError::TooLong)
        );
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let password = NewPassword::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }
}
