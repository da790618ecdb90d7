//! Writing submissions together: a [`GroupCommit`] writer that takes every submission
//! waiting, already checked and with its rows prepared (see `answering::submit`), and in one
//! transaction claims each invitation, writes the claimed ones' responses and answers with
//! multi-row inserts, deletes their saved answers and records their events; each request
//! is answered only after the commit.
//!
//! The claim is the conditional update that makes submission exactly-once: an invitation
//! is claimed only while it is not completed, so a second submission of one token, in the
//! same batch or a later one (or another server's), claims nothing and is a duplicate.
//! Claims are made in invitation order, so two servers' batches on PostgreSQL lock rows
//! in the same order and cannot deadlock each other.
//!
//! If a batch's transaction fails, nothing of it is kept and its submissions are written
//! again one by one, so that one bad submission costs the others nothing and each gets
//! its own outcome.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryTrait, Set, TransactionTrait,
};

use crate::db::entities::{answer, invitation, response, saved_answer};
use crate::db::group_commit::{BatchWrite, GroupCommit};
use crate::db::tracking::{Event, Tracker, append_in};
use crate::domain::consultations::consultation::AnswerChannel;
use crate::domain::consultations::tracking::EventKind;
use crate::domain::consultations::tracking::Stage;
use crate::domain::ids::{ConsultationId, InvitationId, ResponseId};
use crate::error::{AppError, AppResult};

/// Most submissions written in one transaction.
const MAX_BATCH: usize = 256;

/// Submissions waiting for the writer before new ones wait to join the queue.
const QUEUE: usize = 4_096;

/// Rows in one multi-row insert (well under either database's limit on parameters).
const ROWS_PER_INSERT: usize = 500;

/// One checked submission, ready to write.
#[derive(Clone, Debug)]
pub struct Claim {
    /// The invitation to complete.
    pub invitation: InvitationId,
    /// The consultation the response is recorded under.
    pub consultation: ConsultationId,
    /// The consultation is anonymous: no event, and the response is not linked.
    pub anonymous: bool,
    /// How the answers came.
    pub channel: AnswerChannel,
    /// When it was submitted.
    pub at: DateTime<Utc>,
    /// What the invitation records as its completion (the day only when anonymous).
    pub completed_at: DateTime<Utc>,
    /// No answer had been saved before, so submitting is also starting.
    pub starts: bool,
    /// The response row, all but its id.
    pub response: response::ActiveModel,
    /// The answer rows, all but their response.
    pub answers: Vec<answer::ActiveModel>,
}

/// What became of a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claimed {
    /// Written: the invitation is completed, with this response (`None` when anonymous,
    /// whose responses are not linked).
    Written(Option<ResponseId>),
    /// The invitation was already completed: nothing was written.
    Duplicate,
}

/// The group-commit writer of submissions.
#[derive(Clone)]
pub struct Submissions {
    claims: GroupCommit<ClaimWriter>,
}

impl Submissions {
    /// A writer to `db` that tells `tracker`'s subscribers of completions. Its task
    /// starts with the first submission.
    pub fn new(db: DatabaseConnection, tracker: Tracker) -> Self {
        Self {
            claims: GroupCommit::new("submission", ClaimWriter { db, tracker }, MAX_BATCH, QUEUE),
        }
    }

    /// Writes `claim` with whatever else is waiting; returns once it is committed.
    pub async fn write(&self, claim: Claim) -> AppResult<Claimed> {
        self.claims.write(claim).await.map_err(AppError::internal)?
    }

    /// Stops the writer once the submissions already queued are written (at shutdown).
    pub async fn drain(&self) {
        self.claims.drain().await;
    }
}

/// Writes batches of claims.
struct ClaimWriter {
    db: DatabaseConnection,
    tracker: Tracker,
}

impl BatchWrite for ClaimWriter {
    type Item = Claim;
    type Outcome = AppResult<Claimed>;

    async fn write(&self, claims: Vec<Claim>) -> Vec<AppResult<Claimed>> {
        let outcomes = match self.write_together(&claims).await {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(error) if claims.len() > 1 => {
                tracing::warn!(error = ?error, submissions = claims.len(), "a batch of submissions failed; writing them one by one");
                let mut outcomes = Vec::with_capacity(claims.len());
                for claim in &claims {
                    let one = self.write_together(std::slice::from_ref(claim)).await;
                    outcomes.push(one.and_then(|written| {
                        written.into_iter().next().ok_or_else(|| {
                            AppError::internal(anyhow::anyhow!("a submission has no outcome"))
                        })
                    }));
                }
                outcomes
            }
            Err(error) => vec![Err(error)],
        };
        let mut moved: Vec<ConsultationId> = Vec::new();
        for (claim, outcome) in claims.iter().zip(&outcomes) {
            if matches!(outcome, Ok(Claimed::Written(_))) && !moved.contains(&claim.consultation) {
                moved.push(claim.consultation);
            }
        }
        for consultation in moved {
            self.tracker.changed(consultation);
        }
        outcomes
    }
}

impl ClaimWriter {
    /// Writes `claims` in one transaction; on any error nothing is kept.
    async fn write_together(&self, claims: &[Claim]) -> AppResult<Vec<Claimed>> {
        let txn = self.db.begin().await?;
        let claimed = claim_all(&txn, claims).await?;
        let responses = insert_responses(&txn, claims, &claimed).await?;
        let mut answers = Vec::new();
        for (claim, response) in claims.iter().zip(&responses) {
            if let Some(response) = response {
                answers.extend(claim.answers.iter().cloned().map(|mut row| {
                    row.response_id = Set(*response);
                    row
                }));
            }
        }
        for chunk in answers.chunks(ROWS_PER_INSERT) {
            answer::Entity::insert_many(chunk.to_vec())
                .exec(&txn)
                .await?;
        }
        let completed: Vec<i64> = claims
            .iter()
            .zip(&claimed)
            .filter(|(_, claimed)| **claimed)
            .map(|(claim, _)| claim.invitation.get())
            .collect();
        for chunk in completed.chunks(ROWS_PER_INSERT) {
            saved_answer::Entity::delete_many()
                .filter(saved_answer::Column::InvitationId.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
        // An anonymous consultation writes no event here: events are numbered in order,
        // and so are responses, so any event written with its response would pair the two.
        let mut events = Vec::new();
        for (claim, _) in claims
            .iter()
            .zip(&claimed)
            .filter(|(c, claimed)| **claimed && !c.anonymous)
        {
            if claim.starts {
                events.push(Event {
                    invitation: claim.invitation,
                    kind: EventKind::Started,
                    at: claim.at,
                    machine: false,
                    detail: None,
                });
            }
            events.push(Event {
                invitation: claim.invitation,
                kind: EventKind::Completed,
                at: claim.at,
                machine: false,
                detail: Some(claim.channel.as_str().to_owned()),
            });
        }
        // The completion claims already moved the invitations on.
        append_in(&txn, &events).await?;
        txn.commit().await?;
        Ok(claims
            .iter()
            .zip(claimed)
            .zip(responses)
            .map(
                |((claim, claimed), response)| match (claimed, claim.anonymous) {
                    (false, _) => Claimed::Duplicate,
                    (true, true) => Claimed::Written(None),
                    (true, false) => Claimed::Written(response),
                },
            )
            .collect())
    }
}

/// Marks each claim's invitation completed if it is not yet: whether each was claimed.
/// A later claim of an invitation claimed earlier in the batch claims nothing.
async fn claim_all(txn: &DatabaseTransaction, claims: &[Claim]) -> AppResult<Vec<bool>> {
    let mut order: Vec<usize> = (0..claims.len()).collect();
    // Stable, so repeats of one invitation keep their order of arrival.
    order.sort_by_key(|&i| claims[i].invitation.get());
    let mut claimed = vec![false; claims.len()];
    for i in order {
        let claim = &claims[i];
        let updated = invitation::Entity::update_many()
            .col_expr(
                invitation::Column::CompletedAt,
                Expr::value(claim.completed_at),
            )
            .col_expr(
                invitation::Column::StartedAt,
                Expr::cust_with_values("COALESCE(started_at, $1)", [claim.completed_at]),
            )
            .col_expr(
                invitation::Column::CompletedChannel,
                Expr::value(claim.channel),
            )
            .col_expr(invitation::Column::Stage, Expr::value(Stage::Completed))
            .filter(invitation::Column::Id.eq(claim.invitation))
            .filter(invitation::Column::CompletedAt.is_null())
            .exec(txn)
            .await?;
        claimed[i] = updated.rows_affected > 0;
    }
    Ok(claimed)
}

/// Inserts the claimed submissions' responses: the linked ones with multi-row inserts
/// (each new row found again by its invitation), an anonymous one on its own (it has
/// nothing to be told apart by). The new ids, by claim.
async fn insert_responses(
    txn: &DatabaseTransaction,
    claims: &[Claim],
    claimed: &[bool],
) -> AppResult<Vec<Option<ResponseId>>> {
    let mut ids: Vec<Option<ResponseId>> = vec![None; claims.len()];
    let linked: Vec<usize> = (0..claims.len())
        .filter(|&i| claimed[i] && !claims[i].anonymous)
        .collect();
    for chunk in linked.chunks(ROWS_PER_INSERT) {
        let mut insert =
            response::Entity::insert_many(chunk.iter().map(|&i| claims[i].response.clone()))
                .into_query();
        insert.returning(
            Query::returning().columns([response::Column::Id, response::Column::InvitationId]),
        );
        for row in txn.query_all(&insert).await? {
            let id: ResponseId = row.try_get("", "id")?;
            let invitation: Option<InvitationId> = row.try_get("", "invitation_id")?;
            if let Some(&i) = chunk
                .iter()
                .find(|&&i| Some(claims[i].invitation) == invitation)
            {
                ids[i] = Some(id);
            }
        }
        if let Some(&lost) = chunk.iter().find(|&&i| ids[i].is_none()) {
            return Err(AppError::internal(anyhow::anyhow!(
                "the response of invitation {} was not returned",
                claims[lost].invitation
            )));
        }
    }
    for (i, claim) in claims.iter().enumerate() {
        if claimed[i] && claim.anonymous {
            let inserted = response::Entity::insert(claim.response.clone())
                .exec(txn)
                .await?;
            ids[i] = Some(inserted.last_insert_id);
        }
    }
    Ok(ids)
}
