//! Pure, synchronous domain logic: parsing at the edge, the maths of sampling and codes.
//!
//! Nothing here touches a database, an HTTP request or GraphQL; a test in
//! `tests/api/layers.rs` keeps it that way.

pub mod account;
pub mod address_csv;
pub mod age_range;
pub mod benchmark_csv;
pub mod charts;
pub mod code_key;
pub mod composition;
pub mod consultation;
pub mod demo_register;
pub mod demographics;
pub mod dense_lp;
pub mod disclosure;
pub mod draw_record;
pub mod email;
pub mod html_report;
pub mod ids;
pub mod invitation_code;
pub mod invitation_token;
pub mod job;
pub mod letter_bundle;
pub mod min_norm;
pub mod panel;
pub mod password;
pub mod postcode;
pub mod qr;
pub mod questionnaire;
pub mod readability;
pub mod role;
pub mod round;
pub mod sampling;
pub mod seats;
pub mod selection;
pub mod session_token;
pub mod statistics;
pub mod sub_sample;
pub mod synthetic_pool;
pub mod text_input;
pub mod tracking;
pub mod uk_time;
