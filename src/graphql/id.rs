//! Global IDs as GraphQL's `ID` type; the codec itself is [`crate::global_id`].

use async_graphql::ID;

pub use crate::global_id::{GlobalId, decode, decode_any};

/// Encodes an identity as an opaque ID.
pub fn encode<T: GlobalId>(id: T) -> ID {
    ID(crate::global_id::encode(id))
}
