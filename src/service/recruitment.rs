//! Recruitment rounds: the reproducible stratified address lottery.
//!
//! A round's draw is a pure function of the eligible register snapshot, its parameters and
//! its seed (see `domain::sampling`). All three are stored with the round, together with a
//! fingerprint of the snapshot, so that anyone with the seed can re-run the draw and get
//! the identical list (`civic-panel lottery verify ROUND`).
//!
//! Asking for a round ([`request_draw`]) checks the request and queues a job; the job
//! ([`draw`]) reads the frame from a read connection, draws on a blocking thread, and only
//! then writes the round and its letters, in one short transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Months, Utc};
use rand::RngCore;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::db::entities::{address, letter, recruitment_round};
use crate::db::frame::{self, FrameQuery};
use crate::db::letters::{self as letter_rows, NewRound};
use crate::db::pages::{self, Order};
use crate::domain::ids::{AccountId, RoundId};
use crate::domain::job::{Job, JobKind};
use crate::domain::role::Role;
use crate::domain::round::{Incentive, LotteryParameters, Round};
use crate::domain::sampling::{self, ALGORITHM, SamplingError, Seed};
use crate::error::{AppError, AppResult};
use crate::service::auth::Caller;
use crate::service::jobs;
use crate::service::progress::Progress;
use crate::state::AppState;

/// Who runs recruitment.
const OFFICERS: &[Role] = &[Role::Officer];

/// Who may read rounds: officers, and scrutiny members, since a round is parameters and
/// aggregates only (its letters, codes and registrants are reached through OFFICER-only
/// paths).
pub const READERS: &[Role] = &[Role::Officer, Role::Scrutiny];

/// A round as an officer asks for it, before any checks.
#[derive(Clone, Debug, Default)]
pub struct RoundRequest {
    /// A name officers recognise ("Spring 2027 recruitment").
    pub name: String,
    /// Letters to draw.
    pub letters: i64,
    /// The seed as typed (a decimal number below 2^64); a random one when absent.
    pub seed: Option<String>,
    /// Oversampling weights: (decile, weight).
    pub decile_weights: Vec<(i64, f64)>,
    /// Leave out addresses sent a letter within this many months.
    pub exclude_invited_within_months: Option<i64>,
    /// Leave out households that already have a member.
    pub exclude_member_households: bool,
    /// Days an invitation code stays valid.
    pub code_valid_days: i64,
    /// Youngest age at which a resident may register.
    pub min_age: i64,
    /// Allow only one registrant per household.
    pub one_per_household: bool,
    /// An incentive for joining.
    pub incentive: Option<Incentive>,
}

/// A checked round request: what the draw job is given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundInput {
    /// The name, trimmed.
    pub name: String,
    /// Letters to draw.
    pub letters: u64,
    /// The seed (chosen when the request was made, if none was given).
    pub seed: Seed,
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
    /// An incentive for joining.
    pub incentive: Option<Incentive>,
}

fn bad(field: &str, message: impl Into<String>) -> AppError {
    AppError::bad_input(field, message)
}

/// Checks a request, naming the offending field (`input.<name>`).
pub fn validate(request: RoundRequest) -> AppResult<RoundInput> {
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(bad(
            "input.name",
            "A round needs a name of 1 to 200 characters.",
        ));
    }
    if !(1..=1_000_000).contains(&request.letters) {
        return Err(bad(
            "input.letters",
            "Draw between 1 and 1,000,000 letters.",
        ));
    }
    let seed = match request.seed.as_deref() {
        Some(text) => text.parse::<Seed>().map_err(|_| {
            bad(
                "input.seed",
                "The seed must be a whole number from 0 to 18446744073709551615.",
            )
        })?,
        None => Seed(rand::rng().next_u64()),
    };
    let mut decile_weights = BTreeMap::new();
    for (decile, weight) in request.decile_weights {
        let decile = i16::try_from(decile)
            .ok()
            .filter(|d| (1..=10).contains(d))
            .ok_or_else(|| {
                bad(
                    "input.decileWeights",
                    format!("Decile {decile} is not between 1 and 10."),
                )
            })?;
        if !weight.is_finite() || !(0.0..=10.0).contains(&weight) {
            return Err(bad(
                "input.decileWeights",
                format!("Weight {weight} is not between 0 and 10."),
            ));
        }
        if decile_weights.insert(decile, weight).is_some() {
            return Err(bad(
                "input.decileWeights",
                format!("Decile {decile} is weighted twice."),
            ));
        }
    }
    let exclude_invited_within_months = request
        .exclude_invited_within_months
        .map(|months| {
            u32::try_from(months)
                .ok()
                .filter(|m| *m <= 120)
                .ok_or_else(|| bad("input.excludeInvitedWithinMonths", "Give 0 to 120 months."))
        })
        .transpose()?;
    let code_valid_days = u32::try_from(request.code_valid_days)
        .ok()
        .filter(|d| (1..=730).contains(d))
        .ok_or_else(|| {
            bad(
                "input.codeValidDays",
                "Codes must stay valid for 1 to 730 days.",
            )
        })?;
    let min_age = u8::try_from(request.min_age)
        .ok()
        .filter(|age| (14..=120).contains(age))
        .ok_or_else(|| {
            bad(
                "input.minAge",
                "The minimum age must be between 14 and 120.",
            )
        })?;
    let incentive = match request.incentive {
        Some(i) if i.description.trim().is_empty() => {
            return Err(bad(
                "input.incentive.description",
                "Describe the incentive.",
            ));
        }
        Some(i) if i.amount_pence.is_some_and(|p| p < 0) => {
            return Err(bad(
                "input.incentive.amountPence",
                "The amount cannot be negative.",
            ));
        }
        Some(i) => Some(Incentive {
            description: i.description.trim().to_owned(),
            amount_pence: i.amount_pence,
        }),
        None => None,
    };
    Ok(RoundInput {
        name,
        letters: u64::try_from(request.letters).unwrap_or(0),
        seed,
        decile_weights,
        exclude_invited_within_months,
        exclude_member_households: request.exclude_member_households,
        code_valid_days,
        min_age,
        one_per_household: request.one_per_household,
        incentive,
    })
}

/// What a draw job hands back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawResult {
    /// The round drawn.
    pub round_id: RoundId,
}

/// Checks a round request and queues its draw; the job's result names the round.
pub async fn request_draw(
    state: &AppState,
    caller: &Caller,
    request: RoundRequest,
) -> AppResult<Job> {
    caller.require(OFFICERS)?;
    let input = validate(request)?;
    jobs::enqueue(
        state,
        jobs::Request {
            kind: JobKind::RecruitmentDraw,
            payload: &input,
            created_by: caller.account(),
            singleton_key: None,
        },
    )
    .await
}

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

/// The frame query for a round's parameters, leaving out `round`'s own letters.
fn frame_query(parameters: &LotteryParameters, round: Option<RoundId>) -> FrameQuery<'_> {
    let as_of = parameters.as_of;
    FrameQuery {
        as_of,
        invited_since: parameters.exclude_invited_within_months.map(|months| {
            as_of
                .checked_sub_months(Months::new(months))
                .unwrap_or(as_of)
        }),
        leave_out_round: round,
        exclude_member_households: parameters.exclude_member_households,
        decile_weights: &parameters.decile_weights,
    }
}

/// Draws a round and writes its letters (the draw job's work; also the command line's and
/// the benchmark's). The frame is read from a read connection and drawn on a blocking
/// thread; only the round and its letters are written, in one short transaction.
pub async fn draw(
    state: &AppState,
    input: &RoundInput,
    created_by: Option<AccountId>,
    progress: &Progress,
) -> AppResult<RoundId> {
    let now = state.clock.now();
    let parameters = LotteryParameters {
        letters: input.letters,
        decile_weights: input.decile_weights.clone(),
        exclude_invited_within_months: input.exclude_invited_within_months,
        exclude_member_households: input.exclude_member_households,
        as_of: now,
    };
    progress.set_total(3);
    let started = std::time::Instant::now();
    let frame = frame::eligible(state.db.reader(), &frame_query(&parameters, None)).await?;
    let loaded = started.elapsed();
    progress.set_done(1);
    progress.check()?;
    let eligible = frame.len();
    let (letters, seed) = (input.letters, input.seed);
    let draw = tokio::task::spawn_blocking(move || sampling::draw(&frame, letters, seed))
        .await
        .map_err(AppError::internal)?
        .map_err(sampling_error)?;
    let drawn = started.elapsed();
    progress.set_done(2);
    progress.check()?;
    let round = NewRound {
        name: &input.name,
        seed: input.seed.to_string(),
        algorithm: ALGORITHM,
        parameters: serde_json::to_string(&parameters).map_err(AppError::internal)?,
        register_fingerprint: &draw.frame_fingerprint,
        eligible_count: i64::try_from(eligible).unwrap_or(i64::MAX),
        created_by,
        created_at: now,
        code_expires_at: now + chrono::Duration::days(i64::from(input.code_valid_days)),
        min_age: i16::from(input.min_age),
        one_per_household: input.one_per_household,
        incentive_description: input.incentive.as_ref().map(|i| i.description.as_str()),
        incentive_amount_pence: input.incentive.as_ref().and_then(|i| i.amount_pence),
    };
    let round_id = letter_rows::insert_round(state.db.writer(), &round, &draw.selected).await?;
    progress.set_done(3);
    tracing::info!(
        load_ms = loaded.as_millis(),
        draw_ms = (drawn - loaded).as_millis(),
        write_ms = (started.elapsed() - drawn).as_millis(),
        round_id = %round_id,
        letters = draw.selected.len(),
        eligible,
        "recruitment round drawn"
    );
    Ok(round_id)
}

/// Turns a stored row into the domain value; a corrupt row is an internal error.
pub fn to_domain(row: recruitment_round::Model) -> AppResult<Round> {
    let corrupt =
        |what: String| AppError::internal(anyhow::anyhow!("recruitment round {}: {what}", row.id));
    let seed = row
        .seed
        .parse::<Seed>()
        .map_err(|e| corrupt(e.to_string()))?;
    let parameters: LotteryParameters =
        serde_json::from_str(&row.parameters).map_err(|e| corrupt(e.to_string()))?;
    Ok(Round {
        id: RoundId(row.id),
        name: row.name,
        seed,
        algorithm: row.algorithm,
        parameters,
        register_fingerprint: row.register_fingerprint,
        eligible_count: u64::try_from(row.eligible_count).unwrap_or(0),
        drawn_count: u64::try_from(row.drawn_count).unwrap_or(0),
        created_by: row.created_by.map(AccountId),
        created_at: row.created_at,
        code_expires_at: row.code_expires_at,
        min_age: u8::try_from(row.min_age).unwrap_or(16),
        one_per_household: row.one_per_household,
        incentive: row.incentive_description.map(|description| Incentive {
            description,
            amount_pence: row.incentive_amount_pence,
        }),
    })
}

/// One round, whoever asks (internal use: the caller is checked by the use case).
pub async fn find_round(db: &impl ConnectionTrait, id: RoundId) -> AppResult<Round> {
    recruitment_round::Entity::find_by_id(id.get())
        .one(db)
        .await?
        .ok_or(AppError::NotFound {
            what: "recruitment round",
        })
        .and_then(to_domain)
}

/// One round, for [`READERS`].
pub async fn round(state: &AppState, caller: &Caller, id: RoundId) -> AppResult<Round> {
    caller.require(READERS)?;
    find_round(state.db.reader(), id).await
}

/// Rounds by id, for a loader: those that exist, in no particular order.
pub async fn rounds_by_id(
    state: &AppState,
    caller: &Caller,
    ids: &[RoundId],
) -> AppResult<Vec<Round>> {
    caller.require(READERS)?;
    recruitment_round::Entity::find()
        .filter(recruitment_round::Column::Id.is_in(ids.iter().map(|id| id.get())))
        .all(state.db.reader())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// A page of rounds, newest first, before `before`; up to `limit + 1` so the caller can
/// tell whether another page follows.
pub async fn list_rounds(
    state: &AppState,
    caller: &Caller,
    before: Option<RoundId>,
    limit: u64,
) -> AppResult<Vec<Round>> {
    caller.require(READERS)?;
    pages::page(
        recruitment_round::Entity::find(),
        recruitment_round::Column::Id,
        Order::NewestFirst,
        before.map(RoundId::get),
        limit,
    )
    .all(state.db.reader())
    .await?
    .into_iter()
    .map(to_domain)
    .collect()
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
pub async fn verify(state: &AppState, round_id: RoundId) -> AppResult<Verification> {
    let db = state.db.reader();
    let round = find_round(db, round_id).await?;
    if round.algorithm != ALGORITHM {
        return Err(AppError::conflict(format!(
            "Round {round_id} used {}, which this version cannot re-run.",
            round.algorithm
        )));
    }
    let frame = frame::eligible(db, &frame_query(&round.parameters, Some(round_id))).await?;
    let now = sampling::fingerprint(&frame);
    if now != round.register_fingerprint {
        return Ok(Verification::RegisterChanged {
            stored: round.register_fingerprint,
            now,
        });
    }
    let letters = round.parameters.letters;
    let seed = round.seed;
    let draw = tokio::task::spawn_blocking(move || sampling::draw(&frame, letters, seed))
        .await
        .map_err(AppError::internal)?
        .map_err(sampling_error)?;
    let mut redrawn: Vec<i64> = draw.selected.iter().map(|u| u.id).collect();
    let mut stored: Vec<i64> = letter::Entity::find()
        .select_only()
        .column(letter::Column::AddressId)
        .filter(letter::Column::RoundId.eq(round_id.get()))
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
/// allocated in proportion to each ward's addresses.
pub async fn plan(
    state: &AppState,
    caller: &Caller,
    target_registrations: i64,
    expected_rate: f64,
) -> AppResult<(u64, Vec<(String, u64)>)> {
    caller.require(OFFICERS)?;
    let target = u64::try_from(target_registrations)
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| {
            AppError::bad_input("targetRegistrations", "Aim for at least one registration.")
        })?;
    let total = sampling::letters_needed(target, expected_rate)
        .map_err(|e| AppError::bad_input("expectedRate", e.to_string()))?;
    let strata: Vec<(String, i64)> = address::Entity::find()
        .select_only()
        .column(address::Column::WardCode)
        .column_as(address::Column::Id.count(), "n")
        .group_by(address::Column::WardCode)
        .order_by_asc(address::Column::WardCode)
        .into_tuple()
        .all(state.db.reader())
        .await?;
    let strata: Vec<(String, u64)> = strata
        .into_iter()
        .map(|(ward, n)| (ward, u64::try_from(n).unwrap_or(0)))
        .collect();
    if strata.is_empty() {
        return Ok((total, Vec::new()));
    }
    let by_stratum = sampling::plan_by_stratum(&strata, target, expected_rate)
        .map_err(|e| AppError::bad_input("expectedRate", e.to_string()))?;
    Ok((total, by_stratum))
}

/// When a round's codes expire, relative to now (for the exports).
pub fn codes_expired(round: &Round, now: DateTime<Utc>) -> bool {
    now > round.code_expires_at
}
