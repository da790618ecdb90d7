//! The server secret that keys stored invitation-code hashes.
//!
//! An invitation code carries 45 random bits: enough against guessing through the API,
//! which is rate-limited, but not against someone holding a copy of the database, who
//! could hash every possible code offline in hours. So the stored form is
//! HMAC-SHA-256(secret, code) with a secret that lives outside the database (a file or an
//! environment variable). Without the secret the stored hashes say nothing.
//!
//! Rotation: new codes are always hashed with the current secret; a code is looked up under
//! the current secret, every previous secret still configured, and the unkeyed legacy hash
//! (codes printed before keyed hashes existed), so letters already posted keep working.

use hmac::{Hmac, KeyInit, Mac};
use rand::CryptoRng;
use sha2::Sha256;

use crate::domain::recruitment::invitation_code::InvitationCode;

/// Fewest characters a secret may have (a generated one has 43).
pub const MIN_SECRET_CHARS: usize = 32;

/// One secret, prepared for hashing.
#[derive(Clone)]
pub struct CodeKey(Hmac<Sha256>);

/// Why a secret was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeKeyError {
    /// Too short to be a secret.
    #[error("a code secret needs at least {MIN_SECRET_CHARS} characters, this one has {0}")]
    TooShort(usize),
}

impl CodeKey {
    /// A secret from its text (surrounding whitespace, such as a file's last newline, is
    /// not part of it).
    pub fn new(secret: &str) -> Result<Self, CodeKeyError> {
        let secret = secret.trim();
        let chars = secret.chars().count();
        if chars < MIN_SECRET_CHARS {
            return Err(CodeKeyError::TooShort(chars));
        }
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
            .map(Self)
            .map_err(|_| CodeKeyError::TooShort(chars))
    }

    /// A new random secret's text: 256 bits from `rng`, in URL-safe base64.
    pub fn generate_text(rng: &mut impl CryptoRng) -> String {
        use base64::Engine;
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The stored form of `code` under this secret: hex HMAC-SHA-256 of its canonical form.
    pub fn hash(&self, code: &InvitationCode) -> String {
        let mut mac = self.0.clone();
        mac.update(code.canonical().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A secret value derived from this secret for `purpose` and `salt`: HMAC-SHA-256 of
    /// `purpose`, a zero byte, and `salt`. Stored salts alone do not give it away.
    pub fn derive(&self, purpose: &str, salt: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(salt);
        mac.finalize().into_bytes().into()
    }
}

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeKey(<redacted>)")
    }
}

/// The current secret and the previous ones still accepted.
#[derive(Clone, Debug)]
pub struct CodeKeys {
    /// New codes are hashed with this one.
    pub current: CodeKey,
    /// Codes printed under these still work.
    pub previous: Vec<CodeKey>,
}

impl CodeKeys {
    /// The form to store for a newly minted code.
    pub fn stored_hash(&self, code: &InvitationCode) -> String {
        self.current.hash(code)
    }

    /// Every stored form `code` may have: under the current secret, each previous one,
    /// and the legacy unkeyed hash.
    pub fn lookup_hashes(&self, code: &InvitationCode) -> Vec<String> {
        let mut hashes = vec![self.current.hash(code)];
        hashes.extend(self.previous.iter().map(|key| key.hash(code)));
        hashes.push(code.legacy_hash_hex());
        hashes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "an example secret of more than thirty-two characters";

    #[test]
    fn the_stored_hash_is_the_hmac_sha256_of_the_canonical_code() {
        let key = CodeKey::new("key").err();
        assert_eq!(key, Some(CodeKeyError::TooShort(3)));
        // Computed independently:
        // printf 7K3M9QXW25 | openssl dgst -sha256 -hmac "$SECRET"
        let key = CodeKey::new(SECRET).unwrap();
        let code = InvitationCode::parse("7k3m9-qxw25").unwrap();
        assert_eq!(
            key.hash(&code),
            "692dbe4a1fb1354880a5d4ca20dab24bb9b367f0fac46f4488ae06addd9390f0"
        );
    }

    #[test]
    fn a_different_secret_gives_a_different_hash_and_none_is_the_plain_sha256() {
        let code = InvitationCode::parse("7K3M9QXW25").unwrap();
        let one = CodeKey::new(SECRET).unwrap();
        let two = CodeKey::new(&format!("{SECRET}!")).unwrap();
        assert_ne!(one.hash(&code), two.hash(&code));
        assert_ne!(one.hash(&code), code.legacy_hash_hex());
    }

    #[test]
    fn a_code_is_looked_up_under_every_secret_and_the_legacy_hash() {
        let code = InvitationCode::parse("7K3M9QXW25").unwrap();
        let old = CodeKey::new(&format!("old {SECRET}")).unwrap();
        let keys = CodeKeys {
            current: CodeKey::new(SECRET).unwrap(),
            previous: vec![old.clone()],
        };
        let hashes = keys.lookup_hashes(&code);
        assert_eq!(hashes.len(), 3);
        assert_eq!(hashes[0], keys.stored_hash(&code));
        assert_eq!(hashes[1], old.hash(&code));
        assert_eq!(hashes[2], code.legacy_hash_hex());
    }

    #[test]
    fn a_generated_secret_is_long_enough_and_random() {
        let mut rng = rand::rng();
        let one = CodeKey::generate_text(&mut rng);
        assert_eq!(one.len(), 43);
        assert!(CodeKey::new(&one).is_ok());
        assert_ne!(one, CodeKey::generate_text(&mut rng));
    }

    #[test]
    fn a_derived_value_depends_on_the_secret_the_purpose_and_the_salt() {
        let one = CodeKey::new(SECRET).unwrap();
        let two = CodeKey::new(&format!("{SECRET}!")).unwrap();
        let base = one.derive("invitation", b"salt");
        assert_eq!(base, one.derive("invitation", b"salt"));
        assert_ne!(base, two.derive("invitation", b"salt"));
        assert_ne!(base, one.derive("invitation", b"salt2"));
        assert_ne!(base, one.derive("invitatio", b"nsalt"));
    }

    #[test]
    fn whitespace_around_a_secret_is_not_part_of_it() {
        let code = InvitationCode::parse("7K3M9QXW25").unwrap();
        let plain = CodeKey::new(SECRET).unwrap();
        let from_file = CodeKey::new(&format!("  {SECRET}\n")).unwrap();
        assert_eq!(plain.hash(&code), from_file.hash(&code));
    }
}
