//! Protected publications: what SCRUTINY's copy of a report hides, computed once per change
//! of the report's counts, stored, and served to every request.
//!
//! A report's protection depends only on its canonical tables (see
//! `domain::reports::disclosure::tables::Tables`): their SHA-256 digest, with the threshold and the
//! algorithm's version, keys a row of `publications` for the report's kind and subject.
//! A request gathers the counts (as OFFICER's does), and finds the protection
//! - in this process's memory of recent protections, or
//! - in the database (stored by this or another server), or
//! - by computing it: on a blocking thread, never on the async threads and never inside a
//!   transaction, once however many requests ask at the same moment (the first computes,
//!   the others wait for it), then stored with `INSERT … ON CONFLICT DO NOTHING` and read
//!   back, so that when two servers compute at once both serve the row stored first.
//!
//! The computation runs in a task of its own: a request that gives up waiting does not
//! stop it, and the next request finds it stored. The algorithm is deterministic, so a
//! protection recomputed for the same counts is the same one.
//!
//! A subject's rows, in `id` order, are the versions of its publication; releases frozen at
//! set points (at the close, by an officer) can be kept the same way.

use std::sync::Arc;

pub use crate::db::publications::Kind;
use crate::db::publications::{self, Key, Stored};
use crate::domain::reports::disclosure::tables::{ALGORITHM, Protection, Tables, protect_named};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The protection of `tables`, the publication of `kind` about `subject`: found, or
/// computed once and stored (see the module's documentation).
pub async fn protection(
    state: &AppState,
    kind: Kind,
    subject: i64,
    tables: Tables,
) -> AppResult<Arc<Protection>> {
    let threshold = state.config.disclosure_threshold;
    let digest = tables.digest(threshold)?;
    let key = format!("{}:{subject}:{digest}", kind.as_str());
    if let Some(found) = state.publications.remembered(&key) {
        return Ok(found);
    }
    let tables = Arc::new(tables);
    if let Some(found) = stored(state, kind, subject, &digest, &tables).await? {
        let found = Arc::new(found);
        state.publications.remember(&key, &found);
        return Ok(found);
    }
    let flight = state.publications.flight(&key)?;
    let turn = flight.lock().await;
    // Another request may have computed it while this one waited.
    if let Some(found) = state.publications.remembered(&key) {
        return Ok(found);
    }
    let work = {
        let state = state.clone();
        let tables = Arc::clone(&tables);
        let digest = digest.clone();
        async move {
            let computing = Arc::clone(&tables);
            let protection =
                tokio::task::spawn_blocking(move || protect_named(&computing, threshold))
                    .await
                    .map_err(AppError::internal)??;
            state.publications.count_computed();
            store(
                &state,
                kind,
                subject,
                &digest,
                threshold,
                &tables,
                &protection,
            )
            .await?;
            stored(&state, kind, subject, &digest, &tables)
                .await?
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("a stored protection is gone")))
        }
    };
    let found = match tokio::spawn(work).await {
        Ok(Ok(found)) => Ok(Arc::new(found)),
        Ok(Err(err)) => Err(err),
        Err(err) => Err(AppError::internal(err)),
    };
    if let Ok(found) = &found {
        state.publications.remember(&key, found);
    }
    drop(turn);
    state.publications.landed(&key);
    found
}

/// The stored protection of `tables`, if any.
async fn stored(
    state: &AppState,
    kind: Kind,
    subject: i64,
    digest: &str,
    tables: &Tables,
) -> AppResult<Option<Protection>> {
    let key = Key {
        kind,
        subject,
        digest,
    };
    let Some(row) = publications::find(state.db.reader(), key).await? else {
        return Ok(None);
    };
    let loss = serde_json::from_str(&row.loss).map_err(AppError::internal)?;
    Protection::decode(tables, &row.hidden, loss)
        .map(Some)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("a stored protection does not fit")))
}

/// Stores a protection unless one is stored under its key already (the first wins).
async fn store(
    state: &AppState,
    kind: Kind,
    subject: i64,
    digest: &str,
    threshold: u64,
    tables: &Tables,
    protection: &Protection,
) -> AppResult<()> {
    let row = Stored {
        hidden: protection.encode(tables),
        loss: serde_json::to_string(&protection.loss).map_err(AppError::internal)?,
    };
    let key = Key {
        kind,
        subject,
        digest,
    };
    publications::insert(
        state.db.writer(),
        key,
        ALGORITHM,
        threshold,
        &row,
        state.clock.now(),
    )
    .await
}
