//! Saving answers to come back to: checked against the questions (hidden ones dropped),
//! refused once the consultation is closed.

use super::*;

pub(super) fn refusal(consultation: &Consultation, now: DateTime<Utc>) -> AppResult<()> {
    accepts_answers(
        consultation.status,
        consultation.opens_at,
        consultation.closes_at,
        now,
    )
    .map_err(|why| AppError::conflict(format!("Answers are not accepted: {why}.")))
}

pub(super) fn answer_error(errors: Vec<AnswerError>) -> AppError {
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
    let id = row.id;
    let txn = db.begin().await?;
    // Still not submitted, checked in the transaction (on PostgreSQL this also holds the
    // invitation's row until commit, so a submit waits): nothing is saved after completion.
    let open = invitation::Entity::update_many()
        .col_expr(
            invitation::Column::Stage,
            Expr::col(invitation::Column::Stage),
        )
        .filter(invitation::Column::Id.eq(id))
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
                    invitation_id: Set(id),
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
                    .filter(saved_answer::Column::InvitationId.eq(id))
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
    let row = invitation::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    invited(db, state, row, consultation).await
}
