//! Reminders to those who have not answered, and the ways contact stops: an invitation
//! revoked, a member's reminder preference, the email's unsubscribe.

use super::*;
use sea_orm::QueryTrait;

use crate::db::entities::resident;
use crate::db::invitations::{self, Due};
use crate::db::views;

/// A reminders job's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemindJob {
    /// The consultation whose invited members who have not completed are reminded.
    pub consultation_id: ConsultationId,
    /// Only this channel (`email` or `sms`); both when absent.
    pub channel: Option<String>,
}

/// What a reminders job queued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemindResult {
    /// The consultation the reminders are about.
    pub consultation_id: ConsultationId,
    /// Reminders queued by email.
    pub email: u64,
    /// By text message.
    pub sms: u64,
    /// Members due a reminder who asked for none.
    pub opted_out: u64,
}

/// Queues reminders to the members invited by email or text message who have not
/// completed: at most the consultation's `maxReminders` each, and none sooner than its
/// `reminderGapHours` after their last message. Not to those who bounced or opted out.
pub async fn start_remind(
    state: &AppState,
    caller: &Caller,
    id: ConsultationId,
    channel: Option<Channel>,
) -> AppResult<Job> {
    caller.require(OFFICERS)?;
    let consultation = consultations::find_any(state.db.reader(), id).await?;
    if consultation.status != Status::Open {
        return Err(AppError::conflict(
            "Reminders go only while the consultation is open.",
        ));
    }
    if consultation.max_reminders == 0 {
        return Err(AppError::conflict(
            "This consultation sends no reminders: its maxReminders is 0.",
        ));
    }
    if channel == Some(Channel::Post) {
        return Err(AppError::bad_input(
            "input.channel",
            "Reminders go by EMAIL or SMS; print letters again with consultationLettersExport.",
        ));
    }
    jobs::enqueue(
        state,
        jobs::Request {
            kind: JobKind::ConsultationRemind,
            payload: &RemindJob {
                consultation_id: id,
                channel: channel.map(|c| c.as_str().to_owned()),
            },
            created_by: caller.account(),
            singleton_key: Some(format!("remind:consultation:{id}")),
        },
    )
    .await
}

/// Runs a reminders job: the members due a reminder, a chunk per transaction, each
/// reminder queued with its event (which counts it and starts its gap).
pub async fn run_remind(
    state: &AppState,
    input: &RemindJob,
    progress: &Progress,
) -> AppResult<RemindResult> {
    let db = state.db.writer();
    let consultation = consultations::find_any(db, input.consultation_id).await?;
    let now = state.clock.now();
    let cutoff = now - chrono::Duration::hours(i64::from(consultation.reminder_gap_hours));
    let channels: Vec<Channel> = match input.channel.as_deref() {
        Some(channel) => vec![channel.parse::<Channel>().unwrap_or(Channel::Email)],
        None => vec![Channel::Email, Channel::Sms],
    };
    let due = invitations::reminders_due(
        db,
        consultation.id,
        consultation.max_reminders,
        cutoff,
        &channels,
    )
    .await?;
    let (opted_out, due): (Vec<Due>, Vec<Due>) = due.into_iter().partition(|d| d.reminders_opt_out);
    progress.set_total(due.len() as u64);
    let mut result = RemindResult {
        consultation_id: consultation.id,
        email: 0,
        sms: 0,
        opted_out: opted_out.len() as u64,
    };
    for chunk in due.chunks(CHUNK) {
        progress.check()?;
        let txn = db.begin().await?;
        let mut events = Vec::with_capacity(chunk.len());
        for member in chunk {
            let Some(token) = token_again(&state.codes, &member.token_salt, &member.token_hash)
            else {
                tracing::warn!(
                    invitation_id = %member.id,
                    "no configured code secret gives this invitation's token; no reminder"
                );
                continue;
            };
            let id = member.id;
            let n = u32::try_from(member.reminders_sent).unwrap_or(0) + 1;
            if member.channel == Channel::Sms {
                let message = sms_message(state, &consultation, &member.full_name, &token)?;
                let to = member.phone.clone().unwrap_or_default();
                queue_message(&txn, Channel::Sms, &to, message, reminder_key(id, n), now).await?;
                result.sms += 1;
            } else {
                let message = email_message(state, &consultation, &member.full_name, &token, true)?;
                let to = member.email.clone().unwrap_or_default();
                queue_message(&txn, Channel::Email, &to, message, reminder_key(id, n), now).await?;
                result.email += 1;
            }
            events.push(Event {
                invitation: id,
                kind: EventKind::Reminded,
                at: now,
                machine: false,
                detail: Some(format!("reminder {n}")),
            });
        }
        record_in(&txn, &events).await?;
        txn.commit().await?;
        state.work_queued.notify_one();
        progress.advance(chunk.len() as u64);
    }
    Ok(result)
}

/// Withdraws an invitation (OFFICER): its link and printed code stop working, it is left
/// out of progress counts and reminders, and its messages not yet sent are not sent.
/// Answers already submitted stay.
pub async fn revoke(
    state: &AppState,
    caller: &Caller,
    id: InvitationId,
) -> AppResult<crate::service::consultations::answering::Invitation> {
    caller.require(OFFICERS)?;
    let db = state.db.writer();
    let row = invitation::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound { what: "invitation" })?;
    let now = state.clock.now();
    let txn = db.begin().await?;
    invitation::Entity::update_many()
        .col_expr(invitation::Column::RevokedAt, Expr::value(now))
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    // Unsent messages: given up, unless a worker holds one right now (it then goes).
    outbox::Entity::update_many()
        .col_expr(outbox::Column::FailedAt, Expr::value(now))
        .col_expr(
            outbox::Column::LastError,
            Expr::value("the invitation was withdrawn"),
        )
        .filter(
            outbox::Column::IdempotencyKey
                .eq(invite_key(id))
                .or(outbox::Column::IdempotencyKey
                    .starts_with(format!("consultation-reminder:{id}:"))),
        )
        .filter(outbox::Column::SentAt.is_null())
        .filter(outbox::Column::FailedAt.is_null())
        .filter(outbox::Column::LockedBy.is_null())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    state.tracker.changed(row.consultation_id);
    let row = invitation::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound { what: "invitation" })?;
    crate::service::consultations::answering::to_domain(row)
}

/// Sets whether the signed-in resident is sent reminders; the setting as it now is.
pub async fn set_reminders_opt_out(
    state: &AppState,
    caller: &Caller,
    opt_out: bool,
) -> AppResult<bool> {
    let theirs = views::residents(caller.own_view()?)
        .select_only()
        .column(resident::Column::Id)
        .into_query();
    let updated = resident::Entity::update_many()
        .col_expr(resident::Column::RemindersOptOut, Expr::value(opt_out))
        .filter(resident::Column::Id.in_subquery(theirs))
        .exec(state.db.writer())
        .await?;
    if updated.rows_affected == 0 {
        return Err(AppError::NotFound { what: "resident" });
    }
    Ok(opt_out)
}

/// Stops reminders to the member whose personal token this is (the one-click
/// `List-Unsubscribe` link). Whether the token exists is not told.
pub async fn opt_out(state: &AppState, token: &str) -> AppResult<()> {
    let db = state.db.writer();
    let Some(row) = invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(TokenHash::of(token.trim()).as_str()))
        .one(db)
        .await?
    else {
        return Ok(());
    };
    crate::db::entities::resident::Entity::update_many()
        .col_expr(
            crate::db::entities::resident::Column::RemindersOptOut,
            Expr::value(true),
        )
        .filter(crate::db::entities::resident::Column::Id.eq(row.resident_id))
        .exec(db)
        .await?;
    Ok(())
}
