//! `questions`: a consultation's questions in order. `options` is a JSON array of
//! `{"key", "label"}`; `key` is kept when a consultation is duplicated.

use crate::domain::ids::ConsultationId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "questions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub consultation_id: ConsultationId,
    pub position: i32,
    pub key: String,
    #[sea_orm(column_type = "Text")]
    pub text: String,
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub options: String,
    pub max_choices: Option<i32>,
    pub max_chars: Option<i32>,
    pub required: bool,
    pub show_when_key: Option<String>,
    pub show_when_answer: Option<String>,
    /// The profile dimension an optional "about you" question records, for open-link
    /// respondents (`age_band`, `sex`, …).
    pub about_you: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
