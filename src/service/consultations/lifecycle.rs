//! A consultation's life: opening, closing and archiving it, and duplicating it as a new
//! draft.

use super::*;

/// Takes a lifecycle step: open a draft (it needs questions; from then they are frozen),
/// close an open consultation, or reopen a closed one. A consultation already where the
/// step leads is returned unchanged; any other starting point is `CONFLICT`.
pub async fn transition(
    state: &AppState,
    caller: &Caller,
    id: ConsultationId,
    step: Step,
) -> AppResult<Consultation> {
    caller.require(OFFICERS)?;
    let db = state.db.writer();
    let current = row_of(db, id).await?;
    let from = current.status;
    let to = step.to();
    if from == to {
        return to_domain(current);
    }
    if from != step.from() {
        return Err(AppError::conflict(match step {
            Step::Open => {
                "Only a draft is opened; reopen a closed consultation with consultationReopen."
            }
            Step::Close => "Only an open consultation is closed.",
            Step::Reopen => {
                "Only a closed consultation is reopened; open a draft with consultationOpen."
            }
        }));
    }
    if step == Step::Open {
        let questions = questions_of(db, id).await?;
        if questions.is_empty() {
            return Err(AppError::conflict(
                "Add at least one question before opening the consultation.",
            ));
        }
        let youngest = age_bands::youngest_age(db, current.panel_id).await?;
        age_bands::check(&questions, youngest, |i, j| {
            let item = &questions[i];
            let option = match &item.question.kind {
                QuestionKind::SingleChoice { options } => options.get(j).cloned(),
                _ => None,
            };
            format!(
                "questions.{}.options.{}",
                item.question.key,
                option.unwrap_or_else(|| j.to_string())
            )
        })?;
    }
    let now = state.clock.now();
    let mut update = consultation::Entity::update_many()
        .col_expr(
            consultation::Column::Status,
            sea_orm::sea_query::Expr::value(to),
        )
        .col_expr(
            consultation::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        );
    update = match to {
        Status::Open => {
            let mut update = update.col_expr(
                consultation::Column::OpenedAt,
                sea_orm::sea_query::Expr::value(now),
            );
            // Reopening past the close time would accept nothing: the close time goes.
            if current.closes_at.is_some_and(|c| c <= now) {
                update = update.col_expr(
                    consultation::Column::ClosesAt,
                    sea_orm::sea_query::Expr::value(None::<DateTime<Utc>>),
                );
            }
            update
        }
        Status::Closed => update.col_expr(
            consultation::Column::ClosedAt,
            sea_orm::sea_query::Expr::value(now),
        ),
        Status::Draft => update,
    };
    let changed = update
        .filter(consultation::Column::Id.eq(id))
        .filter(consultation::Column::Status.eq(from))
        .exec(db)
        .await?;
    if changed.rows_affected == 0 {
        return Err(AppError::conflict(
            "The consultation changed at the same moment; look again.",
        ));
    }
    find_any(db, id).await
}

/// A new draft with the same wording, settings, audience and questions (same keys, so
/// results can be compared across rounds), in the same series; no invitations or
/// answers. A sample keeps its size and gets a new seed, so it is drawn afresh.
pub async fn duplicate(
    state: &AppState,
    caller: &Caller,
    id: ConsultationId,
    title: Option<String>,
) -> AppResult<Consultation> {
    caller.require(OFFICERS)?;
    let db = state.db.writer();
    let source = row_of(db, id).await?;
    let title = match title {
        Some(title) => checked_text("input.title", &title, MAX_TITLE_CHARS, true)?,
        None => source.title.clone(),
    };
    let questions = question::Entity::find()
        .filter(question::Column::ConsultationId.eq(id))
        .order_by_asc(question::Column::Position)
        .all(db)
        .await?;
    let now = state.clock.now();
    let txn = db.begin().await?;
    let copy = consultation::ActiveModel {
        series_id: Set(Some(source.series_id.unwrap_or(source.id))),
        title: Set(title),
        summary: Set(source.summary.clone()),
        status: Set(Status::Draft),
        anonymous: Set(source.anonymous),
        panel_id: Set(source.panel_id),
        open_code: Set(source.open_code.is_some().then(new_open_code)),
        opens_at: Set(None),
        closes_at: Set(None),
        reading_age_target: Set(source.reading_age_target),
        invite_subject: Set(source.invite_subject.clone()),
        invite_text: Set(source.invite_text.clone()),
        reminder_subject: Set(source.reminder_subject.clone()),
        reminder_text: Set(source.reminder_text.clone()),
        sms_text: Set(source.sms_text.clone()),
        max_reminders: Set(source.max_reminders),
        reminder_gap_hours: Set(source.reminder_gap_hours),
        // The same audience, drawn afresh.
        sample_size: Set(source.sample_size),
        sample_seed: Set(source
            .sample_size
            .map(|_| rand::random::<u64>().to_string())),
        created_by: Set(caller.account()),
        created_at: Set(now),
        updated_at: Set(now),
        opened_at: Set(None),
        closed_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    for q in questions {
        question::ActiveModel {
            consultation_id: Set(copy.id),
            position: Set(q.position),
            key: Set(q.key),
            text: Set(q.text),
            kind: Set(q.kind),
            options: Set(q.options),
            max_choices: Set(q.max_choices),
            max_chars: Set(q.max_chars),
            required: Set(q.required),
            show_when_key: Set(q.show_when_key),
            show_when_answer: Set(q.show_when_answer),
            about_you: Set(q.about_you),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    to_domain(copy)
}
