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

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use sea_orm::{ConnectionTrait, Statement, Value};

use crate::domain::reports::disclosure::tables::{ALGORITHM, Protection, Tables, protect_named};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// What a publication is a protected copy of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A consultation's report (its subject is the consultation).
    ConsultationReport,
    /// A panel's health (the panel).
    PanelReport,
    /// A selection run's report (the run).
    SelectionReport,
    /// A recruitment round's status and pool make-up (the round).
    RoundStatus,
}

impl Kind {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConsultationReport => "consultation_report",
            Self::PanelReport => "panel_report",
            Self::SelectionReport => "selection_report",
            Self::RoundStatus => "round_status",
        }
    }
}

/// How many protections a process remembers.
const REMEMBERED: usize = 64;

/// Recent protections by key, oldest first.
type Recent = VecDeque<(String, Arc<Protection>)>;

/// Per key being computed, the lock its computation holds.
type Flights = HashMap<String, Arc<tokio::sync::Mutex<()>>>;

/// This process's memory of recent protections, and the computations under way.
#[derive(Clone, Default)]
pub struct Publications {
    recent: Arc<Mutex<Recent>>,
    flights: Arc<Mutex<Flights>>,
    computed: Arc<std::sync::atomic::AtomicU64>,
}

impl Publications {
    fn remembered(&self, key: &str) -> Option<Arc<Protection>> {
        let recent = self.recent.lock().ok()?;
        recent
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, p)| Arc::clone(p))
    }

    fn remember(&self, key: &str, protection: &Arc<Protection>) {
        if let Ok(mut recent) = self.recent.lock() {
            if recent.iter().any(|(k, _)| k == key) {
                return;
            }
            if recent.len() >= REMEMBERED {
                recent.pop_front();
            }
            recent.push_back((key.to_owned(), Arc::clone(protection)));
        }
    }

    /// The lock that one computation of `key` holds while it runs.
    fn flight(&self, key: &str) -> AppResult<Arc<tokio::sync::Mutex<()>>> {
        let mut flights = self
            .flights
            .lock()
            .map_err(|_| AppError::internal(anyhow::anyhow!("publication flights poisoned")))?;
        Ok(Arc::clone(flights.entry(key.to_owned()).or_default()))
    }

    fn landed(&self, key: &str) {
        if let Ok(mut flights) = self.flights.lock() {
            flights.remove(key);
        }
    }

    /// How many protections this process has computed (rather than found).
    pub fn computed(&self) -> u64 {
        self.computed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

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
            state
                .publications
                .computed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
    let db = state.db.reader();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT hidden, loss FROM publications \
             WHERE kind = $1 AND subject_id = $2 AND digest = $3",
            [kind.as_str().into(), subject.into(), digest.into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let hidden: String = row.try_get_by_index(0)?;
    let loss: String = row.try_get_by_index(1)?;
    let loss = serde_json::from_str(&loss).map_err(AppError::internal)?;
    Protection::decode(tables, &hidden, loss)
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
    let db = state.db.writer();
    let values: Vec<Value> = vec![
        kind.as_str().into(),
        subject.into(),
        digest.into(),
        i32::try_from(ALGORITHM).unwrap_or(i32::MAX).into(),
        i64::try_from(threshold).unwrap_or(i64::MAX).into(),
        protection.encode(tables).into(),
        serde_json::to_string(&protection.loss)
            .map_err(AppError::internal)?
            .into(),
        state.clock.now().into(),
    ];
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO publications \
           (kind, subject_id, digest, algorithm, threshold, hidden, loss, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (kind, subject_id, digest) DO NOTHING",
        values,
    ))
    .await?;
    Ok(())
}
