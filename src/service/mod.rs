//! Use cases. Each takes the state it needs and typed input, runs its own transaction
//! where it writes more than one row, and returns domain values or an [`AppError`].
//!
//! [`AppError`]: crate::error::AppError

pub mod accounts;
pub mod auth;
pub mod clock;
pub mod passwords;
pub mod rate_limit;
pub mod sessions;
