//! `rate_limit_events`: one row per counted attempt (a failed login, a code redemption),
//! in a named bucket such as `login:account:<email>`. Kept in the database so that several
//! API instances share one count.

use sea_orm::entity::prelude::*;

/// One counted attempt.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub bucket: String,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
