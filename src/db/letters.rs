//! A round's letters in bulk: writing a drawn round with its letters, reading the letters
//! to print with their addresses, and storing the codes minted for them.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use sea_orm::sqlx::{self, Database, Encode, Type};

use crate::db::bulk::{self, Backend, Transaction};
use crate::db::entities::address;
use crate::domain::ids::{AccountId, FileId, LetterId, RoundId};
use crate::domain::recruitment::sampling::FrameUnit;
use crate::error::AppResult;

/// A drawn round as it is stored.
#[derive(Clone, Debug)]
pub struct NewRound<'a> {
    /// A name officers recognise.
    pub name: &'a str,
    /// The seed, in decimal.
    pub seed: String,
    /// The named draw algorithm.
    pub algorithm: &'a str,
    /// The lottery parameters as JSON.
    pub parameters: String,
    /// SHA-256 of the eligible frame.
    pub register_fingerprint: &'a str,
    /// Addresses eligible.
    pub eligible_count: i64,
    /// Who asked for the draw.
    pub created_by: Option<AccountId>,
    /// When the round was drawn.
    pub created_at: DateTime<Utc>,
    /// When its codes stop working.
    pub code_expires_at: DateTime<Utc>,
    /// Youngest age that may register.
    pub min_age: i16,
    /// One registrant per household.
    pub one_per_household: bool,
    /// The incentive for joining.
    pub incentive_description: Option<&'a str>,
    /// Its value in pence.
    pub incentive_amount_pence: Option<i32>,
    /// The stored draw record.
    pub draw_record: Option<FileId>,
}

const INSERT_ROUND: &str = "INSERT INTO recruitment_rounds (name, seed, algorithm, parameters, \
    register_fingerprint, eligible_count, drawn_count, created_by, created_at, \
    code_expires_at, min_age, one_per_household, incentive_description, \
    incentive_amount_pence, draw_record_file_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id";

/// Binds a round's columns, in the order of [`INSERT_ROUND`], on either database.
fn bind_round<'q, DB: Database>(
    query: sqlx::query::QueryScalar<'q, DB, i64, <DB as Database>::Arguments>,
    round: &'q NewRound<'q>,
    drawn: i64,
) -> sqlx::query::QueryScalar<'q, DB, i64, <DB as Database>::Arguments>
where
    &'q str: Encode<'q, DB> + Type<DB>,
    String: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    DateTime<Utc>: Encode<'q, DB> + Type<DB>,
    i16: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<i32>: Encode<'q, DB> + Type<DB>,
{
    query
        .bind(round.name.trim())
        .bind(round.seed.clone())
        .bind(round.algorithm)
        .bind(round.parameters.clone())
        .bind(round.register_fingerprint)
        .bind(round.eligible_count)
        .bind(drawn)
        .bind(round.created_by.map(AccountId::get))
        .bind(round.created_at)
        .bind(round.code_expires_at)
        .bind(round.min_age)
        .bind(round.one_per_household)
        .bind(round.incentive_description)
        .bind(round.incentive_amount_pence)
        .bind(round.draw_record.map(FileId::get))
}

/// Writes a drawn round and one letter per selected unit, in one short transaction.
pub async fn insert_round(
    db: &DatabaseConnection,
    round: &NewRound<'_>,
    selected: &[FrameUnit],
) -> AppResult<RoundId> {
    let drawn = i64::try_from(selected.len()).unwrap_or(i64::MAX);
    let mut txn = Transaction::begin(db).await?;
    let id = match &mut txn {
        Transaction::Postgres(conn) => {
            bind_round(sqlx::query_scalar(INSERT_ROUND), round, drawn)
                .fetch_one(&mut **conn)
                .await?
        }
        Transaction::Sqlite(conn) => {
            bind_round(sqlx::query_scalar(INSERT_ROUND), round, drawn)
                .fetch_one(&mut **conn)
                .await?
        }
    };
    let round_id = RoundId(id);
    insert_letters(&mut txn, round_id, selected, round.created_at).await?;
    txn.commit().await?;
    Ok(round_id)
}

/// One letter per selected unit: on PostgreSQL one statement with a column per array, on
/// SQLite multi-row statements inside its limit of 32,766 parameters.
async fn insert_letters(
    txn: &mut Transaction,
    round_id: RoundId,
    selected: &[FrameUnit],
    now: DateTime<Utc>,
) -> AppResult<()> {
    match txn {
        Transaction::Postgres(txn) => {
            let addresses: Vec<i64> = selected.iter().map(|unit| unit.id).collect();
            let strata: Vec<&str> = selected.iter().map(|unit| &*unit.stratum).collect();
            sqlx::query(
                "INSERT INTO letters (round_id, address_id, stratum, created_at) \
                 SELECT $1, address_id, stratum, $2 \
                 FROM UNNEST($3::bigint[], $4::text[]) AS drawn(address_id, stratum)",
            )
            .bind(round_id.get())
            .bind(now)
            .bind(addresses)
            .bind(strata)
            .execute(&mut **txn)
            .await?;
        }
        Transaction::Sqlite(txn) => {
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
                        .bind(round_id.get())
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

/// A row of [`to_print`]: the letter's id and its address's columns.
type LetterRow = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<i16>,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
);

/// Up to `limit` of the round's unredeemed letters (only those not yet exported unless
/// `reissue`), in letter order, with their addresses.
pub async fn to_print(
    db: &DatabaseConnection,
    round_id: RoundId,
    reissue: bool,
    limit: usize,
) -> AppResult<Vec<(LetterId, address::Model)>> {
    const COLUMNS: &str = "letter_id, address_id, address_key, line1, line2, line3, town, \
                           postcode, ward_code, deprivation_decile, household_key, created_at, \
                           updated_at";
    let sql = format!(
        "SELECT l.id AS letter_id, a.id AS address_id, a.address_key, a.line1, a.line2, \
         a.line3, a.town, a.postcode, a.ward_code, a.deprivation_decile, a.household_key, \
         a.created_at, a.updated_at \
         FROM letters l JOIN addresses a ON a.id = l.address_id \
         WHERE l.round_id = $1 AND l.redeemed_at IS NULL{} ORDER BY l.id LIMIT $2",
        if reissue {
            ""
        } else {
            " AND l.exported_at IS NULL"
        }
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows: Vec<LetterRow> = match Backend::of(db)? {
        Backend::Postgres => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(round_id.get())
                .bind(limit)
                .fetch_all(db.get_postgres_connection_pool())
                .await?
        }
        Backend::Sqlite => {
            // Packed by the database (see `bulk::sqlite_json_rows`); the aggregate need not
            // keep the sub-query's order, so the rows are put back in letter order.
            let packed = format!("SELECT json_group_array(json_array({COLUMNS})) FROM ({sql})");
            let packed = sqlx::query_scalar(sqlx::AssertSqlSafe(packed))
                .bind(round_id.get())
                .bind(limit)
                .fetch_one(db.get_sqlite_connection_pool())
                .await?;
            let mut rows: Vec<LetterRow> = bulk::sqlite_json_rows(packed)?;
            rows.sort_unstable_by_key(|row| row.0);
            rows
        }
    };
    Ok(rows
        .into_iter()
        .map(|row| {
            let address = address::Model {
                id: crate::domain::ids::AddressId(row.1),
                address_key: row.2,
                line1: row.3,
                line2: row.4,
                line3: row.5,
                town: row.6,
                postcode: row.7,
                ward_code: row.8,
                deprivation_decile: row.9,
                household_key: row.10,
                created_at: row.11,
                updated_at: row.12,
            };
            (LetterId(row.0), address)
        })
        .collect())
}

/// A stored file to mark complete together with the codes it carries.
#[derive(Clone, Copy, Debug)]
pub struct CompletedFile<'a> {
    /// The file.
    pub id: FileId,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 in hex.
    pub sha256: &'a str,
}

/// Sets letters' code hashes and marks them exported, all or none: unless every letter is
/// still unredeemed (and, without `reissue`, unexported), nothing changes and the answer
/// is `false` (another export or a registration got there first). With `file`, the bundle
/// holding the codes is marked complete in the same transaction, so codes are stored if
/// and only if their bundle can be downloaded.
pub async fn store_codes(
    db: &DatabaseConnection,
    codes: &[(LetterId, String)],
    now: DateTime<Utc>,
    reissue: bool,
    file: Option<CompletedFile<'_>>,
) -> AppResult<bool> {
    let unexported = if reissue {
        ""
    } else {
        " AND letters.exported_at IS NULL"
    };
    let mut txn = Transaction::begin(db).await?;
    let mut stored = 0;
    match &mut txn {
        Transaction::Postgres(txn) => {
            let ids: Vec<i64> = codes.iter().map(|(id, _)| id.get()).collect();
            let hashes: Vec<&str> = codes.iter().map(|(_, hash)| hash.as_str()).collect();
            let sql = format!(
                "UPDATE letters SET code_hash = v.code_hash, exported_at = $1 \
                 FROM UNNEST($2::bigint[], $3::text[]) AS v(id, code_hash) \
                 WHERE letters.id = v.id AND letters.redeemed_at IS NULL{unexported}"
            );
            stored += sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(now)
                .bind(ids)
                .bind(hashes)
                .execute(&mut **txn)
                .await?
                .rows_affected();
        }
        Transaction::Sqlite(txn) => {
            // `UPDATE … FROM` a `VALUES` list (SQLite 3.33 and later), inside SQLite's
            // limit of 32,766 parameters.
            const CHUNK: usize = 10_000;
            for chunk in codes.chunks(CHUNK) {
                let sql = format!(
                    "WITH v(id, code_hash) AS (VALUES {}) \
                     UPDATE letters SET code_hash = v.code_hash, exported_at = ? FROM v \
                     WHERE letters.id = v.id AND letters.redeemed_at IS NULL{unexported}",
                    bulk::sqlite_rows(chunk.len(), 2)
                );
                let cached = chunk.len() == CHUNK;
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(cached);
                for (id, hash) in chunk {
                    query = query.bind(id.get()).bind(hash.as_str());
                }
                stored += query.bind(now).execute(&mut **txn).await?.rows_affected();
            }
        }
    }
    if stored != codes.len() as u64 {
        txn.rollback().await?;
        return Ok(false);
    }
    if let Some(file) = file {
        const COMPLETE: &str =
            "UPDATE stored_files SET complete = $1, size = $2, sha256 = $3 WHERE id = $4";
        let size = i64::try_from(file.size).unwrap_or(i64::MAX);
        match &mut txn {
            Transaction::Postgres(conn) => {
                sqlx::query(COMPLETE)
                    .bind(true)
                    .bind(size)
                    .bind(file.sha256)
                    .bind(file.id.get())
                    .execute(&mut **conn)
                    .await?;
            }
            Transaction::Sqlite(conn) => {
                sqlx::query(COMPLETE)
                    .bind(true)
                    .bind(size)
                    .bind(file.sha256)
                    .bind(file.id.get())
                    .execute(&mut **conn)
                    .await?;
            }
        }
    }
    txn.commit().await?;
    Ok(true)
}
