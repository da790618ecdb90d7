//! The one integration-test binary. Each test gets a database of its own: in-memory
//! SQLite by default, a fresh PostgreSQL schema when `TEST_DATABASE_URL` is set.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test should stop loudly at the first unexpected error"
)]

mod accounts;
mod addresses;
mod age_bands;
mod answering;
mod benchmarks;
mod busy;
mod cli;
mod consultation_edits;
mod consultation_sample;
mod consultations;
mod delivery;
mod doc_comments;
mod downloads;
mod helpers;
mod http_spec;
mod jobs;
mod layers;
mod letters;
mod limits;
mod lists;
mod loaders;
mod mail;
mod mime;
mod pages;
mod panels;
mod progress;
mod publications;
mod published;
mod recruitment;
mod registration;
mod reports;
mod responses;
mod roles;
mod schema_file;
mod scrutiny;
mod sessions;
mod smtp_server;
mod workers;
