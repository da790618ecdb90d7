//! The `publications` table: each protected copy of a report, stored once per change of
//! the report's counts (see `service::reports::publications`).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Statement, Value};

use crate::error::AppResult;

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

/// A publication's key: its kind, subject and the digest of its tables.
#[derive(Clone, Copy, Debug)]
pub struct Key<'a> {
    /// What it is a protected copy of.
    pub kind: Kind,
    /// The consultation, panel, run or round it is about.
    pub subject: i64,
    /// SHA-256 of its canonical tables, threshold and algorithm.
    pub digest: &'a str,
}

/// A stored protection as text: what is hidden (encoded) and the loss (JSON).
pub struct Stored {
    /// The hidden marks, as `Protection::encode` writes them.
    pub hidden: String,
    /// The information lost, as JSON.
    pub loss: String,
}

/// The protection stored under `key`, if any.
pub async fn find(db: &impl ConnectionTrait, key: Key<'_>) -> AppResult<Option<Stored>> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT hidden, loss FROM publications \
             WHERE kind = $1 AND subject_id = $2 AND digest = $3",
            [
                key.kind.as_str().into(),
                key.subject.into(),
                key.digest.into(),
            ],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(Stored {
        hidden: row.try_get_by_index(0)?,
        loss: row.try_get_by_index(1)?,
    }))
}

/// Stores a protection under `key` unless one is stored there already (the first wins, so
/// two servers computing at once both serve the same row).
pub async fn insert(
    db: &impl ConnectionTrait,
    key: Key<'_>,
    algorithm: u32,
    threshold: u64,
    stored: &Stored,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let values: Vec<Value> = vec![
        key.kind.as_str().into(),
        key.subject.into(),
        key.digest.into(),
        i32::try_from(algorithm).unwrap_or(i32::MAX).into(),
        i64::try_from(threshold).unwrap_or(i64::MAX).into(),
        stored.hidden.as_str().into(),
        stored.loss.as_str().into(),
        at.into(),
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
