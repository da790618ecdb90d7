//! A consultation's responses as CSV files for officers, and which member gave each.
//!
//! `responses.csv` is one row per response: its number (as `Consultation.responses` gives
//! it), how and when it came (not for an anonymous consultation), then a column per
//! question key, and a column per option of a multiple choice (`1` ticked, `0` answered
//! without ticking it, empty when not answered) or a ranking (its rank). Single choices
//! give the option's label, scales their value, free text its text. No name, contact
//! detail or profile is in it. `response-members.csv` is the separate key from response
//! number to resident number, for a consultation that is not anonymous. Both downloads
//! are written in the audit log before a byte is sent, and the first streams a thousand
//! responses at a time, however many there are.

use std::sync::Arc;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::db::entities::response;
use crate::db::responses as stored;
use crate::domain::consultations::consultation::{Consultation, QuestionItem};
use crate::domain::consultations::questionnaire::QuestionKind;
use crate::domain::ids::ConsultationId;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::{Caller, ClientAddress};
use crate::service::audit::{self, Action};
use crate::service::consultations::responses::{
    self, Numbering, ResponseFilter, answers_of, given, readable,
};
use crate::service::reports::report_csv::spreadsheet_safe;
use crate::state::AppState;

/// Responses written in one piece of the stream.
const CHUNK: u64 = 1_000;

/// One column of `responses.csv`.
enum Column {
    Number,
    Channel,
    SubmittedOn,
    /// The chosen option's label, a scale's value or the text.
    Question(String),
    /// A multiple choice's option: ticked or not.
    Ticked(String, String),
    /// A ranking's option: its rank.
    Rank(String, String),
}

impl Column {
    fn name(&self) -> String {
        match self {
            Self::Number => "response_number".to_owned(),
            Self::Channel => "channel".to_owned(),
            Self::SubmittedOn => "submitted_on".to_owned(),
            Self::Question(key) => key.clone(),
            Self::Ticked(key, option) | Self::Rank(key, option) => format!("{key}:{option}"),
        }
    }
}

/// A `responses.csv` being written.
pub struct ResponsesExport {
    consultation: Consultation,
    questions: Arc<Vec<QuestionItem>>,
    columns: Vec<Column>,
}

/// Starts a consultation's `responses.csv` for an officer, once the download is in the
/// audit log.
pub async fn responses(
    state: &AppState,
    caller: &Caller,
    client: ClientAddress,
    id: ConsultationId,
) -> AppResult<ResponsesExport> {
    let (consultation, questions) = readable(state, caller, id).await?;
    let count = response::Entity::find()
        .filter(response::Column::ConsultationId.eq(id))
        .count(state.db.reader())
        .await?;
    audit::record(
        state.db.writer(),
        caller,
        client,
        Action::ResponsesExport,
        format!("consultation:{id}"),
        Some(count),
        state.clock.now(),
    )
    .await?;
    tracing::info!(consultation_id = %id, responses = count, by = ?caller.account(), "responses exported");
    let mut columns = vec![Column::Number];
    if !consultation.anonymous {
        columns.extend([Column::Channel, Column::SubmittedOn]);
    }
    for item in questions.iter() {
        let key = &item.question.key;
        match &item.question.kind {
            QuestionKind::MultipleChoice { options, .. } => columns.extend(
                options
                    .iter()
                    .map(|o| Column::Ticked(key.clone(), o.clone())),
            ),
            QuestionKind::Ranking { options } => {
                columns.extend(options.iter().map(|o| Column::Rank(key.clone(), o.clone())));
            }
            _ => columns.push(Column::Question(key.clone())),
        }
    }
    Ok(ResponsesExport {
        consultation,
        questions,
        columns,
    })
}

impl ResponsesExport {
    /// `consultation-ID-responses.csv`, what the download is saved as.
    pub fn file_name(&self) -> String {
        format!("consultation-{}-responses.csv", self.consultation.id)
    }

    /// The start of the file: a byte-order mark (so Excel reads UTF-8) and the header.
    pub fn header(&self) -> AppResult<Vec<u8>> {
        let mut writer = csv::Writer::from_writer("\u{feff}".as_bytes().to_vec());
        writer
            .write_record(self.columns.iter().map(|c| spreadsheet_safe(&c.name())))
            .map_err(AppError::internal)?;
        writer.into_inner().map_err(AppError::internal)
    }

    /// The rows of up to a thousand responses numbered after `after`, and the last one's
    /// number; `None` once every response is written.
    pub async fn rows(
        &self,
        state: &AppState,
        after: Option<u64>,
    ) -> AppResult<Option<(Vec<u8>, u64)>> {
        let db = state.db.reader();
        let numbering = Numbering::of(state, &self.consultation);
        let page =
            responses::page(db, &numbering, &ResponseFilter::default(), after, CHUNK).await?;
        let Some(last) = page.last().map(|row| row.number) else {
            return Ok(None);
        };
        let ids: Vec<i64> = page.iter().map(|row| row.id).collect();
        let answers = answers_of(db, &ids).await?;
        let mut writer = csv::Writer::from_writer(Vec::new());
        for row in &page {
            let stored = answers.get(&row.id).map_or(&[][..], Vec::as_slice);
            let given = given(stored, &self.questions);
            let answer = |key: &str| given.iter().find(|a| a.question_key == key);
            let cells = self.columns.iter().map(|column| match column {
                Column::Number => row.number.to_string(),
                Column::Channel => row.channel.clone(),
                Column::SubmittedOn => row.submitted_on.to_string(),
                Column::Question(key) => answer(key).map_or_else(String::new, |a| {
                    a.text
                        .clone()
                        .or_else(|| a.value.map(|v| v.to_string()))
                        .or_else(|| a.labels.first().cloned())
                        .unwrap_or_default()
                }),
                Column::Ticked(key, option) => answer(key)
                    .map(|a| u8::from(a.options.contains(option)).to_string())
                    .unwrap_or_default(),
                Column::Rank(key, option) => answer(key)
                    .and_then(|a| a.options.iter().position(|o| o == option))
                    .map(|rank| (rank + 1).to_string())
                    .unwrap_or_default(),
            });
            writer
                .write_record(cells.map(|cell| spreadsheet_safe(&cell)))
                .map_err(AppError::internal)?;
        }
        Ok(Some((
            writer.into_inner().map_err(AppError::internal)?,
            last,
        )))
    }
}

/// Which member gave which response of a consultation that is not anonymous, as
/// `response_number,resident_number,invitation_channel` (open-link responses have no
/// member), for an officer, once the download is in the audit log. An anonymous
/// consultation's responses are linked to no one: `CONFLICT`.
pub async fn members(
    state: &AppState,
    caller: &Caller,
    client: ClientAddress,
    id: ConsultationId,
) -> AppResult<Vec<u8>> {
    let (consultation, _) = readable(state, caller, id).await?;
    if consultation.anonymous {
        return Err(AppError::conflict(
            "This consultation is anonymous: its responses are linked to no one.",
        ));
    }
    let rows = stored::members(state.db.reader(), id).await?;
    audit::record(
        state.db.writer(),
        caller,
        client,
        Action::ResponseMembersExport,
        format!("consultation:{id}"),
        Some(u64::try_from(rows.len()).unwrap_or(u64::MAX)),
        state.clock.now(),
    )
    .await?;
    tracing::info!(consultation_id = %id, responses = rows.len(), by = ?caller.account(), "response members exported");
    let mut writer = csv::Writer::from_writer("\u{feff}".as_bytes().to_vec());
    writer
        .write_record(["response_number", "resident_number", "invitation_channel"])
        .map_err(AppError::internal)?;
    for (number, resident, channel) in rows {
        writer
            .write_record([
                number.to_string(),
                resident.map(|r| r.to_string()).unwrap_or_default(),
                channel.unwrap_or_default(),
            ])
            .map_err(AppError::internal)?;
    }
    writer.into_inner().map_err(AppError::internal)
}
