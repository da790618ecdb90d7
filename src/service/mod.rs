//! Use cases. Each takes the state it needs and typed input, runs its own transaction
//! where it writes more than one row, and returns domain values or an [`AppError`].
//!
//! One folder per feature, named as in `domain/`: `accounts` (sign-in, sessions, login
//! links), `register` (address and census imports), `recruitment`
//! (rounds, letters, registration, incentives, the round's status), `selection` (runs,
//! seats, the run's report), `panels` (membership, balanced samples, the panel's report),
//! `consultations` (the survey, invitations, answering, the officers' view of responses),
//! `reports` (the consultation report, its CSV and HTML, the stored publications). What
//! every feature uses (jobs, downloads, rate limits, the audit log) sits at the root; what
//! one process holds for all of them (the clock, password hashing, running jobs' progress,
//! caches) is `crate::state`, and the batched writers of tracking events and submissions
//! are in `crate::db`.
//!
//! [`AppError`]: crate::error::AppError

pub mod accounts;
pub mod audit;
pub mod consultations;
pub mod demo;
pub mod downloads;
pub mod jobs;
pub mod panels;
pub mod rate_limit;
pub mod recruitment;
pub mod register;
pub mod reports;
pub mod selection;
