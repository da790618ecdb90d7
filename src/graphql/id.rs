//! Opaque global IDs: `base64url("Kind:123")`. Clients must treat them as strings; the
//! kind prefix stops an ID of one type being accepted where another is meant.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{AppError, AppResult};

/// Encodes a row id of `kind` as an opaque ID.
pub fn encode(kind: &str, id: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{kind}:{id}")))
}

/// Decodes an ID that must be of `kind`; anything else is `BAD_USER_INPUT` on `field`.
pub fn decode(kind: &str, id: &str, field: &str) -> AppResult<i64> {
    let invalid = || AppError::bad_input(field, format!("Not a valid {kind} ID."));
    let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (found_kind, number) = text.split_once(':').ok_or_else(invalid)?;
    if found_kind != kind {
        return Err(invalid());
    }
    number.parse::<i64>().map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_round_trips_and_refuses_another_kind() {
        let id = encode("Account", 42);
        assert_eq!(decode("Account", &id, "id").unwrap(), 42);
        assert!(decode("Panel", &id, "id").is_err());
        assert!(decode("Account", "not base64!", "id").is_err());
    }
}
