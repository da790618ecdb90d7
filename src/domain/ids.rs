//! Identities of stored things, one type per kind, so that a round's id cannot be passed
//! where a letter's is meant. Each wraps the row's database id; the API shows them only
//! as opaque global IDs (`crate::global_id`).

use std::fmt;

/// Declares one identity type: a `Copy` wrapper of the row id with `get`, `From<i64>` and
/// `Display` (the bare number, as used in log lines and file names).
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The database row id.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// A login account (staff or resident).
    AccountId
);
id_type!(
    /// A login session.
    SessionId
);
id_type!(
    /// An address of the register.
    AddressId
);
id_type!(
    /// A recruitment round (one address lottery).
    RoundId
);
id_type!(
    /// A letter: one drawn address of a round, with its invitation code.
    LetterId
);
id_type!(
    /// A registered resident (a member of the pool).
    ResidentId
);
id_type!(
    /// A background job.
    JobId
);
id_type!(
    /// A message in the outbox.
    OutboxId
);
id_type!(
    /// A panel (the Residents Panel, a Youth Forum, …).
    PanelId
);
id_type!(
    /// A run of panel selection.
    SelectionRunId
);
id_type!(
    /// A consultation (a survey).
    ConsultationId
);
id_type!(
    /// One member's invitation to a consultation.
    InvitationId
);
id_type!(
    /// A submitted response.
    ResponseId
);
id_type!(
    /// A resident's membership of a panel.
    MembershipId
);
id_type!(
    /// An entry of the audit log.
    AuditEntryId
);
id_type!(
    /// A response's number among its consultation's responses (its place in the order
    /// they came, or in a keyed shuffle for an anonymous consultation).
    ResponseNumber
);
id_type!(
    /// A file kept for download (an export bundle) or for a job (an upload).
    FileId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_shows_its_row_number_and_converts_back() {
        let id = RoundId::from(42);
        assert_eq!(id.get(), 42);
        assert_eq!(id.to_string(), "42");
        assert_ne!(format!("{:?}", id), format!("{:?}", LetterId(42)));
    }
}
