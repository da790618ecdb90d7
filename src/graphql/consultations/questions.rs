//! A survey's questions in the API: kinds, options, skip rules, the plain-language scores
//! of their wording, and the input that sets them.

use super::*;

/// What kind of answer a question takes.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum QuestionKindValue {
    /// One of the options.
    SingleChoice,
    /// Some of the options, at most `maxChoices`.
    MultipleChoice,
    /// Strongly disagree (1) to strongly agree (5).
    Agreement,
    /// 0 to 10 (Net Promoter Score and satisfaction).
    Rating,
    /// Free text up to `maxChars` characters.
    FreeText,
    /// Every option put in order of preference.
    Ranking,
}

/// One option of a choice or ranking question.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "QuestionOptionInput")]
pub struct QuestionOption {
    /// A stable key (letters, digits, `_`, `-`): what answers and reports use.
    pub key: String,
    /// What the respondent reads.
    pub label: String,
}

/// Show a question only when an earlier one was answered so.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "ShowWhenInput")]
pub struct ShowWhenRule {
    /// The earlier question's key.
    pub question_key: String,
    /// The option key (or, for a scale, the value as text) that shows this question.
    pub answer: String,
}

/// How readable a piece of text is (Flesch, 1948; Kincaid et al., 1975).
#[derive(SimpleObject)]
pub struct TextReadability {
    /// Which text: `title`, `summary`, `question:KEY`, `option:KEY:OPTION`.
    pub field: String,
    /// Flesch reading ease: higher is easier (60–70 is plain English); rounded to one
    /// decimal.
    pub reading_ease: f64,
    /// Flesch–Kincaid grade, rounded to one decimal.
    pub grade: f64,
    /// Reading age in years: the grade + 5, never below 5, rounded to one decimal.
    pub reading_age: f64,
    /// Whether `readingAge` as shown (rounded) is above the consultation's reading-age
    /// target: 9.0 is not above 9.
    pub above_target: bool,
    /// The longest sentences, longest first (at most three).
    pub longest_sentences: Vec<String>,
    /// Words of three or more syllables, most first (at most ten).
    pub hard_words: Vec<String>,
}

pub(super) fn readability_of(field: String, text: &str, target: f64) -> Option<TextReadability> {
    readability::score(text).map(|r| TextReadability {
        field,
        reading_ease: readability::rounded(r.reading_ease),
        grade: readability::rounded(r.grade),
        reading_age: readability::rounded(r.reading_age),
        above_target: r.above(target),
        longest_sentences: r.longest_sentences.into_iter().map(|(s, _)| s).collect(),
        hard_words: r.hard_words.into_iter().map(|(w, _)| w).collect(),
    })
}

/// One question of a consultation, with its options' labels as respondents read them.
pub struct QuestionView(pub QuestionItem);

/// One question of a consultation, with its options' labels as respondents read them.
#[Object(name = "Question")]
impl QuestionView {
    /// Its stable key (kept when the consultation is duplicated).
    pub(super) async fn key(&self) -> &str {
        &self.0.question.key
    }
    /// The wording.
    pub(super) async fn text(&self) -> &str {
        &self.0.question.text
    }
    /// The kind of answer.
    pub(super) async fn kind(&self) -> QuestionKindValue {
        match self.0.question.kind {
            QuestionKind::SingleChoice { .. } => QuestionKindValue::SingleChoice,
            QuestionKind::MultipleChoice { .. } => QuestionKindValue::MultipleChoice,
            QuestionKind::Agreement => QuestionKindValue::Agreement,
            QuestionKind::Rating => QuestionKindValue::Rating,
            QuestionKind::FreeText { .. } => QuestionKindValue::FreeText,
            QuestionKind::Ranking { .. } => QuestionKindValue::Ranking,
        }
    }
    /// Options of a choice or ranking question, in order.
    pub(super) async fn options(&self) -> Vec<QuestionOption> {
        let keys: &[String] = match &self.0.question.kind {
            QuestionKind::SingleChoice { options }
            | QuestionKind::MultipleChoice { options, .. }
            | QuestionKind::Ranking { options } => options,
            _ => &[],
        };
        keys.iter()
            .zip(&self.0.labels)
            .map(|(key, label)| QuestionOption {
                key: key.clone(),
                label: label.clone(),
            })
            .collect()
    }
    /// Most options a multiple choice accepts (null: all).
    pub(super) async fn max_choices(&self) -> Option<u32> {
        match &self.0.question.kind {
            QuestionKind::MultipleChoice { max, .. } => max.and_then(|m| u32::try_from(m).ok()),
            _ => None,
        }
    }
    /// Longest free-text answer.
    pub(super) async fn max_chars(&self) -> Option<u32> {
        match &self.0.question.kind {
            QuestionKind::FreeText { max_chars } => u32::try_from(*max_chars).ok(),
            _ => None,
        }
    }
    /// Must be answered when shown.
    pub(super) async fn required(&self) -> bool {
        self.0.question.required
    }
    /// Shown only when an earlier answer is this (null: always shown).
    pub(super) async fn show_when(&self) -> Option<ShowWhenRule> {
        self.0.question.show_when.as_ref().map(|s| ShowWhenRule {
            question_key: s.question.clone(),
            answer: s.answer.clone(),
        })
    }
    /// The profile dimension an "about you" question records for open-link respondents.
    pub(super) async fn about_you(&self) -> Option<&str> {
        self.0.about_you.as_deref()
    }
}

/// One question as an officer writes it.
#[derive(InputObject)]
pub struct QuestionInput {
    /// A stable key (letters, digits, `_`, `-`), kept across rounds.
    pub key: String,
    /// The wording.
    pub text: String,
    /// The kind of answer.
    pub kind: QuestionKindValue,
    /// Options of a choice or ranking question, in order.
    #[graphql(default)]
    pub options: Vec<QuestionOption>,
    /// Most options a multiple choice accepts (null: all).
    pub max_choices: Option<i32>,
    /// Longest free-text answer (default 2,000).
    pub max_chars: Option<i32>,
    /// Must be answered when shown.
    #[graphql(default = false)]
    pub required: bool,
    /// Show only when an earlier question was answered so.
    pub show_when: Option<ShowWhenRule>,
    /// For open-link surveys: the profile dimension this single-choice question records
    /// (`age_band`, `sex`, `ethnic_group`, `disability`, `ward`): the chosen option's label
    /// (at most 200 characters) is kept, so write labels as the census names categories.
    pub about_you: Option<String>,
}

impl QuestionInput {
    pub(super) fn request(self, i: usize) -> async_graphql::Result<QuestionRequest> {
        let size = |n: Option<i32>, name: &str| {
            n.map(|n| {
                usize::try_from(n).map_err(|_| {
                    AppError::bad_input(format!("input.questions.{i}.{name}"), "Give 1 or more.")
                })
            })
            .transpose()
        };
        let (keys, labels): (Vec<String>, Vec<String>) =
            self.options.into_iter().map(|o| (o.key, o.label)).unzip();
        let kind = match self.kind {
            QuestionKindValue::SingleChoice => QuestionKind::SingleChoice { options: keys },
            QuestionKindValue::MultipleChoice => QuestionKind::MultipleChoice {
                options: keys,
                max: size(self.max_choices, "maxChoices")?,
            },
            QuestionKindValue::Agreement => QuestionKind::Agreement,
            QuestionKindValue::Rating => QuestionKind::Rating,
            QuestionKindValue::FreeText => QuestionKind::FreeText {
                max_chars: size(self.max_chars, "maxChars")?.unwrap_or(2_000),
            },
            QuestionKindValue::Ranking => QuestionKind::Ranking { options: keys },
        };
        Ok(QuestionRequest {
            key: self.key,
            text: self.text,
            kind,
            labels,
            required: self.required,
            show_when: self.show_when.map(|s| ShowWhen {
                question: s.question_key,
                answer: s.answer,
            }),
            about_you: self.about_you,
        })
    }
}
