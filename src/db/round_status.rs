//! Counting a round's letters by group: drawn, exported, redeemed and registrations, for
//! many rounds in one statement (a list of rounds with their status costs one query per
//! grouping, not one per round).

use sea_orm::{ConnectionTrait, Statement, Value};

use crate::domain::ids::RoundId;
use crate::error::AppResult;

/// How letters are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    /// By the ward (stratum) each letter was drawn in.
    Ward,
    /// By the deprivation decile of the letter's address.
    Decile,
}

impl Grouping {
    fn sql(self) -> &'static str {
        match self {
            Self::Ward => "l.stratum",
            Self::Decile => "CAST(a.deprivation_decile AS TEXT)",
        }
    }
}

/// Counts for one group of one round's letters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupCounts {
    /// The group (a ward code or a decile); `None` for addresses without a decile.
    pub group: Option<String>,
    /// Letters drawn.
    pub drawn: u64,
    /// Letters exported for printing.
    pub exported: u64,
    /// Codes redeemed.
    pub redeemed: u64,
    /// Registrants still in the pool (not withdrawn).
    pub registrations: u64,
}

/// The counts per group of each of `rounds`, in (round, group) order.
pub async fn counts(
    db: &impl ConnectionTrait,
    rounds: &[RoundId],
    grouping: Grouping,
) -> AppResult<Vec<(RoundId, GroupCounts)>> {
    if rounds.is_empty() {
        return Ok(Vec::new());
    }
    let group = grouping.sql();
    let placeholders: Vec<String> = (1..=rounds.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT l.round_id AS round_id, {group} AS grp, COUNT(*) AS drawn, \
                COUNT(l.exported_at) AS exported, COUNT(l.redeemed_at) AS redeemed, \
                COUNT(CASE WHEN r.id IS NOT NULL AND r.withdrawn_at IS NULL THEN 1 END) \
                  AS registrations \
         FROM letters l JOIN addresses a ON a.id = l.address_id \
         LEFT JOIN residents r ON r.letter_id = l.id \
         WHERE l.round_id IN ({}) GROUP BY l.round_id, {group} ORDER BY l.round_id, {group}",
        placeholders.join(", ")
    );
    let values: Vec<Value> = rounds.iter().map(|id| id.get().into()).collect();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await?;
    let count = |row: &sea_orm::QueryResult, col: &str| -> AppResult<u64> {
        let n: i64 = row.try_get("", col)?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    rows.iter()
        .map(|row| {
            let round: i64 = row.try_get("", "round_id")?;
            Ok((
                RoundId(round),
                GroupCounts {
                    group: row.try_get("", "grp")?,
                    drawn: count(row, "drawn")?,
                    exported: count(row, "exported")?,
                    redeemed: count(row, "redeemed")?,
                    registrations: count(row, "registrations")?,
                },
            ))
        })
        .collect()
}
