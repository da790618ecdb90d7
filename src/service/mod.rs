//! Use cases. Each takes the state it needs and typed input, runs its own transaction
//! where it writes more than one row, and returns domain values or an [`AppError`].
//!
//! [`AppError`]: crate::error::AppError

pub mod accounts;
pub mod addresses;
pub mod age_bands;
pub mod answering;
pub mod audit;
pub mod auth;
pub mod benchmarks;
pub mod clock;
pub mod consultations;
pub mod demo;
pub mod disclosure;
pub mod downloads;
pub mod group_commit;
pub mod incentives;
pub mod invitations;
pub mod jobs;
pub mod letters;
pub mod login_links;
pub mod panel_report;
pub mod panels;
pub mod passwords;
pub mod progress;
pub mod publications;
pub mod rate_limit;
pub mod recruitment;
pub mod registration;
pub mod report_csv;
pub mod report_html;
pub mod reports;
pub mod response_csv;
pub mod responses;
pub mod round_status;
pub mod seats;
pub mod selection;
pub mod selection_report;
pub mod sessions;
pub mod sub_sample;
pub mod submissions;
pub mod tracking;
