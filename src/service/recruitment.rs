//! Recruitment rounds: the reproducible stratified address lottery.
//!
//! A round's draw is a pure function of the eligible register snapshot, its parameters and
//! its seed (see `domain::sampling`). All three are stored with the round, together with a
//! fingerprint of the snapshot, so that anyone with the seed can re-run the draw and get
//! the identical list (`civic-panel lottery verify ROUND`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Months, Utc};
use futures_util::TryStreamExt;
use rand::RngCore;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, sqlx,
};
use serde::{Deserialize, Serialize};

use crate::db::bulk::{self, on_connection};
use crate::db::entities::{address, letter, recruitment_round};
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
///
/// The exclusions are applied by the database, and rows are decoded straight into frame
/// units (a million of them for a large council).
pub async fn eligible_frame(
    txn: &mut bulk::Transaction,
    parameters: &LotteryParameters,
    round: Option<i64>,
) -> AppResult<Vec<FrameUnit>> {
    let as_of = parameters.as_of;
    let since = parameters.exclude_invited_within_months.map(|months| {
        as_of
            .checked_sub_months(Months::new(months))
            .unwrap_or(as_of)
    });
    let conditions = frame_conditions(
        txn.backend(),
        since.is_some(),
        parameters.exclude_member_households,
    );
    let next_parameter = if since.is_some() { 4 } else { 2 };
    // Units of one ward share its name rather than each holding a copy.
    let mut wards: HashMap<String, Arc<str>> = HashMap::new();
    let mut unit = |id, key, ward: String, decile: Option<i16>| {
        let stratum = match wards.get(&ward) {
            Some(shared) => Arc::clone(shared),
            None => {
                let shared: Arc<str> = Arc::from(ward.as_str());
                wards.insert(ward, Arc::clone(&shared));
                shared
            }
        };
        FrameUnit {
            id,
            key,
            stratum,
            weight: decile
                .and_then(|d| parameters.decile_weights.get(&d).copied())
                .unwrap_or(sampling::DEFAULT_WEIGHT),
        }
    };
    let mut frame = Vec::new();
    match txn {
        bulk::Transaction::Postgres(conn) => {
            let sql = format!(
                "SELECT id, address_key, ward_code, deprivation_decile FROM addresses \
                 WHERE {conditions}"
            );
            let mut query =
                sqlx::query_as::<_, (i64, String, String, Option<i16>)>(sqlx::AssertSqlSafe(sql))
                    .bind(as_of);
            if let Some(since) = since {
                query = query.bind(since).bind(round.unwrap_or(0));
            }
            let mut rows = query.fetch(&mut **conn);
            while let Some((id, key, stratum, decile)) = rows.try_next().await? {
                frame.push(unit(id, key, stratum, decile));
            }
        }
        bulk::Transaction::Sqlite(conn) => {
            // A page of addresses at a time, in id order, packed by the database (see
            // `bulk::sqlite_json_rows`); each page starts after the last id of the one before.
            const PAGE: usize = 65_536;
            let sql = format!(
                "SELECT json_group_array(json_array(id, address_key, ward_code, \
                 deprivation_decile)) FROM (SELECT id, address_key, ward_code, \
                 deprivation_decile FROM addresses WHERE {conditions} AND id > ${next_parameter} \
                 ORDER BY id LIMIT {PAGE})"
            );
            let mut after = i64::MIN;
            loop {
                let mut query =
                    sqlx::query_scalar::<_, Option<String>>(sqlx::AssertSqlSafe(sql.clone()))
                        .bind(as_of);
                if let Some(since) = since {
                    query = query.bind(since).bind(round.unwrap_or(0));
                }
                let page = query.bind(after).fetch_one(&mut **conn).await?;
                let rows: Vec<(i64, String, String, Option<i16>)> = bulk::sqlite_json_rows(page)?;
                let full = rows.len() == PAGE;
                after = rows.iter().map(|row| row.0).max().unwrap_or(after);
                frame.extend(
                    rows.into_iter()
                        .map(|(id, key, stratum, decile)| unit(id, key, stratum, decile)),
                );
                if !full {
                    break;
                }
            }
        }
    }
    Ok(frame)
}

/// The `WHERE` conditions of the eligible frame. `$1` is `as_of`; with the invitation
/// exclusion, `$2` is `since` and `$3` the round left out (ids start at 1, so 0 leaves none
/// out).
///
/// PostgreSQL gets `NOT EXISTS`, which it plans as an anti-join whatever the number of
/// letters; its `NOT IN` over a sub-query too large for `work_mem` would re-scan it for
/// every address. SQLite gets `NOT IN`, for which it indexes the sub-query's rows once,
/// where `NOT EXISTS` would probe the letters once per address.
fn frame_conditions(backend: DbBackend, invited: bool, households: bool) -> String {
    let postgres = backend == DbBackend::Postgres;
    let mut conditions = String::from("addresses.created_at <= $1");
    let recent = "letters.created_at >= $2 AND letters.created_at <= $1 \
                  AND letters.round_id <> $3";
    // Households with a registrant still in the pool at `as_of`.
    let members = "residents.registered_at <= $1 \
                   AND (residents.withdrawn_at IS NULL OR residents.withdrawn_at > $1)";
    match (invited, postgres) {
        (false, _) => {}
        (true, true) => conditions.push_str(&format!(
            " AND NOT EXISTS (SELECT 1 FROM letters \
             WHERE letters.address_id = addresses.id AND {recent})"
        )),
        (true, false) => conditions.push_str(&format!(
            " AND addresses.id NOT IN (SELECT letters.address_id FROM letters WHERE {recent})"
        )),
    }
    match (households, postgres) {
        (false, _) => {}
        (true, true) => conditions.push_str(&format!(
            " AND NOT EXISTS (SELECT 1 FROM residents \
             WHERE residents.household_key = addresses.household_key AND {members})"
        )),
        (true, false) => conditions.push_str(&format!(
            " AND addresses.household_key NOT IN \
             (SELECT residents.household_key FROM residents WHERE {members})"
        )),
    }
    conditions
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
    let mut txn = bulk::Transaction::begin(&state.db).await?;
    let frame = eligible_frame(&mut txn, &parameters, None).await?;
    let loaded = started.elapsed();
    let eligible = frame.len();
    let letters = parameters.letters;
    let draw = tokio::task::spawn_blocking(move || sampling::draw(&frame, letters, seed))
        .await
        .map_err(AppError::internal)?
        .map_err(sampling_error)?;
    let drawn = started.elapsed();
    let parameters = serde_json::to_string(&parameters).map_err(AppError::internal)?;
    let code_expires_at = now + chrono::Duration::days(i64::from(input.code_valid_days));
    let round_id: i64 = on_connection!(&mut txn, conn => {
        sqlx::query_scalar(
            "INSERT INTO recruitment_rounds (name, seed, algorithm, parameters, \
             register_fingerprint, eligible_count, drawn_count, created_by, created_at, \
             code_expires_at, min_age, one_per_household, incentive_description, \
             incentive_amount_pence) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        )
        .bind(input.name.trim())
        .bind(seed.to_string())
        .bind(ALGORITHM)
        .bind(&parameters)
        .bind(&draw.frame_fingerprint)
        .bind(i64::try_from(eligible).unwrap_or(i64::MAX))
        .bind(i64::try_from(draw.selected.len()).unwrap_or(i64::MAX))
        .bind(created_by.map(|id| id.0))
        .bind(now)
        .bind(code_expires_at)
        .bind(i16::from(input.min_age))
        .bind(input.one_per_household)
        .bind(input.incentive_description.as_deref())
        .bind(input.incentive_amount_pence)
        .fetch_one(conn)
        .await?
    });
    insert_letters(&mut txn, round_id, &draw.selected, now).await?;
    txn.commit().await?;
    tracing::info!(
        load_ms = loaded.as_millis(),
        draw_ms = (drawn - loaded).as_millis(),
        write_ms = (started.elapsed() - drawn).as_millis(),
        round_id,
        letters = draw.selected.len(),
        eligible,
        "recruitment round drawn"
    );
    Ok((find_round(&state.db, round_id).await?, draw))
}

/// Writes one letter per selected unit: on PostgreSQL one statement with a column per
/// array, on SQLite multi-row statements inside its limit of 32,766 parameters.
async fn insert_letters(
    txn: &mut bulk::Transaction,
    round_id: i64,
    selected: &[FrameUnit],
    now: DateTime<Utc>,
) -> AppResult<()> {
    match txn {
        bulk::Transaction::Postgres(txn) => {
            let addresses: Vec<i64> = selected.iter().map(|unit| unit.id).collect();
            let strata: Vec<&str> = selected.iter().map(|unit| &*unit.stratum).collect();
            sqlx::query(
                "INSERT INTO letters (round_id, address_id, stratum, created_at) \
                 SELECT $1, address_id, stratum, $2 \
                 FROM UNNEST($3::bigint[], $4::text[]) AS drawn(address_id, stratum)",
            )
            .bind(round_id)
            .bind(now)
            .bind(addresses)
            .bind(strata)
            .execute(&mut **txn)
            .await?;
        }
        bulk::Transaction::Sqlite(txn) => {
            const CHUNK: usize = 8_000;
            for chunk in selected.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO letters (round_id, address_id, stratum, created_at) VALUES {}",
                    bulk::sqlite_rows(chunk.len(), 4)
                );
                let cached = chunk.len() == CHUNK;
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(cached);
                for unit in chunk {
                    query = query
                        .bind(round_id)
                        .bind(unit.id)
                        .bind(&*unit.stratum)
                        .bind(now);
                }
                query.execute(&mut **txn).await?;
            }
        }
    }
    Ok(())
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
pub async fn verify(db: &DatabaseConnection, round_id: i64) -> AppResult<Verification> {
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
    let mut txn = bulk::Transaction::begin(db).await?;
    let frame = eligible_frame(&mut txn, &parameters, Some(round_id)).await?;
    txn.rollback().await?;
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
