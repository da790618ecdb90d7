use crate::domain::ids::ResidentId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "resident_attributes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub resident_id: ResidentId,
    pub name: String,
    pub value: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
