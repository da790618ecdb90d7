//! Global IDs as GraphQL's `ID` type (the codec itself is [`crate::global_id`]), and the
//! download path a stored file's ID makes.

use async_graphql::ID;

pub use crate::global_id::{GlobalId, decode, decode_any};

/// Encodes an identity as an opaque ID.
pub fn encode<T: GlobalId>(id: T) -> ID {
    ID(crate::global_id::encode(id))
}

/// The path a stored file is downloaded from, relative to the server's address: `GET` it
/// with the same `Authorization: Bearer` token (`http::exports` serves it).
pub fn download_path(file: crate::domain::ids::FileId) -> String {
    format!("/exports/files/{}", encode(file).0)
}
