//! Use cases. Each takes the state it needs and typed input, runs its own transaction
//! where it writes more than one row, and returns domain values or an [`AppError`].
//!
//! One folder per feature, named as in `domain/`: `accounts` (sign-in, sessions, login
//! links, password hashing), `register` (address and census imports), `recruitment`
//! (rounds, letters, registration, incentives, the round's status), `selection` (runs,
//! seats, the run's report), `panels` (membership, balanced samples, the panel's report),
//! `consultations` (the survey, invitations, answering, tracking, submissions, the
//! officers' view of responses), `reports` (the consultation report, its CSV and HTML,
//! disclosure control and the stored publications). What every feature uses (the clock,
//! jobs, downloads, group commit, rate limits, the audit log, progress) sits at the root.
//!
//! [`AppError`]: crate::error::AppError

pub mod accounts;
pub mod audit;
pub mod clock;
pub mod consultations;
pub mod demo;
pub mod downloads;
pub mod group_commit;
pub mod jobs;
pub mod panels;
pub mod progress;
pub mod rate_limit;
pub mod recruitment;
pub mod register;
pub mod reports;
pub mod selection;
