//! `residents`: people who registered with an invitation code. Ward, deprivation decile
//! and household come from the drawn address, never from the resident.

use crate::domain::ids::{AccountId, AddressId, LetterId, ResidentId, RoundId};
use sea_orm::entity::prelude::*;

/// One registrant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "residents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: ResidentId,
    pub account_id: Option<AccountId>,
    #[sea_orm(unique)]
    pub letter_id: LetterId,
    pub round_id: RoundId,
    pub address_id: AddressId,
    pub household_key: String,
    /// The household key in one-person-per-household rounds, else NULL (see migration).
    pub household_lock: Option<String>,
    pub ward_code: String,
    pub deprivation_decile: Option<i16>,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Date,
    pub sex: String,
    pub ethnic_group: String,
    pub disability: String,
    pub registered_at: DateTimeUtc,
    pub incentive_owed: bool,
    pub incentive_fulfilled_at: Option<DateTimeUtc>,
    pub withdrawn_at: Option<DateTimeUtc>,
    /// Asked not to be sent reminders.
    pub reminders_opt_out: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
