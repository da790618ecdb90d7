//! Recruitment rounds: the reproducible stratified address lottery.
//!
//! A round's draw is a pure function of the eligible register snapshot, its parameters and
//! its seed (see `domain::recruitment::sampling`). All three are stored with the round, together with a
//! fingerprint of the snapshot, so that anyone with the seed can re-run the draw and get
//! the identical list (`civic-panel lottery verify ROUND`).
//!
//! Asking for a round ([`request_draw`]) checks the request and queues a job; the job
//! ([`draw`]) reads the frame from a read connection, draws on a blocking thread, and only
//! then writes the round and its letters, in one short transaction.

pub mod incentives;
pub mod letters;
pub mod registration;
pub mod round_status;

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Months, Utc};
use rand::RngCore;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::db::entities::{address, letter, recruitment_round};
use crate::db::files::{self, NewFile};
use crate::db::frame::{self, FrameQuery};
use crate::db::letters::{self as letter_rows, NewRound};
use crate::db::pages::{self, Order};
use crate::domain::accounts::role::Role;
use crate::domain::ids::{AccountId, FileId, RoundId};
use crate::domain::job::{Job, JobKind};
use crate::domain::recruitment::draw_record::{self, DrawRecord, RecordCheck};
use crate::domain::recruitment::round::{Incentive, LotteryParameters, Round};
use crate::domain::recruitment::sampling::{self, SamplingError, Seed, WardShares};
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::service::jobs;
use crate::state::AppState;
use crate::state::progress::Progress;

/// Who runs recruitment.
const OFFICERS: &[Role] = &[Role::Officer];

/// Who may read rounds: officers, and scrutiny members, since a round is parameters and
/// aggregates only (its letters, codes and registrants are reached through OFFICER-only
/// paths).
pub const READERS: &[Role] = &[Role::Officer, Role::Scrutiny];

/// The youngest minimum age a round may set: a Youth Forum may start at 11. Registrants
/// under 13 join the pool but no panel until a parent's or guardian's consent is recorded
/// (`domain::panels::panel::AGE_OF_DIGITAL_CONSENT`).
pub const MIN_REGISTRATION_AGE: u8 = 11;

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
    /// How the letters are split between wards.
    pub ward_shares: WardShares,
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
    /// See [`LotteryParameters::ward_shares`].
    #[serde(default)]
    pub ward_shares: WardShares,
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
        .filter(|age| (MIN_REGISTRATION_AGE..=120).contains(age))
        .ok_or_else(|| {
            bad(
                "input.minAge",
                format!("The minimum age must be between {MIN_REGISTRATION_AGE} and 120."),
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
        ward_shares: request.ward_shares,
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
        ward_shares: input.ward_shares,
    };
    progress.set_total(3);
    let started = std::time::Instant::now();
    let frame = frame::eligible(state.db.reader(), &frame_query(&parameters, None)).await?;
    let loaded = started.elapsed();
    progress.set_done(1);
    progress.check()?;
    let eligible = frame.len();
    let (letters, seed, shares) = (input.letters, input.seed, input.ward_shares);
    let recorded = parameters.clone();
    let (draw, record) = tokio::task::spawn_blocking(move || {
        let draw =
            sampling::draw_with_shares(&frame, letters, seed, shares).map_err(sampling_error)?;
        let record = DrawRecord::new(&frame, &draw, seed, &recorded);
        let record = serde_json::to_vec(&record).map_err(AppError::internal)?;
        AppResult::Ok((draw, record))
    })
    .await
    .map_err(AppError::internal)??;
    let drawn = started.elapsed();
    progress.set_done(2);
    progress.check()?;
    let record_file = store_draw_record(state, &record, created_by, now).await?;
    let recorded_at = started.elapsed();
    let round = NewRound {
        name: &input.name,
        seed: input.seed.to_string(),
        algorithm: input.ward_shares.algorithm(),
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
        draw_record: Some(record_file),
    };
    let db = state.db.writer();
    let round_id = match letter_rows::insert_round(db, &round, &draw.selected).await {
        Ok(id) => id,
        Err(err) => {
            files::delete(db, record_file).await?;
            return Err(err);
        }
    };
    files::rename(
        db,
        record_file,
        format!("round-{round_id}-draw-record.json"),
    )
    .await?;
    progress.set_done(3);
    tracing::info!(
        load_ms = loaded.as_millis(),
        draw_ms = (drawn - loaded).as_millis(),
        record_ms = (recorded_at - drawn).as_millis(),
        record_bytes = record.len(),
        write_ms = (started.elapsed() - recorded_at).as_millis(),
        round_id = %round_id,
        letters = draw.selected.len(),
        eligible,
        "recruitment round drawn"
    );
    Ok(round_id)
}

/// How long a draw record is kept: as long as the database (the purge of expired files
/// never reaches it).
const DRAW_RECORD_YEARS: u32 = 100;

/// Stores a draw's record (see `domain::recruitment::draw_record`) as a file that does not expire.
async fn store_draw_record(
    state: &AppState,
    record: &[u8],
    created_by: Option<AccountId>,
    now: DateTime<Utc>,
) -> AppResult<FileId> {
    let db = state.db.writer();
    let file = files::create(
        db,
        NewFile {
            purpose: files::DRAW_RECORD,
            name: "draw-record.json".to_owned(),
            content_type: "application/json",
            job_id: None,
            created_by,
            expires_at: now + Months::new(12 * DRAW_RECORD_YEARS),
        },
        now,
    )
    .await?;
    if let Err(err) = files::write_all(db, file, record).await {
        files::delete(db, file).await?;
        return Err(err);
    }
    Ok(file)
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
        id: row.id,
        name: row.name,
        seed,
        algorithm: row.algorithm,
        parameters,
        register_fingerprint: row.register_fingerprint,
        eligible_count: u64::try_from(row.eligible_count).unwrap_or(0),
        drawn_count: u64::try_from(row.drawn_count).unwrap_or(0),
        created_by: row.created_by,
        created_at: row.created_at,
        code_expires_at: row.code_expires_at,
        min_age: u8::try_from(row.min_age).unwrap_or(16),
        one_per_household: row.one_per_household,
        incentive: row.incentive_description.map(|description| Incentive {
            description,
            amount_pence: row.incentive_amount_pence,
        }),
        draw_record: row.draw_record_file_id,
    })
}

/// One round, whoever asks (internal use: the caller is checked by the use case).
pub async fn find_round(db: &impl ConnectionTrait, id: RoundId) -> AppResult<Round> {
    recruitment_round::Entity::find_by_id(id)
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
        .filter(recruitment_round::Column::Id.is_in(ids.iter().copied()))
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

/// What re-running a round's draw found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Re-drawn from the round's draw record (or, for a round drawn before records were
    /// kept, from the register), the addresses are those the round sent letters to.
    Identical {
        /// Letters drawn.
        letters: usize,
        /// Whether the draw record was used (the register may have changed since).
        from_record: bool,
    },
    /// The re-drawn addresses differ from the round's letters (this should never happen).
    Different {
        /// Letters the round holds.
        stored: usize,
        /// Addresses re-drawn.
        redrawn: usize,
    },
    /// A round without a draw record whose register changed since the draw: the snapshot
    /// cannot be rebuilt.
    RegisterChanged {
        /// The fingerprint at the draw.
        stored: String,
        /// The fingerprint now.
        now: String,
    },
    /// The stored draw record does not match the round it belongs to.
    RecordAltered {
        /// What does not match.
        detail: String,
    },
}

/// Re-runs a round's draw and compares the result with the letters written at the time:
/// from its draw record when it has one (so a register changed since does not matter),
/// otherwise from the register as it was at the draw.
pub async fn verify(state: &AppState, round_id: RoundId) -> AppResult<Verification> {
    let db = state.db.reader();
    let round = find_round(db, round_id).await?;
    let Some(shares) = WardShares::of_algorithm(&round.algorithm) else {
        return Err(AppError::conflict(format!(
            "Round {round_id} used {}, which this version cannot re-run.",
            round.algorithm
        )));
    };
    let redrawn: Vec<String> = match round.draw_record {
        Some(file) => match redraw_from_record(state, &round, file).await? {
            Ok(keys) => keys,
            Err(altered) => return Ok(altered),
        },
        None => {
            let frame =
                frame::eligible(db, &frame_query(&round.parameters, Some(round_id))).await?;
            let now = sampling::fingerprint(&frame);
            if now != round.register_fingerprint {
                return Ok(Verification::RegisterChanged {
                    stored: round.register_fingerprint,
                    now,
                });
            }
            let letters = round.parameters.letters;
            let seed = round.seed;
            let draw = tokio::task::spawn_blocking(move || {
                sampling::draw_with_shares(&frame, letters, seed, shares)
            })
            .await
            .map_err(AppError::internal)?
            .map_err(sampling_error)?;
            draw.selected.into_iter().map(|u| u.key).collect()
        }
    };
    let stored: Vec<String> = address::Entity::find()
        .select_only()
        .column(address::Column::AddressKey)
        .filter(
            address::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(letter::Column::AddressId)
                    .from(letter::Entity)
                    .and_where(letter::Column::RoundId.eq(round_id))
                    .to_owned(),
            ),
        )
        .into_tuple()
        .all(db)
        .await?;
    let redrawn_count = redrawn.len();
    Ok(
        match draw_record::compare_keys(&stored, redrawn, round.eligible_count as usize) {
            RecordCheck::Identical { letters, .. } => Verification::Identical {
                letters,
                from_record: round.draw_record.is_some(),
            },
            _ => Verification::Different {
                stored: stored.len(),
                redrawn: redrawn_count,
            },
        },
    )
}

/// The keys a round's draw record re-draws, or why the record cannot be trusted.
async fn redraw_from_record(
    state: &AppState,
    round: &Round,
    file: FileId,
) -> AppResult<Result<Vec<String>, Verification>> {
    let bytes = files::read_all(state.db.reader(), file).await?;
    let altered = |detail: String| Ok(Err(Verification::RecordAltered { detail }));
    let record: DrawRecord = match serde_json::from_slice(&bytes) {
        Ok(record) => record,
        Err(err) => return altered(format!("the record cannot be read: {err}")),
    };
    if record.frame_sha256 != round.register_fingerprint || record.seed != round.seed.to_string() {
        return altered(format!(
            "the record is of another draw (frame {}, seed {}; the round's are {}, {})",
            record.frame_sha256, record.seed, round.register_fingerprint, round.seed
        ));
    }
    let checked = tokio::task::spawn_blocking(move || record.check().map(|c| (c, record)))
        .await
        .map_err(AppError::internal)?;
    match checked {
        Ok((RecordCheck::Identical { .. }, record)) => {
            Ok(Ok(record.drawn.into_iter().map(Cow::into_owned).collect()))
        }
        Ok((RecordCheck::FrameAltered { stated, computed }, _)) => altered(format!(
            "the record's frame has fingerprint {computed}, not the {stated} it states"
        )),
        Ok((RecordCheck::Different { examples, .. }, _)) => altered(format!(
            "the record lists other addresses than its draw gives, e.g. {}",
            examples.join(", ")
        )),
        Err(err) => altered(err.to_string()),
    }
}

/// A round's draw record as a file to download or publish; `NOT_FOUND` for a round drawn
/// before records were kept.
pub async fn draw_record(
    state: &AppState,
    caller: &Caller,
    round_id: RoundId,
) -> AppResult<FileId> {
    caller.require(OFFICERS)?;
    let round = find_round(state.db.reader(), round_id).await?;
    round.draw_record.ok_or(AppError::NotFound {
        what: "draw record",
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
