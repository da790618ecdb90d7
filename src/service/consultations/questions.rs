//! A consultation's questions: set while it is a draft (each checked, keys and skip rules
//! included), read in order, and kept in memory once it is open.

use super::*;
use crate::state::caches::QuestionCache;

pub(super) fn frozen() -> AppError {
    AppError::conflict(
        "The consultation is no longer a draft: its wording and questions are frozen. Duplicate it to make changes.",
    )
}

pub(super) fn require_draft(row: &consultation::Model) -> AppResult<()> {
    if row.status == Status::Draft {
        Ok(())
    } else {
        Err(frozen())
    }
}

/// Replaces a draft's questions (in the order given).
pub async fn set_questions(
    state: &AppState,
    caller: &Caller,
    id: ConsultationId,
    requests: Vec<QuestionRequest>,
) -> AppResult<Vec<QuestionItem>> {
    caller.require(OFFICERS)?;
    if requests.len() > MAX_QUESTIONS {
        return Err(AppError::bad_input(
            "input.questions",
            format!("At most {MAX_QUESTIONS} questions."),
        ));
    }
    let mut items = Vec::with_capacity(requests.len());
    for (i, request) in requests.into_iter().enumerate() {
        items.push(checked_question(i, request)?);
    }
    let questions: Vec<Question> = items.iter().map(|i| i.question.clone()).collect();
    check_questions(&questions)
        .map_err(|e| AppError::bad_input("input.questions", e.to_string()))?;
    let db = state.db.writer();
    let panel = row_of(db, id).await?.panel_id;
    let youngest = age_bands::youngest_age(db, panel).await?;
    age_bands::check(&items, youngest, |i, j| {
        format!("input.questions.{i}.options.{j}.label")
    })?;
    let txn = db.begin().await?;
    // Lock the consultation row (PostgreSQL) while checking it is a draft; SQLite
    // serialises writers anyway.
    let touched = consultation::Entity::update_many()
        .col_expr(
            consultation::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(state.clock.now()),
        )
        .filter(consultation::Column::Id.eq(id))
        .filter(consultation::Column::Status.eq(Status::Draft))
        .exec(&txn)
        .await?;
    if touched.rows_affected == 0 {
        row_of(&txn, id).await?;
        return Err(frozen());
    }
    question::Entity::delete_many()
        .filter(question::Column::ConsultationId.eq(id))
        .exec(&txn)
        .await?;
    for (position, item) in items.iter().enumerate() {
        question_row(id, position, item).insert(&txn).await?;
    }
    txn.commit().await?;
    Ok(items)
}

pub(super) fn question_row(
    id: ConsultationId,
    position: usize,
    item: &QuestionItem,
) -> question::ActiveModel {
    let q = &item.question;
    let (kind, keys, max_choices, max_chars) = match &q.kind {
        QuestionKind::SingleChoice { options } => ("single_choice", options.clone(), None, None),
        QuestionKind::MultipleChoice { options, max } => (
            "multiple_choice",
            options.clone(),
            max.and_then(|m| i32::try_from(m).ok()),
            None,
        ),
        QuestionKind::Agreement => ("agreement", Vec::new(), None, None),
        QuestionKind::Rating => ("rating", Vec::new(), None, None),
        QuestionKind::FreeText { max_chars } => (
            "free_text",
            Vec::new(),
            None,
            i32::try_from(*max_chars).ok(),
        ),
        QuestionKind::Ranking { options } => ("ranking", options.clone(), None, None),
    };
    let options: Vec<serde_json::Value> = keys
        .iter()
        .zip(&item.labels)
        .map(|(key, label)| serde_json::json!({ "key": key, "label": label }))
        .collect();
    question::ActiveModel {
        consultation_id: Set(id),
        position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
        key: Set(q.key.clone()),
        text: Set(q.text.clone()),
        kind: Set(kind.to_owned()),
        options: Set(serde_json::Value::Array(options).to_string()),
        max_choices: Set(max_choices),
        max_chars: Set(max_chars),
        required: Set(q.required),
        show_when_key: Set(q.show_when.as_ref().map(|s| s.question.clone())),
        show_when_answer: Set(q.show_when.as_ref().map(|s| s.answer.clone())),
        about_you: Set(item.about_you.clone()),
        ..Default::default()
    }
}

pub(super) fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 100
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(super) fn checked_question(i: usize, request: QuestionRequest) -> AppResult<QuestionItem> {
    let field = |name: &str| format!("input.questions.{i}.{name}");
    let key = request.key.trim().to_owned();
    if !is_key(&key) {
        return Err(AppError::bad_input(
            field("key"),
            "A question key is 1 to 100 letters, digits, `_` or `-`.",
        ));
    }
    let text = checked_text(&field("text"), &request.text, MAX_TEXT_CHARS, true)?;
    let option_keys = match &request.kind {
        QuestionKind::SingleChoice { options }
        | QuestionKind::MultipleChoice { options, .. }
        | QuestionKind::Ranking { options } => Some(options),
        _ => None,
    };
    let mut labels = Vec::new();
    match option_keys {
        Some(options) => {
            if options.len() != request.labels.len() {
                return Err(AppError::bad_input(
                    field("options"),
                    "Every option needs a key and a label.",
                ));
            }
            if options.len() > 100 {
                return Err(AppError::bad_input(
                    field("options"),
                    "At most 100 options.",
                ));
            }
            for (j, (key, label)) in options.iter().zip(&request.labels).enumerate() {
                if !is_key(key) {
                    return Err(AppError::bad_input(
                        format!("input.questions.{i}.options.{j}.key"),
                        "An option key is 1 to 100 letters, digits, `_` or `-`.",
                    ));
                }
                labels.push(checked_text(
                    &format!("input.questions.{i}.options.{j}.label"),
                    label,
                    MAX_TEXT_CHARS,
                    true,
                )?);
            }
        }
        None if !request.labels.is_empty() => {
            return Err(AppError::bad_input(
                field("options"),
                "Only choice and ranking questions have options.",
            ));
        }
        None => {}
    }
    match &request.kind {
        QuestionKind::MultipleChoice {
            options,
            max: Some(max),
        } if *max == 0 || *max > options.len() => {
            return Err(AppError::bad_input(
                field("maxChoices"),
                format!("Allow 1 to {} choices.", options.len()),
            ));
        }
        QuestionKind::FreeText { max_chars }
            if *max_chars == 0 || *max_chars > MAX_ANSWER_CHARS =>
        {
            return Err(AppError::bad_input(
                field("maxChars"),
                format!("Allow 1 to {MAX_ANSWER_CHARS} characters."),
            ));
        }
        _ => {}
    }
    let about_you = match request.about_you.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(dimension) if ABOUT_YOU.contains(&dimension) => {
            if !matches!(request.kind, QuestionKind::SingleChoice { .. }) {
                return Err(AppError::bad_input(
                    field("aboutYou"),
                    "An \"about you\" question is a single choice whose option labels are recorded as the profile's values.",
                ));
            }
            if labels.iter().any(|l| l.chars().count() > 200) {
                return Err(AppError::bad_input(
                    field("options"),
                    "An \"about you\" option's label is what is recorded: at most 200 characters.",
                ));
            }
            Some(dimension.to_owned())
        }
        Some(other) => {
            return Err(AppError::bad_input(
                field("aboutYou"),
                format!(
                    "{other:?} is not a profile dimension; use one of {}.",
                    ABOUT_YOU.join(", ")
                ),
            ));
        }
    };
    Ok(QuestionItem {
        question: Question {
            key,
            text,
            kind: request.kind,
            required: request.required,
            show_when: request.show_when,
        },
        labels,
        about_you,
    })
}

/// A consultation's questions, from memory once it is open (a draft's are always read,
/// since they may still change).
pub async fn frozen_questions(
    db: &impl ConnectionTrait,
    cache: &QuestionCache,
    consultation: &Consultation,
) -> AppResult<std::sync::Arc<Vec<QuestionItem>>> {
    let frozen = consultation.status != Status::Draft;
    if frozen && let Some(questions) = cache.get(consultation.id) {
        return Ok(questions);
    }
    let questions = std::sync::Arc::new(questions_of(db, consultation.id).await?);
    if frozen {
        cache.put(consultation.id, &questions);
    }
    Ok(questions)
}

/// A consultation's questions, in order, whoever asks (the caller has been checked, or
/// holds the consultation's token).
pub async fn questions_of(
    db: &impl ConnectionTrait,
    id: ConsultationId,
) -> AppResult<Vec<QuestionItem>> {
    question::Entity::find()
        .filter(question::Column::ConsultationId.eq(id))
        .order_by_asc(question::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(question_of)
        .collect()
}

/// The questions of each of `consultations`, in order, with one statement (the loader of
/// a list's consultations; the caller has been checked).
pub async fn questions_of_many(
    db: &impl ConnectionTrait,
    consultations: &[ConsultationId],
) -> AppResult<std::collections::HashMap<ConsultationId, Vec<QuestionItem>>> {
    let rows = question::Entity::find()
        .filter(question::Column::ConsultationId.is_in(consultations.iter().copied()))
        .order_by_asc(question::Column::ConsultationId)
        .order_by_asc(question::Column::Position)
        .all(db)
        .await?;
    let mut found: std::collections::HashMap<ConsultationId, Vec<QuestionItem>> =
        std::collections::HashMap::new();
    for row in rows {
        let consultation = row.consultation_id;
        found
            .entry(consultation)
            .or_default()
            .push(question_of(row)?);
    }
    Ok(found)
}

pub(super) fn question_of(row: question::Model) -> AppResult<QuestionItem> {
    #[derive(serde::Deserialize)]
    struct Option_ {
        key: String,
        label: String,
    }
    let options: Vec<Option_> = serde_json::from_str(&row.options)
        .map_err(|e| AppError::internal(anyhow::anyhow!("question {} options: {e}", row.id)))?;
    let (keys, labels): (Vec<String>, Vec<String>) =
        options.into_iter().map(|o| (o.key, o.label)).unzip();
    let size = |n: Option<i32>| n.and_then(|n| usize::try_from(n).ok());
    let kind = match row.kind.as_str() {
        "single_choice" => QuestionKind::SingleChoice { options: keys },
        "multiple_choice" => QuestionKind::MultipleChoice {
            options: keys,
            max: size(row.max_choices),
        },
        "agreement" => QuestionKind::Agreement,
        "rating" => QuestionKind::Rating,
        "free_text" => QuestionKind::FreeText {
            max_chars: size(row.max_chars).unwrap_or(MAX_ANSWER_CHARS),
        },
        "ranking" => QuestionKind::Ranking { options: keys },
        other => {
            return Err(AppError::internal(anyhow::anyhow!(
                "question {} has the unknown kind {other:?}",
                row.id
            )));
        }
    };
    Ok(QuestionItem {
        question: Question {
            key: row.key,
            text: row.text,
            kind,
            required: row.required,
            show_when: row
                .show_when_key
                .zip(row.show_when_answer)
                .map(|(question, answer)| ShowWhen { question, answer }),
        },
        labels,
        about_you: row.about_you,
    })
}
