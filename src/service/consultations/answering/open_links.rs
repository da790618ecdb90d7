//! The open link of a QR micro-survey: anyone may answer, one response a submission, with
//! no invitation behind it.

use super::*;

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
            .filter(response::Column::SubmissionKey.eq(key))
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
        consultation_id: Set(consultation.id),
        invitation_id: Set(None),
        submission_key: Set(key),
        channel: Set(AnswerChannel::Qr),
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
