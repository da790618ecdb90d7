//! Keyset pages: a list in the order of its integer id, resumed from the last id a client
//! saw, so a page costs the same however deep it is and rows added meanwhile never shift
//! it. A page query fetches one row more than asked, so the caller can tell whether
//! another page follows (see `graphql::pagination`).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};

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
