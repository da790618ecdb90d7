//! A recruitment round as the service sees it: one reproducible address lottery, its
//! parameters and its seed (see `sampling` for the draw itself).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, FileId, RoundId};
use crate::domain::recruitment::sampling::{Seed, WardShares};

/// The lottery's parameters, stored as JSON with the round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LotteryParameters {
    /// Letters to draw.
    pub letters: u64,
    /// Oversampling weight per deprivation decile (others weigh 1).
    pub decile_weights: BTreeMap<i16, f64>,
    /// Leave out addresses sent a letter within this many months.
    pub exclude_invited_within_months: Option<u32>,
    /// Leave out households that already have a (not withdrawn) registrant.
    pub exclude_member_households: bool,
    /// The moment the register snapshot and the exclusions refer to.
    pub as_of: DateTime<Utc>,
    /// How the letters were split between wards (by weight for rounds drawn before the
    /// choice was offered).
    #[serde(default)]
    pub ward_shares: WardShares,
}

/// An incentive for joining a round's pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incentive {
    /// What registrants receive, e.g. "£10 shopping voucher".
    pub description: String,
    /// Its value in pence, for finance.
    pub amount_pence: Option<i32>,
}

/// A drawn round.
#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    /// Identity.
    pub id: RoundId,
    /// A name officers recognise.
    pub name: String,
    /// The draw's seed.
    pub seed: Seed,
    /// The named, versioned draw algorithm.
    pub algorithm: String,
    /// The lottery's parameters.
    pub parameters: LotteryParameters,
    /// SHA-256 of the eligible register the draw used.
    pub register_fingerprint: String,
    /// Addresses eligible for the draw.
    pub eligible_count: u64,
    /// Letters drawn.
    pub drawn_count: u64,
    /// Who asked for the draw.
    pub created_by: Option<AccountId>,
    /// When it was drawn.
    pub created_at: DateTime<Utc>,
    /// When its codes stop working.
    pub code_expires_at: DateTime<Utc>,
    /// Youngest age that may register.
    pub min_age: u8,
    /// Whether only one person per household may register.
    pub one_per_household: bool,
    /// The incentive for joining, if any.
    pub incentive: Option<Incentive>,
    /// The stored draw record (see `draw_record`); none for rounds drawn before records
    /// were kept.
    pub draw_record: Option<FileId>,
}
