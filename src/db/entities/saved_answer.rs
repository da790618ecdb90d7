//! `saved_answers`: answers saved before submission, so a respondent can resume on another
//! device; removed when the response is submitted.

use crate::domain::ids::InvitationId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saved_answers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub invitation_id: InvitationId,
    pub question_key: String,
    /// The answer as JSON.
    #[sea_orm(column_type = "Text")]
    pub answer: String,
    pub saved_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
