//! Officers reading what residents answered: `responses`, a consultation's responses one
//! by one, free text included (never SCRUTINY's); and the audit log, for ADMIN.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::ids::{AuditEntryId, ConsultationId, ResponseNumber};
use crate::graphql::consultations::{AnswerChannelValue, ChannelValue};
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::graphql::id;
use crate::graphql::pagination::{Page, connection_complexity};
use crate::service::audit::{self, Entry};
use crate::service::consultations::responses::{
    self, AnswerCondition, GivenAnswer, ResponseFilter, ResponseView,
};

/// Which responses to list: every condition given must hold.
#[derive(InputObject, Default)]
pub struct ResponseFilterInput {
    /// Only responses that came one of these ways. Refused for an anonymous consultation,
    /// whose responses are not told apart by the way they came.
    #[graphql(default)]
    pub channels: Vec<AnswerChannelValue>,
    /// Only responses submitted on or after this day (UTC). Refused for an anonymous
    /// consultation.
    pub submitted_from: Option<NaiveDate>,
    /// Only responses submitted on or before this day (UTC). Refused for an anonymous
    /// consultation.
    pub submitted_to: Option<NaiveDate>,
    /// Conditions on answers, all of which must hold.
    #[graphql(default)]
    pub answers: Vec<AnswerConditionInput>,
    /// Only responses with a free-text answer containing this (1 to 200 characters,
    /// whatever their case: the letters A to Z always; others as the database folds case,
    /// on PostgreSQL by its locale, on SQLite not at all).
    pub text: Option<String>,
}

/// A condition on the answer to one question.
#[derive(InputObject)]
pub struct AnswerConditionInput {
    /// The `key` of the question the condition is on; one naming no question is
    /// `BAD_USER_INPUT`.
    pub question_key: String,
    /// Chose (ticked, ranked) any of these options (keys).
    #[graphql(default)]
    pub options: Vec<String>,
    /// A scale answer (agreement 1–5, rating 0–10) at least this.
    pub min: Option<i32>,
    /// A scale answer at most this.
    pub max: Option<i32>,
    /// `false` for responses that did not answer it (skipped, or not shown to them); then
    /// no options or values may be given.
    #[graphql(default = true)]
    pub answered: bool,
}

impl From<ResponseFilterInput> for ResponseFilter {
    fn from(input: ResponseFilterInput) -> Self {
        Self {
            channels: input.channels.into_iter().map(Into::into).collect(),
            from: input.submitted_from,
            to: input.submitted_to,
            answers: input
                .answers
                .into_iter()
                .map(|a| AnswerCondition {
                    question_key: a.question_key,
                    options: a.options,
                    min: a.min.map(i64::from),
                    max: a.max.map(i64::from),
                    answered: a.answered,
                })
                .collect(),
            text: input.text,
        }
    }
}

/// One submitted response, as an officer reads it.
pub struct ResponseNode(pub ResponseView);

/// One submitted response, as an officer reads it. An anonymous consultation's responses
/// give their number and answers only.
#[Object(name = "Response")]
impl ResponseNode {
    /// 1 for the consultation's first response, and so on in the order they came (for an
    /// anonymous consultation, in a shuffle keyed by the server's secret, which follows no
    /// order); the same number as in the responses export, whatever the filter.
    async fn number(&self) -> u64 {
        self.0.number
    }
    /// How it came (null for an anonymous consultation).
    async fn channel(&self) -> Option<AnswerChannelValue> {
        self.0.channel.map(Into::into)
    }
    /// The channel of the invitation it answered (null for an open-link response or an
    /// anonymous consultation).
    async fn invitation_channel(&self) -> Option<ChannelValue> {
        self.0.invited_by.map(Into::into)
    }
    /// The day it came, UTC (null for an anonymous consultation). The time is not given:
    /// it would tie the response to its invitation's completion, which
    /// `response-members.csv` does, logged.
    async fn submitted_on(&self) -> Option<NaiveDate> {
        self.0.submitted_on
    }
    /// Its answers, in question order; a question it did not answer is left out.
    async fn answers(&self) -> Vec<ResponseAnswer> {
        self.0.answers.iter().cloned().map(Into::into).collect()
    }
}

/// The answer to one question.
#[derive(SimpleObject)]
pub struct ResponseAnswer {
    /// The `key` of the question answered, as `Question.key` gives it.
    pub question_key: String,
    /// The options chosen (keys; a ranking's in the order given).
    pub options: Vec<String>,
    /// Their labels, as the respondent saw them.
    pub labels: Vec<String>,
    /// A scale answer (agreement 1–5, rating 0–10).
    pub value: Option<i64>,
    /// A free-text answer.
    pub text: Option<String>,
}

impl From<GivenAnswer> for ResponseAnswer {
    fn from(a: GivenAnswer) -> Self {
        Self {
            question_key: a.question_key,
            options: a.options,
            labels: a.labels,
            value: a.value,
            text: a.text,
        }
    }
}

/// A staff action on residents' personal data.
#[derive(SimpleObject)]
pub struct AuditEntry {
    /// The entry's global ID. No query takes it; it tells entries apart.
    pub id: ID,
    /// When the data was read or downloaded.
    pub at: DateTime<Utc>,
    /// The `Account` ID of the staff member who acted; null when no account did.
    pub account_id: Option<ID>,
    /// What: `responses.read` (a page of a consultation's responses read),
    /// `responses.export` (a consultation's responses downloaded) or
    /// `response_members.export` (which member gave which response, downloaded).
    pub action: String,
    /// On what, e.g. `consultation:12`.
    pub subject: String,
    /// How many records it reached.
    pub records: Option<u64>,
    /// The IP address the request came from, when known.
    pub client: Option<String>,
}

impl From<Entry> for AuditEntry {
    fn from(e: Entry) -> Self {
        Self {
            id: id::encode(e.id),
            at: e.at,
            account_id: e.account.map(id::encode),
            action: e.action,
            subject: e.subject,
            records: e.records,
            client: e.client,
        }
    }
}

/// Queries of responses and the audit log.
#[derive(Default)]
pub struct ResponseQuery;

#[Object]
impl ResponseQuery {
    /// A consultation's responses by number, with every answer, free text included
    /// (OFFICER; never SCRUTINY). Filter by the way or the day they came (not for an
    /// anonymous consultation), by answers, and by words in free text. An unknown question
    /// or option in a filter is `BAD_USER_INPUT` naming it. An anonymous consultation's
    /// responses are read once it is closed (`CONFLICT` before). Each read is written in
    /// the audit log.
    #[graphql(
        guard = "RoleGuard::OFFICER",
        complexity = "connection_complexity(first, child_complexity)"
    )]
    async fn responses(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] consultation_id: ID,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last response of the previous page.")] after: Option<
            String,
        >,
        #[graphql(desc = "Which responses.")] filter: Option<ResponseFilterInput>,
    ) -> async_graphql::Result<Connection<String, ResponseNode>> {
        let consultation = id::decode::<ConsultationId>(&consultation_id, "consultationId")?;
        let page = Page::<ResponseNumber>::parse(first, after.as_deref())?;
        let state = context::state(ctx)?;
        let filter: ResponseFilter = filter.unwrap_or_default().into();
        let request = context::request(ctx);
        let rows = responses::list(
            state,
            &request.caller,
            request.client,
            consultation,
            &filter,
            page.after.and_then(|n| u64::try_from(n.get()).ok()),
            page.first,
        )
        .await?;
        Ok(page.connection(
            rows,
            |r| ResponseNumber(i64::try_from(r.number).unwrap_or(i64::MAX)),
            ResponseNode,
        ))
    }

    /// The audit log, newest first (ADMIN): staff actions on residents' personal data.
    #[graphql(
        guard = "RoleGuard::ADMIN",
        complexity = "connection_complexity(first, child_complexity)"
    )]
    async fn audit_entries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last entry of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<String, AuditEntry>> {
        let page = Page::<AuditEntryId>::parse(first, after.as_deref())?;
        let state = context::state(ctx)?;
        let rows = audit::entries(state, &context::caller(ctx), page.after, page.first).await?;
        Ok(page.connection(rows, |e| e.id, Into::into))
    }
}
