//! Background work: the worker that runs queued jobs and delivers the outbox, beside the
//! HTTP server or alone (`civic-panel worker`), what each kind of job does, and the mail
//! transports.
//!
//! Jobs are queued by use cases (`service::jobs`); this module only runs them.

pub mod delivery;
pub mod handlers;
pub mod mail;
pub mod sms;
pub mod worker;
