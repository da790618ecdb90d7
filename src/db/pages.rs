//! Keyset pages: a list in the order of its integer id, resumed from the last id a client
//! saw, so a page costs the same however deep it is and rows added meanwhile never shift
//! it. A page query fetches one row more than asked, so the caller can tell whether
//! another page follows (see `graphql::pagination`).

use sea_orm::sea_query::{Expr, MysqlQueryBuilder, PostgresQueryBuilder, SqliteQueryBuilder};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, IdenStatic, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, Statement,
};

use crate::error::AppResult;

/// Which way a list runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Lowest id first; a page resumes after its cursor.
    OldestFirst,
    /// Highest id first; a page resumes before its cursor.
    NewestFirst,
}

/// `query` ordered by `id`, from past `cursor`, `limit + 1` rows at most.
pub fn page<E: EntityTrait>(
    query: Select<E>,
    id: impl ColumnTrait,
    order: Order,
    cursor: Option<i64>,
    limit: u64,
) -> Select<E> {
    let mut query = match order {
        Order::OldestFirst => query.order_by_asc(id),
        Order::NewestFirst => query.order_by_desc(id),
    };
    if let Some(cursor) = cursor {
        query = match order {
            Order::OldestFirst => query.filter(id.gt(cursor)),
            Order::NewestFirst => query.filter(id.lt(cursor)),
        };
    }
    query.limit(limit.saturating_add(1))
}

/// The first page of `query` for each of `parents` at once: the rows whose `parent` column
/// is one of them, each parent's rows in `id` order, `limit + 1` at most per parent (the
/// one more tells that another page follows). One statement however many parents: a
/// list's nested lists cost the same for one item as for a hundred.
pub async fn first_of_each<E>(
    db: &impl ConnectionTrait,
    query: Select<E>,
    parent: E::Column,
    id: E::Column,
    order: Order,
    parents: &[i64],
    limit: u64,
) -> AppResult<Vec<E::Model>>
where
    E: EntityTrait,
    E::Model: FromQueryResult,
{
    if parents.is_empty() {
        return Ok(Vec::new());
    }
    let direction = match order {
        Order::OldestFirst => "ASC",
        Order::NewestFirst => "DESC",
    };
    let rank = format!(
        "ROW_NUMBER() OVER (PARTITION BY {} ORDER BY {} {direction})",
        parent.as_str(),
        id.as_str()
    );
    let inner = query
        .filter(parent.is_in(parents.iter().copied()))
        .expr_as(Expr::cust(rank), "page_row")
        .into_query();
    let backend = db.get_database_backend();
    let (sql, values) = match backend {
        DbBackend::Postgres => inner.build(PostgresQueryBuilder),
        DbBackend::MySql => inner.build(MysqlQueryBuilder),
        _ => inner.build(SqliteQueryBuilder),
    };
    let sql = format!(
        "SELECT * FROM ({sql}) AS ranked WHERE ranked.page_row <= {} ORDER BY ranked.{} {direction}",
        limit.saturating_add(1),
        id.as_str()
    );
    Ok(
        E::Model::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
            .all(db)
            .await?,
    )
}
