//! Answering in the API: what a resident sees by link or code, the answers given, and the
//! inputs that save, submit and enter them.

use super::*;

/// A consultation as a respondent sees it.
pub struct PublicConsultation(pub Consultation, pub Vec<QuestionItem>);

/// A consultation as a respondent sees it.
#[Object]
impl PublicConsultation {
    /// What the consultation is called.
    pub(super) async fn title(&self) -> &str {
        &self.0.title
    }
    /// Plain-language summary.
    pub(super) async fn summary(&self) -> &str {
        &self.0.summary
    }
    /// Whether it is open, closed or not yet open.
    pub(super) async fn status(&self) -> StatusValue {
        self.0.status.into()
    }
    /// Answers are kept apart from who gave them.
    pub(super) async fn anonymous(&self) -> bool {
        self.0.anonymous
    }
    /// Answers accepted from.
    pub(super) async fn opens_at(&self) -> Option<DateTime<Utc>> {
        self.0.opens_at
    }
    /// Answers accepted until.
    pub(super) async fn closes_at(&self) -> Option<DateTime<Utc>> {
        self.0.closes_at
    }
    /// The questions, in order.
    pub(super) async fn questions(&self) -> Vec<QuestionView> {
        self.1.iter().cloned().map(QuestionView).collect()
    }
}

/// One answer, as saved or given.
#[derive(SimpleObject, InputObject, Clone, Default)]
#[graphql(input_name = "AnswerInput")]
pub struct AnswerValue {
    /// The `key` of one of the consultation's questions; a key naming no question is
    /// refused.
    pub question_key: String,
    /// Chosen option keys: one for a single choice, several for a multiple choice, every
    /// option in order of preference for a ranking.
    pub options: Option<Vec<String>>,
    /// A scale value: 1–5 for agreement, 0–10 for a rating.
    pub value: Option<i32>,
    /// A free-text answer.
    pub text: Option<String>,
}

impl AnswerValue {
    /// The answer it gives: `None` when it gives none (clears a saved answer).
    pub(super) fn parse(self, field: &str) -> async_graphql::Result<(String, Option<Answer>)> {
        let given = [
            self.options.is_some(),
            self.value.is_some(),
            self.text.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given > 1 {
            return Err(AppError::bad_input(
                field,
                format!(
                    "Question {:?}: give options, a value or a text, not more than one.",
                    self.question_key
                ),
            )
            .into());
        }
        let answer = if let Some(options) = self.options {
            Some(Answer::Options(options))
        } else if let Some(value) = self.value {
            let value = u8::try_from(value).map_err(|_| {
                AppError::bad_input(
                    field,
                    format!(
                        "Question {:?}: {value} is not on any scale.",
                        self.question_key
                    ),
                )
            })?;
            Some(Answer::Scale(value))
        } else {
            self.text.map(Answer::Text)
        };
        Ok((self.question_key, answer))
    }

    pub(super) fn from_answer(key: String, answer: Answer) -> Self {
        match answer {
            Answer::Options(options) => Self {
                question_key: key,
                options: Some(options),
                ..Default::default()
            },
            Answer::Scale(v) => Self {
                question_key: key,
                value: Some(i32::from(v)),
                ..Default::default()
            },
            Answer::Text(text) => Self {
                question_key: key,
                text: Some(text),
                ..Default::default()
            },
        }
    }
}

pub(super) fn answers_in(
    answers: Vec<AnswerValue>,
) -> async_graphql::Result<Vec<(String, Option<Answer>)>> {
    answers
        .into_iter()
        .enumerate()
        .map(|(i, a)| a.parse(&format!("input.answers.{i}")))
        .collect()
}

/// An invitation as its holder sees it: the consultation, the questions and what they
/// have saved so far.
pub struct InvitedView(pub Invited);

/// An invitation as its holder sees it: the consultation, the questions and what they
/// have saved so far.
#[Object(name = "InvitedConsultation")]
impl InvitedView {
    /// The invitation's ID (signed-in residents answer by it).
    pub(super) async fn invitation_id(&self) -> ID {
        id::encode(self.0.invitation.id)
    }
    /// How far it has got.
    pub(super) async fn stage(&self) -> StageValue {
        self.0.invitation.stage.into()
    }
    /// When the answers were submitted (null: not yet).
    pub(super) async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.invitation.completed_at
    }
    /// What the member is asked: the consultation's wording and questions, as a
    /// respondent sees them.
    pub(super) async fn consultation(&self) -> PublicConsultation {
        PublicConsultation(self.0.consultation.clone(), self.0.questions.clone())
    }
    /// For a member who opened it with the code printed on their letter: the invitation's
    /// own link token. Save and submit with it (as with an email's link), so that only the
    /// first look-up of the code counts against the limits on codes. Null otherwise.
    pub(super) async fn token(&self) -> Option<&str> {
        self.0.token.as_deref()
    }
    /// Answers saved so far (cleared once submitted).
    pub(super) async fn saved_answers(&self) -> Vec<AnswerValue> {
        self.0
            .saved
            .iter()
            .cloned()
            .map(|(k, a)| AnswerValue::from_answer(k, a))
            .collect()
    }
}

/// Answers to keep, without submitting them, for one invitation.
#[derive(InputObject)]
pub struct AnswersSaveInput {
    /// The token from the personal link, or the code printed on the postal letter; or
    pub token: Option<String>,
    /// the invitation's ID, signed in.
    pub invitation_id: Option<ID>,
    /// Answers to save; one with no options, value or text clears that question's.
    pub answers: Vec<AnswerValue>,
}

/// Answers to submit.
#[derive(InputObject)]
pub struct ResponseSubmitInput {
    /// The token from the personal link, or the code printed on the postal letter; or
    pub token: Option<String>,
    /// the invitation's ID, signed in.
    pub invitation_id: Option<ID>,
    /// Answers (over those saved before); may be empty when all are saved.
    #[graphql(default)]
    pub answers: Vec<AnswerValue>,
    /// How the respondent answered.
    #[graphql(default)]
    pub channel: AnswerChannelValue,
}

/// Answers received on paper or by phone.
#[derive(InputObject)]
pub struct ResponseEnterInput {
    /// The member's invitation; or
    pub invitation_id: Option<ID>,
    /// the short code printed on their letter.
    pub code: Option<String>,
    /// `PAPER` or `PHONE`.
    pub channel: AnswerChannelValue,
    /// The answers on the paper form or given on the phone.
    pub answers: Vec<AnswerValue>,
}

/// A response to an open-link survey.
#[derive(InputObject)]
pub struct OpenResponseSubmitInput {
    /// The code from the open link or QR code.
    pub code: String,
    /// Every answer at once (an open-link response has nothing saved before), checked as
    /// a whole.
    pub answers: Vec<AnswerValue>,
    /// A key the client made for this response (1 to 64 characters), so a retry is not
    /// counted twice.
    pub submission_key: Option<String>,
}

/// An open-link response, recorded.
#[derive(SimpleObject)]
pub struct OpenResponseSubmitPayload {
    /// Its submission key had already been used: nothing new was recorded.
    pub duplicate: bool,
}

/// A submission.
#[derive(SimpleObject)]
pub struct ResponseSubmitPayload {
    /// The invitation's stage (COMPLETED).
    pub stage: StageValue,
    /// When it was completed (the day only, for an anonymous consultation).
    pub completed_at: Option<DateTime<Utc>>,
    /// It had already been submitted: nothing new was recorded.
    pub duplicate: bool,
}

impl From<Submitted> for ResponseSubmitPayload {
    fn from(s: Submitted) -> Self {
        Self {
            stage: s.invitation.stage.into(),
            completed_at: s.invitation.completed_at,
            duplicate: s.duplicate,
        }
    }
}

pub(super) fn access(
    ctx: &Context<'_>,
    token: Option<String>,
    invitation: Option<ID>,
) -> async_graphql::Result<Access> {
    match (token, invitation) {
        (Some(token), None) => Ok(Access::holding(
            token,
            context::request(ctx).client,
            "input.token",
        )?),
        (None, Some(invitation)) => Ok(Access::Invitation(id::decode::<InvitationId>(
            &invitation,
            "input.invitationId",
        )?)),
        _ => Err(AppError::bad_input(
            "input.token",
            "Give either the token or the invitation's ID.",
        )
        .into()),
    }
}

pub(super) fn complete_answers(
    answers: Vec<AnswerValue>,
) -> async_graphql::Result<Vec<(String, Answer)>> {
    answers_in(answers)?
        .into_iter()
        .enumerate()
        .map(|(i, (key, answer))| {
            answer.map(|a| (key.clone(), a)).ok_or_else(|| {
                AppError::bad_input(
                    format!("input.answers.{i}"),
                    format!("Question {key:?}: give options, a value or a text."),
                )
                .into()
            })
        })
        .collect()
}
