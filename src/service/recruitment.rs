//! Recruitment rounds: the reproducible stratified address lottery.
//!
//! A round's draw is a pure function of the eligible register snapshot, its parameters and
//! its seed (see `domain::sampling`). All three are stored with the round, together with a
//! fingerprint of the snapshot, so that anyone with the seed can re-run the draw and get
//! the identical list (`civic-panel lottery verify ROUND`).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Months, Utc};
use rand::RngCore;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::db::entities::{address, letter, recruitment_round, resident};
use crate::domain::account::AccountId;
use crate::domain::sampling::{self, ALGORITHM, Draw, FrameUnit, SamplingError, Seed};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

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
}

/// A new round, as an officer asks for it.
#[derive(Clone, Debug)]
pub struct RoundInput {
    /// A name officers recognise ("Spring 2027 recruitment").
    pub name: String,
    /// Lottery parameters (`as_of` is set to now).
    pub letters: u64,
    /// The seed; a random one is chosen (and stored) when absent.
    pub seed: Option<u64>,
    /// See [`LotteryParameters::decile_weights`].
    pub decile_weights: BTreeMap<i16, f64>,
    /// See [`LotteryParameters::exclude_invited_within_months`].
    pub exclude_invited_within_months: Option<u32>,
    /// See [`LotteryParameters::exclude_member_households`].
    pub exclude_member_households: bool,
    /// Days an invitation code stays valid.
    pub code_valid_days: u32,
    /// Youngest age at which a resident may register.
    pub min_age: u8,
    /// Allow only one registrant per household.
    pub one_per_household: bool,
    /// An incentive for joining, e.g. "£10 shopping voucher".
    pub incentive_description: Option<String>,
    /// Its value in pence, for finance.
    pub incentive_amount_pence: Option<i32>,
}

/// A stored round.
pub type Round = recruitment_round::Model;

fn sampling_error(err: SamplingError) -> AppError {
    match err {
        SamplingError::NotEnoughEligible {
            requested,
            eligible,
        } => AppError::bad_input(
            "input.letters",
            format!(
                "{requested} letters were asked for but only {eligible} addresses are eligible."
            ),
        ),
        SamplingError::ZeroRequested => {
            AppError::bad_input("input.letters", "Draw at least one letter.")
        }
        SamplingError::EmptyFrame => AppError::bad_input(
            "input.letters",
            "No address is eligible: import the address register first, or relax the exclusions.",
        ),
        other => AppError::bad_input("input", other.to_string()),
    }
}

fn validate(input: &RoundInput) -> AppResult<()> {
    fn bad(field: &str, message: impl Into<String>) -> AppError {
        AppError::bad_input(field, message)
    }
    if input.name.trim().is_empty() || input.name.chars().count() > 200 {
        return Err(bad(
            "input.name",
            "A round needs a name of 1 to 200 characters.",
        ));
    }
    if input.letters == 0 || input.letters > 1_000_000 {
        return Err(bad(
            "input.letters",
            "Draw between 1 and 1,000,000 letters.",
        ));
    }
    for (decile, weight) in &input.decile_weights {
        if !(1..=10).contains(decile) {
            return Err(bad(
                "input.decileWeights",
                format!("Decile {decile} is not between 1 and 10."),
            ));
        }
        if !weight.is_finite() || *weight < 0.0 || *weight > 10.0 {
            return Err(bad(
                "input.decileWeights",
                format!("Weight {weight} is not between 0 and 10."),
            ));
        }
    }
    if input.code_valid_days == 0 || input.code_valid_days > 730 {
        return Err(bad(
            "input.codeValidDays",
            "Codes must stay valid for 1 to 730 days.",
        ));
    }
    if !(14..=120).contains(&input.min_age) {
        return Err(bad(
            "input.minAge",
            "The minimum age must be between 14 and 120.",
        ));
    }
    if input.exclude_invited_within_months.is_some_and(|m| m > 120) {
        return Err(bad(
            "input.excludeInvitedWithinMonths",
            "At most 120 months.",
        ));
    }
    Ok(())
}

/// The eligible frame as of `parameters.as_of`, leaving out `round` itself.
pub async fn eligible_frame(
    db: &impl ConnectionTrait,
    parameters: &LotteryParameters,
    round: Option<i64>,
) -> AppResult<Vec<FrameUnit>> {
    let as_of = parameters.as_of;
    let mut excluded_addresses: HashSet<i64> = HashSet::new();
    if let Some(months) = parameters.exclude_invited_within_months {
        let since = as_of
            .checked_sub_months(Months::new(months))
            .unwrap_or(as_of);
        let mut query = letter::Entity::find()
            .select_only()
            .column(letter::Column::AddressId)
            .filter(letter::Column::CreatedAt.gte(since))
            .filter(letter::Column::CreatedAt.lte(as_of));
        if let Some(round) = round {
            query = query.filter(letter::Column::RoundId.ne(round));
        }
        excluded_addresses.extend(query.into_tuple::<i64>().all(db).await?);
    }
    if parameters.exclude_member_households {
        // Addresses of households with a registrant still in the pool at `as_of`; the
        // sub-query keeps the household keys of a million addresses out of memory.
        let members = resident::Entity::find()
            .select_only()
            .column(resident::Column::HouseholdKey)
            .filter(resident::Column::RegisteredAt.lte(as_of))
            .filter(
                Condition::any()
                    .add(resident::Column::WithdrawnAt.is_null())
                    .add(resident::Column::WithdrawnAt.gt(as_of)),
            )
            .into_query();
        let in_member_households: Vec<i64> = address::Entity::find()
            .select_only()
            .column(address::Column::Id)
            .filter(address::Column::HouseholdKey.in_subquery(members))
            .into_tuple()
            .all(db)
            .await?;
        excluded_addresses.extend(in_member_households);
    }
    // Order does not matter: the draw sorts the frame itself.
    let rows: Vec<(i64, String, String, Option<i16>)> = address::Entity::find()
        .select_only()
        .columns([
            address::Column::Id,
            address::Column::AddressKey,
            address::Column::WardCode,
            address::Column::DeprivationDecile,
        ])
        .filter(address::Column::CreatedAt.lte(as_of))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|(id, _, _, _)| !excluded_addresses.contains(id))
        .map(|(id, key, ward, decile)| FrameUnit {
            weight: decile
                .and_then(|d| parameters.decile_weights.get(&d).copied())
                .unwrap_or(sampling::DEFAULT_WEIGHT),
            id,
            key,
            stratum: ward,
        })
        .collect())
}

/// Draws a round and writes its letters, in one transaction.
pub async fn create_round(
    state: &AppState,
    input: RoundInput,
    created_by: Option<AccountId>,
) -> AppResult<(Round, Draw)> {
    validate(&input)?;
    let now = state.clock.now();
    let seed = Seed(input.seed.unwrap_or_else(|| rand::rng().next_u64()));
    let parameters = LotteryParameters {
        letters: input.letters,
        decile_weights: input.decile_weights.clone(),
        exclude_invited_within_months: input.exclude_invited_within_months,
        exclude_member_households: input.exclude_member_households,
        as_of: now,
    };
    let started = std::time::Instant::now();
    let txn = state.db.begin().await?;
    let frame = eligible_frame(&txn, &parameters, None).await?;
    let loaded = started.elapsed();
    let eligible = frame.len();
    let draw =
        tokio::task::spawn_blocking(move || sampling::draw(&frame, parameters.letters, seed))
            .await
            .map_err(AppError::internal)?
            .map_err(sampling_error)?;
    let drawn = started.elapsed();
    let round = recruitment_round::ActiveModel {
        name: Set(input.name.trim().to_owned()),
        seed: Set(seed.to_string()),
        algorithm: Set(ALGORITHM.to_owned()),
        parameters: Set(serde_json::to_string(&parameters).map_err(AppError::internal)?),
        register_fingerprint: Set(draw.frame_fingerprint.clone()),
        eligible_count: Set(i64::try_from(eligible).unwrap_or(i64::MAX)),
        drawn_count: Set(i64::try_from(draw.selected.len()).unwrap_or(i64::MAX)),
        created_by: Set(created_by.map(|id| id.0)),
        created_at: Set(now),
        code_expires_at: Set(now + chrono::Duration::days(i64::from(input.code_valid_days))),
        min_age: Set(i16::from(input.min_age)),
        one_per_household: Set(input.one_per_household),
        incentive_description: Set(input.incentive_description.clone()),
        incentive_amount_pence: Set(input.incentive_amount_pence),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    // 4 values a row: 4,000 rows stay well inside both databases' parameter limits.
    for chunk in draw.selected.chunks(4_000) {
        let mut insert = Query::insert();
        insert.into_table(letter::Entity).columns([
            letter::Column::RoundId,
            letter::Column::AddressId,
            letter::Column::Stratum,
            letter::Column::CreatedAt,
        ]);
        for unit in chunk {
            insert
                .values([
                    round.id.into(),
                    unit.id.into(),
                    unit.stratum.clone().into(),
                    now.into(),
                ])
                .map_err(AppError::internal)?;
        }
        txn.execute(&insert).await?;
    }
    txn.commit().await?;
    tracing::info!(
        load_ms = loaded.as_millis(),
        draw_ms = (drawn - loaded).as_millis(),
        write_ms = (started.elapsed() - drawn).as_millis(),
        round_id = round.id,
        letters = draw.selected.len(),
        eligible,
        "recruitment round drawn"
    );
    Ok((round, draw))
}

/// One round.
pub async fn find_round(db: &impl ConnectionTrait, id: i64) -> AppResult<Round> {
    recruitment_round::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound {
            what: "recruitment round",
        })
}

/// Rounds, newest first.
pub async fn list_rounds(db: &impl ConnectionTrait) -> AppResult<Vec<Round>> {
    Ok(recruitment_round::Entity::find()
        .order_by_desc(recruitment_round::Column::Id)
        .all(db)
        .await?)
}

/// The result of re-running a round's draw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// The register snapshot matches and the re-drawn list is identical.
    Identical { letters: usize },
    /// The snapshot matches but the lists differ (this should never happen).
    Different { stored: usize, redrawn: usize },
    /// The register changed since the draw, so the snapshot cannot be rebuilt.
    RegisterChanged { stored: String, now: String },
}

/// Re-runs a round's draw from its stored seed and parameters and compares the result
/// with the letters written at the time.
pub async fn verify(db: &impl ConnectionTrait, round_id: i64) -> AppResult<Verification> {
    let round = find_round(db, round_id).await?;
    let parameters: LotteryParameters =
        serde_json::from_str(&round.parameters).map_err(AppError::internal)?;
    let seed: Seed = round
        .seed
        .parse()
        .map_err(|e| AppError::internal(anyhow::anyhow!("stored seed: {e}")))?;
    if round.algorithm != ALGORITHM {
        return Err(AppError::conflict(format!(
            "Round {round_id} used {}, which this version cannot re-run.",
            round.algorithm
        )));
    }
    let frame = eligible_frame(db, &parameters, Some(round_id)).await?;
    let now = sampling::fingerprint(&frame);
    if now != round.register_fingerprint {
        return Ok(Verification::RegisterChanged {
            stored: round.register_fingerprint,
            now,
        });
    }
    let draw = sampling::draw(&frame, parameters.letters, seed).map_err(sampling_error)?;
    let mut redrawn: Vec<i64> = draw.selected.iter().map(|u| u.id).collect();
    let mut stored: Vec<i64> = letter::Entity::find()
        .select_only()
        .column(letter::Column::AddressId)
        .filter(letter::Column::RoundId.eq(round_id))
        .into_tuple()
        .all(db)
        .await?;
    redrawn.sort_unstable();
    stored.sort_unstable();
    Ok(if redrawn == stored {
        Verification::Identical {
            letters: stored.len(),
        }
    } else {
        Verification::Different {
            stored: stored.len(),
            redrawn: redrawn.len(),
        }
    })
}

/// Letters needed per ward for a target number of registrations at an expected rate,
/// allocated in proportion to each ward's eligible addresses.
pub async fn plan(
    db: &impl ConnectionTrait,
    target_registrations: u64,
    expected_rate: f64,
) -> AppResult<(u64, Vec<(String, u64)>)> {
    let total = sampling::letters_needed(target_registrations, expected_rate)
        .map_err(|e| AppError::bad_input("expectedRate", e.to_string()))?;
    let strata: Vec<(String, i64)> = address::Entity::find()
        .select_only()
        .column(address::Column::WardCode)
        .column_as(address::Column::Id.count(), "n")
        .group_by(address::Column::WardCode)
        .order_by_asc(address::Column::WardCode)
        .into_tuple()
        .all(db)
        .await?;
    let strata: Vec<(String, u64)> = strata
        .into_iter()
        .map(|(ward, n)| (ward, u64::try_from(n).unwrap_or(0)))
        .collect();
    if strata.is_empty() {
        return Ok((total, Vec::new()));
    }
    let by_stratum = sampling::plan_by_stratum(&strata, target_registrations, expected_rate)
        .map_err(|e| AppError::bad_input("expectedRate", e.to_string()))?;
    Ok((total, by_stratum))
}
