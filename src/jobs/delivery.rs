//! Delivering the outbox: claim due messages with a lease, hand each to the transport,
//! and record what happened.
//!
//! A message is marked sent as soon as the transport accepts it. Transient failures (the
//! mail server down, a 4xx answer) are retried with backoff until
//! `CIVIC_PANEL_DELIVERY_MAX_ATTEMPTS`; a permanent refusal (a 5xx answer, an address
//! that does not parse) is recorded at once and not retried. A worker that dies while
//! sending leaves the message claimed until its lease runs out; then another sends it.
//! An SMTP server keeps a message only once it has answered the end of its data, so a
//! message cut off mid-send is not delivered twice; every message carries a `Message-ID`
//! derived from its idempotency key, so a receiver can also recognise a repeat.

use sea_orm::{EntityTrait, TransactionTrait};

use crate::db::entities::{invitation, outbox};
use crate::db::queue::{self, Claim, Delivery};
use crate::domain::ids::{ConsultationId, OutboxId};
use crate::domain::job::retry_delay;
use crate::error::AppResult;
use crate::jobs::mail::{DeliveryError, Mailer, OutgoingEmail};
use crate::jobs::sms::SmsSender;
use crate::service::invitations;
use crate::service::tracking::{Event, EventKind, record_in};
use crate::state::AppState;

/// Messages delivered in one turn before the worker looks at its jobs again.
pub const BATCH: usize = 20;

/// Claims and delivers up to [`BATCH`] due messages, one at a time; how many.
///
/// Each message is claimed just before it is sent, with a lease longer than the SMTP
/// timeout, so a claim never runs out while its message is still being sent (which would
/// let another worker send it too).
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
    let mut delivered = 0;
    while delivered < BATCH {
        let now = state.clock.now();
        let claimed = queue::claim_messages(state.db.writer(), worker, now, now + lease, 1).await?;
        let Some(message) = claimed.into_iter().next() else {
            break;
        };
        deliver(state, mailer, sms, worker, message).await?;
        delivered += 1;
    }
    Ok(delivered)
}

async fn deliver(
    state: &AppState,
    mailer: &Mailer,
    sms: &SmsSender,
    worker: &str,
    message: outbox::Model,
) -> AppResult<()> {
    let id = OutboxId(message.id);
    let claim = Claim {
        worker: worker.to_owned(),
        attempt: message.attempts,
    };
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
    let sent = match message.channel.as_str() {
        "email" => mailer.send(&email).await,
        "sms" => {
            sms.send(&message.idempotency_key, &message.recipient, &message.body)
                .await
        }
        other => Err(DeliveryError::Permanent(format!(
            "no transport for the channel `{other}`"
        ))),
    };
    let now = state.clock.now();
    let attempts = u32::try_from(message.attempts).unwrap_or(u32::MAX);
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
    // A consultation invitation's event is stored with the outcome, in one transaction:
    // a message is never recorded sent without its invitation knowing, or the reverse.
    let event = invitations::invitation_of_key(&message.idempotency_key).and_then(|invitation| {
        let (kind, detail) = match &delivery {
            Delivery::Sent => (EventKind::Sent, None),
            Delivery::Failed { error } => (EventKind::Bounced, Some(error.clone())),
            Delivery::Retry { .. } => return None,
        };
        Some(Event {
            invitation,
            kind,
            at: now,
            machine: false,
            detail,
        })
    });
    let txn = state.db.writer().begin().await?;
    if queue::delivered(&txn, id, &claim, delivery, now).await? {
        if let Some(event) = &event {
            record_in(&txn, std::slice::from_ref(event)).await?;
        }
        txn.commit().await?;
        if let Some(event) = event {
            let consultation = invitation::Entity::find_by_id(event.invitation.get())
                .one(state.db.writer())
                .await?
                .map(|row| ConsultationId(row.consultation_id));
            if let Some(consultation) = consultation {
                state.tracker.changed(consultation);
            }
        }
    } else {
        txn.rollback().await?;
        tracing::warn!(outbox_id = %id, "the message's lease ran out while it was being sent");
    }
    Ok(())
}
