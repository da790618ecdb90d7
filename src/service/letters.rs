//! Letters: minting invitation codes for printing, and the files the printer and the
//! auditor need.
//!
//! A code exists in plain text only while it is being exported: the letter keeps its
//! SHA-256, and the mail-merge file goes to the printer. Exporting again mints codes only
//! for letters not yet exported; `reissue` replaces the codes of every unredeemed letter
//! (the old ones stop working), for a lost print file.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, sqlx};

use crate::db::bulk;

use crate::db::entities::{address, letter};
use crate::domain::invitation_code::InvitationCode;
use crate::domain::qr;
use crate::domain::zip_store::ZipWriter;
use crate::error::{AppError, AppResult};
use crate::service::recruitment;
use crate::state::AppState;

/// One letter ready to print.
#[derive(Clone, Debug)]
pub struct PrintedLetter {
    /// Stable reference printed on the letter, `L<id>`.
    pub reference: String,
    /// The address block.
    pub address: address::Model,
    /// The code, grouped for reading.
    pub code: String,
    /// The personal URL (also in the QR code).
    pub url: String,
}

/// The personal URL for a code.
pub fn personal_url(public_url: &str, code: &InvitationCode) -> String {
    format!(
        "{}/join?code={}",
        public_url.trim_end_matches('/'),
        code.display()
    )
}

/// Most letters one ZIP bundle holds (each letter is three entries at most, and a ZIP
/// without its 64-bit extension holds 65,535).
pub const MAX_LETTERS_PER_BUNDLE: usize = 20_000;

/// Mints codes for a round's letters (see the module documentation) and returns them.
pub async fn issue_codes(
    state: &AppState,
    round_id: i64,
    reissue: bool,
) -> AppResult<Vec<PrintedLetter>> {
    issue_codes_then(state, round_id, reissue, None, |printed| async move {
        Ok(printed)
    })
    .await
}

/// Mints codes for up to `limit` of a round's letters, hands them to `produce` (which
/// writes the printer's files) and only then stores the codes' hashes: if producing the
/// files fails, no code changes and nothing is lost.
pub async fn issue_codes_then<T, F, Fut>(
    state: &AppState,
    round_id: i64,
    reissue: bool,
    limit: Option<usize>,
    produce: F,
) -> AppResult<T>
where
    F: FnOnce(Vec<PrintedLetter>) -> Fut,
    Fut: std::future::Future<Output = AppResult<T>>,
{
    let round = recruitment::find_round(&state.db, round_id).await?;
    let now = state.clock.now();
    if now > round.code_expires_at {
        return Err(AppError::conflict(
            "This round's codes have expired; draw a new round.",
        ));
    }
    let started = std::time::Instant::now();
    let mut txn = bulk::Transaction::begin(&state.db).await?;
    let rows = letters_to_print(&mut txn, round_id, reissue, limit).await?;
    let loaded = started.elapsed();
    let mut printed = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    let mut hashes = Vec::with_capacity(rows.len());
    for (letter_id, address) in rows {
        // The thread-local CSPRNG, never the seeded lottery RNG (and not held across an await).
        let code = InvitationCode::generate(&mut rand::rng());
        ids.push(letter_id);
        hashes.push(code.hash_hex());
        printed.push(PrintedLetter {
            reference: format!("L{letter_id}"),
            url: personal_url(&state.config.public_url, &code),
            code: code.display(),
            address,
        });
    }
    let minted = started.elapsed();
    let stored = store_codes(&mut txn, &ids, &hashes, now, reissue).await?;
    // Another export or a registration got there first: print nothing rather than letters
    // whose codes were overwritten.
    if stored != ids.len() as u64 {
        txn.rollback().await?;
        return Err(AppError::conflict(
            "The round's letters changed during the export (another export or a \
             registration); export again.",
        ));
    }
    let count = printed.len();
    let stored_at = started.elapsed();
    let output = produce(printed).await?;
    let produced = started.elapsed();
    txn.commit().await?;
    tracing::info!(
        round_id,
        letters = count,
        reissue,
        load_ms = loaded.as_millis(),
        mint_ms = (minted - loaded).as_millis(),
        store_ms = (stored_at - minted).as_millis(),
        produce_ms = (produced - stored_at).as_millis(),
        commit_ms = (started.elapsed() - produced).as_millis(),
        "invitation codes issued"
    );
    Ok(output)
}

/// A row of [`letters_to_print`]: the letter's id and its address's columns.
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

/// The round's unredeemed letters (only those not yet exported unless `reissue`), by id,
/// with their addresses.
async fn letters_to_print(
    txn: &mut bulk::Transaction,
    round_id: i64,
    reissue: bool,
    limit: Option<usize>,
) -> AppResult<Vec<(i64, address::Model)>> {
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
    let limit = limit.map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let rows: Vec<LetterRow> = match txn {
        bulk::Transaction::Postgres(conn) => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(round_id)
                .bind(limit)
                .fetch_all(&mut **conn)
                .await?
        }
        bulk::Transaction::Sqlite(conn) => {
            // Packed by the database (see `bulk::sqlite_json_rows`); the aggregate need not
            // keep the sub-query's order, so the rows are put back in letter order.
            let packed = format!("SELECT json_group_array(json_array({COLUMNS})) FROM ({sql})");
            let packed = sqlx::query_scalar(sqlx::AssertSqlSafe(packed))
                .bind(round_id)
                .bind(limit)
                .fetch_one(&mut **conn)
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
                id: row.1,
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
            (row.0, address)
        })
        .collect())
}

/// Sets letters' code hashes and marks them exported, unless they were redeemed (or,
/// without `reissue`, exported) meanwhile; returns how many were set.
async fn store_codes(
    txn: &mut bulk::Transaction,
    ids: &[i64],
    hashes: &[String],
    now: DateTime<Utc>,
    reissue: bool,
) -> AppResult<u64> {
    let unexported = if reissue {
        ""
    } else {
        " AND letters.exported_at IS NULL"
    };
    let mut stored = 0;
    match txn {
        bulk::Transaction::Postgres(txn) => {
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
        bulk::Transaction::Sqlite(txn) => {
            // `UPDATE … FROM` a `VALUES` list (SQLite 3.33 and later), inside SQLite's
            // limit of 32,766 parameters.
            const CHUNK: usize = 10_000;
            for (ids, hashes) in ids.chunks(CHUNK).zip(hashes.chunks(CHUNK)) {
                let sql = format!(
                    "WITH v(id, code_hash) AS (VALUES {}) \
                     UPDATE letters SET code_hash = v.code_hash, exported_at = ? FROM v \
                     WHERE letters.id = v.id AND letters.redeemed_at IS NULL{unexported}",
                    bulk::sqlite_rows(ids.len(), 2)
                );
                let cached = ids.len() == CHUNK;
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(cached);
                for (id, hash) in ids.iter().zip(hashes) {
                    query = query.bind(*id).bind(hash.as_str());
                }
                let query = query.bind(now);
                stored += query.execute(&mut **txn).await?.rows_affected();
            }
        }
    }
    Ok(stored)
}

/// The printer's mail-merge CSV: reference, address block, code, URL and QR image names.
pub fn mail_merge_csv(letters: &[PrintedLetter]) -> AppResult<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record([
            "reference",
            "addressee",
            "line1",
            "line2",
            "line3",
            "town",
            "postcode",
            "code",
            "url",
            "qr_png",
            "qr_svg",
        ])
        .map_err(AppError::internal)?;
    for l in letters {
        let a = &l.address;
        writer
            .write_record([
                l.reference.as_str(),
                "The Resident",
                &a.line1,
                a.line2.as_deref().unwrap_or(""),
                a.line3.as_deref().unwrap_or(""),
                a.town.as_deref().unwrap_or(""),
                &a.postcode,
                &l.code,
                &l.url,
                &format!("qr/{}.png", l.reference),
                &format!("qr/{}.svg", l.reference),
            ])
            .map_err(AppError::internal)?;
    }
    writer.into_inner().map_err(AppError::internal)
}

/// The QR images of one letter: (PNG bytes, SVG text).
pub fn qr_images(letter: &PrintedLetter) -> AppResult<(Vec<u8>, String)> {
    let matrix = qr::encode(&letter.url).map_err(AppError::internal)?;
    let png = qr::to_png(&matrix, 8).map_err(AppError::internal)?;
    Ok((png, qr::to_svg(&matrix, 8)))
}

/// A ZIP with `letters.csv` and `qr/<reference>.png|.svg` for every letter.
pub fn bundle(letters: &[PrintedLetter]) -> AppResult<Vec<u8>> {
    let mut zip = ZipWriter::new();
    zip.add("letters.csv", &mail_merge_csv(letters)?)
        .map_err(AppError::internal)?;
    for letter in letters {
        let (png, svg) = qr_images(letter)?;
        zip.add(&format!("qr/{}.png", letter.reference), &png)
            .map_err(AppError::internal)?;
        zip.add(&format!("qr/{}.svg", letter.reference), svg.as_bytes())
            .map_err(AppError::internal)?;
    }
    zip.finish().map_err(AppError::internal)
}

/// The plain list of drawn addresses for the audit (no codes): reference, address key,
/// postcode, ward and whether each letter was exported and redeemed.
pub async fn audit_list_csv(db: &impl ConnectionTrait, round_id: i64) -> AppResult<Vec<u8>> {
    recruitment::find_round(db, round_id).await?;
    let rows = letter::Entity::find()
        .filter(letter::Column::RoundId.eq(round_id))
        .find_also_related(address::Entity)
        .order_by_asc(letter::Column::Id)
        .all(db)
        .await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record([
            "reference",
            "address_key",
            "line1",
            "postcode",
            "ward_code",
            "exported",
            "redeemed",
        ])
        .map_err(AppError::internal)?;
    for (letter, address) in rows {
        let (key, line1, postcode) = address
            .map(|a| (a.address_key, a.line1, a.postcode))
            .unwrap_or_default();
        writer
            .write_record([
                format!("L{}", letter.id),
                key,
                line1,
                postcode,
                letter.stratum,
                letter.exported_at.is_some().to_string(),
                letter.redeemed_at.is_some().to_string(),
            ])
            .map_err(AppError::internal)?;
    }
    writer.into_inner().map_err(AppError::internal)
}
