//! The domain's types as the database's own values, so that entities hold them rather
//! than bare integers and strings: identity types (`crate::domain::ids`) as 64-bit
//! integers, so a round's id cannot be stored where a letter's is meant; enums stored by
//! name (`crate::stored_names!`) as text, so a status is read as a status and a name this
//! version does not know fails the read with what it should have been. The same impls
//! `DeriveValueType` and `DeriveActiveEnum` would write, here because the domain imports no
//! database crate.

use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, DbErr, QueryResult, TryFromU64, TryGetError, TryGetable, Value};

use crate::domain::accounts::role::Role;
use crate::domain::consultations::consultation::{AnswerChannel, Channel, Status};
use crate::domain::consultations::tracking::{EventKind, Stage};
use crate::domain::ids::{
    AccountId, AddressId, AuditEntryId, ConsultationId, FileId, InvitationId, JobId, LetterId,
    MembershipId, OutboxId, PanelId, ResidentId, ResponseId, RoundId, SelectionRunId, SessionId,
};
use crate::domain::job::{JobKind, JobStatus};
use crate::domain::panels::panel::MembershipStatus;
use crate::domain::selection::Method;

/// Makes each identity type a 64-bit integer value of the database.
macro_rules! stored_ids {
    ($($name:ident),* $(,)?) => {$(
        impl From<$name> for Value {
            fn from(id: $name) -> Self {
                id.0.into()
            }
        }

        impl TryGetable for $name {
            fn try_get_by<I: ColIdx>(res: &QueryResult, idx: I) -> Result<Self, TryGetError> {
                i64::try_get_by(res, idx).map($name)
            }
        }

        impl ValueType for $name {
            fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
                <i64 as ValueType>::try_from(v).map($name)
            }

            fn type_name() -> String {
                stringify!($name).to_owned()
            }

            fn array_type() -> ArrayType {
                ArrayType::BigInt
            }

            fn column_type() -> ColumnType {
                ColumnType::BigInteger
            }
        }

        impl Nullable for $name {
            fn null() -> Value {
                <i64 as Nullable>::null()
            }
        }

        impl sea_orm::IntoActiveValue<$name> for $name {
            fn into_active_value(self) -> sea_orm::ActiveValue<$name> {
                sea_orm::ActiveValue::Set(self)
            }
        }

        impl TryFromU64 for $name {
            fn try_from_u64(n: u64) -> Result<Self, DbErr> {
                i64::try_from_u64(n).map($name)
            }
        }
    )*};
}

stored_ids!(
    AccountId,
    AddressId,
    AuditEntryId,
    ConsultationId,
    FileId,
    InvitationId,
    JobId,
    LetterId,
    MembershipId,
    OutboxId,
    PanelId,
    ResidentId,
    ResponseId,
    RoundId,
    SelectionRunId,
    SessionId,
);

/// Makes each enum stored by name a text value of the database.
macro_rules! stored_names {
    ($($name:ident),* $(,)?) => {$(
        impl From<$name> for Value {
            fn from(value: $name) -> Self {
                value.as_str().into()
            }
        }

        impl TryGetable for $name {
            fn try_get_by<I: ColIdx>(res: &QueryResult, idx: I) -> Result<Self, TryGetError> {
                let name = String::try_get_by(res, idx)?;
                name.parse()
                    .map_err(|e: crate::domain::stored_names::UnknownName| {
                        TryGetError::DbErr(DbErr::Type(e.to_string()))
                    })
            }
        }

        impl ValueType for $name {
            fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
                <String as ValueType>::try_from(v)?.parse().map_err(|_| ValueTypeErr)
            }

            fn type_name() -> String {
                stringify!($name).to_owned()
            }

            fn array_type() -> ArrayType {
                ArrayType::String
            }

            fn column_type() -> ColumnType {
                ColumnType::Text
            }
        }

        impl Nullable for $name {
            fn null() -> Value {
                <String as Nullable>::null()
            }
        }

        impl sea_orm::IntoActiveValue<$name> for $name {
            fn into_active_value(self) -> sea_orm::ActiveValue<$name> {
                sea_orm::ActiveValue::Set(self)
            }
        }
    )*};
}

stored_names!(
    AnswerChannel,
    Channel,
    EventKind,
    JobKind,
    JobStatus,
    MembershipStatus,
    Method,
    Role,
    Stage,
    Status,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_name_reads_back_as_its_value_and_an_unknown_one_is_refused() {
        let value: Value = JobStatus::Running.into();
        assert_eq!(value, Value::String(Some("running".to_owned())));
        assert_eq!(
            <JobStatus as ValueType>::try_from(value).ok(),
            Some(JobStatus::Running)
        );
        let unknown = Value::String(Some("sleeping".to_owned()));
        assert!(<JobStatus as ValueType>::try_from(unknown).is_err());
    }
}
