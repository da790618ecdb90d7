//! Inviting a panel to a consultation and reaching each member: a personal token per
//! invitation (256 random bits, stored as its SHA-256), an email or text message queued in
//! the outbox in the same transaction as the invitation, and for members reached by post
//! a printed letter with a personal short code (the recruitment letters' format, stored as
//! a keyed hash) in a mail-merge CSV.
//!
//! Inviting is a job: a panel of thousands is invited in short transactions of a few
//! hundred members, never one long one, and a member is invited at most once (a unique
//! index), so a job taken up again after a crash carries on where it stopped.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::db::entities::{consultation, invitation, outbox};
use crate::db::files::{self, NewFile};
use crate::domain::accounts::session_token::TokenHash;
use crate::domain::consultations::consultation::{
    Channel, Consultation, Status, email_html, render,
};
use crate::domain::consultations::invitation_token::{new_token, token_again};
use crate::domain::consultations::tracking::{Stage, invite_key, reminder_key};
use crate::domain::ids::{ConsultationId, FileId, InvitationId, JobId};
use crate::domain::job::{Job, JobKind};
use crate::domain::recruitment::invitation_code::InvitationCode;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::service::consultations::tracking::{Event, EventKind, record_in};
use crate::service::consultations::{self, OFFICERS};
use crate::service::jobs;
use crate::service::panels::sub_sample::{self, SampleDrawn};
use crate::service::progress::Progress;
use crate::state::AppState;

/// Members invited per transaction.
const CHUNK: usize = 250;

/// What inviting is asked to do.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRequest {
    /// The channel to prefer where a member can be reached by it (post always can).
    pub prefer: Option<String>,
}

/// An invite job's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteJob {
    /// The consultation.
    pub consultation_id: ConsultationId,
    /// What was asked.
    pub request: InviteRequest,
}

/// What an invite job did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InviteResult {
    /// The consultation.
    pub consultation_id: ConsultationId,
    /// Invitations made by email.
    pub email: u64,
    /// By text message.
    pub sms: u64,
    /// By post (printed with `consultationLettersExport`).
    pub post: u64,
    /// Members already invited, left alone.
    pub already_invited: u64,
    /// The balanced sample this job drew, for a consultation sent to one.
    #[serde(default)]
    pub sample: Option<SampleDrawn>,
}

/// Queues the invitation of every current member (selected or active, not paused or
/// withdrawn) of the consultation's panel who has not been invited yet, or, for a
/// consultation sent to a sample, of the sample (checked at once against the panel as it
/// now is, unless it has been drawn already). The consultation must be open.
pub async fn start_invite(
    state: &AppState,
    caller: &Caller,
    id: ConsultationId,
    request: InviteRequest,
) -> AppResult<Job> {
    caller.require(OFFICERS)?;
    let consultation = consultations::find_any(state.db.reader(), id).await?;
    if consultation.status != Status::Open {
        return Err(AppError::conflict(
            "Open the consultation before inviting its panel: invitations link to its questions as they are.",
        ));
    }
    if consultation.panel.is_none() {
        return Err(AppError::conflict(
            "This consultation has no panel to invite; share its open link instead.",
        ));
    }
    if let Some(prefer) = &request.prefer {
        prefer
            .parse::<Channel>()
            .map_err(|_| AppError::bad_input("input.prefer", "Prefer EMAIL, SMS or POST."))?;
    }
    if let (Some(panel), Some(size)) = (consultation.panel, consultation.sample_size)
        && invited_count(state.db.reader(), id).await? == 0
    {
        let as_of = consultation.opened_at.unwrap_or_else(|| state.clock.now());
        sub_sample::pool(state.db.reader(), panel, size, as_of, "input.consultationId")
            .await
            .map_err(|err| match err {
                AppError::BadUserInput { field, message } => AppError::bad_input(
                    field,
                    format!(
                        "{message} The consultation is open, so its sample is fixed: duplicate it (consultationDuplicate) to choose another."
                    ),
                ),
                other => other,
            })?;
    }
    jobs::enqueue(
        state,
        jobs::Request {
            kind: JobKind::ConsultationInvite,
            payload: &InviteJob {
                consultation_id: id,
                request,
            },
            created_by: caller.account(),
            singleton_key: Some(format!("invite:consultation:{id}")),
        },
    )
    .await
    .map_err(|err| match err {
        AppError::Conflict { .. } => AppError::conflict(
            "This consultation's invitations are already being made; wait for that job.",
        ),
        other => other,
    })
}

/// A member to invite.
#[derive(Clone, Debug, FromQueryResult)]
struct Member {
    id: i64,
    full_name: String,
    email: Option<String>,
    phone: Option<String>,
}

/// Members of the panel not yet invited, by resident number.
async fn uninvited(
    db: &impl ConnectionTrait,
    consultation: &Consultation,
) -> AppResult<Vec<Member>> {
    let Some(panel) = consultation.panel else {
        return Ok(Vec::new());
    };
    let sql = "SELECT r.id, r.full_name, r.email, r.phone FROM memberships m \
               JOIN residents r ON r.id = m.resident_id \
               WHERE m.panel_id = $1 AND m.status IN ('selected', 'active') \
                 AND r.withdrawn_at IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM invitations i \
                   WHERE i.consultation_id = $2 AND i.resident_id = r.id) \
               ORDER BY r.id";
    Ok(Member::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [panel.get().into(), consultation.id.get().into()],
    ))
    .all(db)
    .await?)
}

/// Runs an invite job: invites the members not yet invited, a chunk per transaction.
pub async fn run_invite(
    state: &AppState,
    input: &InviteJob,
    progress: &Progress,
) -> AppResult<InviteResult> {
    let db = state.db.writer();
    let consultation = consultations::find_any(db, input.consultation_id).await?;
    let prefer = match &input.request.prefer {
        Some(p) => Some(
            p.parse::<Channel>()
                .map_err(|_| AppError::conflict(format!("Unknown channel {p:?}.")))?,
        ),
        None => None,
    };
    let already_invited = invited_count(db, consultation.id).await?;
    let (members, sample) = match (consultation.panel, consultation.sample_size) {
        (Some(panel), Some(size)) if already_invited == 0 => {
            let seed = consultation.sample_seed.ok_or_else(|| {
                AppError::internal(anyhow::anyhow!(
                    "consultation {} has a sample size and no seed",
                    consultation.id
                ))
            })?;
            let as_of = consultation.opened_at.unwrap_or_else(|| state.clock.now());
            let (chosen, drawn) = sub_sample::draw(db, panel, size, seed, as_of, progress).await?;
            let mut members = uninvited(db, &consultation).await?;
            members.retain(|m| chosen.contains(&m.id));
            if members.len() != chosen.len() {
                return Err(AppError::conflict(
                    "The panel's members changed while the sample was drawn; invite again.",
                ));
            }
            (members, Some(drawn))
        }
        // A sample is written in one transaction: any invitation means it was drawn.
        (_, Some(_)) => (Vec::new(), None),
        (_, None) => (uninvited(db, &consultation).await?, None),
    };
    progress.set_total(members.len() as u64);
    let mut result = InviteResult {
        consultation_id: consultation.id,
        email: 0,
        sms: 0,
        post: 0,
        already_invited,
        sample: sample.clone(),
    };
    // A sample's invitations are written together, so that it is never half made.
    let chunk_size = if sample.is_some() {
        members.len().max(1)
    } else {
        CHUNK
    };
    for chunk in members.chunks(chunk_size) {
        progress.check()?;
        let now = state.clock.now();
        let txn = db.begin().await?;
        if sample.is_some() && !claim_sample(&txn, consultation.id).await? {
            return Ok(InviteResult {
                sample: None,
                ..result
            });
        }
        for member in chunk {
            let channel = Channel::for_member(
                member
                    .email
                    .as_deref()
                    .is_some_and(|e| !e.trim().is_empty()),
                member
                    .phone
                    .as_deref()
                    .is_some_and(|p| !p.trim().is_empty()),
                prefer,
            );
            let (salt, token) = new_token(&state.codes.current);
            let row = sea_orm::ActiveModelTrait::insert(
                invitation::ActiveModel {
                    consultation_id: Set(consultation.id.get()),
                    resident_id: Set(member.id),
                    channel: Set(channel.as_str().to_owned()),
                    token_hash: Set(TokenHash::of(&token).as_str().to_owned()),
                    token_salt: Set(salt),
                    code_hash: Set(None),
                    stage: Set(Stage::Created.as_str().to_owned()),
                    created_at: Set(now),
                    reminders_sent: Set(0),
                    ..Default::default()
                },
                &txn,
            )
            .await?;
            let id = InvitationId(row.id);
            match channel {
                Channel::Email => {
                    result.email += 1;
                    let to = member.email.clone().unwrap_or_default();
                    let message =
                        email_message(state, &consultation, &member.full_name, &token, false)?;
                    queue_message(&txn, "email", &to, message, invite_key(id), now).await?;
                }
                Channel::Sms => {
                    result.sms += 1;
                    let to = member.phone.clone().unwrap_or_default();
                    let message = sms_message(state, &consultation, &member.full_name, &token)?;
                    queue_message(&txn, "sms", &to, message, invite_key(id), now).await?;
                }
                Channel::Post => result.post += 1,
            }
        }
        txn.commit().await?;
        state.work_queued.notify_one();
        progress.advance(chunk.len() as u64);
    }
    state.tracker.changed(consultation.id);
    Ok(result)
}

/// How many invitations a consultation has (withdrawn ones included).
async fn invited_count(db: &impl ConnectionTrait, id: ConsultationId) -> AppResult<u64> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::ConsultationId.eq(id.get()))
        .count(db)
        .await?)
}

/// Inside the transaction that writes a sample's invitations: locks the consultation's
/// row (PostgreSQL; SQLite has one writer anyway) and answers whether the consultation
/// still has no invitation, so that two runs of one job never write two samples.
async fn claim_sample(db: &impl ConnectionTrait, id: ConsultationId) -> AppResult<bool> {
    consultation::Entity::update_many()
        .col_expr(
            consultation::Column::SampleSize,
            Expr::col(consultation::Column::SampleSize),
        )
        .filter(consultation::Column::Id.eq(id.get()))
        .exec(db)
        .await?;
    Ok(invited_count(db, id).await? == 0)
}

/// A message ready for the outbox.
pub(crate) struct Message {
    subject: String,
    text: String,
    html: Option<String>,
    headers: Vec<(String, String)>,
}

/// The personal link in a message: through the tracking redirect, which counts the click
/// and sends the resident on to the web client.
fn tracked_link(state: &AppState, token: &str) -> String {
    format!(
        "{}/t/c/{token}",
        state.config.tracking_url.trim_end_matches('/')
    )
}

fn closes_text(consultation: &Consultation) -> String {
    consultation
        .closes_at
        .map(|c| {
            crate::domain::uk_time::uk_date(c)
                .format("%-d %B %Y")
                .to_string()
        })
        .unwrap_or_else(|| "the date on the council's website".to_owned())
}

fn template_error(e: crate::domain::consultations::consultation::TemplateError) -> AppError {
    AppError::conflict(format!("A message template cannot be used: {e}."))
}

/// An invitation or reminder email for `member`.
pub(crate) fn email_message(
    state: &AppState,
    consultation: &Consultation,
    member_name: &str,
    token: &str,
    reminder: bool,
) -> AppResult<Message> {
    let link = tracked_link(state, token);
    let closes = closes_text(consultation);
    let values = [
        ("name", member_name),
        ("title", consultation.title.as_str()),
        ("link", link.as_str()),
        ("closes", closes.as_str()),
    ];
    let templates = &consultation.templates;
    let (subject, text) = if reminder {
        (&templates.reminder_subject, &templates.reminder_text)
    } else {
        (&templates.invite_subject, &templates.invite_text)
    };
    let subject = render(subject, &values).map_err(template_error)?;
    let text = render(text, &values).map_err(template_error)?;
    let pixel = format!(
        "{}/t/o/{token}",
        state.config.tracking_url.trim_end_matches('/')
    );
    let html = email_html(&text, &link, &pixel);
    // Reminders can be stopped from the mail client (RFC 2369, one click by RFC 8058).
    let headers = if reminder {
        vec![
            (
                "List-Unsubscribe".to_owned(),
                format!(
                    "<{}/t/u/{token}>",
                    state.config.tracking_url.trim_end_matches('/')
                ),
            ),
            (
                "List-Unsubscribe-Post".to_owned(),
                "List-Unsubscribe=One-Click".to_owned(),
            ),
        ]
    } else {
        Vec::new()
    };
    Ok(Message {
        subject: subject.replace(['\r', '\n'], " "),
        text,
        html: Some(html),
        headers,
    })
}

/// A text message for `member`.
pub(crate) fn sms_message(
    state: &AppState,
    consultation: &Consultation,
    member_name: &str,
    token: &str,
) -> AppResult<Message> {
    let link = tracked_link(state, token);
    let closes = closes_text(consultation);
    let values = [
        ("name", member_name),
        ("title", consultation.title.as_str()),
        ("link", link.as_str()),
        ("closes", closes.as_str()),
    ];
    Ok(Message {
        subject: String::new(),
        text: render(&consultation.templates.sms_text, &values).map_err(template_error)?,
        html: None,
        headers: Vec::new(),
    })
}

/// Queues a message in the outbox, inside the caller's transaction.
pub(crate) async fn queue_message(
    db: &impl ConnectionTrait,
    channel: &str,
    to: &str,
    message: Message,
    key: String,
    now: DateTime<Utc>,
) -> AppResult<()> {
    outbox::Entity::insert(outbox::ActiveModel {
        channel: Set(channel.to_owned()),
        recipient: Set(to.to_owned()),
        subject: Set(message.subject),
        body: Set(message.text),
        html_body: Set(message.html),
        idempotency_key: Set(key),
        created_at: Set(now),
        sent_at: Set(None),
        attempts: Set(0),
        next_attempt_at: Set(None),
        locked_by: Set(None),
        locked_until: Set(None),
        last_error: Set(None),
        failed_at: Set(None),
        headers: Set((!message.headers.is_empty())
            .then(|| serde_json::to_string(&message.headers))
            .transpose()
            .map_err(AppError::internal)?),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// A reminders job's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemindJob {
    /// The consultation.
    pub consultation_id: ConsultationId,
    /// Only this channel (`email` or `sms`); both when absent.
    pub channel: Option<String>,
}

/// What a reminders job queued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemindResult {
    /// The consultation.
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

#[derive(Clone, Debug, FromQueryResult)]
struct Due {
    id: i64,
    channel: String,
    token_salt: String,
    token_hash: String,
    reminders_sent: i32,
    full_name: String,
    email: Option<String>,
    phone: Option<String>,
    reminders_opt_out: bool,
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
    let channels: Vec<&str> = match input.channel.as_deref() {
        Some(channel) => vec![channel],
        None => vec!["email", "sms"],
    };
    let sql = format!(
        "SELECT i.id, i.channel, i.token_salt, i.token_hash, i.reminders_sent, r.full_name, \
           r.email, r.phone, r.reminders_opt_out \
         FROM invitations i JOIN residents r ON r.id = i.resident_id \
         WHERE i.consultation_id = $1 AND i.completed_at IS NULL AND i.revoked_at IS NULL \
           AND i.bounced_at IS NULL AND i.sent_at IS NOT NULL AND i.reminders_sent < $2 \
           AND COALESCE(i.last_reminded_at, i.sent_at) <= $3 AND i.channel IN ({}) \
         ORDER BY i.id",
        channels
            .iter()
            .map(|c| format!(
                "'{}'",
                c.parse::<Channel>().map_or("email", Channel::as_str)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let due = Due::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [
            consultation.id.get().into(),
            i32::try_from(consultation.max_reminders)
                .unwrap_or(0)
                .into(),
            cutoff.into(),
        ],
    ))
    .all(db)
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
                    invitation_id = member.id,
                    "no configured code secret gives this invitation's token; no reminder"
                );
                continue;
            };
            let id = InvitationId(member.id);
            let n = u32::try_from(member.reminders_sent).unwrap_or(0) + 1;
            if member.channel == Channel::Sms.as_str() {
                let message = sms_message(state, &consultation, &member.full_name, &token)?;
                let to = member.phone.clone().unwrap_or_default();
                queue_message(&txn, "sms", &to, message, reminder_key(id, n), now).await?;
                result.sms += 1;
            } else {
                let message = email_message(state, &consultation, &member.full_name, &token, true)?;
                let to = member.email.clone().unwrap_or_default();
                queue_message(&txn, "email", &to, message, reminder_key(id, n), now).await?;
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
    let row = invitation::Entity::find_by_id(id.get())
        .one(db)
        .await?
        .ok_or(AppError::NotFound { what: "invitation" })?;
    let now = state.clock.now();
    let txn = db.begin().await?;
    invitation::Entity::update_many()
        .col_expr(invitation::Column::RevokedAt, Expr::value(now))
        .filter(invitation::Column::Id.eq(id.get()))
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
    state.tracker.changed(ConsultationId(row.consultation_id));
    let row = invitation::Entity::find_by_id(id.get())
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
    let session = caller.session()?;
    let updated = crate::db::entities::resident::Entity::update_many()
        .col_expr(
            crate::db::entities::resident::Column::RemindersOptOut,
            Expr::value(opt_out),
        )
        .filter(crate::db::entities::resident::Column::AccountId.eq(session.account_id.get()))
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

/// A post letters' export job's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LettersJob {
    /// The consultation.
    pub consultation_id: ConsultationId,
    /// Print again letters already printed (their old codes stop working).
    pub reprint: bool,
}

/// What a letters export made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LettersResult {
    /// The consultation.
    pub consultation_id: ConsultationId,
    /// Letters in the file.
    pub letters: u64,
    /// The mail-merge CSV.
    pub file_id: Option<FileId>,
}

/// Queues the printing of the consultation's post invitations: a mail-merge CSV.
pub async fn start_letters(
    state: &AppState,
    caller: &Caller,
    id: ConsultationId,
    reprint: bool,
) -> AppResult<Job> {
    caller.require(OFFICERS)?;
    consultations::find_any(state.db.reader(), id).await?;
    jobs::enqueue(
        state,
        jobs::Request {
            kind: JobKind::ConsultationLetters,
            payload: &LettersJob {
                consultation_id: id,
                reprint,
            },
            created_by: caller.account(),
            singleton_key: Some(format!("letters:consultation:{id}")),
        },
    )
    .await
}

#[derive(Clone, Debug, FromQueryResult)]
struct PostMember {
    invitation_id: i64,
    full_name: String,
    line1: String,
    line2: Option<String>,
    line3: Option<String>,
    town: Option<String>,
    postcode: String,
}

/// The mail-merge CSV's header.
pub const LETTERS_HEADER: &str =
    "invitation,name,address_line_1,address_line_2,address_line_3,town,postcode,code,url";

/// Runs a letters export: mints a short code for each post invitation not yet printed
/// (every one with `reprint`), writes the mail-merge CSV, and records them sent, all in
/// one transaction, so a code is stored only with the file that prints it.
pub async fn run_letters(
    state: &AppState,
    job: JobId,
    input: &LettersJob,
    created_by: Option<crate::domain::ids::AccountId>,
    progress: &Progress,
) -> AppResult<LettersResult> {
    let db = state.db.writer();
    let consultation = consultations::find_any(db, input.consultation_id).await?;
    let sql = format!(
        "SELECT i.id AS invitation_id, r.full_name, a.line1, a.line2, a.line3, a.town, a.postcode \
         FROM invitations i JOIN residents r ON r.id = i.resident_id \
         JOIN addresses a ON a.id = r.address_id \
         WHERE i.consultation_id = $1 AND i.channel = 'post' AND i.revoked_at IS NULL \
           AND i.completed_at IS NULL{} ORDER BY i.id",
        if input.reprint {
            ""
        } else {
            " AND i.code_hash IS NULL"
        }
    );
    let members = PostMember::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [consultation.id.get().into()],
    ))
    .all(db)
    .await?;
    progress.set_total(members.len() as u64);
    if members.is_empty() {
        return Ok(LettersResult {
            consultation_id: consultation.id,
            letters: 0,
            file_id: None,
        });
    }
    // The CPU work (codes, hashes, the CSV) before the transaction.
    let base = state.config.public_url.trim_end_matches('/');
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut codes: Vec<(i64, String)> = Vec::with_capacity(members.len());
    csv.write_record(LETTERS_HEADER.split(','))
        .map_err(AppError::internal)?;
    for m in &members {
        let code = InvitationCode::generate(&mut rand::rng());
        codes.push((m.invitation_id, state.codes.stored_hash(&code)));
        let url = format!("{base}/c?code={}", code.canonical());
        csv.write_record([
            m.invitation_id.to_string().as_str(),
            &m.full_name,
            &m.line1,
            m.line2.as_deref().unwrap_or(""),
            m.line3.as_deref().unwrap_or(""),
            m.town.as_deref().unwrap_or(""),
            &m.postcode,
            &code.display(),
            &url,
        ])
        .map_err(AppError::internal)?;
    }
    let bytes = csv.into_inner().map_err(AppError::internal)?;
    let now = state.clock.now();
    let txn = db.begin().await?;
    let file = files::create(
        &txn,
        NewFile {
            purpose: files::EXPORT,
            name: format!("consultation-{}-letters.csv", consultation.id),
            content_type: "text/csv; charset=utf-8",
            job_id: Some(job),
            created_by,
            expires_at: now + state.config.worker.export_retention(),
        },
        now,
    )
    .await?;
    files::write_all(&txn, file, &bytes).await?;
    let mut events = Vec::with_capacity(codes.len());
    for (invitation_id, hash) in &codes {
        invitation::Entity::update_many()
            .col_expr(invitation::Column::CodeHash, Expr::value(hash.clone()))
            .filter(invitation::Column::Id.eq(*invitation_id))
            .exec(&txn)
            .await?;
        events.push(Event {
            invitation: InvitationId(*invitation_id),
            kind: EventKind::Sent,
            at: now,
            machine: false,
            detail: Some("printed".to_owned()),
        });
    }
    record_in(&txn, &events).await?;
    txn.commit().await?;
    progress.set_done(members.len() as u64);
    state.tracker.changed(consultation.id);
    Ok(LettersResult {
        consultation_id: consultation.id,
        letters: members.len() as u64,
        file_id: Some(file),
    })
}

/// Counts of invitations by channel: how many reached each stage, at least (the same
/// definition as the report's funnel), with bounces and machine-only opens apart.
#[derive(Clone, Debug, Default, PartialEq, Eq, FromQueryResult)]
pub struct Counts {
    /// `email`, `sms` or `post`.
    pub channel: String,
    /// Invitations made.
    pub invited: i64,
    /// Sent (or printed), or further.
    pub sent: i64,
    /// Bounced.
    pub bounced: i64,
    /// Opened by a person, or further (a click with images blocked counts).
    pub opened: i64,
    /// Opened only by a machine (a mail-privacy proxy or scanner), never by a person.
    pub machine_opened_only: i64,
    /// Followed the link, or further.
    pub clicked: i64,
    /// Saved a first answer, or submitted.
    pub started: i64,
    /// Submitted.
    pub completed: i64,
}

/// `1` for an invitation that reached `stage` or beyond, else `0`, as SQL.
pub(crate) fn reached(stage: Stage) -> String {
    let names: Vec<String> = stage
        .and_beyond()
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!(
        "CASE WHEN stage IN ({}) THEN 1 ELSE 0 END",
        names.join(", ")
    )
}

/// `1` for an invitation opened only by machines (a proxy, a scanner, a mail server on
/// arrival) that no person has got to opened or beyond, else `0`, as SQL.
pub(crate) fn machine_opened_only() -> String {
    format!(
        "CASE WHEN machine_opened_at IS NOT NULL AND {} = 0 THEN 1 ELSE 0 END",
        reached(Stage::Opened)
    )
}

/// A consultation's invitations counted by channel, with one grouped query.
pub async fn counts(db: &impl ConnectionTrait, id: ConsultationId) -> AppResult<Vec<Counts>> {
    let sql = format!(
        "SELECT channel, COUNT(*) AS invited, SUM({}) AS sent, \
           COUNT(bounced_at) AS bounced, SUM({}) AS opened, \
           SUM({}) AS machine_opened_only, \
           SUM({}) AS clicked, SUM({}) AS started, SUM({}) AS completed \
         FROM invitations WHERE consultation_id = $1 AND revoked_at IS NULL \
         GROUP BY channel ORDER BY channel",
        reached(Stage::Sent),
        reached(Stage::Opened),
        machine_opened_only(),
        reached(Stage::Clicked),
        reached(Stage::Started),
        reached(Stage::Completed),
    );
    Ok(Counts::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [id.get().into()],
    ))
    .all(db)
    .await?)
}

/// A consultation's responses counted by how they came, with one grouped query.
pub async fn response_counts(
    db: &impl ConnectionTrait,
    id: ConsultationId,
) -> AppResult<Vec<(String, i64)>> {
    use sea_orm::sea_query::Expr;
    Ok(crate::db::entities::response::Entity::find()
        .select_only()
        .column(crate::db::entities::response::Column::Channel)
        .column_as(Expr::cust("COUNT(*)"), "count")
        .filter(crate::db::entities::response::Column::ConsultationId.eq(id.get()))
        .group_by(crate::db::entities::response::Column::Channel)
        .order_by_asc(crate::db::entities::response::Column::Channel)
        .into_tuple()
        .all(db)
        .await?)
}

/// A consultation's invitations, oldest first, a page at a time (OFFICER).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    id: ConsultationId,
    after: Option<InvitationId>,
    first: u64,
) -> AppResult<Vec<crate::service::consultations::answering::Invitation>> {
    caller.require(OFFICERS)?;
    crate::db::pages::page(
        invitation::Entity::find().filter(invitation::Column::ConsultationId.eq(id.get())),
        invitation::Column::Id,
        crate::db::pages::Order::OldestFirst,
        after.map(InvitationId::get),
        first,
    )
    .all(state.db.reader())
    .await?
    .into_iter()
    .map(crate::service::consultations::answering::to_domain)
    .collect()
}
