//! Incentives for joining: who is owed one and when it was fulfilled, for finance.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::db::entities::resident;
use crate::error::{AppError, AppResult};
use crate::service::recruitment;

/// One registrant owed the round's incentive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The registrant.
    pub resident_id: i64,
    /// Their name.
    pub full_name: String,
    /// How to reach them.
    pub email: Option<String>,
    /// When they registered (and so became owed).
    pub owed_since: DateTime<Utc>,
    /// When the incentive was given.
    pub fulfilled_at: Option<DateTime<Utc>>,
}

/// Everyone in a round owed its incentive, in registration order.
pub async fn claims(db: &impl ConnectionTrait, round_id: i64) -> AppResult<Vec<Claim>> {
    recruitment::find_round(db, round_id).await?;
    Ok(resident::Entity::find()
        .filter(resident::Column::RoundId.eq(round_id))
        .filter(resident::Column::IncentiveOwed.eq(true))
        .order_by_asc(resident::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| Claim {
            resident_id: r.id,
            full_name: r.full_name,
            email: r.email,
            owed_since: r.registered_at,
            fulfilled_at: r.incentive_fulfilled_at,
        })
        .collect())
}

/// Marks incentives as given. Residents not owed one, or already given it, are left as
/// they are; returns how many were marked now.
pub async fn fulfil(
    db: &impl ConnectionTrait,
    resident_ids: &[i64],
    at: DateTime<Utc>,
) -> AppResult<u64> {
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
        .exec(db)
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
