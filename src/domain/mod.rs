//! Pure, synchronous domain logic: parsing at the edge, the maths of sampling and codes.
//!
//! Nothing here touches a database, an HTTP request or GraphQL; a test in
//! `tests/api/layers.rs` keeps it that way.

pub mod account;
pub mod email;
pub mod invitation_code;
pub mod password;
pub mod postcode;
pub mod role;
pub mod sampling;
pub mod session_token;
