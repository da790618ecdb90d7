//! Reading the lottery's sampling frame: every eligible address, up to a million rows.
//!
//! The exclusions are applied by the database, and rows are decoded straight into frame
//! units. The read runs in one read transaction, so the frame is one consistent snapshot
//! even when SQLite's is read in pages.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sea_orm::{DatabaseConnection, sqlx};

use crate::db::bulk::{self, Backend, Transaction};
use crate::domain::ids::RoundId;
use crate::domain::recruitment::sampling::{self, FrameUnit};
use crate::error::AppResult;

/// Which addresses are eligible, and how much each weighs.
#[derive(Clone, Debug)]
pub struct FrameQuery<'a> {
    /// The snapshot moment: addresses imported and letters sent after it do not exist yet.
    pub as_of: DateTime<Utc>,
    /// Leave out addresses sent a letter at or after this moment (and before `as_of`).
    pub invited_since: Option<DateTime<Utc>>,
    /// A round whose own letters do not count as recent invitations (when re-running it).
    pub leave_out_round: Option<RoundId>,
    /// Leave out households with a registrant still in the pool at `as_of`.
    pub exclude_member_households: bool,
    /// Oversampling weight per deprivation decile; others weigh [`sampling::DEFAULT_WEIGHT`].
    pub decile_weights: &'a BTreeMap<i16, f64>,
}

/// Builds frame units whose strata share one name per ward rather than a copy each.
struct UnitBuilder<'a> {
    wards: HashMap<String, Arc<str>>,
    decile_weights: &'a BTreeMap<i16, f64>,
}

impl UnitBuilder<'_> {
    fn unit(&mut self, id: i64, key: String, ward: String, decile: Option<i16>) -> FrameUnit {
        let stratum = match self.wards.get(&ward) {
            Some(shared) => Arc::clone(shared),
            None => {
                let shared: Arc<str> = Arc::from(ward.as_str());
                self.wards.insert(ward, Arc::clone(&shared));
                shared
            }
        };
        FrameUnit {
            id,
            key,
            stratum,
            weight: decile
                .and_then(|d| self.decile_weights.get(&d).copied())
                .unwrap_or(sampling::DEFAULT_WEIGHT),
        }
    }
}

/// The eligible frame (see [`FrameQuery`]), read from `db` (a read connection will do).
pub async fn eligible(
    db: &DatabaseConnection,
    query: &FrameQuery<'_>,
) -> AppResult<Vec<FrameUnit>> {
    let mut txn = Transaction::begin(db).await?;
    let conditions = conditions(
        txn.backend(),
        query.invited_since.is_some(),
        query.exclude_member_households,
    );
    let mut builder = UnitBuilder {
        wards: HashMap::new(),
        decile_weights: query.decile_weights,
    };
    // Ids start at 1, so 0 leaves no round out.
    let leave_out = query.leave_out_round.map_or(0, RoundId::get);
    let mut frame = Vec::new();
    match &mut txn {
        Transaction::Postgres(conn) => {
            let sql = format!(
                "SELECT id, address_key, ward_code, deprivation_decile FROM addresses \
                 WHERE {conditions}"
            );
            let mut statement =
                sqlx::query_as::<_, (i64, String, String, Option<i16>)>(sqlx::AssertSqlSafe(sql))
                    .bind(query.as_of);
            if let Some(since) = query.invited_since {
                statement = statement.bind(since).bind(leave_out);
            }
            let mut rows = statement.fetch(&mut **conn);
            while let Some((id, key, stratum, decile)) = rows.try_next().await? {
                frame.push(builder.unit(id, key, stratum, decile));
            }
        }
        Transaction::Sqlite(conn) => {
            // A page of addresses at a time, in id order, packed by the database (see
            // `bulk::sqlite_json_rows`); each page starts after the last id of the one before.
            const PAGE: usize = 65_536;
            let next_parameter = if query.invited_since.is_some() { 4 } else { 2 };
            let sql = format!(
                "SELECT json_group_array(json_array(id, address_key, ward_code, \
                 deprivation_decile)) FROM (SELECT id, address_key, ward_code, \
                 deprivation_decile FROM addresses WHERE {conditions} AND id > ${next_parameter} \
                 ORDER BY id LIMIT {PAGE})"
            );
            let mut after = i64::MIN;
            loop {
                let mut statement =
                    sqlx::query_scalar::<_, Option<String>>(sqlx::AssertSqlSafe(sql.clone()))
                        .bind(query.as_of);
                if let Some(since) = query.invited_since {
                    statement = statement.bind(since).bind(leave_out);
                }
                let page = statement.bind(after).fetch_one(&mut **conn).await?;
                let rows: Vec<(i64, String, String, Option<i16>)> = bulk::sqlite_json_rows(page)?;
                let full = rows.len() == PAGE;
                after = rows.iter().map(|row| row.0).max().unwrap_or(after);
                frame.extend(
                    rows.into_iter()
                        .map(|(id, key, stratum, decile)| builder.unit(id, key, stratum, decile)),
                );
                if !full {
                    break;
                }
            }
        }
    }
    txn.rollback().await?;
    Ok(frame)
}

/// The `WHERE` conditions of the eligible frame. `$1` is `as_of`; with the invitation
/// exclusion, `$2` is `since` and `$3` the round left out.
///
/// PostgreSQL gets `NOT EXISTS`, which it plans as an anti-join whatever the number of
/// letters; its `NOT IN` over a sub-query too large for `work_mem` would re-scan it for
/// every address. SQLite gets `NOT IN`, for which it indexes the sub-query's rows once,
/// where `NOT EXISTS` would probe the letters once per address.
fn conditions(backend: Backend, invited: bool, households: bool) -> String {
    let postgres = backend == Backend::Postgres;
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
