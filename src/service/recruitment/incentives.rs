//! Incentives for joining: who is owed one and when it was fulfilled, for finance.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select};

use crate::db::entities::resident;
use crate::db::pages::{self, Order};
use crate::domain::accounts::role::Role;
use crate::domain::ids::{ResidentId, RoundId};
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::service::recruitment;
use crate::state::AppState;

/// Claims name residents and how to reach them: officers only.
const OFFICERS: &[Role] = &[Role::Officer];

/// One registrant owed the round's incentive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The registrant.
    pub resident_id: ResidentId,
    /// Their name.
    pub full_name: String,
    /// How to reach them.
    pub email: Option<String>,
    /// When they registered (and so became owed).
    pub owed_since: DateTime<Utc>,
    /// When the incentive was given.
    pub fulfilled_at: Option<DateTime<Utc>>,
}

fn owed(round_id: RoundId) -> Select<resident::Entity> {
    resident::Entity::find()
        .filter(resident::Column::RoundId.eq(round_id))
        .filter(resident::Column::IncentiveOwed.eq(true))
}

fn to_claim(r: resident::Model) -> Claim {
    Claim {
        resident_id: r.id,
        full_name: r.full_name,
        email: r.email,
        owed_since: r.registered_at,
        fulfilled_at: r.incentive_fulfilled_at,
    }
}

/// A page of a round's claims in registration order, after `after`; up to `limit + 1` so
/// the caller can tell whether another page follows.
pub async fn claims_page(
    state: &AppState,
    caller: &Caller,
    round_id: RoundId,
    after: Option<ResidentId>,
    limit: u64,
) -> AppResult<Vec<Claim>> {
    caller.require(OFFICERS)?;
    Ok(pages::page(
        owed(round_id),
        resident::Column::Id,
        Order::OldestFirst,
        after.map(ResidentId::get),
        limit,
    )
    .all(state.db.reader())
    .await?
    .into_iter()
    .map(to_claim)
    .collect())
}

/// The first page of each of `rounds`' claims, in registration order, `limit` (and one
/// more) each, with one statement (the loader of a list's claims).
pub async fn first_claim_pages(
    state: &AppState,
    caller: &Caller,
    rounds: &[RoundId],
    limit: u64,
) -> AppResult<std::collections::HashMap<RoundId, Vec<Claim>>> {
    caller.require(OFFICERS)?;
    let parents: Vec<i64> = rounds.iter().map(|r| r.get()).collect();
    let rows = pages::first_of_each(
        state.db.reader(),
        resident::Entity::find().filter(resident::Column::IncentiveOwed.eq(true)),
        resident::Column::RoundId,
        resident::Column::Id,
        Order::OldestFirst,
        &parents,
        limit,
    )
    .await?;
    let mut found: std::collections::HashMap<RoundId, Vec<Claim>> = Default::default();
    for row in rows {
        found.entry(row.round_id).or_default().push(to_claim(row));
    }
    Ok(found)
}

/// Everyone in a round owed its incentive, in registration order (the finance export).
pub async fn all_claims(
    state: &AppState,
    caller: &Caller,
    round_id: RoundId,
) -> AppResult<Vec<Claim>> {
    caller.require(OFFICERS)?;
    recruitment::find_round(state.db.reader(), round_id).await?;
    Ok(owed(round_id)
        .all(state.db.reader())
        .await?
        .into_iter()
        .map(to_claim)
        .collect())
}

/// Marks incentives as given. Residents not owed one, or already given it, are left as
/// they are; returns how many were marked now.
pub async fn fulfil(
    state: &AppState,
    caller: &Caller,
    resident_ids: &[ResidentId],
) -> AppResult<u64> {
    caller.require(OFFICERS)?;
    let at = state.clock.now();
    if resident_ids.is_empty() || resident_ids.len() > 10_000 {
        return Err(AppError::bad_input(
            "input.residentIds",
            "Give 1 to 10,000 resident IDs.",
        ));
    }
    let result = resident::Entity::update_many()
        .col_expr(resident::Column::IncentiveFulfilledAt, Expr::value(at))
        .filter(resident::Column::Id.is_in(resident_ids.iter().copied()))
        .filter(resident::Column::IncentiveOwed.eq(true))
        .filter(resident::Column::IncentiveFulfilledAt.is_null())
        .exec(state.db.writer())
        .await?;
    Ok(result.rows_affected)
}

/// The claims as CSV for finance.
pub fn claims_csv(
    claims: &[Claim],
    description: &str,
    amount_pence: Option<i32>,
) -> AppResult<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record([
            "resident_id",
            "name",
            "email",
            "incentive",
            "amount_pence",
            "owed_since",
            "fulfilled_at",
        ])
        .map_err(AppError::internal)?;
    for c in claims {
        writer
            .write_record([
                c.resident_id.to_string(),
                c.full_name.clone(),
                c.email.clone().unwrap_or_default(),
                description.to_owned(),
                amount_pence.map(|p| p.to_string()).unwrap_or_default(),
                c.owed_since.to_rfc3339(),
                c.fulfilled_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            ])
            .map_err(AppError::internal)?;
    }
    writer.into_inner().map_err(AppError::internal)
}
