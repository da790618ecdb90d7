//! Background jobs in the API: what a long request hands back, polled until it is done.
//!
//! `node` declares the `Job` type and the payload a long mutation returns; features import
//! those. `results` gives the type its fields, including what each kind of job produced,
//! and so imports the features; `operations` holds the job queries and cancelling.

pub mod node;
mod operations;
mod results;

pub use node::{JobKindValue, JobNode, JobPayload, JobProgress, JobStatusValue};
pub use operations::{JobCancelInput, JobCancelPayload, JobMutation, JobQuery};
pub use results::*;
