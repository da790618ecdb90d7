//! `letters`: one invitation per drawn address. The code itself is never stored, only its
//! SHA-256, set when the letter is exported for printing.

use crate::domain::ids::{AddressId, LetterId, RoundId};
use sea_orm::entity::prelude::*;

/// One letter of a round.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "letters")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: LetterId,
    pub round_id: RoundId,
    pub address_id: AddressId,
    /// The stratum (ward code) it was drawn in.
    pub stratum: String,
    #[sea_orm(unique)]
    pub code_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub exported_at: Option<DateTimeUtc>,
    pub redeemed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::address::Entity",
        from = "Column::AddressId",
        to = "super::address::Column::Id"
    )]
    Address,
}

impl Related<super::address::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Address.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
