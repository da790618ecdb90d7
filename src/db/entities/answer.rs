//! `answers`: one row per chosen option (with its rank for a ranking), scale value or
//! text of a submitted response.

use crate::domain::ids::ResponseId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "answers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub response_id: ResponseId,
    pub question_key: String,
    pub option_key: Option<String>,
    pub rank: Option<i32>,
    pub scale: Option<i16>,
    #[sea_orm(column_type = "Text", nullable)]
    pub text: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
