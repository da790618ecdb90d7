//! `EmailAddress`: an address we are willing to store and send to.
//!
//! The check is deliberately modest (RFC 5322 allows far more than any mailbox uses):
//! one `@`, a non-empty local part, a dotted domain, no spaces or control characters,
//! within the SMTP length limits. Addresses are compared case-insensitively, so they are
//! stored lower-cased.

use std::fmt;

/// Why an email address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing was given.
    #[error("Email address is empty.")]
    Empty,
    /// Longer than SMTP allows (254 characters, local part 64).
    #[error("Email address is too long.")]
    TooLong,
    /// Not of the form `name@example.org`.
    #[error("Email address must look like name@example.org.")]
    Malformed,
}

/// A syntactically valid, lower-cased email address.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses and normalises (trims, lower-cases) an address.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let lowered = trimmed.to_lowercase();
        let (local, domain) = lowered.split_once('@').ok_or(EmailError::Malformed)?;
        if local.len() > 64 {
            return Err(EmailError::TooLong);
        }
        let bad_char = |c: char| c.is_whitespace() || c.is_control() || c == '@';
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .split('.')
                .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if local.is_empty()
            || local.chars().any(bad_char)
            || domain.chars().any(bad_char)
            || !domain_ok
        {
            return Err(EmailError::Malformed);
        }
        Ok(Self(lowered))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_trimmed_and_lower_cased() {
        let email = EmailAddress::parse("  Officer@Tewkesbury.GOV.uk ").unwrap();
        assert_eq!(email.as_str(), "officer@tewkesbury.gov.uk");
    }

    #[test]
    fn addresses_without_a_dotted_domain_are_refused() {
        for raw in [
            "a@b", "a@.b", "a@b.", "a@b..c", "a@-b.c", "@b.c", "a b@c.d", "a@@b.c", "ab.c",
        ] {
            assert_eq!(
                EmailAddress::parse(raw),
                Err(EmailError::Malformed),
                "{raw}"
            );
        }
    }

    #[test]
    fn empty_and_overlong_addresses_are_refused() {
        assert_eq!(EmailAddress::parse("   "), Err(EmailError::Empty));
        let long_local = format!("{}@example.org", "a".repeat(65));
        assert_eq!(EmailAddress::parse(&long_local), Err(EmailError::TooLong));
        let long_domain = format!("a@{}.org", "b".repeat(260));
        assert_eq!(EmailAddress::parse(&long_domain), Err(EmailError::TooLong));
    }
}
