//! Consultation invitations' personal tokens: `cpc_` and 256 bits derived from the code
//! secret and a random salt kept with the invitation, so the database holds only the
//! token's SHA-256 and the salt, and the token can be made again (for a reminder, or for a
//! member who opened their invitation with their letter's code) while the secret is kept.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::accounts::session_token::{INVITATION_PREFIX, TokenHash};
use crate::domain::recruitment::code_key::{CodeKey, CodeKeys};

/// What a personal token is derived for (with the code secret and the invitation's salt).
const TOKEN_PURPOSE: &str = "consultation-invitation";

/// A new invitation's salt (base64) and the personal token it gives under `key`.
pub fn new_token(key: &CodeKey) -> (String, String) {
    let salt: [u8; 16] = rand::random();
    let salt = URL_SAFE_NO_PAD.encode(salt);
    let token = token_from(key, &salt);
    (salt, token)
}

/// The personal token of an invitation with `salt`, under `key`: `cpc_` and 256 bits.
fn token_from(key: &CodeKey, salt: &str) -> String {
    format!(
        "{INVITATION_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(key.derive(TOKEN_PURPOSE, salt.as_bytes()))
    )
}

/// An invitation's token again, for a reminder or a member who opened it with their
/// letter's code: under the current secret or, after a
/// rotation, the previous one it was made under; `None` when no configured secret gives
/// its stored hash.
pub fn token_again(keys: &CodeKeys, salt: &str, stored_hash: &str) -> Option<String> {
    std::iter::once(&keys.current)
        .chain(&keys.previous)
        .map(|key| token_from(key, salt))
        .find(|token| TokenHash::of(token).as_str() == stored_hash)
}
