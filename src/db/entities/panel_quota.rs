use crate::domain::ids::PanelId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "panel_quotas")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub panel_id: PanelId,
    pub position: i32,
    pub feature: String,
    pub value: String,
    pub min: i32,
    pub max: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
