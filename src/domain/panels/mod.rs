//! Panels and their members: membership states, and consultation samples drawn from a panel.

pub mod panel;
pub mod sub_sample;
