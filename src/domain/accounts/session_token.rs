//! Session tokens: opaque bearer secrets of 256 bits from the operating system's CSPRNG.
//!
//! Only the SHA-256 of a token is stored, so a copy of the database cannot be replayed as
//! logins. SHA-256 (not argon2) is right here: the token is already full-entropy random, so
//! there is nothing for a slow hash to protect against.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix that makes a leaked session token recognisable to secret scanners.
pub const TOKEN_PREFIX: &str = "cps_";
/// Prefix of one-time login-link tokens.
pub const LOGIN_LINK_PREFIX: &str = "cpl_";
/// The prefix of a consultation invitation's personal token.
pub const INVITATION_PREFIX: &str = "cpc_";
/// Random bytes in a token.
pub const TOKEN_BYTES: usize = 32;

/// A freshly issued token, to be shown to its owner exactly once.
#[derive(Clone)]
pub struct SessionToken(String);

impl SessionToken {
    /// Draws a new session token from the thread-local CSPRNG (seeded from the OS).
    pub fn generate() -> Self {
        Self::generate_with_prefix(TOKEN_PREFIX)
    }

    /// Draws a new one-time login-link token (same strength, another prefix).
    pub fn generate_login_link() -> Self {
        Self::generate_with_prefix(LOGIN_LINK_PREFIX)
    }

    /// Draws a new personal token for a consultation invitation (same strength).
    pub fn generate_invitation() -> Self {
        Self::generate_with_prefix(INVITATION_PREFIX)
    }

    fn generate_with_prefix(prefix: &str) -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The secret, for the response that issues it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The stored form.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// Lower-case hex SHA-256 of a presented token: the only form that is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes whatever a client presented (it need not be well-formed to be looked up).
    pub fn of(presented: &str) -> Self {
        Self(hex_sha256(presented.as_bytes()))
    }

    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Lower-case hex SHA-256 of some bytes.
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_carries_256_random_bits_behind_its_prefix() {
        let token = SessionToken::generate();
        let body = token.expose().strip_prefix(TOKEN_PREFIX).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), TOKEN_BYTES);
    }

    #[test]
    fn two_tokens_differ() {
        assert_ne!(
            SessionToken::generate().expose(),
            SessionToken::generate().expose()
        );
    }

    #[test]
    fn the_stored_hash_is_the_sha256_of_the_token() {
        // Known answer: SHA-256("abc").
        assert_eq!(
            TokenHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = SessionToken::generate();
        assert_eq!(token.hash(), TokenHash::of(token.expose()));
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let token = SessionToken::generate();
        assert!(!format!("{token:?}").contains(token.expose()));
    }
}
