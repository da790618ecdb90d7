//! Pure, synchronous domain logic: parsing at the edge, the maths of sampling, selection,
//! codes and statistics.
//!
//! One folder per feature, named as in `service/` and `graphql/` (`accounts`, `register`,
//! `recruitment`, `selection`, `panels`, `consultations`, `reports`); what every feature
//! uses (typed IDs, jobs' kinds, text decoding, UK time, email addresses, QR codes) sits
//! here at the root. Nothing here touches a database, an HTTP request or GraphQL; a test
//! in `tests/api/layers.rs` keeps it that way.

pub mod accounts;
pub mod colour;
pub mod consultations;
pub mod email;
pub mod ids;
pub mod job;
pub mod panels;
pub mod qr;
pub mod recruitment;
pub mod register;
pub mod reports;
pub mod selection;
pub mod stored_names;
pub mod text_input;
pub mod uk_time;
pub mod urls;
