//! How a recruitment round is going: letters drawn, exported and redeemed, registrations,
//! by ward and by deprivation decile; and the pool's make-up against the population.

use std::collections::BTreeMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Statement,
    Value,
};

use crate::db::entities::{benchmark, resident};
use crate::domain::composition::{CompositionRow, age_bands_from, compare};
use crate::domain::demographics::{age_band, age_on};
use crate::domain::uk_time::uk_date;
use crate::error::{AppError, AppResult};
use crate::service::recruitment;
use crate::state::AppState;

/// Counts for one group of letters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Funnel {
    /// The group: a ward code, a decile (`"1"` … `"10"`, `"unknown"`), or `"all"`.
    pub group: String,
    /// Letters drawn.
    pub drawn: u64,
    /// Letters exported for printing.
    pub exported: u64,
    /// Codes redeemed.
    pub redeemed: u64,
    /// Registrants still in the pool (not withdrawn).
    pub registrations: u64,
}

impl Funnel {
    /// Registrations per letter drawn.
    pub fn registration_rate(&self) -> f64 {
        if self.drawn == 0 {
            0.0
        } else {
            self.registrations as f64 / self.drawn as f64
        }
    }
}

/// A round's progress.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoundStatus {
    /// The whole round.
    pub total: Funnel,
    /// Per ward.
    pub by_ward: Vec<Funnel>,
    /// Per deprivation decile.
    pub by_decile: Vec<Funnel>,
}

/// Rewrites `$1, $2…` placeholders for the backend (SQLite takes `?`).
fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => sql.to_owned(),
        _ => {
            let mut out = String::with_capacity(sql.len());
            let mut chars = sql.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                    out.push('?');
                } else {
                    out.push(c);
                }
            }
            out
        }
    };
    Statement::from_sql_and_values(backend, sql, values)
}

async fn funnels(
    db: &impl ConnectionTrait,
    round_id: i64,
    group_sql: &str,
) -> AppResult<Vec<Funnel>> {
    let sql = format!(
        "SELECT {group_sql} AS grp, COUNT(*) AS drawn, COUNT(l.exported_at) AS exported, \
                COUNT(l.redeemed_at) AS redeemed, \
                COUNT(CASE WHEN r.id IS NOT NULL AND r.withdrawn_at IS NULL THEN 1 END) AS registrations \
         FROM letters l JOIN addresses a ON a.id = l.address_id \
         LEFT JOIN residents r ON r.letter_id = l.id \
         WHERE l.round_id = $1 GROUP BY {group_sql} ORDER BY {group_sql}"
    );
    let rows = db
        .query_all_raw(statement(
            db.get_database_backend(),
            &sql,
            vec![round_id.into()],
        ))
        .await?;
    let count = |row: &sea_orm::QueryResult, col: &str| -> AppResult<u64> {
        let n: i64 = row.try_get("", col)?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    rows.iter()
        .map(|row| {
            let group: Option<String> = row.try_get("", "grp")?;
            Ok(Funnel {
                group: group.unwrap_or_else(|| "unknown".to_owned()),
                drawn: count(row, "drawn")?,
                exported: count(row, "exported")?,
                redeemed: count(row, "redeemed")?,
                registrations: count(row, "registrations")?,
            })
        })
        .collect()
}

/// The round's funnel, in total, by ward and by decile.
pub async fn status(db: &impl ConnectionTrait, round_id: i64) -> AppResult<RoundStatus> {
    recruitment::find_round(db, round_id).await?;
    let by_ward = funnels(db, round_id, "l.stratum").await?;
    let mut by_decile = funnels(db, round_id, "CAST(a.deprivation_decile AS TEXT)").await?;
    // Deciles sort numerically, unknown last.
    by_decile.sort_by_key(|f| f.group.parse::<u32>().unwrap_or(u32::MAX));
    let total = by_ward.iter().fold(
        Funnel {
            group: "all".to_owned(),
            ..Funnel::default()
        },
        |mut acc, f| {
            acc.drawn += f.drawn;
            acc.exported += f.exported;
            acc.redeemed += f.redeemed;
            acc.registrations += f.registrations;
            acc
        },
    );
    Ok(RoundStatus {
        total,
        by_ward,
        by_decile,
    })
}

/// One dimension of the pool's make-up.
#[derive(Clone, Debug, PartialEq)]
pub struct CompositionDimension {
    /// `sex`, `age_band`, `ethnic_group` or `disability`.
    pub dimension: String,
    /// Categories with counts, shares and representation ratios.
    pub rows: Vec<CompositionRow>,
}

/// The registrants of a round compared with the population benchmarks of `area_code`.
/// Age bands are compared with the population aged `min_age` and over (see
/// `domain::composition::age_bands_from`).
pub async fn pool_composition(
    state: &AppState,
    round_id: i64,
    area_code: &str,
) -> AppResult<Vec<CompositionDimension>> {
    let round = recruitment::find_round(&state.db, round_id).await?;
    let benchmarks = benchmark::Entity::find()
        .filter(benchmark::Column::AreaCode.eq(area_code))
        .all(&state.db)
        .await?;
    if benchmarks.is_empty() {
        return Err(AppError::NotFound {
            what: "benchmark area",
        });
    }
    let residents: Vec<(String, String, String, chrono::NaiveDate)> = resident::Entity::find()
        .select_only()
        .columns([
            resident::Column::Sex,
            resident::Column::EthnicGroup,
            resident::Column::Disability,
        ])
        .column(resident::Column::DateOfBirth)
        .filter(resident::Column::RoundId.eq(round_id))
        .filter(resident::Column::WithdrawnAt.is_null())
        .into_tuple()
        .all(&state.db)
        .await?;
    let today = uk_date(state.clock.now());
    let min_age = u32::try_from(round.min_age).unwrap_or(16);
    let mut dimensions = Vec::new();
    for dimension in ["age_band", "sex", "ethnic_group", "disability"] {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for (sex, ethnic_group, disability, born) in &residents {
            let category = match dimension {
                "sex" => sex.clone(),
                "ethnic_group" => ethnic_group.clone(),
                "disability" => disability.clone(),
                _ => age_band(age_on(*born, today).unwrap_or(0)),
            };
            *counts.entry(category).or_default() += 1;
        }
        let population: Vec<(String, i64)> = benchmarks
            .iter()
            .filter(|b| b.dimension == dimension)
            .map(|b| (b.category.clone(), b.count))
            .collect();
        let population: Vec<(String, f64)> = if dimension == "age_band" {
            age_bands_from(&population, min_age)
        } else {
            population.into_iter().map(|(c, n)| (c, n as f64)).collect()
        };
        let group: Vec<(String, u64)> = counts.into_iter().collect();
        dimensions.push(CompositionDimension {
            dimension: dimension.to_owned(),
            rows: compare(&group, &population),
        });
    }
    Ok(dimensions)
}
