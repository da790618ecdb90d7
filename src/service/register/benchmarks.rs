//! Population benchmarks: census counts per area, dimension and category, imported from
//! the tidy CSV format and read back as shares. They are the yardstick for quotas and for
//! the composition of recruitment pools and respondents.

use std::io::Read;

use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use crate::db::entities::benchmark::{self, Column};
use crate::domain::accounts::role::Role;
use crate::domain::register::address_csv::RowRejection;
use crate::domain::register::benchmark_csv::{
    DimensionShares, UnmatchedCategory, parse_benchmarks, shares, unmatched_categories,
};
use crate::domain::text_input::TextEncoding;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::state::AppState;

/// Who may import benchmarks.
const OFFICERS: &[Role] = &[Role::Officer];
/// Who may read them (aggregate census counts).
const READERS: &[Role] = &[Role::Officer, Role::Scrutiny];

/// Benchmark files are small (a few thousand rows per council); this bounds a mistake.
pub const MAX_BENCHMARK_ROWS: u64 = 200_000;

/// What a benchmark import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BenchmarkImportSummary {
    /// Rows written (new or changed counts).
    pub written: u64,
    /// Rows refused, with line numbers and reasons.
    pub rejected: Vec<RowRejection>,
    /// Rows kept whose category matches no profile value (see [`unmatched_categories`]).
    pub unmatched: Vec<UnmatchedCategory>,
}

/// Imports (or re-imports) census counts; a row for an existing (area, dimension,
/// category) replaces its count. One transaction.
pub async fn import(
    state: &AppState,
    caller: &Caller,
    reader: impl Read + Send + 'static,
    encoding: TextEncoding,
) -> AppResult<BenchmarkImportSummary> {
    caller.require(OFFICERS)?;
    let (rows, rejected) =
        tokio::task::spawn_blocking(move || parse_benchmarks(reader, MAX_BENCHMARK_ROWS, encoding))
            .await
            .map_err(AppError::internal)?
            .map_err(|e| AppError::bad_input("file", e.to_string()))?;
    let now = state.clock.now();
    let txn = state.db.writer().begin().await?;
    for chunk in rows.chunks(500) {
        let mut insert = Query::insert();
        insert.into_table(benchmark::Entity).columns([
            Column::AreaCode,
            Column::AreaName,
            Column::Dimension,
            Column::Category,
            Column::Count,
            Column::Universe,
            Column::ImportedAt,
        ]);
        for row in chunk {
            insert
                .values([
                    row.area_code.clone().into(),
                    row.area_name.clone().into(),
                    row.dimension.clone().into(),
                    row.category.clone().into(),
                    row.count.into(),
                    row.universe.clone().into(),
                    now.into(),
                ])
                .map_err(AppError::internal)?;
        }
        insert.on_conflict(
            OnConflict::columns([Column::AreaCode, Column::Dimension, Column::Category])
                .update_columns([
                    Column::AreaName,
                    Column::Count,
                    Column::Universe,
                    Column::ImportedAt,
                ])
                .to_owned(),
        );
        txn.execute(&insert).await?;
    }
    txn.commit().await?;
    let unmatched = unmatched_categories(&rows);
    if !unmatched.is_empty() {
        tracing::warn!(
            rows = unmatched.len(),
            "benchmark categories that match no profile value were imported"
        );
    }
    Ok(BenchmarkImportSummary {
        written: rows.len() as u64,
        rejected,
        unmatched,
    })
}

/// The benchmark shares of one area, per dimension.
pub async fn area_shares(
    state: &AppState,
    caller: &Caller,
    area_code: &str,
) -> AppResult<Vec<DimensionShares>> {
    caller.require(READERS)?;
    let rows = benchmark::Entity::find()
        .filter(Column::AreaCode.eq(area_code))
        .order_by_asc(Column::Id)
        .all(state.db.reader())
        .await?;
    if rows.is_empty() {
        return Err(AppError::NotFound {
            what: "benchmark area",
        });
    }
    let tuples: Vec<(String, String, i64, String)> = rows
        .into_iter()
        .map(|row| (row.dimension, row.category, row.count, row.universe))
        .collect();
    Ok(shares(&tuples))
}

/// Areas with benchmarks: (code, name), sorted by code.
pub async fn areas(state: &AppState, caller: &Caller) -> AppResult<Vec<(String, String)>> {
    caller.require(READERS)?;
    let rows: Vec<(String, String)> = benchmark::Entity::find()
        .select_only()
        .column(Column::AreaCode)
        .column(Column::AreaName)
        .distinct()
        .order_by_asc(Column::AreaCode)
        .into_tuple()
        .all(state.db.reader())
        .await?;
    Ok(rows)
}
