//! sea-orm entities, one file per table. They are storage shapes only: the API never
//! exposes them directly.

pub mod account;
pub mod address;
pub mod answer;
pub mod audit_entry;
pub mod benchmark;
pub mod consent;
pub mod consultation;
pub mod guardian_consent;
pub mod invitation;
pub mod job;
pub mod letter;
pub mod login_link;
pub mod membership;
pub mod membership_event;
pub mod outbox;
pub mod panel;
pub mod panel_quota;
pub mod question;
pub mod rate_limit_event;
pub mod recruitment_round;
pub mod resident;
pub mod resident_attribute;
pub mod response;
pub mod saved_answer;
pub mod selection_probability;
pub mod selection_run;
pub mod session;
pub mod stored_file;
pub mod stored_file_chunk;
pub mod tracking_event;
