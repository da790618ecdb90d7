//! Recruitment rounds: the address lottery, its draw record, invitation codes and their keys, letters, and the pool's make-up against the census.

pub mod code_key;
pub mod composition;
pub mod draw_record;
pub mod invitation_code;
pub mod letter_bundle;
pub mod round;
pub mod sampling;
