//! Answering a consultation: a resident opens it with their personal link (no login), or
//! signed in; saves answers as they go (and resumes on another device); submits once.
//! Officers enter answers received on paper or by phone against the member's invitation
//! or its printed code, so offline respondents count exactly like online ones.
//!
//! Submission is exactly-once: the invitation is marked completed by a conditional update
//! in the same transaction as the response is written, so double taps, retries and
//! concurrent submits of one token produce one response; the later ones are told it was
//! already submitted. A submission is read and checked here, then written with whatever
//! others are waiting, in one transaction (`db::submissions`).
//!
//! An anonymous consultation's response carries the respondent's demographic snapshot
//! but no link to the invitation, and only the day it came in; the invitation records
//! completion by the day too, and no timed event is written for it, so nothing orders
//! completions finely enough to pair them with responses.

use std::collections::HashMap;

use chrono::{DateTime, NaiveTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};

use crate::db::entities::{answer, consultation, invitation, resident, response, saved_answer};
use crate::db::pages::{self, Order};
use crate::db::submissions::{Claim, Claimed};
use crate::db::tracking::{Event, record_in};
use crate::db::views;
use crate::domain::accounts::role::Role;
use crate::domain::accounts::session_token::{INVITATION_PREFIX, TokenHash};
use crate::domain::consultations::consultation::{
    AnswerChannel, Channel, Consultation, QuestionItem, Status, accepts_answers,
};
use crate::domain::consultations::invitation_token::token_again;
use crate::domain::consultations::questionnaire::{
    Answer, AnswerError, check_answer, check_submission, visible_answers,
};
use crate::domain::consultations::tracking::EventKind;
use crate::domain::consultations::tracking::Stage;
use crate::domain::ids::{ConsultationId, InvitationId, ResidentId, ResponseId};
use crate::domain::panels::panel::Profile;
use crate::domain::recruitment::invitation_code::{CODE_LEN, InvitationCode};
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::{Caller, ClientAddress};
use crate::service::consultations::{self, OFFICERS};
use crate::service::rate_limit;
use crate::service::recruitment::registration::code_limits;
use crate::state::AppState;

mod open_links;
mod saving;
mod submitting;

// The parts see one another's items, as they did when they were one file.
#[allow(unused_imports)]
use {open_links::*, saving::*, submitting::*};

pub use open_links::{OpenSubmitted, open_link, submit_open};
pub use saving::save;
pub use submitting::{Submitted, submit};

/// One member's invitation to a consultation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    /// The row's key, also the number in its `Invitation` global ID.
    pub id: InvitationId,
    /// The consultation it invites to.
    pub consultation: ConsultationId,
    /// The member.
    pub resident: ResidentId,
    /// How it reaches them.
    pub channel: Channel,
    /// The furthest stage reached.
    pub stage: Stage,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When the transport accepted it.
    pub sent_at: Option<DateTime<Utc>>,
    /// When it bounced.
    pub bounced_at: Option<DateTime<Utc>>,
    /// First open by a person.
    pub opened_at: Option<DateTime<Utc>>,
    /// First open by a machine (a mail-privacy proxy or scanner).
    pub machine_opened_at: Option<DateTime<Utc>>,
    /// First click.
    pub clicked_at: Option<DateTime<Utc>>,
    /// First saved answer.
    pub started_at: Option<DateTime<Utc>>,
    /// Submission (the day only, for an anonymous consultation).
    pub completed_at: Option<DateTime<Utc>>,
    /// How the answers came.
    pub completed_channel: Option<AnswerChannel>,
    /// Reminders sent so far: at most the consultation's `max_reminders`.
    pub reminders_sent: u32,
    /// Withdrawn by an officer: its link no longer works.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The stored row as an [`Invitation`].
pub fn to_domain(row: invitation::Model) -> AppResult<Invitation> {
    Ok(Invitation {
        id: row.id,
        consultation: row.consultation_id,
        resident: row.resident_id,
        channel: row.channel,
        stage: row.stage,
        created_at: row.created_at,
        sent_at: row.sent_at,
        bounced_at: row.bounced_at,
        opened_at: row.opened_at,
        machine_opened_at: row.machine_opened_at,
        clicked_at: row.clicked_at,
        started_at: row.started_at,
        completed_at: row.completed_at,
        completed_channel: row.completed_channel,
        reminders_sent: u32::try_from(row.reminders_sent).unwrap_or(0),
        revoked_at: row.revoked_at,
    })
}

/// How a caller reaches one invitation.
#[derive(Clone, Debug)]
pub enum Access {
    /// The personal token from an email or text message (anyone holding it).
    Token(String),
    /// The invitation itself: its member signed in, or an officer.
    Invitation(InvitationId),
    /// The short code printed on a letter (officers entering a paper response).
    Code(String),
    /// The short code printed on a postal letter, typed by the member holding it (no
    /// login). Looked up under the same limits on unknown codes as registration codes.
    LetterCode {
        /// The code, already checked for typing mistakes.
        code: InvitationCode,
        /// Where the request came from, for the per-client limit.
        client: ClientAddress,
    },
}

impl Access {
    /// What a respondent holds without logging in: the token from their link (`cpc_…`),
    /// or the code printed on their letter, with or without its hyphen. A code (ten
    /// symbols, whatever separates them) with a typing mistake is `BAD_USER_INPUT` on
    /// `field`, before any look-up; anything else is taken for a token.
    pub fn holding(key: String, client: ClientAddress, field: &str) -> AppResult<Self> {
        let symbols = key.chars().filter(|c| c.is_alphanumeric()).count();
        if key.trim().starts_with(INVITATION_PREFIX) || symbols != CODE_LEN {
            return Ok(Self::Token(key));
        }
        InvitationCode::parse(&key)
            .map(|code| Self::LetterCode { code, client })
            .map_err(|e| AppError::bad_input(field, format!("{e}.")))
    }
}

/// What a respondent sees: the consultation, its questions and their saved answers.
#[derive(Clone, Debug)]
pub struct Invited {
    /// The invitation the caller reached, as stored.
    pub invitation: Invitation,
    /// The consultation it invites to, open or not: its status says which.
    pub consultation: Consultation,
    /// Its questions, in order.
    pub questions: Vec<QuestionItem>,
    /// Answers saved so far, by question key.
    pub saved: Vec<(String, Answer)>,
    /// The invitation's link token, for a member who opened it with their letter's code:
    /// saving and submitting with it need no further look-up of the code.
    pub token: Option<String>,
}

fn not_found() -> AppError {
    AppError::NotFound { what: "invitation" }
}

/// Finds the invitation `access` names, checking the caller may use it. An unknown,
/// revoked or foreign token is `NOT_FOUND` alike.
async fn resolve(
    db: &impl ConnectionTrait,
    state: &AppState,
    caller: &Caller,
    access: &Access,
) -> AppResult<invitation::Model> {
    let row = match access {
        Access::Token(token) => invitation::Entity::find()
            .filter(invitation::Column::TokenHash.eq(TokenHash::of(token.trim()).as_str()))
            .one(db)
            .await?
            .ok_or_else(not_found)?,
        Access::Invitation(id) => {
            // Officers reach any invitation by its ID; a resident only their own.
            caller.require(&[Role::Officer, Role::Resident])?;
            views::invitations(caller.viewer())
                .filter(invitation::Column::Id.eq(*id))
                .one(db)
                .await?
                .ok_or_else(not_found)?
        }
        Access::Code(code) => {
            caller.require(OFFICERS)?;
            let code = InvitationCode::parse(code)
                .map_err(|e| AppError::bad_input("input.code", e.to_string()))?;
            invitation::Entity::find()
                .filter(invitation::Column::CodeHash.is_in(state.codes.lookup_hashes(&code)))
                .one(db)
                .await?
                .ok_or_else(not_found)?
        }
        Access::LetterCode { code, client } => by_letter_code(state, code, *client).await?,
    };
    if row.revoked_at.is_some() {
        return Err(not_found());
    }
    Ok(row)
}

/// The invitation whose letter carries `code`, looked up as registration codes are: one
/// look-up at a time under the limit on everyone's unknown codes, an unknown (or reprinted,
/// or revoked) code counted against the client and everyone, a known one counting nothing.
async fn by_letter_code(
    state: &AppState,
    code: &InvitationCode,
    client: ClientAddress,
) -> AppResult<invitation::Model> {
    let (client, global) = code_limits(state, client);
    let lookup = rate_limit::Serial::begin(state.db.writer(), &global, state.clock.now()).await?;
    let found = invitation::Entity::find()
        .filter(invitation::Column::CodeHash.is_in(state.codes.lookup_hashes(code)))
        .filter(invitation::Column::RevokedAt.is_null())
        .one(lookup.connection())
        .await?;
    match found {
        Some(row) => {
            lookup.passed().await?;
            Ok(row)
        }
        None => {
            lookup.failed(&[client, global]).await?;
            Err(not_found())
        }
    }
}

/// The invitation `access` names, checked as [`resolve`] does, and its consultation: for
/// a token (the busiest way in) both in one query.
async fn resolve_with_consultation(
    db: &impl ConnectionTrait,
    state: &AppState,
    caller: &Caller,
    access: &Access,
) -> AppResult<(invitation::Model, Consultation)> {
    let Access::Token(token) = access else {
        let row = resolve(db, state, caller, access).await?;
        let consultation = consultations::find_any(db, row.consultation_id).await?;
        return Ok((row, consultation));
    };
    let (row, consultation) = invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(TokenHash::of(token.trim()).as_str()))
        .find_also_related(consultation::Entity)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    if row.revoked_at.is_some() {
        return Err(not_found());
    }
    let consultation = consultation.ok_or(AppError::NotFound {
        what: "consultation",
    })?;
    Ok((row, consultations::to_domain(consultation)?))
}

/// Whether the caller reaches the invitation as an officer rather than as its holder (the
/// token's, or the signed-in member's): officers see and enter only what a respondent has
/// given them (paper, phone), never answers being written.
fn as_officer(caller: &Caller, access: &Access) -> bool {
    match access {
        Access::Token(_) => false,
        Access::Code(_) => true,
        // Staff print the letters and so hold every code: with one they still only enter
        // what the member gave them, through `responseEnter`.
        Access::Invitation(_) | Access::LetterCode { .. } => {
            caller.role().is_some_and(|role| role != Role::Resident)
        }
    }
}

/// The consultation an invitation opens, its questions and the answers saved so far (to
/// its holder; an officer sees no saved answers).
///
/// Opening it with the code printed on a postal letter is what following the link of an
/// email is: the invitation is counted as clicked, as the link's redirect counts it, and
/// the member is given the link's token to save and submit with.
pub async fn open(state: &AppState, caller: &Caller, access: Access) -> AppResult<Invited> {
    let db = state.db.reader();
    let (mut row, consultation) = resolve_with_consultation(db, state, caller, &access).await?;
    let officer = as_officer(caller, &access);
    let mut token = None;
    if let Access::LetterCode { .. } = access
        && !officer
    {
        token = Some(
            token_again(&state.codes, &row.token_salt, &row.token_hash).ok_or_else(|| {
                AppError::internal(anyhow::anyhow!(
                    "invitation {}: no secret gives its token",
                    row.id
                ))
            })?,
        );
        let click = Event {
            invitation: row.id,
            kind: EventKind::Clicked,
            at: state.clock.now(),
            machine: false,
            detail: Some("letter code".to_owned()),
        };
        let txn = state.db.writer().begin().await?;
        record_in(&txn, &[click]).await?;
        txn.commit().await?;
        state.tracker.changed(consultation.id);
        row = invitation::Entity::find_by_id(row.id)
            .one(state.db.writer())
            .await?
            .ok_or_else(not_found)?;
    }
    let mut invited = invited(db, state, row, consultation).await?;
    if officer {
        invited.saved.clear();
    }
    invited.token = token;
    Ok(invited)
}

/// What the holder of an invitation (already checked) sees.
async fn invited(
    db: &impl ConnectionTrait,
    state: &AppState,
    row: invitation::Model,
    consultation: Consultation,
) -> AppResult<Invited> {
    let questions = consultations::frozen_questions(db, &state.questions, &consultation)
        .await?
        .to_vec();
    let saved = saved_answers(db, &row).await?;
    Ok(Invited {
        invitation: to_domain(row)?,
        consultation,
        questions,
        saved,
        token: None,
    })
}

/// The answers saved to an invitation, in the order they were first saved.
async fn saved_answers(
    db: &impl ConnectionTrait,
    invitation: &invitation::Model,
) -> AppResult<Vec<(String, Answer)>> {
    // The first saved answer marks the invitation started in the same transaction, so
    // one never started has none: no query for the common case of answering in one go.
    if invitation.started_at.is_none() {
        return Ok(Vec::new());
    }
    saved_answer::Entity::find()
        .filter(saved_answer::Column::InvitationId.eq(invitation.id))
        .order_by_asc(saved_answer::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            serde_json::from_str(&row.answer)
                .map(|answer| (row.question_key, answer))
                .map_err(|e| AppError::internal(anyhow::anyhow!("saved answer {}: {e}", row.id)))
        })
        .collect()
}

/// A signed-in resident's invitations, newest first, with their consultations: a page of
/// `limit` (and one more, to tell that another page follows) before `before`. Invitations
/// of drafts are never shown.
pub async fn mine(
    state: &AppState,
    caller: &Caller,
    before: Option<InvitationId>,
    limit: u64,
) -> AppResult<Vec<(Invitation, Consultation)>> {
    let viewer = caller.own_view()?;
    let db = state.db.reader();
    let rows = pages::page(
        views::invitations(viewer),
        invitation::Column::Id,
        Order::NewestFirst,
        before.map(InvitationId::get),
        limit,
    )
    .all(db)
    .await?;
    // Their consultations in one query.
    let consultations: HashMap<ConsultationId, Consultation> = views::consultations(viewer)
        .filter(consultation::Column::Id.is_in(rows.iter().map(|r| r.consultation_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|row| Ok((row.id, consultations::to_domain(row)?)))
        .collect::<AppResult<_>>()?;
    rows.into_iter()
        .filter_map(|row| {
            let consultation = consultations.get(&row.consultation_id)?.clone();
            Some(to_domain(row).map(|invitation| (invitation, consultation)))
        })
        .collect()
}
