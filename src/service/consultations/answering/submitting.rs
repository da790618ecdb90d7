//! Submitting answers by invitation: exactly once, however many times and from however many
//! clients it is sent, with the completion recorded beside the response.

use super::*;

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
    let id = row.id;
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
        consultation_id: Set(consultation.id),
        invitation_id: Set((!anonymous).then_some(id)),
        submission_key: Set(None),
        channel: Set(channel),
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
            row.completed_channel = Some(channel);
            row.stage = Stage::Completed;
            Ok(Submitted {
                invitation: to_domain(row)?,
                response,
                duplicate: false,
            })
        }
        Claimed::Duplicate => {
            // Another submit of the same invitation got there first.
            let row = invitation::Entity::find_by_id(id)
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

pub(super) fn is_unique_violation(error: &sea_orm::DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Writes a response's answers (see [`answer_rows`]).
pub(super) async fn insert_answers(
    db: &impl ConnectionTrait,
    response: ResponseId,
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
pub(super) fn answer_rows(
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
