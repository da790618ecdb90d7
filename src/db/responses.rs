//! The statement behind reading responses: a consultation's responses that meet a filter
//! (channels, days, answers, words in free text), numbered in the order they came.

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, Value};

use crate::db::sql::query;
use crate::domain::consultations::consultation::AnswerChannel;
use crate::domain::ids::ConsultationId;
use crate::error::AppResult;

/// Which responses to list: every condition given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseFilter {
    /// Came one of these ways (none given: any).
    pub channels: Vec<AnswerChannel>,
    /// Submitted on or after this day (UTC).
    pub from: Option<NaiveDate>,
    /// Submitted on or before this day (UTC).
    pub to: Option<NaiveDate>,
    /// Conditions on answers.
    pub answers: Vec<AnswerCondition>,
    /// Words in a free-text answer, found whatever their case.
    pub text: Option<String>,
}

/// A condition on the answer to one question.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnswerCondition {
    /// The `key` of the question; a key naming no question is `BAD_USER_INPUT`.
    pub question_key: String,
    /// Chose (ticked, ranked) any of these options.
    pub options: Vec<String>,
    /// A scale answer at least this.
    pub min: Option<i64>,
    /// A scale answer at most this.
    pub max: Option<i64>,
    /// `false`: responses that did not answer it (skipped, or not shown).
    pub answered: bool,
}

/// One response of a page: its id, its number among all the consultation's responses,
/// how it came, the day it came and the channel of its invitation (none for an open link).
pub struct Row {
    /// Row id (never shown: responses are numbered).
    pub id: i64,
    /// 1 for the first to come (an anonymous consultation renumbers them).
    pub number: u64,
    /// How it came: `email`, `sms`, `post`, `paper` or `open`.
    pub channel: String,
    /// The day it came (UTC).
    pub submitted_on: NaiveDate,
    /// The channel its invitation went by; none for an open link.
    pub invited_by: Option<String>,
}

/// The responses of `consultation` that meet `filter`, each numbered among all of them in
/// the order they came; with `arrival_page` `(after, limit)`, only up to `limit` numbered
/// after `after`, in number order (without it, all of them, in no set order).
pub async fn filtered(
    db: &impl ConnectionTrait,
    id: ConsultationId,
    filter: &ResponseFilter,
    arrival_page: Option<(u64, u64)>,
) -> AppResult<Vec<Row>> {
    let mut values: Vec<Value> = vec![id.get().into()];
    let mut bind = |value: Value| {
        values.push(value);
        format!("${}", values.len())
    };
    let mut sql = String::from(
        "SELECT t.id, t.number, t.channel, t.submitted_on, i.channel \
         FROM (SELECT s.id, s.invitation_id, s.channel, s.submitted_on, \
                 ROW_NUMBER() OVER (ORDER BY s.id) AS number \
               FROM responses s WHERE s.consultation_id = $1) t \
         LEFT JOIN invitations i ON i.id = t.invitation_id \
         WHERE 1 = 1",
    );
    if !filter.channels.is_empty() {
        let list: Vec<String> = filter
            .channels
            .iter()
            .map(|c| bind(c.as_str().into()))
            .collect();
        sql.push_str(&format!(" AND t.channel IN ({})", list.join(", ")));
    }
    if let Some(from) = filter.from {
        sql.push_str(&format!(" AND t.submitted_on >= {}", bind(from.into())));
    }
    if let Some(to) = filter.to {
        sql.push_str(&format!(" AND t.submitted_on <= {}", bind(to.into())));
    }
    for condition in &filter.answers {
        let mut exists = format!(
            "SELECT 1 FROM answers a WHERE a.response_id = t.id AND a.question_key = {}",
            bind(condition.question_key.clone().into())
        );
        if !condition.options.is_empty() {
            let list: Vec<String> = condition
                .options
                .iter()
                .map(|o| bind(o.clone().into()))
                .collect();
            exists.push_str(&format!(" AND a.option_key IN ({})", list.join(", ")));
        }
        if let Some(min) = condition.min {
            exists.push_str(&format!(" AND a.scale >= {}", bind(min.into())));
        }
        if let Some(max) = condition.max {
            exists.push_str(&format!(" AND a.scale <= {}", bind(max.into())));
        }
        let not = if condition.answered { "" } else { "NOT " };
        sql.push_str(&format!(" AND {not}EXISTS ({exists})"));
    }
    if let Some(text) = &filter.text {
        let pattern = format!("%{}%", like_escaped(&text.trim().to_lowercase()));
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM answers a WHERE a.response_id = t.id \
               AND a.text IS NOT NULL AND LOWER(a.text) LIKE {} ESCAPE '\\')",
            bind(pattern.into())
        ));
    }
    if let Some((after, limit)) = arrival_page {
        sql.push_str(&format!(
            " AND t.number > {} ORDER BY t.number LIMIT {}",
            bind(i64::try_from(after).unwrap_or(i64::MAX).into()),
            bind(i64::try_from(limit).unwrap_or(i64::MAX).into())
        ));
    }
    query(db, sql, values)
        .await?
        .iter()
        .map(|row| {
            let number: i64 = row.try_get_by_index(1)?;
            Ok(Row {
                id: row.try_get_by_index(0)?,
                number: u64::try_from(number).unwrap_or(0),
                channel: row.try_get_by_index(2)?,
                submitted_on: row.try_get_by_index(3)?,
                invited_by: row.try_get_by_index(4)?,
            })
        })
        .collect()
}

/// Each response of `consultation` in the order it came: its number, and the resident and
/// channel of its invitation (none for an open-link response).
pub async fn members(
    db: &impl ConnectionTrait,
    consultation: ConsultationId,
) -> AppResult<Vec<(i64, Option<i64>, Option<String>)>> {
    query(
        db,
        "SELECT t.number, i.resident_id, i.channel FROM \
           (SELECT s.id, s.invitation_id, ROW_NUMBER() OVER (ORDER BY s.id) AS number \
            FROM responses s WHERE s.consultation_id = $1) t \
         LEFT JOIN invitations i ON i.id = t.invitation_id ORDER BY t.id"
            .to_owned(),
        vec![consultation.get().into()],
    )
    .await?
    .iter()
    .map(|row| {
        Ok((
            row.try_get_by_index(0)?,
            row.try_get_by_index(1)?,
            row.try_get_by_index(2)?,
        ))
    })
    .collect()
}

/// `text` with the characters `LIKE` treats specially escaped by a backslash.
fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
