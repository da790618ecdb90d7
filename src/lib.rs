//! civic-panel: a GraphQL backend for UK councils' representative residents' panels.
//!
//! Data flows one way: `http → graphql → service → (domain, db)`. The `domain` layer is
//! pure and synchronous; `service` holds the use cases and their transactions; `graphql`
//! adapts them to the API; `http` speaks GraphQL over HTTP.

pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod global_id;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod pages;
pub mod secrets;
pub mod service;
pub mod state;
pub mod telemetry;

pub use config::Config;
pub use error::AppError;
pub use state::AppState;
