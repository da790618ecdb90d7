//! Fair selection in the API: a selection run with its probabilities, lottery, public draw
//! and report; starting one for a panel and drawing it.
//!
//! `node` declares the `SelectionRun` type (panels and jobs import it); `fields` gives it
//! its fields, which lead to the panel and the job; `operations` holds the queries and
//! mutations.

mod fields;
pub mod node;
mod operations;

pub use node::{MethodValue, SelectionRunNode, SelectionValueReport};
pub use operations::{
    SelectionDrawInput, SelectionMutation, SelectionQuery, SelectionStartInput,
    SelectionStartPayload,
};
