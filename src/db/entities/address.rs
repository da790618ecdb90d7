//! `addresses`: the council's address register (LLPG / AddressBase / PAF extract).

use crate::domain::ids::AddressId;
use sea_orm::entity::prelude::*;

/// One address. `address_key` (the UPRN or the council's own key) is unique; a re-import
/// updates the row in place.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "addresses")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: AddressId,
    #[sea_orm(unique)]
    pub address_key: String,
    pub line1: String,
    pub line2: Option<String>,
    pub line3: Option<String>,
    pub town: Option<String>,
    /// Normalised, e.g. `GL19 3BB`.
    pub postcode: String,
    /// GSS ward code, e.g. `E05004418`.
    pub ward_code: String,
    /// Index of Multiple Deprivation decile (1 = most deprived), when known.
    pub deprivation_decile: Option<i16>,
    /// Addresses sharing this key are one household (defaults to the address key).
    pub household_key: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
