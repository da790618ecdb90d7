//! Opaque global IDs: `base64url("Kind:123")`. Clients must treat them as strings; the
//! kind prefix stops an ID of one type being accepted where another is meant, and lets
//! `node(id:)` find any object by its ID alone. Below the services, so that a service or an
//! HTTP route decoding an ID given to it needs nothing of the GraphQL layer.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::ids::{
    AccountId, AuditEntryId, ConsultationId, FileId, InvitationId, JobId, MembershipId, PanelId,
    ResidentId, ResponseNumber, RoundId, SelectionRunId,
};
use crate::error::{AppError, AppResult};

/// An identity with a global ID: its kind, as the ID spells it.
pub trait GlobalId: Copy {
    /// The kind prefix, which is also the GraphQL type's name.
    const KIND: &'static str;
    /// The identity for a database row's key; nothing checks that the row exists.
    fn from_row(id: i64) -> Self;
    /// The database row's key: the number after the kind in the ID.
    fn row(self) -> i64;
}

/// Implements [`GlobalId`] for an identity type with the given kind.
macro_rules! global_id {
    ($type:ty, $kind:literal) => {
        impl GlobalId for $type {
            const KIND: &'static str = $kind;
            fn from_row(id: i64) -> Self {
                Self(id)
            }
            fn row(self) -> i64 {
                self.0
            }
        }
    };
}

global_id!(AccountId, "Account");
global_id!(RoundId, "RecruitmentRound");
global_id!(ResidentId, "Resident");
global_id!(JobId, "Job");
global_id!(FileId, "File");
global_id!(PanelId, "Panel");
global_id!(SelectionRunId, "SelectionRun");
global_id!(MembershipId, "Membership");
global_id!(ConsultationId, "Consultation");
global_id!(InvitationId, "Invitation");
global_id!(ResponseNumber, "ResponseNumber");
global_id!(AuditEntryId, "AuditEntry");

/// Encodes an identity as an opaque ID (`graphql::id::encode` gives it GraphQL's type).
pub fn encode<T: GlobalId>(id: T) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", T::KIND, id.row()))
}

/// The kind and row id of any well-formed ID; anything else is `BAD_USER_INPUT` on
/// `field`.
pub fn decode_any(id: &str, field: &str) -> AppResult<(String, i64)> {
    let invalid = || AppError::bad_input(field, "Not a valid ID.");
    let bytes = URL_SAFE_NO_PAD.decode(id.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (kind, number) = text.split_once(':').ok_or_else(invalid)?;
    let number = number.parse::<i64>().map_err(|_| invalid())?;
    Ok((kind.to_owned(), number))
}

/// Decodes an ID that must be of `T`'s kind; anything else is `BAD_USER_INPUT` on `field`.
pub fn decode<T: GlobalId>(id: &str, field: &str) -> AppResult<T> {
    match decode_any(id, field) {
        Ok((kind, number)) if kind == T::KIND => Ok(T::from_row(number)),
        _ => Err(AppError::bad_input(
            field,
            format!("Not a valid {} ID.", T::KIND),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_round_trips_and_refuses_another_kind() {
        let id = encode(AccountId(42));
        assert_eq!(decode::<AccountId>(&id, "id").unwrap(), AccountId(42));
        assert!(decode::<RoundId>(&id, "id").is_err());
        assert!(decode::<AccountId>("not base64!", "id").is_err());
        assert_eq!(
            decode_any(&encode(JobId(7)), "id").unwrap(),
            ("Job".to_owned(), 7)
        );
    }
}
