//! The report's unit tests: the pieces that need no database.

use super::*;
use crate::domain::consultations::questionnaire::Question;

/// A multiple-choice question `key` with options a, b and c, ticked by 15, 3 and 12
/// of 30 completed invitations (each ticking one), with 40 people in all.
fn tables_of(max: Option<usize>) -> (Population, Vec<CountTable>) {
    let item = QuestionItem {
        question: Question {
            key: "contact".to_owned(),
            text: "How should we contact you?".to_owned(),
            kind: QuestionKind::MultipleChoice {
                options: vec!["a".to_owned(), "b".to_owned(), "c".to_owned()],
                max,
            },
            required: false,
            show_when: None,
        },
        labels: Vec::new(),
        about_you: None,
    };
    let completed = OPEN_PART - 1;
    let rows = [("a", 15), ("b", 3), ("c", 12)]
        .iter()
        .map(|(o, n)| {
            (
                "contact".to_owned(),
                (*o).to_owned(),
                None,
                false,
                Vec::new(),
                *n,
            )
        })
        .collect();
    let answers = AnswerCounts {
        rows,
        answered: vec![("contact".to_owned(), false, Vec::new(), 30)],
    };
    let mut totals = vec![0; OPEN_PART + 1];
    totals[completed] = 30;
    totals[0] = 10;
    let tables = question_tables(&item, 0, &answers, &totals)
        .into_iter()
        .map(|t| t.table)
        .collect();
    (people(), tables)
}

#[test]
fn a_multiple_choice_of_at_most_one_is_protected_as_one_answer_each() {
    // Shown alone, the 15, the 12 and the 30 who answered would give away the 3.
    let (population, tables) = tables_of(Some(1));
    assert_eq!(
        tables.len(),
        1,
        "one table, its options adding up to who answered"
    );
    let hidden = disclosure::protect(std::slice::from_ref(&population), &tables, 10).unwrap();
    let h = &hidden[0];
    assert!(h.cells[1][0], "the 3 is hidden");
    assert!(
        h.cells[0][0] || h.cells[2][0] || h.groups[0][0],
        "and so is one of the figures it could be worked out from: {h:?}"
    );
    // Several ticks allowed: a table per option, each saying how many an answer may
    // have.
    let (_, tables) = tables_of(None);
    assert_eq!(tables.len(), 3);
    let (_, tables) = tables_of(Some(2));
    assert!(
        tables
            .iter()
            .all(|t| t.ticks.as_ref().is_some_and(|k| k.max == Some(2))),
        "{tables:?}"
    );
}
