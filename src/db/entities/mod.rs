//! sea-orm entities, one file per table. They are storage shapes only: the API never
//! exposes them directly.

pub mod account;
pub mod rate_limit_event;
pub mod session;
