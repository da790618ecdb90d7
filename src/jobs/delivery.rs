//! Delivering the outbox: claim due messages with a lease, hand them to the transport
//! (a group of them at once), and record what happened to each as soon as it happens.
//!
//! The claim stamps the moment each message's hand-off begins, committed before any
//! connection to the relay opens, so that an open of the tracking image arriving with the
//! message is known for a machine's. Each message is recorded as sent the moment the
//! transport accepts it, in a write of its own (results that arrive together share one
//! transaction), not when the rest of its group finishes: a worker killed at any instant
//! leaves unrecorded only the messages it was handing over at that instant. Transient
//! failures (the mail server down, a 4xx answer) are retried with backoff until
//! `CIVIC_PANEL_DELIVERY_MAX_ATTEMPTS`; a permanent refusal (a 5xx answer, an address
//! that does not parse) is recorded at once and not retried. A worker that dies while
//! sending leaves its messages claimed until the lease runs out; then another sends them.
//! An SMTP server keeps a message only once it has answered the end of its data, so a
//! message cut off mid-send is not delivered; one accepted in the instant before the kill,
//! its acceptance not yet written, is sent again, with the same `Message-ID` (derived from
//! its idempotency key), so a receiver can recognise the repeat.

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use crate::db::entities::{invitation, outbox};
use crate::db::group_commit::{BatchWrite, GroupCommit};
use crate::db::queue::{self, Claim, Delivery};
use crate::db::tracking::{Event, record_in};
use crate::domain::consultations::consultation::Channel;
use crate::domain::consultations::tracking::EventKind;
use crate::domain::consultations::tracking::invitation_of_key;
use crate::domain::ids::{ConsultationId, OutboxId};
use crate::domain::job::retry_delay;
use crate::error::{AppError, AppResult};
use crate::jobs::mail::{DeliveryError, Mailer, OutgoingEmail};
use crate::jobs::sms::SmsSender;
use crate::state::AppState;

/// Messages delivered in one turn before the worker looks at its jobs again.
pub const BATCH: usize = 64;

/// Claims and delivers up to [`BATCH`] due messages, `CIVIC_PANEL_DELIVERY_CONCURRENCY`
/// at a time (each on its own connection, so a mailing of thousands is not paced by one
/// relay exchange at a time); how many.
///
/// Each group is claimed just before it is sent, with a lease longer than twice the SMTP
/// timeout, so a claim never runs out while its message is still being sent (which would
/// let another worker send it too). Each message's outcome is written as soon as its send
/// returns, while the rest of its group is still going.
pub async fn deliver_due(
    state: &AppState,
    mailer: &Mailer,
    sms: &SmsSender,
    worker: &str,
) -> AppResult<usize> {
    let lease =
        state.config.worker.lease().max(
            chrono::Duration::from_std(state.config.mail.smtp_timeout()).unwrap_or_default() * 2,
        );
    let together = u64::from(state.config.worker.delivery_concurrency.max(1));
    let recorder = GroupCommit::new(
        "delivery",
        Recorder {
            state: state.clone(),
            worker: worker.to_owned(),
        },
        BATCH,
        BATCH,
    );
    let mut delivered = 0;
    while delivered < BATCH {
        let now = state.clock.now();
        let claimed =
            queue::claim_messages(state.db.writer(), worker, now, now + lease, together).await?;
        if claimed.is_empty() {
            break;
        }
        delivered += claimed.len();
        // Each send records its own outcome, so one slow exchange holds no other's record.
        let mut going: FuturesUnordered<_> = claimed
            .iter()
            .map(|message| {
                let recorder = &recorder;
                async move {
                    let sent = send(mailer, sms, message).await;
                    recorder.write(attempt(state, message, sent)).await
                }
            })
            .collect();
        let mut failed = None;
        while let Some(recorded) = going.next().await {
            match recorded {
                Ok(Ok(())) => {}
                Ok(Err(error)) => failed = Some(error),
                Err(stopped) => failed = Some(stopped.to_string()),
            }
        }
        if let Some(error) = failed {
            return Err(AppError::internal(anyhow::anyhow!(
                "a delivery outcome could not be recorded: {error}"
            )));
        }
    }
    Ok(delivered)
}

/// Hands one message to its channel's transport.
async fn send(
    mailer: &Mailer,
    sms: &SmsSender,
    message: &outbox::Model,
) -> Result<(), DeliveryError> {
    match message.channel {
        Channel::Email => {
            let email = OutgoingEmail {
                idempotency_key: message.idempotency_key.clone(),
                to: message.recipient.clone(),
                subject: message.subject.clone(),
                text_body: message.body.clone(),
                html_body: message.html_body.clone(),
                // The message's own time, so a resend is byte for byte the same message.
                date: message.created_at,
                headers: message
                    .headers
                    .as_deref()
                    .and_then(|h| serde_json::from_str(h).ok())
                    .unwrap_or_default(),
            };
            mailer.send(&email).await
        }
        Channel::Sms => {
            sms.send(&message.idempotency_key, &message.recipient, &message.body)
                .await
        }
        Channel::Post => Err(DeliveryError::Permanent(
            "letters are printed, not sent from the outbox".to_owned(),
        )),
    }
}

/// What became of one attempt, as the outbox records it.
fn outcome(state: &AppState, message: &outbox::Model, sent: Result<(), DeliveryError>) -> Delivery {
    let now = state.clock.now();
    let attempts = u32::try_from(message.attempts).unwrap_or(u32::MAX);
    let id = message.id;
    let delivery = match sent {
        Ok(()) => Delivery::Sent,
        Err(DeliveryError::Transient(error))
            if attempts < state.config.worker.delivery_max_attempts =>
        {
            let wait = retry_delay(attempts, rand::random::<f64>());
            let at = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
            Delivery::Retry { error, at }
        }
        Err(DeliveryError::Transient(error)) => Delivery::Failed {
            error: format!("gave up after {attempts} attempts: {error}"),
        },
        Err(DeliveryError::Permanent(error)) => Delivery::Failed { error },
    };
    match &delivery {
        Delivery::Sent => tracing::info!(outbox_id = %id, attempts, "message sent"),
        Delivery::Retry { error, at } => {
            tracing::warn!(outbox_id = %id, attempts, %error, retry_at = %at, "message not sent; will retry");
        }
        Delivery::Failed { error } => {
            tracing::error!(outbox_id = %id, attempts, %error, "message given up");
        }
    }
    delivery
}

/// One attempt's outcome, to record.
struct Attempt {
    message: OutboxId,
    /// Which of its attempts, as claimed.
    attempt: i32,
    key: String,
    delivery: Delivery,
    /// The transport refused it for good (a bounce).
    refused: bool,
    /// When its send returned.
    at: DateTime<Utc>,
}

/// What became of one attempt, stamped with the moment its send returned.
fn attempt(state: &AppState, message: &outbox::Model, sent: Result<(), DeliveryError>) -> Attempt {
    // Only a refusal is a bounce; giving up after temporary failures (a relay down,
    // refused credentials) says nothing about the address.
    let refused = matches!(sent, Err(DeliveryError::Permanent(_)));
    Attempt {
        message: message.id,
        attempt: message.attempts,
        key: message.idempotency_key.clone(),
        delivery: outcome(state, message, sent),
        refused,
        at: state.clock.now(),
    }
}

/// Writes attempts' outcomes as they come: those that arrive together in one transaction.
struct Recorder {
    state: AppState,
    worker: String,
}

impl BatchWrite for Recorder {
    type Item = Attempt;
    /// Written, or why not (every attempt of a batch shares its transaction's fate).
    type Outcome = Result<(), String>;

    async fn write(&self, attempts: Vec<Attempt>) -> Vec<Result<(), String>> {
        let written = record(&self.state, &self.worker, &attempts)
            .await
            .map_err(|error| {
                tracing::error!(error = ?error, messages = attempts.len(), "delivery outcomes not recorded");
                "the database refused the write".to_owned()
            });
        vec![written; attempts.len()]
    }
}

/// Records attempts' outcomes in one transaction. A consultation invitation's event (sent,
/// or bounced when the transport refused it for good) is stored with its message's
/// outcome, so a message is never recorded sent without its invitation knowing, or the
/// reverse.
async fn record(state: &AppState, worker: &str, attempts: &[Attempt]) -> AppResult<()> {
    let txn = state.db.writer().begin().await?;
    let mut events = Vec::new();
    for attempt in attempts {
        let event = invitation_of_key(&attempt.key).and_then(|invitation| {
            let (kind, detail) = match &attempt.delivery {
                Delivery::Sent => (EventKind::Sent, None),
                Delivery::Failed { error } if attempt.refused => {
                    (EventKind::Bounced, Some(error.clone()))
                }
                Delivery::Failed { .. } | Delivery::Retry { .. } => return None,
            };
            Some(Event {
                invitation,
                kind,
                at: attempt.at,
                machine: false,
                detail,
            })
        });
        let claim = Claim {
            worker: worker.to_owned(),
            attempt: attempt.attempt,
        };
        if queue::delivered(
            &txn,
            attempt.message,
            &claim,
            attempt.delivery.clone(),
            attempt.at,
        )
        .await?
        {
            events.extend(event);
        } else {
            tracing::warn!(outbox_id = %attempt.message, "the message's lease ran out while it was being sent");
        }
    }
    record_in(&txn, &events).await?;
    txn.commit().await?;
    if !events.is_empty() {
        let invitations: Vec<i64> = events.iter().map(|e| e.invitation.get()).collect();
        let mut consultations: Vec<ConsultationId> = invitation::Entity::find()
            .filter(invitation::Column::Id.is_in(invitations))
            .all(state.db.writer())
            .await?
            .into_iter()
            .map(|row| row.consultation_id)
            .collect();
        consultations.sort_unstable();
        consultations.dedup();
        for consultation in consultations {
            state.tracker.changed(consultation);
        }
    }
    Ok(())
}
