//! `benchmarks`: census counts per area, dimension and category (the population yardstick).

use sea_orm::entity::prelude::*;

/// One census count, e.g. Tewkesbury, `age_band`, `15-19`, 5,012 persons.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "benchmarks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub area_code: String,
    pub area_name: String,
    pub dimension: String,
    pub category: String,
    pub count: i64,
    /// What is counted: `persons` or `households`.
    pub universe: String,
    pub imported_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
