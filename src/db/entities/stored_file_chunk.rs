//! `stored_file_chunks`: a stored file's bytes, in pieces of at most a mebibyte, so no
//! statement carries a whole export and a download streams.

use crate::domain::ids::FileId;
use sea_orm::entity::prelude::*;

/// One piece of a file.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stored_file_chunks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub file_id: FileId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i32,
    pub data: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
