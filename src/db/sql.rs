//! Hand-written statements run as they are: a statement with its values, and a count read
//! from a row.

use sea_orm::{ConnectionTrait, Statement, Value};

use crate::error::AppResult;

pub async fn query(
    db: &impl ConnectionTrait,
    sql: String,
    values: Vec<Value>,
) -> AppResult<Vec<sea_orm::QueryResult>> {
    Ok(db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await?)
}

pub fn count_of(row: &sea_orm::QueryResult, index: usize) -> AppResult<u64> {
    let n: i64 = row.try_get_by_index(index)?;
    Ok(u64::try_from(n).unwrap_or(0))
}
