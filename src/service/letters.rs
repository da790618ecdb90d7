//! Letters: minting invitation codes for printing, and the files the printer and the
//! auditor need.
//!
//! A code exists in plain text only while it is being exported: the letter keeps its
//! SHA-256, and the mail-merge file goes to the printer. Exporting again mints codes only
//! for letters not yet exported; `reissue` replaces the codes of every unredeemed letter
//! (the old ones stop working), for a lost print file.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, TransactionTrait, Value,
};

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
    let txn = state.db.begin().await?;
    let mut query = letter::Entity::find()
        .filter(letter::Column::RoundId.eq(round_id))
        .filter(letter::Column::RedeemedAt.is_null())
        .find_also_related(address::Entity)
        .order_by_asc(letter::Column::Id);
    if !reissue {
        query = query.filter(letter::Column::ExportedAt.is_null());
    }
    if let Some(limit) = limit {
        query = query.limit(u64::try_from(limit).unwrap_or(u64::MAX));
    }
    let rows = query.all(&txn).await?;
    let mut printed = Vec::with_capacity(rows.len());
    let mut hashes = Vec::with_capacity(rows.len());
    for (letter, address) in rows {
        let address = address.ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("letter {} lost its address", letter.id))
        })?;
        // The thread-local CSPRNG, never the seeded lottery RNG (and not held across an await).
        let code = InvitationCode::generate(&mut rand::rng());
        hashes.push((letter.id, code.hash_hex()));
        printed.push(PrintedLetter {
            reference: format!("L{}", letter.id),
            url: personal_url(&state.config.public_url, &code),
            code: code.display(),
            address,
        });
    }
    let backend = txn.get_database_backend();
    // 2 values a row: 5,000 rows stay well inside both databases' parameter limits.
    for chunk in hashes.chunks(5_000) {
        let result = txn
            .execute_raw(set_codes_statement(backend, chunk, now, reissue))
            .await?;
        // Another export or a registration got there first: print nothing rather than
        // letters whose codes were overwritten.
        if result.rows_affected() != chunk.len() as u64 {
            txn.rollback().await?;
            return Err(AppError::conflict(
                "The round's letters changed during the export (another export or a \
                 registration); export again.",
            ));
        }
    }
    let count = printed.len();
    let output = produce(printed).await?;
    txn.commit().await?;
    tracing::info!(
        round_id,
        letters = count,
        reissue,
        "invitation codes issued"
    );
    Ok(output)
}

/// One statement that sets many letters' code hashes: `UPDATE … FROM` a `VALUES` list,
/// which PostgreSQL and SQLite (3.33 and later) both understand.
fn set_codes_statement(
    backend: DbBackend,
    rows: &[(i64, String)],
    now: chrono::DateTime<chrono::Utc>,
    reissue: bool,
) -> Statement {
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * 2 + 1);
    let mut placeholder = {
        let mut n = 0;
        move || {
            n += 1;
            match backend {
                DbBackend::Postgres => format!("${n}"),
                _ => "?".to_owned(),
            }
        }
    };
    let mut tuples = Vec::with_capacity(rows.len());
    for (id, hash) in rows {
        let cast = if backend == DbBackend::Postgres {
            "::bigint"
        } else {
            ""
        };
        tuples.push(format!("({}{cast}, {})", placeholder(), placeholder()));
        values.push((*id).into());
        values.push(hash.clone().into());
    }
    let at = placeholder();
    values.push(now.into());
    let sql = format!(
        "WITH v(id, code_hash) AS (VALUES {}) \
         UPDATE letters SET code_hash = v.code_hash, exported_at = {at} FROM v \
         WHERE letters.id = v.id AND letters.redeemed_at IS NULL{}",
        tuples.join(", "),
        if reissue {
            ""
        } else {
            " AND letters.exported_at IS NULL"
        }
    );
    Statement::from_sql_and_values(backend, sql, values)
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
