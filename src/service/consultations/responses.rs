//! Officers' view of what residents answered: a consultation's responses one by one, free
//! text included, paged and filtered (by how they came, the day, answers, words in the
//! free text). Never SCRUTINY's: scrutiny members read aggregates only.
//!
//! Each response has a number, kept whatever the filter, so a comment found here is found
//! again in the export: 1 for the first submitted. An anonymous consultation's responses
//! show their answers and number only, and only once it is closed: the day and the way
//! each came, its place in the order they came, or a response appearing beside a
//! completion while it is open would pair it with the member whose invitation shows
//! them. Its numbers are a shuffle keyed by the code secret, so they follow no order an
//! officer can see. Every read is written in the audit log.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::db::entities::{answer, response};
use crate::db::responses::{self, Row};
pub use crate::db::responses::{AnswerCondition, ResponseFilter};
use crate::domain::consultations::consultation::{
    AnswerChannel, Channel, Consultation, QuestionItem, Status,
};
use crate::domain::consultations::questionnaire::QuestionKind;
use crate::domain::ids::{ConsultationId, ResponseId};
use crate::domain::recruitment::code_key::CodeKey;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::{Caller, ClientAddress};
use crate::service::audit::{self, Action};
use crate::service::consultations::{self, OFFICERS};
use crate::state::AppState;

/// One submitted response, as an officer reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseView {
    /// Its identity (never shown: its order would give away an anonymous response's).
    pub id: ResponseId,
    /// 1 for the consultation's first response, and so on in the order they came (for an
    /// anonymous consultation, in a keyed shuffle).
    pub number: u64,
    /// How it came; `None` for an anonymous consultation.
    pub channel: Option<AnswerChannel>,
    /// The invitation's channel (email, text message, post); `None` for an open-link
    /// response or an anonymous consultation.
    pub invited_by: Option<Channel>,
    /// The day it came (UTC); `None` for an anonymous consultation.
    pub submitted_on: Option<NaiveDate>,
    /// Its answers, in question order.
    pub answers: Vec<GivenAnswer>,
}

/// One question's answer in a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GivenAnswer {
    /// The `key` of the question answered.
    pub question_key: String,
    /// The options chosen (a ranking's in the order given).
    pub options: Vec<String>,
    /// Their labels, as the respondent saw them.
    pub labels: Vec<String>,
    /// A scale answer.
    pub value: Option<i64>,
    /// A free-text answer.
    pub text: Option<String>,
}

/// A consultation an officer may read the responses of, with its questions: an anonymous
/// one only once closed (`CONFLICT` before).
pub(crate) async fn readable(
    state: &AppState,
    caller: &Caller,
    id: ConsultationId,
) -> AppResult<(Consultation, Arc<Vec<QuestionItem>>)> {
    caller.require(OFFICERS)?;
    let db = state.db.reader();
    let consultation = consultations::find_any(db, id).await?;
    if consultation.anonymous && consultation.status != Status::Closed {
        return Err(AppError::conflict(
            "This consultation is anonymous: its responses can be read one by one once it is closed, so that none can be paired with a completion as it comes.",
        ));
    }
    let questions = consultations::frozen_questions(db, &state.questions, &consultation).await?;
    Ok((consultation, questions))
}

/// A page of a consultation's responses by number, after the number `after`, that meet
/// `filter` (OFFICER); up to `limit + 1`, so the caller can tell whether more follow. The
/// read is written in the audit log.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    client: ClientAddress,
    id: ConsultationId,
    filter: &ResponseFilter,
    after: Option<u64>,
    limit: u64,
) -> AppResult<Vec<ResponseView>> {
    let (consultation, questions) = readable(state, caller, id).await?;
    check_filter(&consultation, &questions, filter)?;
    let db = state.db.reader();
    let numbering = Numbering::of(state, &consultation);
    let rows = page(db, &numbering, filter, after, limit.saturating_add(1)).await?;
    audit::record(
        state.db.writer(),
        caller,
        client,
        Action::ResponsesRead,
        format!("consultation:{id}"),
        Some(u64::try_from(rows.len()).unwrap_or(u64::MAX).min(limit)),
        state.clock.now(),
    )
    .await?;
    views(db, rows, &questions, consultation.anonymous).await
}

fn check_filter(
    consultation: &Consultation,
    questions: &[QuestionItem],
    filter: &ResponseFilter,
) -> AppResult<()> {
    if consultation.anonymous {
        let told_apart = [
            ("filter.channels", !filter.channels.is_empty()),
            ("filter.submittedFrom", filter.from.is_some()),
            ("filter.submittedTo", filter.to.is_some()),
        ];
        if let Some((field, _)) = told_apart.iter().find(|(_, given)| *given) {
            return Err(AppError::bad_input(
                *field,
                "An anonymous consultation's responses are not told apart by the way or the day they came.",
            ));
        }
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && to < from
    {
        return Err(AppError::bad_input(
            "filter.submittedTo",
            "The last day is before the first.",
        ));
    }
    if let Some(text) = &filter.text
        && !(1..=200).contains(&text.trim().chars().count())
    {
        return Err(AppError::bad_input(
            "filter.text",
            "Search for 1 to 200 characters.",
        ));
    }
    for (i, condition) in filter.answers.iter().enumerate() {
        let field = format!("filter.answers.{i}");
        let item = questions
            .iter()
            .find(|q| q.question.key == condition.question_key)
            .ok_or_else(|| {
                AppError::bad_input(
                    format!("{field}.questionKey"),
                    format!("No question has the key {:?}.", condition.question_key),
                )
            })?;
        let scale = matches!(
            item.question.kind,
            QuestionKind::Agreement | QuestionKind::Rating
        );
        if (condition.min.is_some() || condition.max.is_some()) && !scale {
            return Err(AppError::bad_input(
                format!("{field}.min"),
                "Only an agreement or rating question has a scale.",
            ));
        }
        if !condition.answered
            && (!condition.options.is_empty() || condition.min.is_some() || condition.max.is_some())
        {
            return Err(AppError::bad_input(
                format!("{field}.answered"),
                "A question not answered has no options or value to ask for.",
            ));
        }
        if let (Some(min), Some(max)) = (condition.min, condition.max)
            && max < min
        {
            return Err(AppError::bad_input(
                format!("{field}.max"),
                "The largest value is below the smallest.",
            ));
        }
        let known = option_keys(&item.question.kind);
        if let Some(unknown) = condition.options.iter().find(|o| !known.contains(o)) {
            return Err(AppError::bad_input(
                format!("{field}.options"),
                format!("{unknown:?} is not one of the question's options."),
            ));
        }
    }
    Ok(())
}

fn option_keys(kind: &QuestionKind) -> &[String] {
    match kind {
        QuestionKind::SingleChoice { options }
        | QuestionKind::MultipleChoice { options, .. }
        | QuestionKind::Ranking { options } => options,
        _ => &[],
    }
}

/// How a consultation's responses are numbered: in the order they came, or (anonymous) in
/// a shuffle keyed by the code secret and the consultation.
pub(crate) enum Numbering {
    /// 1 for the first to come.
    Arrival(ConsultationId),
    /// By the keyed digest of each response's id.
    Shuffled(ConsultationId, CodeKey),
}

impl Numbering {
    /// The numbering of `consultation`'s responses.
    pub(crate) fn of(state: &AppState, consultation: &Consultation) -> Self {
        if consultation.anonymous {
            Self::Shuffled(consultation.id, state.codes.current.clone())
        } else {
            Self::Arrival(consultation.id)
        }
    }

    fn consultation(&self) -> ConsultationId {
        match self {
            Self::Arrival(id) | Self::Shuffled(id, _) => *id,
        }
    }
}

/// Up to `limit` of the consultation's responses numbered after `after` that meet
/// `filter`, in number order, each numbered among all the consultation's responses.
pub(crate) async fn page(
    db: &impl ConnectionTrait,
    numbering: &Numbering,
    filter: &ResponseFilter,
    after: Option<u64>,
    limit: u64,
) -> AppResult<Vec<Row>> {
    let id = numbering.consultation();
    // In number order, the page alone; a shuffle is ordered below, in memory.
    let arrival_page = match numbering {
        Numbering::Arrival(_) => Some((after.unwrap_or(0), limit)),
        Numbering::Shuffled(..) => None,
    };
    let mut rows = responses::filtered(db, id, filter, arrival_page).await?;
    if let Numbering::Shuffled(_, key) = numbering {
        let numbers = shuffled_numbers(db, id, key).await?;
        for row in &mut rows {
            row.number = numbers.get(&row.id).copied().unwrap_or(0);
        }
        rows.retain(|row| row.number > after.unwrap_or(0));
        rows.sort_by_key(|row| row.number);
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    Ok(rows)
}

/// Every response of an anonymous consultation numbered 1, 2, … in the order of a keyed
/// digest of its id: an order no one without the code secret can tie to the order they
/// came in.
async fn shuffled_numbers(
    db: &impl ConnectionTrait,
    id: ConsultationId,
    key: &CodeKey,
) -> AppResult<HashMap<i64, u64>> {
    let ids: Vec<i64> = response::Entity::find()
        .select_only()
        .column(response::Column::Id)
        .filter(response::Column::ConsultationId.eq(id))
        .into_tuple()
        .all(db)
        .await?;
    let mut keyed: Vec<([u8; 32], i64)> = ids
        .into_iter()
        .map(|response| {
            let salt = format!("{id}:{response}");
            (
                key.derive("anonymous-response-order", salt.as_bytes()),
                response,
            )
        })
        .collect();
    keyed.sort_unstable();
    Ok(keyed
        .into_iter()
        .zip(1..)
        .map(|((_, response), number)| (response, number))
        .collect())
}

/// The answers of the responses `ids`, each response's in the order they were stored.
pub(crate) async fn answers_of(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> AppResult<HashMap<i64, Vec<answer::Model>>> {
    let mut by_response: HashMap<i64, Vec<answer::Model>> = HashMap::new();
    for chunk in ids.chunks(1_000) {
        let rows = answer::Entity::find()
            .filter(answer::Column::ResponseId.is_in(chunk.iter().copied()))
            .order_by_asc(answer::Column::ResponseId)
            .order_by_asc(answer::Column::Id)
            .all(db)
            .await?;
        for row in rows {
            by_response
                .entry(row.response_id.get())
                .or_default()
                .push(row);
        }
    }
    Ok(by_response)
}

/// One response's answers, grouped by question in question order, a ranking's options by
/// rank.
pub(crate) fn given(rows: &[answer::Model], questions: &[QuestionItem]) -> Vec<GivenAnswer> {
    questions
        .iter()
        .filter_map(|item| {
            let key = &item.question.key;
            let mut mine: Vec<&answer::Model> =
                rows.iter().filter(|a| &a.question_key == key).collect();
            if mine.is_empty() {
                return None;
            }
            mine.sort_by_key(|a| a.rank.unwrap_or(0));
            let keys = option_keys(&item.question.kind);
            let options: Vec<String> = mine.iter().filter_map(|a| a.option_key.clone()).collect();
            let labels = options
                .iter()
                .map(|o| {
                    keys.iter()
                        .position(|k| k == o)
                        .and_then(|i| item.labels.get(i))
                        .cloned()
                        .unwrap_or_else(|| o.clone())
                })
                .collect();
            Some(GivenAnswer {
                question_key: key.clone(),
                options,
                labels,
                value: mine.iter().find_map(|a| a.scale).map(i64::from),
                text: mine.iter().find_map(|a| a.text.clone()),
            })
        })
        .collect()
}

async fn views(
    db: &impl ConnectionTrait,
    rows: Vec<Row>,
    questions: &[QuestionItem],
    anonymous: bool,
) -> AppResult<Vec<ResponseView>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let answers = answers_of(db, &ids).await?;
    rows.into_iter()
        .map(|row| {
            let corrupt = |what: &str, value: &str| {
                AppError::internal(anyhow::anyhow!("response {}: {what} {value:?}", row.id))
            };
            let channel: AnswerChannel = row
                .channel
                .parse()
                .map_err(|_| corrupt("channel", &row.channel))?;
            let invited_by: Option<Channel> = row
                .invited_by
                .as_deref()
                .map(|c| c.parse().map_err(|_| corrupt("invitation channel", c)))
                .transpose()?;
            let given = given(
                answers.get(&row.id).map_or(&[][..], Vec::as_slice),
                questions,
            );
            Ok(ResponseView {
                id: ResponseId(row.id),
                number: row.number,
                channel: (!anonymous).then_some(channel),
                invited_by: invited_by.filter(|_| !anonymous),
                submitted_on: (!anonymous).then_some(row.submitted_on),
                answers: given,
            })
        })
        .collect()
}
