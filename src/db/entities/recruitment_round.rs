//! `recruitment_rounds`: one address lottery, with everything needed to re-run it.

use crate::domain::ids::{AccountId, FileId, RoundId};
use sea_orm::entity::prelude::*;

/// A draw: its seed, algorithm, parameters (JSON) and the fingerprint of the eligible
/// register it drew from.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recruitment_rounds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: RoundId,
    pub name: String,
    /// The u64 seed in decimal.
    pub seed: String,
    pub algorithm: String,
    /// `LotteryParameters` as JSON.
    #[sea_orm(column_type = "Text")]
    pub parameters: String,
    /// SHA-256 over the eligible frame (keys, strata, weights) in draw order.
    pub register_fingerprint: String,
    pub eligible_count: i64,
    pub drawn_count: i64,
    pub created_by: Option<AccountId>,
    pub created_at: DateTimeUtc,
    pub code_expires_at: DateTimeUtc,
    pub min_age: i16,
    pub one_per_household: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub incentive_description: Option<String>,
    pub incentive_amount_pence: Option<i32>,
    /// The stored file holding the draw record (see `domain::recruitment::draw_record`); none for
    /// rounds drawn before records were kept.
    pub draw_record_file_id: Option<FileId>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
