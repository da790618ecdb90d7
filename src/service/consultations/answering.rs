//! Answering a consultation: a resident opens it with their personal link (no login), or
//! signed in; saves answers as they go (and resumes on another device); submits once.
//! Officers enter answers received on paper or by phone against the member's invitation
//! or its printed code, so offline respondents count exactly like online ones.
//!
//! Submission is exactly-once: the invitation is marked completed by a conditional update
//! in the same transaction as the response is written, so double taps, retries and
//! concurrent submits of one token produce one response; the later ones are told it was
//! already submitted. A submission is read and checked here, then written with whatever
//! others are waiting, in one transaction (`service::consultations::submissions`).
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
use crate::domain::accounts::role::Role;
use crate::domain::accounts::session_token::{INVITATION_PREFIX, TokenHash};
use crate::domain::consultations::consultation::{
    AnswerChannel, Channel, Consultation, QuestionItem, Status, accepts_answers,
};
use crate::domain::consultations::invitation_token::token_again;
use crate::domain::consultations::questionnaire::{
    Answer, AnswerError, check_answer, check_submission, visible_answers,
};
use crate::domain::consultations::tracking::Stage;
use crate::domain::ids::{ConsultationId, InvitationId, ResidentId, ResponseId};
use crate::domain::panels::panel::Profile;
use crate::domain::recruitment::invitation_code::{CODE_LEN, InvitationCode};
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::{Caller, ClientAddress};
use crate::service::consultations::submissions::{Claim, Claimed};
use crate::service::consultations::tracking::{Event, EventKind, record_in};
use crate::service::consultations::{self, OFFICERS};
use crate::service::rate_limit;
use crate::service::recruitment::registration::code_limits;
use crate::state::AppState;

/// One member's invitation to a consultation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    /// Its identity.
    pub id: InvitationId,
    /// The consultation.
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
    /// Reminders sent.
    pub reminders_sent: u32,
    /// Withdrawn by an officer: its link no longer works.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The stored row as an [`Invitation`].
pub fn to_domain(row: invitation::Model) -> AppResult<Invitation> {
    let bad = |what: &str, value: &str| {
        AppError::internal(anyhow::anyhow!(
            "invitation {} has the unknown {what} {value:?}",
            row.id
        ))
    };
    Ok(Invitation {
        id: InvitationId(row.id),
        consultation: ConsultationId(row.consultation_id),
        resident: ResidentId(row.resident_id),
        channel: row
            .channel
            .parse()
            .map_err(|_| bad("channel", &row.channel))?,
        stage: row.stage.parse().map_err(|_| bad("stage", &row.stage))?,
        created_at: row.created_at,
        sent_at: row.sent_at,
        bounced_at: row.bounced_at,
        opened_at: row.opened_at,
        machine_opened_at: row.machine_opened_at,
        clicked_at: row.clicked_at,
        started_at: row.started_at,
        completed_at: row.completed_at,
        completed_channel: match &row.completed_channel {
            Some(c) => Some(c.parse().map_err(|_| bad("answer channel", c))?),
            None => None,
        },
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
    /// The invitation.
    pub invitation: Invitation,
    /// The consultation.
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
            let row = invitation::Entity::find_by_id(id.get())
                .one(db)
                .await?
                .ok_or_else(not_found)?;
            if caller.require(OFFICERS).is_err() {
                // A resident may reach only their own.
                let session = caller.session()?;
                if session.role != Role::Resident {
                    return Err(AppError::Forbidden);
                }
                let owner = resident::Entity::find_by_id(row.resident_id)
                    .one(db)
                    .await?
                    .and_then(|r| r.account_id);
                if owner != Some(session.account_id.get()) {
                    return Err(not_found());
                }
            }
            row
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
        let consultation = consultations::find_any(db, ConsultationId(row.consultation_id)).await?;
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
            invitation: InvitationId(row.id),
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

/// A signed-in resident's invitations, newest first, with their consultations.
pub async fn mine(state: &AppState, caller: &Caller) -> AppResult<Vec<(Invitation, Consultation)>> {
    let session = caller.session()?;
    let db = state.db.reader();
    let residents: Vec<i64> = resident::Entity::find()
        .filter(resident::Column::AccountId.eq(session.account_id.get()))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    if residents.is_empty() {
        return Ok(Vec::new());
    }
    let rows = invitation::Entity::find()
        .filter(invitation::Column::ResidentId.is_in(residents))
        .filter(invitation::Column::RevokedAt.is_null())
        .order_by_desc(invitation::Column::Id)
        .all(db)
        .await?;
    // Their consultations in one query; drafts are not shown to residents.
    let consultations: HashMap<i64, Consultation> =
        crate::db::entities::consultation::Entity::find()
            .filter(
                crate::db::entities::consultation::Column::Id
                    .is_in(rows.iter().map(|r| r.consultation_id)),
            )
            .filter(crate::db::entities::consultation::Column::Status.ne(Status::Draft.as_str()))
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

fn refusal(consultation: &Consultation, now: DateTime<Utc>) -> AppResult<()> {
    accepts_answers(
        consultation.status,
        consultation.opens_at,
        consultation.closes_at,
        now,
    )
    .map_err(|why| AppError::conflict(format!("Answers are not accepted: {why}.")))
}

fn answer_error(errors: Vec<AnswerError>) -> AppError {
    let message = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    AppError::bad_input("input.answers", message)
}

/// Saves answers (an answer of `None` clears a saved one) without submitting; the first
/// save marks the invitation started. Each answer is checked against its question.
pub async fn save(
    state: &AppState,
    caller: &Caller,
    access: Access,
    answers: Vec<(String, Option<Answer>)>,
) -> AppResult<Invited> {
    if as_officer(caller, &access) {
        return Err(AppError::Forbidden);
    }
    let db = state.db.writer();
    let (row, consultation) = resolve_with_consultation(db, state, caller, &access).await?;
    let now = state.clock.now();
    refusal(&consultation, now)?;
    if row.completed_at.is_some() {
        return Err(AppError::conflict(
            "These answers have already been submitted.",
        ));
    }
    let questions = consultations::frozen_questions(db, &state.questions, &consultation).await?;
    let mut problems = Vec::new();
    for (key, answer) in &answers {
        match questions.iter().find(|q| &q.question.key == key) {
            None => problems.push(AnswerError::UnknownQuestion(key.clone())),
            Some(item) => {
                if let Some(answer) = answer
                    && let Err(problem) = check_answer(&item.question, answer)
                {
                    problems.push(problem);
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(answer_error(problems));
    }
    let id = InvitationId(row.id);
    let txn = db.begin().await?;
    // Still not submitted, checked in the transaction (on PostgreSQL this also holds the
    // invitation's row until commit, so a submit waits): nothing is saved after completion.
    let open = invitation::Entity::update_many()
        .col_expr(
            invitation::Column::Stage,
            Expr::col(invitation::Column::Stage),
        )
        .filter(invitation::Column::Id.eq(id.get()))
        .filter(invitation::Column::CompletedAt.is_null())
        .exec(&txn)
        .await?;
    if open.rows_affected == 0 {
        txn.rollback().await?;
        return Err(AppError::conflict(
            "These answers have already been submitted.",
        ));
    }
    for (key, answer) in &answers {
        match answer {
            Some(answer) => {
                let json = serde_json::to_string(answer).map_err(AppError::internal)?;
                saved_answer::Entity::insert(saved_answer::ActiveModel {
                    invitation_id: Set(id.get()),
                    question_key: Set(key.clone()),
                    answer: Set(json),
                    saved_at: Set(now),
                    ..Default::default()
                })
                .on_conflict(
                    OnConflict::columns([
                        saved_answer::Column::InvitationId,
                        saved_answer::Column::QuestionKey,
                    ])
                    .update_columns([saved_answer::Column::Answer, saved_answer::Column::SavedAt])
                    .to_owned(),
                )
                .exec(&txn)
                .await?;
            }
            None => {
                saved_answer::Entity::delete_many()
                    .filter(saved_answer::Column::InvitationId.eq(id.get()))
                    .filter(saved_answer::Column::QuestionKey.eq(key.as_str()))
                    .exec(&txn)
                    .await?;
            }
        }
    }
    let first = row.started_at.is_none() && answers.iter().any(|(_, a)| a.is_some());
    if first {
        record_in(
            &txn,
            &[Event {
                invitation: id,
                kind: EventKind::Started,
                at: now,
                machine: false,
                detail: None,
            }],
        )
        .await?;
    }
    txn.commit().await?;
    if first {
        state.tracker.changed(consultation.id);
    }
    let row = invitation::Entity::find_by_id(id.get())
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    invited(db, state, row, consultation).await
}

/// What a submission did.
#[derive(Clone, Debug)]
pub struct Submitted {
    /// The invitation, now completed.
    pub invitation: Invitation,
    /// The response written; `None` when it had already been submitted (or the
    /// consultation is anonymous, whose responses are not linked).
    pub response: Option<ResponseId>,
    /// It had already been submitted: nothing new was written.
    pub duplicate: bool,
}

/// Submits answers: the saved ones with `answers` over them, checked as a whole (types,
/// required questions, skip logic). Exactly once per invitation.
pub async fn submit(
    state: &AppState,
    caller: &Caller,
    access: Access,
    answers: Vec<(String, Answer)>,
    channel: AnswerChannel,
) -> AppResult<Submitted> {
    if channel.is_offline() {
        caller.require(OFFICERS)?;
    } else if as_officer(caller, &access) {
        // Online answers come from the member; officers enter paper and phone ones.
        return Err(AppError::Forbidden);
    }
    // Everything up to the claim is read from a reader: the claim, in the writer's
    // transaction, decides whether this submission is the one that counts.
    let db = state.db.reader();
    let (row, consultation) = resolve_with_consultation(db, state, caller, &access).await?;
    let id = InvitationId(row.id);
    if row.completed_at.is_some() {
        return Ok(Submitted {
            invitation: to_domain(row)?,
            response: None,
            duplicate: true,
        });
    }
    let now = state.clock.now();
    // Officers may enter paper answers that arrived before the close after it, but
    // never into a draft.
    if !channel.is_offline() || consultation.status == Status::Draft {
        refusal(&consultation, now)?;
    }
    let questions = consultations::frozen_questions(db, &state.questions, &consultation).await?;
    // The answers saved while drafting are the member's own; an officer enters only what
    // the paper form or the call gave (and never sees the drafts).
    let mut all: HashMap<String, Answer> = if channel.is_offline() {
        HashMap::new()
    } else {
        saved_answers(db, &row).await?.into_iter().collect()
    };
    all.extend(answers);
    let plain: Vec<_> = questions.iter().map(|q| q.question.clone()).collect();
    // Answers to questions the other answers now hide (an earlier answer changed after a
    // follow-up was answered) are dropped, never stored or counted.
    let all = visible_answers(&plain, all);
    check_submission(&plain, &all).map_err(answer_error)?;
    let member = resident::Entity::find_by_id(row.resident_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("invitation {id} has no resident")))?;
    let anonymous = consultation.anonymous;
    // An anonymous consultation records the day only.
    let day = now.date_naive();
    let completed_at = if anonymous {
        day.and_time(NaiveTime::MIN).and_utc()
    } else {
        now
    };
    let profile = Profile {
        date_of_birth: member.date_of_birth,
        sex: member.sex.clone(),
        ethnic_group: member.ethnic_group.clone(),
        disability: member.disability.clone(),
        ward_code: member.ward_code.clone(),
        deprivation_decile: member.deprivation_decile,
        attributes: HashMap::new(),
    };
    let response = response::ActiveModel {
        consultation_id: Set(consultation.id.get()),
        invitation_id: Set((!anonymous).then_some(id.get())),
        submission_key: Set(None),
        channel: Set(channel.as_str().to_owned()),
        submitted_on: Set(day),
        submitted_at: Set((!anonymous).then_some(now)),
        age_band: Set(profile.value("age_band", day)),
        sex: Set(Some(member.sex)),
        ethnic_group: Set(Some(member.ethnic_group)),
        disability: Set(Some(member.disability)),
        ward_code: Set(Some(member.ward_code)),
        deprivation_decile: Set(member.deprivation_decile),
        ..Default::default()
    };
    let claim = Claim {
        invitation: id,
        consultation: consultation.id,
        anonymous,
        channel,
        at: now,
        completed_at,
        starts: row.started_at.is_none(),
        response,
        answers: answer_rows(&questions, &all),
    };
    match state.submissions.write(claim).await? {
        Claimed::Written(response) => {
            // The row as the claim left it.
            let mut row = row;
            row.completed_at = Some(completed_at);
            row.started_at = row.started_at.or(Some(completed_at));
            row.completed_channel = Some(channel.as_str().to_owned());
            row.stage = Stage::Completed.as_str().to_owned();
            Ok(Submitted {
                invitation: to_domain(row)?,
                response,
                duplicate: false,
            })
        }
        Claimed::Duplicate => {
            // Another submit of the same invitation got there first.
            let row = invitation::Entity::find_by_id(id.get())
                .one(db)
                .await?
                .ok_or_else(not_found)?;
            Ok(Submitted {
                invitation: to_domain(row)?,
                response: None,
                duplicate: true,
            })
        }
    }
}

/// An open-link consultation by the code in its link and QR code: the consultation and
/// its questions. A draft, or a code that names nothing, is `NOT_FOUND`.
pub async fn open_link(
    state: &AppState,
    code: &str,
) -> AppResult<(Consultation, Vec<QuestionItem>)> {
    let db = state.db.reader();
    let row = crate::db::entities::consultation::Entity::find()
        .filter(crate::db::entities::consultation::Column::OpenCode.eq(code.trim()))
        .one(db)
        .await?
        .ok_or(AppError::NotFound {
            what: "consultation",
        })?;
    let consultation = consultations::to_domain(row)?;
    if consultation.status == Status::Draft {
        return Err(AppError::NotFound {
            what: "consultation",
        });
    }
    let questions = consultations::frozen_questions(db, &state.questions, &consultation)
        .await?
        .to_vec();
    Ok((consultation, questions))
}

/// What an open-link submission did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenSubmitted {
    /// The same submission key was already used: nothing new was written.
    pub duplicate: bool,
}

/// Submits an open-link (QR code) response: anyone may, up to the configured number per
/// client address per hour. The "about you" answers become the response's demographic
/// snapshot (the chosen option's label; none given stays empty), so open responses can
/// be reported too. With a `submission_key` from the client, a retry is recognised and
/// not counted twice.
pub async fn submit_open(
    state: &AppState,
    client: &crate::service::accounts::auth::ClientAddress,
    code: &str,
    answers: Vec<(String, Answer)>,
    submission_key: Option<String>,
) -> AppResult<OpenSubmitted> {
    let (consultation, questions) = open_link(state, code).await?;
    let now = state.clock.now();
    refusal(&consultation, now)?;
    if let Some(key) = &submission_key
        && (key.trim().is_empty() || key.len() > 64)
    {
        return Err(AppError::bad_input(
            "input.submissionKey",
            "A submission key has 1 to 64 characters.",
        ));
    }
    let plain: Vec<_> = questions.iter().map(|q| q.question.clone()).collect();
    let answers = visible_answers(&plain, answers.into_iter().collect());
    check_submission(&plain, &answers).map_err(answer_error)?;
    let about = |dimension: &str| -> Option<String> {
        let item = questions
            .iter()
            .find(|q| q.about_you.as_deref() == Some(dimension))?;
        let Some(Answer::Options(chosen)) = answers.get(&item.question.key) else {
            return None;
        };
        let options = match &item.question.kind {
            crate::domain::consultations::questionnaire::QuestionKind::SingleChoice { options } => {
                options
            }
            _ => return None,
        };
        let index = options.iter().position(|o| Some(o) == chosen.first())?;
        item.labels.get(index).cloned()
    };
    let key = submission_key.map(|k| format!("{}:{}", consultation.id, k.trim()));
    let db = state.db.writer();
    if let Some(key) = &key {
        let seen = response::Entity::find()
            .filter(response::Column::SubmissionKey.eq(key.as_str()))
            .one(db)
            .await?;
        if seen.is_some() {
            return Ok(OpenSubmitted { duplicate: true });
        }
    }
    let limits = [crate::service::rate_limit::Limit {
        bucket: format!("open-response:{}:{}", consultation.id, client.key()),
        max: state.config.open_responses_per_hour,
        window: chrono::Duration::hours(1),
    }];
    crate::service::rate_limit::attempt(db, &limits, now)
        .await?
        .keep();
    let txn = db.begin().await?;
    let inserted = response::ActiveModel {
        consultation_id: Set(consultation.id.get()),
        invitation_id: Set(None),
        submission_key: Set(key),
        channel: Set(AnswerChannel::Qr.as_str().to_owned()),
        submitted_on: Set(now.date_naive()),
        submitted_at: Set((!consultation.anonymous).then_some(now)),
        age_band: Set(about("age_band")),
        sex: Set(about("sex")),
        ethnic_group: Set(about("ethnic_group")),
        disability: Set(about("disability")),
        ward_code: Set(about("ward")),
        deprivation_decile: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let row = match inserted {
        Ok(row) => row,
        // The same key, submitted at the same moment by a retry.
        Err(error) if is_unique_violation(&error) => {
            txn.rollback().await?;
            return Ok(OpenSubmitted { duplicate: true });
        }
        Err(error) => return Err(error.into()),
    };
    insert_answers(&txn, row.id, &questions, &answers).await?;
    txn.commit().await?;
    Ok(OpenSubmitted { duplicate: false })
}

fn is_unique_violation(error: &sea_orm::DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Writes a response's answers (see [`answer_rows`]).
async fn insert_answers(
    db: &impl ConnectionTrait,
    response: i64,
    questions: &[QuestionItem],
    answers: &HashMap<String, Answer>,
) -> AppResult<()> {
    let rows: Vec<answer::ActiveModel> = answer_rows(questions, answers)
        .into_iter()
        .map(|mut row| {
            row.response_id = Set(response);
            row
        })
        .collect();
    for chunk in rows.chunks(500) {
        answer::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    Ok(())
}

/// A response's answer rows, all but the response they belong to: a row per chosen
/// option (with its rank for a ranking), per scale value or per text, in question order.
fn answer_rows(
    questions: &[QuestionItem],
    answers: &HashMap<String, Answer>,
) -> Vec<answer::ActiveModel> {
    let mut rows = Vec::new();
    for item in questions {
        let key = &item.question.key;
        let Some(given) = answers.get(key) else {
            continue;
        };
        let blank = answer::ActiveModel {
            question_key: Set(key.clone()),
            option_key: Set(None),
            rank: Set(None),
            scale: Set(None),
            text: Set(None),
            ..Default::default()
        };
        match given {
            Answer::Options(options) => {
                let ranked = matches!(
                    item.question.kind,
                    crate::domain::consultations::questionnaire::QuestionKind::Ranking { .. }
                );
                for (i, option) in options.iter().enumerate() {
                    let mut row = blank.clone();
                    row.option_key = Set(Some(option.clone()));
                    if ranked {
                        row.rank = Set(Some(i32::try_from(i + 1).unwrap_or(i32::MAX)));
                    }
                    rows.push(row);
                }
            }
            Answer::Scale(value) => {
                let mut row = blank;
                row.scale = Set(Some(i16::from(*value)));
                rows.push(row);
            }
            Answer::Text(text) => {
                let mut row = blank;
                row.text = Set(Some(text.clone()));
                rows.push(row);
            }
        }
    }
    rows
}
