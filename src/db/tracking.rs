//! What happened to each invitation: events are stored (append-only) and the invitation
//! keeps its furthest stage and the first time it reached each.
//!
//! Opens and clicks arrive as HTTP requests, many at once when a mailing goes out. They go
//! through the [`Tracker`]: each request hands its event to one writer task and waits;
//! the writer stores everything waiting in one transaction (a [`GroupCommit`]) and then
//! answers each request. A request is answered only once its event is stored, so nothing
//! acknowledged is lost, and a thousand opens cost a handful of commits rather than a
//! thousand.
//!
//! Events from the server's own work (a message sent or bounced, answers saved or
//! submitted) are stored with [`record_in`], inside the transaction of the change that
//! caused them.

use std::collections::HashMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
    Statement, TransactionTrait,
};
use tokio::sync::broadcast;

use crate::db::entities::{invitation, outbox, tracking_event};
use crate::db::group_commit::{BatchWrite, GroupCommit};
use crate::domain::accounts::session_token::TokenHash;
use crate::domain::consultations::tracking::{
    EventKind, Handoff, OpenRules, Stage, invitation_of_key, invite_key, reminder_key,
};
use crate::domain::ids::{ConsultationId, InvitationId};
use crate::error::{AppError, AppResult};

/// The invitation's column holding when an event of this kind first happened.
fn first_at(kind: EventKind, machine: bool) -> Option<&'static str> {
    match kind {
        EventKind::Sent => Some("sent_at"),
        EventKind::Bounced => Some("bounced_at"),
        EventKind::Opened if machine => Some("machine_opened_at"),
        EventKind::Opened => Some("opened_at"),
        EventKind::Clicked => Some("clicked_at"),
        EventKind::Started => Some("started_at"),
        EventKind::Completed => Some("completed_at"),
        EventKind::Reminded => None,
    }
}
/// One event of one invitation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The invitation it happened to.
    pub invitation: InvitationId,
    /// What happened.
    pub kind: EventKind,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// An open by a mail-privacy proxy or scanner.
    pub machine: bool,
    /// More, e.g. why a message bounced.
    pub detail: Option<String>,
}

/// Stores `events` and moves their invitations on, inside `db` (the caller's
/// transaction). Stages only move forward, whatever order events arrive in.
pub async fn record_in(db: &impl ConnectionTrait, events: &[Event]) -> AppResult<()> {
    append_in(db, events).await?;
    advance_in(db, events).await
}

/// Stores `events` only, inside `db`, for a caller that has already moved their
/// invitations on itself (a submission's completion claim does).
pub async fn append_in(db: &impl ConnectionTrait, events: &[Event]) -> AppResult<()> {
    for chunk in events.chunks(500) {
        tracking_event::Entity::insert_many(chunk.iter().map(|e| tracking_event::ActiveModel {
            invitation_id: sea_orm::Set(e.invitation),
            kind: sea_orm::Set(e.kind),
            at: sea_orm::Set(e.at),
            machine: sea_orm::Set(e.machine),
            detail: sea_orm::Set(e.detail.clone()),
            ..Default::default()
        }))
        .exec(db)
        .await?;
    }
    Ok(())
}

/// The invitation columns holding when each kind of event first happened, in the order
/// of [`Advance::first`].
const FIRST_COLUMNS: [&str; 7] = [
    "sent_at",
    "bounced_at",
    "machine_opened_at",
    "opened_at",
    "clicked_at",
    "started_at",
    "completed_at",
];

/// Invitations moved on in one statement at most. A statement's rows are padded up to a
/// power of two (rows of no invitation), so that a handful of statement texts, prepared
/// once each, serve every batch.
const ADVANCE_CHUNK: usize = 256;

/// What a set of events does to one invitation.
#[derive(Clone, Debug, Default, PartialEq)]
struct Advance {
    /// The earliest time of each kind of event ([`FIRST_COLUMNS`]).
    first: [Option<DateTime<Utc>>; FIRST_COLUMNS.len()],
    /// The furthest stage the events reach.
    stage: Option<Stage>,
    /// Reminders queued, and the latest.
    reminders: i32,
    last_reminded: Option<DateTime<Utc>>,
}

/// Each invitation's [`Advance`] from `events` (in the order of their ids).
fn advances(events: &[Event]) -> std::collections::BTreeMap<i64, Advance> {
    let mut advances: std::collections::BTreeMap<i64, Advance> = Default::default();
    for event in events {
        let advance = advances.entry(event.invitation.get()).or_default();
        if let Some(column) = first_at(event.kind, event.machine)
            && let Some(i) = FIRST_COLUMNS.iter().position(|c| *c == column)
        {
            let first = &mut advance.first[i];
            *first = Some(first.map_or(event.at, |t| t.min(event.at)));
        }
        if let Some(stage) = event.kind.stage(event.machine) {
            advance.stage = advance.stage.max(Some(stage));
        }
        if event.kind == EventKind::Reminded {
            advance.reminders += 1;
            advance.last_reminded = advance.last_reminded.max(Some(event.at));
        }
    }
    advances
}

/// Moves the events' invitations on, a statement for up to [`ADVANCE_CHUNK`] of them: the
/// first time of each kind, the furthest stage, the reminders.
async fn advance_in(db: &impl ConnectionTrait, events: &[Event]) -> AppResult<()> {
    let backend = db.get_database_backend();
    let advances: Vec<(i64, Advance)> = advances(events).into_iter().collect();
    // The stage's rank, so that it only moves forward.
    let rank = |column: &str| {
        let whens: Vec<String> = Stage::ALL
            .iter()
            .enumerate()
            .map(|(i, s)| format!("WHEN '{}' THEN {i}", s.as_str()))
            .collect();
        format!(
            "CASE {column} {} ELSE {} END",
            whens.join(" "),
            Stage::ALL.len()
        )
    };
    let columns_per_row = FIRST_COLUMNS.len() + 5;
    // Ids start at 1: a row of id 0 moves nothing.
    let padding = (0, Advance::default());
    for chunk in advances.chunks(ADVANCE_CHUNK) {
        let size = chunk.len().next_power_of_two();
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(size * columns_per_row);
        let mut rows: Vec<String> = Vec::with_capacity(size);
        let padded = chunk
            .iter()
            .chain(std::iter::repeat_n(&padding, size - chunk.len()));
        for (id, advance) in padded {
            let first = values.len();
            values.push((*id).into());
            values.extend(advance.first.iter().map(|&t| t.into()));
            values.push(advance.stage.map(|s| s.as_str().to_owned()).into());
            values.push(
                advance
                    .stage
                    .and_then(|s| Stage::ALL.iter().position(|a| *a == s))
                    .map(|i| i as i32)
                    .into(),
            );
            values.push(advance.reminders.into());
            values.push(advance.last_reminded.into());
            let params: Vec<String> = (first..values.len())
                .map(|n| match backend {
                    sea_orm::DbBackend::Postgres => format!("${}", n + 1),
                    _ => "?".to_owned(),
                })
                .collect();
            rows.push(format!("({})", params.join(", ")));
        }
        let firsts: Vec<String> = FIRST_COLUMNS
            .iter()
            .map(|c| format!("{c} = COALESCE(invitations.{c}, v.{c})"))
            .collect();
        let sql = format!(
            "WITH v (id, {}, stage, stage_rank, reminders, last_reminded_at) AS (VALUES {}) \
             UPDATE invitations SET {}, \
               stage = CASE WHEN v.stage_rank > {} THEN v.stage ELSE invitations.stage END, \
               reminders_sent = invitations.reminders_sent + v.reminders, \
               last_reminded_at = COALESCE(v.last_reminded_at, invitations.last_reminded_at) \
             FROM v WHERE invitations.id = v.id",
            FIRST_COLUMNS.join(", "),
            rows.join(", "),
            firsts.join(", "),
            rank("invitations.stage"),
        );
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// An open or click as it arrives over HTTP, before its token is looked up.
#[derive(Clone, Debug)]
pub struct Hit {
    /// The token in the URL.
    pub token: String,
    /// Opened (the image) or clicked (the link).
    pub kind: EventKind,
    /// When it arrived.
    pub at: DateTime<Utc>,
    /// The client's IP address, when known.
    pub address: Option<IpAddr>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

/// Most events stored in one transaction.
const MAX_BATCH: usize = 512;

/// Requests waiting for the writer before new ones wait to join the queue.
const QUEUE: usize = 16_384;

/// The group-commit writer of opens and clicks, and the news of changed consultations.
#[derive(Clone)]
pub struct Tracker {
    hits: GroupCommit<HitWriter>,
    changed: broadcast::Sender<ConsultationId>,
}

impl Tracker {
    /// A tracker writing to `db`, telling machine opens by `rules`. Its writer task starts
    /// with the first hit.
    pub fn new(db: DatabaseConnection, rules: OpenRules) -> Self {
        let (changed, _) = broadcast::channel(1024);
        let writer = HitWriter {
            db,
            rules,
            changed: changed.clone(),
        };
        Self {
            hits: GroupCommit::new("tracking", writer, MAX_BATCH, QUEUE),
            changed,
        }
    }

    /// How the writer's batches of hits went so far.
    pub fn stats(&self) -> crate::db::group_commit::BatchStats {
        self.hits.stats()
    }

    /// The rules telling machine opens from people.
    pub fn rules(&self) -> &OpenRules {
        &self.hits.writer().rules
    }

    /// Consultations whose progress changed, as they change.
    pub fn subscribe(&self) -> broadcast::Receiver<ConsultationId> {
        self.changed.subscribe()
    }

    /// Tells subscribers that `consultation`'s progress changed.
    pub fn changed(&self, consultation: ConsultationId) {
        // No subscriber is not an error.
        let _ = self.changed.send(consultation);
    }

    /// Stores a hit; returns once it is stored (or known not to belong to any
    /// invitation, which is not an error: the caller answers the same either way).
    pub async fn record(&self, hit: Hit) -> AppResult<()> {
        match self.hits.write(hit).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(AppError::internal(anyhow::anyhow!(
                "a tracking event could not be stored"
            ))),
            Err(stopped) => Err(AppError::internal(stopped)),
        }
    }

    /// Stops the writer once the hits already queued are stored (at shutdown).
    pub async fn drain(&self) {
        self.hits.drain().await;
    }
}

/// Stores hits in batches: looks their tokens up, tells machine opens apart, stores the
/// events in one transaction and tells subscribers which consultations moved.
struct HitWriter {
    db: DatabaseConnection,
    rules: OpenRules,
    changed: broadcast::Sender<ConsultationId>,
}

impl BatchWrite for HitWriter {
    type Item = Hit;
    /// Stored (every hit of a batch shares its transaction's fate).
    type Outcome = bool;

    async fn write(&self, hits: Vec<Hit>) -> Vec<bool> {
        let stored = match store(self, &hits).await {
            Ok(consultations) => {
                for consultation in consultations {
                    // No subscriber is not an error.
                    let _ = self.changed.send(consultation);
                }
                true
            }
            Err(error) => {
                tracing::error!(error = ?error, events = hits.len(), "tracking events not stored");
                false
            }
        };
        vec![stored; hits.len()]
    }
}

/// An invitation a hit's token names: its id, consultation, token hash, first sent time
/// and reminders sent.
type Found = (i64, i64, String, Option<DateTime<Utc>>, i32);

/// Looks the batch's tokens up, tells machine opens apart, and stores the events;
/// returns the consultations touched.
async fn store(writer: &HitWriter, hits: &[Hit]) -> AppResult<Vec<ConsultationId>> {
    let hashes: Vec<String> = hits
        .iter()
        .map(|hit| TokenHash::of(&hit.token).as_str().to_owned())
        .collect();
    let found: Vec<Found> = invitation::Entity::find()
        .select_only()
        .column(invitation::Column::Id)
        .column(invitation::Column::ConsultationId)
        .column(invitation::Column::TokenHash)
        .column(invitation::Column::SentAt)
        .column(invitation::Column::RemindersSent)
        .filter(invitation::Column::TokenHash.is_in(hashes.iter().cloned()))
        .filter(invitation::Column::RevokedAt.is_null())
        .into_tuple()
        .all(&writer.db)
        .await?;
    let found: HashMap<&str, &Found> = found.iter().map(|f| (f.2.as_str(), f)).collect();
    let opened: Vec<&Found> = hits
        .iter()
        .zip(&hashes)
        .filter(|(hit, _)| hit.kind == EventKind::Opened)
        .filter_map(|(_, hash)| found.get(hash.as_str()).copied())
        .collect();
    let messages = handoffs(&writer.db, &opened).await?;
    let mut events = Vec::with_capacity(hits.len());
    let mut consultations: Vec<ConsultationId> = Vec::new();
    for (hit, hash) in hits.iter().zip(&hashes) {
        let Some((id, consultation, _, _, _)) = found.get(hash.as_str()) else {
            continue;
        };
        let machine = hit.kind == EventKind::Opened
            && writer.rules.is_machine(
                hit.at,
                messages.get(id).map_or(&[][..], Vec::as_slice),
                hit.address,
                hit.user_agent.as_deref(),
            );
        events.push(Event {
            invitation: InvitationId(*id),
            kind: hit.kind,
            at: hit.at,
            machine,
            detail: machine.then(|| "machine open".to_owned()),
        });
        if !consultations.contains(&ConsultationId(*consultation)) {
            consultations.push(ConsultationId(*consultation));
        }
    }
    if events.is_empty() {
        return Ok(consultations);
    }
    let txn = writer.db.begin().await?;
    record_in(&txn, &events).await?;
    txn.commit().await?;
    Ok(consultations)
}

/// The email messages (the invitation and each reminder) of the invitations opened, as
/// delivery has them, read from the outbox by their keys in one statement. An invitation
/// whose messages are no longer in the outbox is known by its own sent time.
async fn handoffs(
    db: &DatabaseConnection,
    opened: &[&Found],
) -> AppResult<HashMap<i64, Vec<Handoff>>> {
    let mut keys = Vec::new();
    for &&(id, _, _, _, reminders) in opened {
        let id = InvitationId(id);
        keys.push(invite_key(id));
        let reminders = u32::try_from(reminders).unwrap_or(0);
        keys.extend((1..=reminders).map(|n| reminder_key(id, n)));
    }
    let mut messages: HashMap<i64, Vec<Handoff>> = HashMap::new();
    if keys.is_empty() {
        return Ok(messages);
    }
    type Row = (
        String,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = outbox::Entity::find()
        .select_only()
        .column(outbox::Column::IdempotencyKey)
        .column(outbox::Column::HandoffAt)
        .column(outbox::Column::SentAt)
        .column(outbox::Column::LockedUntil)
        .filter(outbox::Column::Channel.eq("email"))
        .filter(outbox::Column::IdempotencyKey.is_in(keys))
        .into_tuple()
        .all(db)
        .await?;
    for (key, began, accepted, held_until) in rows {
        if let Some(invitation) = invitation_of_key(&key) {
            messages.entry(invitation.get()).or_default().push(Handoff {
                began,
                accepted,
                held_until,
            });
        }
    }
    for &&(id, _, _, sent_at, _) in opened {
        if sent_at.is_some() {
            messages.entry(id).or_insert_with(|| {
                vec![Handoff {
                    accepted: sent_at,
                    ..Handoff::default()
                }]
            });
        }
    }
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(invitation: i64, kind: EventKind, second: i64, machine: bool) -> Event {
        Event {
            invitation: InvitationId(invitation),
            kind,
            at: DateTime::from_timestamp(1_800_000_000 + second, 0).unwrap(),
            machine,
            detail: None,
        }
    }

    #[test]
    fn events_of_one_batch_come_to_one_change_per_invitation() {
        let events = [
            event(7, EventKind::Opened, 20, false),
            event(7, EventKind::Clicked, 30, false),
            event(7, EventKind::Opened, 10, false),
            event(7, EventKind::Opened, 5, true),
            event(3, EventKind::Sent, 1, false),
            event(3, EventKind::Reminded, 40, false),
            event(3, EventKind::Reminded, 50, false),
        ];
        let advances = advances(&events);
        assert_eq!(advances.keys().copied().collect::<Vec<_>>(), [3, 7]);
        let at = |second: i64| Some(DateTime::from_timestamp(1_800_000_000 + second, 0).unwrap());
        let column = |name| FIRST_COLUMNS.iter().position(|c| *c == name).unwrap();
        let seven = &advances[&7];
        assert_eq!(
            seven.first[column("opened_at")],
            at(10),
            "the earliest open"
        );
        assert_eq!(seven.first[column("machine_opened_at")], at(5));
        assert_eq!(seven.first[column("clicked_at")], at(30));
        assert_eq!(seven.first[column("sent_at")], None);
        assert_eq!(seven.stage, Some(Stage::Clicked), "the furthest stage");
        assert_eq!(seven.reminders, 0);
        let three = &advances[&3];
        assert_eq!(three.stage, Some(Stage::Sent));
        assert_eq!((three.reminders, three.last_reminded), (2, at(50)));
    }

    #[test]
    fn every_first_time_an_event_keeps_has_its_column() {
        let kinds = [
            EventKind::Sent,
            EventKind::Bounced,
            EventKind::Opened,
            EventKind::Clicked,
            EventKind::Started,
            EventKind::Completed,
            EventKind::Reminded,
        ];
        for kind in kinds {
            for machine in [false, true] {
                if let Some(column) = first_at(kind, machine) {
                    assert!(FIRST_COLUMNS.contains(&column), "{column}");
                }
            }
        }
    }
}
