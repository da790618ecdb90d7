use crate::domain::ids::{ResidentId, SelectionRunId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "selection_probabilities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub run_id: SelectionRunId,
    pub resident_id: ResidentId,
    pub probability: f64,
    pub lottery_probability: Option<f64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
