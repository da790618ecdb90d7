//! Staff accounts, roles, passwords and session tokens.

pub mod account;
pub mod password;
pub mod role;
pub mod session_token;
