//! Inviting a panel to a consultation and reaching each member: a personal token per
//! invitation (256 random bits, stored as its SHA-256), an email or text message queued in
//! the outbox in the same transaction as the invitation, and for members reached by post
//! a printed letter with a personal short code (the recruitment letters' format, stored as
//! a keyed hash) in a mail-merge CSV.
//!
//! Inviting is a job: a panel of thousands is invited in short transactions of a few
//! hundred members, never one long one, and a member is invited at most once (a unique
//! index), so a job taken up again after a crash carries on where it stopped.

use crate::db::invitations::{self, Member};
pub use crate::db::invitations::{Counts, counts, counts_of_many};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::db::entities::{consultation, invitation, outbox};
use crate::db::files::{self, NewFile};
use crate::db::tracking::{Event, record_in};
use crate::domain::accounts::session_token::TokenHash;
use crate::domain::consultations::consultation::{
    Channel, Consultation, Status, email_html, render,
};
use crate::domain::consultations::invitation_token::{new_token, token_again};
use crate::domain::consultations::tracking::EventKind;
use crate::domain::consultations::tracking::{Stage, invite_key, reminder_key};
use crate::domain::ids::{ConsultationId, FileId, InvitationId, JobId};
use crate::domain::job::{Job, JobKind};
use crate::domain::recruitment::invitation_code::InvitationCode;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::service::consultations::{self, OFFICERS};
use crate::service::jobs;
use crate::service::panels::sub_sample::{self, SampleDrawn};
use crate::state::AppState;
use crate::state::progress::Progress;

mod messages;
mod postal;
mod reminders;

// The parts see one another's items, as they did when they were one file.
#[allow(unused_imports)]
use {messages::*, postal::*, reminders::*};

pub(crate) use messages::{email_message, queue_message, sms_message};
pub use postal::{LETTERS_HEADER, LettersJob, LettersResult, run_letters, start_letters};
pub use reminders::{
    RemindJob, RemindResult, opt_out, revoke, run_remind, set_reminders_opt_out, start_remind,
};

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
    /// The consultation whose panel (or sample) is to be invited.
    pub consultation_id: ConsultationId,
    /// What was asked.
    pub request: InviteRequest,
}

/// What an invite job did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InviteResult {
    /// The consultation whose panel (or sample) was invited.
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

/// Members of the consultation's panel not yet invited (none for an open-link survey).
async fn uninvited(
    db: &impl ConnectionTrait,
    consultation: &Consultation,
) -> AppResult<Vec<Member>> {
    match consultation.panel {
        Some(panel) => invitations::uninvited(db, panel, consultation.id).await,
        None => Ok(Vec::new()),
    }
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
                    consultation_id: Set(consultation.id),
                    resident_id: Set(crate::domain::ids::ResidentId(member.id)),
                    channel: Set(channel),
                    token_hash: Set(TokenHash::of(&token).as_str().to_owned()),
                    token_salt: Set(salt),
                    code_hash: Set(None),
                    stage: Set(Stage::Created),
                    created_at: Set(now),
                    reminders_sent: Set(0),
                    ..Default::default()
                },
                &txn,
            )
            .await?;
            let id = row.id;
            match channel {
                Channel::Email => {
                    result.email += 1;
                    let to = member.email.clone().unwrap_or_default();
                    let message =
                        email_message(state, &consultation, &member.full_name, &token, false)?;
                    queue_message(&txn, Channel::Email, &to, message, invite_key(id), now).await?;
                }
                Channel::Sms => {
                    result.sms += 1;
                    let to = member.phone.clone().unwrap_or_default();
                    let message = sms_message(state, &consultation, &member.full_name, &token)?;
                    queue_message(&txn, Channel::Sms, &to, message, invite_key(id), now).await?;
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
        .filter(invitation::Column::ConsultationId.eq(id))
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
        .filter(consultation::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(invited_count(db, id).await? == 0)
}

/// Each of `consultations`' responses counted by how they came, with one grouped query.
pub async fn response_counts_of_many(
    db: &impl ConnectionTrait,
    consultations: &[ConsultationId],
) -> AppResult<HashMap<ConsultationId, Vec<(String, i64)>>> {
    use crate::db::entities::response;
    use sea_orm::sea_query::Expr;
    let rows: Vec<(i64, String, i64)> = response::Entity::find()
        .select_only()
        .column(response::Column::ConsultationId)
        .column(response::Column::Channel)
        .column_as(Expr::cust("COUNT(*)"), "count")
        .filter(response::Column::ConsultationId.is_in(consultations.iter().copied()))
        .group_by(response::Column::ConsultationId)
        .group_by(response::Column::Channel)
        .order_by_asc(response::Column::Channel)
        .into_tuple()
        .all(db)
        .await?;
    let mut found: HashMap<ConsultationId, Vec<(String, i64)>> = HashMap::new();
    for (consultation, channel, count) in rows {
        found
            .entry(ConsultationId(consultation))
            .or_default()
            .push((channel, count));
    }
    Ok(found)
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
        invitation::Entity::find().filter(invitation::Column::ConsultationId.eq(id)),
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

/// The first page of each of `consultations`' invitations, oldest first, `first` (and one
/// more) each, with one statement (OFFICER; the loader of a list's invitations).
pub async fn first_pages(
    state: &AppState,
    caller: &Caller,
    consultations: &[ConsultationId],
    first: u64,
) -> AppResult<HashMap<ConsultationId, Vec<crate::service::consultations::answering::Invitation>>> {
    caller.require(OFFICERS)?;
    let parents: Vec<i64> = consultations.iter().map(|c| c.get()).collect();
    let rows = crate::db::pages::first_of_each(
        state.db.reader(),
        invitation::Entity::find(),
        invitation::Column::ConsultationId,
        invitation::Column::Id,
        crate::db::pages::Order::OldestFirst,
        &parents,
        first,
    )
    .await?;
    let mut found: HashMap<ConsultationId, Vec<_>> = HashMap::new();
    for row in rows {
        let consultation = row.consultation_id;
        found
            .entry(consultation)
            .or_default()
            .push(crate::service::consultations::answering::to_domain(row)?);
    }
    Ok(found)
}
