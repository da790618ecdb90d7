//! Consultations: the survey and its questions, invitation tokens, tracking rules and the wording's reading age.

pub mod consultation;
pub mod invitation_token;
pub mod questionnaire;
pub mod readability;
pub mod tracking;
