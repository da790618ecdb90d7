//! The domain's identity types (`crate::domain::ids`) as the database's own values, so that
//! an entity's `id` and foreign keys are typed (`PanelId`, not a bare `i64`) and a round's
//! id cannot be stored where a letter's is meant. The same impls `DeriveValueType` would
//! write, here because the domain imports no database crate.

use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, DbErr, QueryResult, TryFromU64, TryGetError, TryGetable, Value};

use crate::domain::ids::{
    AccountId, AddressId, AuditEntryId, ConsultationId, FileId, InvitationId, JobId, LetterId,
    MembershipId, OutboxId, PanelId, ResidentId, ResponseId, RoundId, SelectionRunId, SessionId,
};

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
