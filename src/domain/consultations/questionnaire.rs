//! A consultation's questions and the checking of a respondent's answers: question types
//! (single and multiple choice, a five-point agreement scale, a 0–10 rating, free text,
//! ranking), required or optional, and simple skip logic (show a question only when an
//! earlier one was answered a certain way).
//!
//! Answers are checked against the questions as a whole: a shown required question must
//! have an answer and each answer must fit its type. Saving as you go checks each answer
//! alone ([`check_answer`]), so drafts may hold answers to questions that later answers
//! hide; submitting drops those ([`visible_answers`]) and checks the rest
//! ([`check_submission`], which refuses an answer to a hidden question outright).

use std::collections::{HashMap, HashSet};

/// What kind of answer a question takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuestionKind {
    /// One of the options.
    SingleChoice {
        /// The options' keys, in order.
        options: Vec<String>,
    },
    /// Some of the options, at most `max` (all when `None`).
    MultipleChoice {
        /// The options' keys, in order.
        options: Vec<String>,
        /// Most options a respondent may tick.
        max: Option<usize>,
    },
    /// Strongly disagree (1) to strongly agree (5).
    Agreement,
    /// 0 to 10 (as for Net Promoter Score).
    Rating,
    /// Free text up to `max_chars` characters.
    FreeText {
        /// Longest answer.
        max_chars: usize,
    },
    /// Every option put in order of preference.
    Ranking {
        /// The options' keys.
        options: Vec<String>,
    },
}

/// Show a question only when an earlier question's answer includes this option (or, for
/// scales, is this value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShowWhen {
    /// The earlier question's key.
    pub question: String,
    /// The option key (or the scale value as text) that shows this question.
    pub answer: String,
}

/// One question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// A stable key, kept when the consultation is copied for next year, so rounds can be
    /// compared.
    pub key: String,
    /// The wording.
    pub text: String,
    /// The kind of answer.
    pub kind: QuestionKind,
    /// Whether a shown question must be answered.
    pub required: bool,
    /// When to show it; always when `None`.
    pub show_when: Option<ShowWhen>,
}

/// An answer as given. Stored (while saved before submission) as JSON:
/// `{"options": [...]}`, `{"scale": 4}` or `{"text": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    /// Option keys: one for a single choice, several for a multiple choice, all in order
    /// for a ranking.
    Options(Vec<String>),
    /// A scale value: 1–5 for agreement, 0–10 for a rating.
    Scale(u8),
    /// Free text.
    Text(String),
}

/// Why a questionnaire or an answer is refused; each names the question.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// No such question.
    #[error("there is no question {0:?}")]
    UnknownQuestion(String),
    /// The answer does not fit the question.
    #[error("question {0:?}: {1}")]
    Invalid(String, String),
    /// A shown, required question has no answer.
    #[error("question {0:?} must be answered")]
    Missing(String),
    /// A hidden question has an answer.
    #[error("question {0:?} is not shown given the earlier answers, so it takes no answer")]
    Hidden(String),
}

/// Why a set of questions cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuestionnaireError {
    /// Two questions share a key.
    #[error("two questions have the key {0:?}")]
    DuplicateKey(String),
    /// A choice question lists no option, or an option twice.
    #[error("question {0:?}: {1}")]
    Options(String, String),
    /// Skip logic that points forward, at itself or at nothing, or at an answer the
    /// earlier question cannot give.
    #[error("question {0:?}: {1}")]
    SkipLogic(String, String),
}

/// Checks a questionnaire: unique keys, options present and distinct, skip logic pointing
/// back at an earlier question and at an answer it can give.
pub fn check_questions(questions: &[Question]) -> Result<(), QuestionnaireError> {
    let mut seen: HashMap<&str, &Question> = HashMap::new();
    for question in questions {
        if seen.contains_key(question.key.as_str()) {
            return Err(QuestionnaireError::DuplicateKey(question.key.clone()));
        }
        if let Some(options) = options_of(&question.kind) {
            if options.is_empty() {
                return Err(QuestionnaireError::Options(
                    question.key.clone(),
                    "it has no options".to_owned(),
                ));
            }
            let distinct: HashSet<&String> = options.iter().collect();
            if distinct.len() != options.len() {
                return Err(QuestionnaireError::Options(
                    question.key.clone(),
                    "an option is listed twice".to_owned(),
                ));
            }
        }
        if let Some(rule) = &question.show_when {
            let Some(earlier) = seen.get(rule.question.as_str()) else {
                return Err(QuestionnaireError::SkipLogic(
                    question.key.clone(),
                    format!(
                        "it depends on {:?}, which is not an earlier question",
                        rule.question
                    ),
                ));
            };
            if !can_give(&earlier.kind, &rule.answer) {
                return Err(QuestionnaireError::SkipLogic(
                    question.key.clone(),
                    format!("{:?} cannot be answered {:?}", rule.question, rule.answer),
                ));
            }
        }
        seen.insert(&question.key, question);
    }
    Ok(())
}

fn options_of(kind: &QuestionKind) -> Option<&[String]> {
    match kind {
        QuestionKind::SingleChoice { options }
        | QuestionKind::MultipleChoice { options, .. }
        | QuestionKind::Ranking { options } => Some(options),
        _ => None,
    }
}

/// Whether a question of `kind` can be answered so that a rule on `answer` holds.
fn can_give(kind: &QuestionKind, answer: &str) -> bool {
    match kind {
        QuestionKind::SingleChoice { options } | QuestionKind::MultipleChoice { options, .. } => {
            options.iter().any(|o| o == answer)
        }
        QuestionKind::Agreement => answer.parse::<u8>().is_ok_and(|v| (1..=5).contains(&v)),
        QuestionKind::Rating => answer.parse::<u8>().is_ok_and(|v| v <= 10),
        QuestionKind::FreeText { .. } | QuestionKind::Ranking { .. } => false,
    }
}

/// Checks one answer against its question's type (not against skip logic or other
/// answers).
pub fn check_answer(question: &Question, answer: &Answer) -> Result<(), AnswerError> {
    let invalid = |why: String| Err(AnswerError::Invalid(question.key.clone(), why));
    match (&question.kind, answer) {
        (QuestionKind::SingleChoice { options }, Answer::Options(chosen)) => {
            if chosen.len() != 1 {
                return invalid("choose exactly one option".to_owned());
            }
            known(question, options, chosen)
        }
        (QuestionKind::MultipleChoice { options, max }, Answer::Options(chosen)) => {
            known(question, options, chosen)?;
            let distinct: HashSet<&String> = chosen.iter().collect();
            if distinct.len() != chosen.len() {
                return invalid("an option is chosen twice".to_owned());
            }
            match max {
                Some(max) if chosen.len() > *max => {
                    invalid(format!("choose at most {max} options"))
                }
                _ => Ok(()),
            }
        }
        (QuestionKind::Ranking { options }, Answer::Options(order)) => {
            known(question, options, order)?;
            let distinct: HashSet<&String> = order.iter().collect();
            if distinct.len() != options.len() || order.len() != options.len() {
                return invalid(format!(
                    "put all {} options in order, each once",
                    options.len()
                ));
            }
            Ok(())
        }
        (QuestionKind::Agreement, Answer::Scale(v)) if (1..=5).contains(v) => Ok(()),
        (QuestionKind::Agreement, Answer::Scale(v)) => {
            invalid(format!("{v} is not on the scale of 1 to 5"))
        }
        (QuestionKind::Rating, Answer::Scale(v)) if *v <= 10 => Ok(()),
        (QuestionKind::Rating, Answer::Scale(v)) => {
            invalid(format!("{v} is not on the scale of 0 to 10"))
        }
        (QuestionKind::FreeText { max_chars }, Answer::Text(text)) => {
            let length = text.chars().count();
            if length > *max_chars {
                invalid(format!(
                    "the answer has {length} characters; at most {max_chars}"
                ))
            } else if text.trim().is_empty() {
                invalid("the answer is empty".to_owned())
            } else {
                Ok(())
            }
        }
        _ => invalid("the answer is not of the question's kind".to_owned()),
    }
}

fn known(question: &Question, options: &[String], chosen: &[String]) -> Result<(), AnswerError> {
    match chosen.iter().find(|c| !options.contains(c)) {
        Some(unknown) => Err(AnswerError::Invalid(
            question.key.clone(),
            format!("{unknown:?} is not one of its options"),
        )),
        None => Ok(()),
    }
}

/// Whether `question` is shown given the answers so far.
pub fn is_shown(question: &Question, answers: &HashMap<String, Answer>) -> bool {
    let Some(rule) = &question.show_when else {
        return true;
    };
    match answers.get(&rule.question) {
        Some(Answer::Options(chosen)) => chosen.contains(&rule.answer),
        Some(Answer::Scale(v)) => v.to_string() == rule.answer,
        Some(Answer::Text(_)) | None => false,
    }
}

/// The answers to the questions shown, walked in question order: an answer to a question
/// the answers before it hide is dropped, and so is one to a question that only a dropped
/// answer would have shown (skip logic points back only, so one pass settles it). This is
/// what every survey tool does with a follow-up answered before its earlier question was
/// changed: the follow-up no longer applies. Answers naming no question are kept, for
/// [`check_submission`] to refuse.
pub fn visible_answers(
    questions: &[Question],
    mut answers: HashMap<String, Answer>,
) -> HashMap<String, Answer> {
    for question in questions {
        if !is_shown(question, &answers) {
            answers.remove(&question.key);
        }
    }
    answers
}

/// Checks a whole submission: every answer names a question and fits it, every shown
/// required question is answered, and no hidden question is. Returns every problem, in
/// question order (unknown questions first).
pub fn check_submission(
    questions: &[Question],
    answers: &HashMap<String, Answer>,
) -> Result<(), Vec<AnswerError>> {
    let mut problems: Vec<AnswerError> = Vec::new();
    let mut unknown: Vec<&String> = answers
        .keys()
        .filter(|k| !questions.iter().any(|q| &q.key == *k))
        .collect();
    unknown.sort();
    problems.extend(
        unknown
            .into_iter()
            .map(|k| AnswerError::UnknownQuestion(k.clone())),
    );
    for question in questions {
        let answer = answers.get(&question.key);
        if !is_shown(question, answers) {
            if answer.is_some() {
                problems.push(AnswerError::Hidden(question.key.clone()));
            }
            continue;
        }
        match answer {
            Some(answer) => {
                if let Err(problem) = check_answer(question, answer) {
                    problems.push(problem);
                }
            }
            None if question.required => problems.push(AnswerError::Missing(question.key.clone())),
            None => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| k.to_string()).collect()
    }

    fn question(key: &str, kind: QuestionKind, required: bool) -> Question {
        Question {
            key: key.to_owned(),
            text: format!("Question {key}"),
            kind,
            required,
            show_when: None,
        }
    }

    /// The council's plan survey, in small: do you use the library (yes/no); if yes, how
    /// satisfied (0–10); priorities (up to 2 of 4); agreement; comments; ranking.
    fn survey() -> Vec<Question> {
        let mut satisfied = question("satisfied", QuestionKind::Rating, true);
        satisfied.show_when = Some(ShowWhen {
            question: "library".to_owned(),
            answer: "yes".to_owned(),
        });
        vec![
            question(
                "library",
                QuestionKind::SingleChoice {
                    options: options(&["yes", "no"]),
                },
                true,
            ),
            satisfied,
            question(
                "priorities",
                QuestionKind::MultipleChoice {
                    options: options(&["roads", "parks", "housing", "libraries"]),
                    max: Some(2),
                },
                true,
            ),
            question("agree", QuestionKind::Agreement, false),
            question("comments", QuestionKind::FreeText { max_chars: 20 }, false),
            question(
                "rank",
                QuestionKind::Ranking {
                    options: options(&["a", "b", "c"]),
                },
                false,
            ),
        ]
    }

    fn answers(pairs: &[(&str, Answer)]) -> HashMap<String, Answer> {
        pairs
            .iter()
            .map(|(k, a)| (k.to_string(), a.clone()))
            .collect()
    }

    #[test]
    fn a_complete_submission_that_follows_the_skip_logic_is_accepted() {
        let questions = survey();
        check_questions(&questions).unwrap();
        let given = answers(&[
            ("library", Answer::Options(options(&["yes"]))),
            ("satisfied", Answer::Scale(9)),
            ("priorities", Answer::Options(options(&["roads", "parks"]))),
            ("agree", Answer::Scale(4)),
            ("comments", Answer::Text("More buses.".to_owned())),
            ("rank", Answer::Options(options(&["c", "a", "b"]))),
        ]);
        assert_eq!(check_submission(&questions, &given), Ok(()));
        // Without the library, the satisfaction question is hidden and must be left out.
        let no = answers(&[
            ("library", Answer::Options(options(&["no"]))),
            ("priorities", Answer::Options(options(&["housing"]))),
        ]);
        assert_eq!(check_submission(&questions, &no), Ok(()));
    }

    #[test]
    fn answers_that_earlier_answers_now_hide_are_dropped_down_the_chain() {
        // library → satisfied (if yes) → why (if satisfied is 0).
        let mut questions = survey();
        let mut why = question("why", QuestionKind::FreeText { max_chars: 20 }, true);
        why.show_when = Some(ShowWhen {
            question: "satisfied".to_owned(),
            answer: "0".to_owned(),
        });
        questions.insert(2, why);
        let changed_mind = answers(&[
            ("library", Answer::Options(options(&["no"]))),
            ("satisfied", Answer::Scale(0)),
            ("why", Answer::Text("Too far.".to_owned())),
            ("priorities", Answer::Options(options(&["parks"]))),
            ("shoe_size", Answer::Scale(9)),
        ]);
        let visible = visible_answers(&questions, changed_mind);
        let mut keys: Vec<&str> = visible.keys().map(String::as_str).collect();
        keys.sort_unstable();
        // `why` goes with `satisfied`, though its own rule reads an answer that was given;
        // an unknown key stays, for the check to refuse.
        assert_eq!(keys, ["library", "priorities", "shoe_size"]);
        let still_yes = answers(&[
            ("library", Answer::Options(options(&["yes"]))),
            ("satisfied", Answer::Scale(0)),
            ("why", Answer::Text("Too far.".to_owned())),
            ("priorities", Answer::Options(options(&["parks"]))),
        ]);
        assert_eq!(visible_answers(&questions, still_yes.clone()), still_yes);
    }

    #[test]
    fn every_problem_is_named_with_its_question() {
        let questions = survey();
        let given = answers(&[
            ("library", Answer::Options(options(&["no"]))),
            ("satisfied", Answer::Scale(7)),
            (
                "priorities",
                Answer::Options(options(&["roads", "parks", "housing"])),
            ),
            ("agree", Answer::Scale(6)),
            ("comments", Answer::Text("x".repeat(21))),
            ("rank", Answer::Options(options(&["a", "a", "b"]))),
            ("shoe_size", Answer::Scale(9)),
        ]);
        let problems = check_submission(&questions, &given).unwrap_err();
        assert_eq!(
            problems[0],
            AnswerError::UnknownQuestion("shoe_size".to_owned())
        );
        assert_eq!(problems[1], AnswerError::Hidden("satisfied".to_owned()));
        assert!(problems[2].to_string().contains("at most 2"));
        assert!(problems[3].to_string().contains("1 to 5"));
        assert!(problems[4].to_string().contains("21 characters"));
        assert!(problems[5].to_string().contains("each once"));
        assert_eq!(problems.len(), 6);
        // A required question left out, and a shown one depending on it.
        let missing = answers(&[("library", Answer::Options(options(&["yes"])))]);
        let problems = check_submission(&questions, &missing).unwrap_err();
        assert_eq!(
            problems,
            vec![
                AnswerError::Missing("satisfied".to_owned()),
                AnswerError::Missing("priorities".to_owned())
            ]
        );
        // Answers of the wrong kind, and choices that are not options.
        let q = &questions[0];
        assert!(check_answer(q, &Answer::Scale(1)).is_err());
        assert!(check_answer(q, &Answer::Options(options(&["maybe"]))).is_err());
        assert!(check_answer(q, &Answer::Options(options(&["yes", "no"]))).is_err());
        assert!(check_answer(&questions[1], &Answer::Scale(11)).is_err());
        assert!(check_answer(&questions[4], &Answer::Text("  ".to_owned())).is_err());
    }

    #[test]
    fn questionnaires_with_bad_keys_options_or_skip_logic_are_refused() {
        let mut twice = survey();
        twice[3].key = "library".to_owned();
        assert_eq!(
            check_questions(&twice),
            Err(QuestionnaireError::DuplicateKey("library".to_owned()))
        );
        let mut forward = survey();
        forward[0].show_when = Some(ShowWhen {
            question: "agree".to_owned(),
            answer: "5".to_owned(),
        });
        assert!(matches!(
            check_questions(&forward),
            Err(QuestionnaireError::SkipLogic(..))
        ));
        let mut impossible = survey();
        impossible[1].show_when = Some(ShowWhen {
            question: "library".to_owned(),
            answer: "sometimes".to_owned(),
        });
        assert!(matches!(
            check_questions(&impossible),
            Err(QuestionnaireError::SkipLogic(..))
        ));
        let mut no_options = survey();
        no_options[0].kind = QuestionKind::SingleChoice {
            options: Vec::new(),
        };
        assert!(matches!(
            check_questions(&no_options),
            Err(QuestionnaireError::Options(..))
        ));
        let mut doubled = survey();
        doubled[5].kind = QuestionKind::Ranking {
            options: options(&["a", "a"]),
        };
        assert!(matches!(
            check_questions(&doubled),
            Err(QuestionnaireError::Options(..))
        ));
        // Skip logic on a scale value.
        let mut on_scale = survey();
        on_scale[4].show_when = Some(ShowWhen {
            question: "agree".to_owned(),
            answer: "1".to_owned(),
        });
        check_questions(&on_scale).unwrap();
        let shown = answers(&[("agree", Answer::Scale(1))]);
        assert!(is_shown(&on_scale[4], &shown));
        assert!(!is_shown(
            &on_scale[4],
            &answers(&[("agree", Answer::Scale(2))])
        ));
    }
}
