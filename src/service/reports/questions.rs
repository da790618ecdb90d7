//! The questions' results: answers counted by weighting cell, their tables for disclosure
//! control, scores and the change since the previous round.

use super::*;
use crate::db::reports::{answers_by_cell, previous_round_scale, respondents_answering_by_cell};

/// (question, option key or scale value, rank, open link, weighting cell, count).
pub(super) type AnswerRow = (String, String, Option<i32>, bool, Vec<String>, u64);

/// Answers counted by question, option or scale value, rank, part (0 from an invitation,
/// 1 open link) and weighting cell.
#[derive(Default)]
pub(super) struct AnswerCounts {
    /// (question, option key or scale, rank, open, cell key) → count.
    pub(super) rows: Vec<AnswerRow>,
    /// (question, open, cell key) → respondents who answered it.
    pub(super) answered: Vec<(String, bool, Vec<String>, u64)>,
}

/// A weighting cell's key: the labels of `dims` for the stored values `raw` (in the same
/// order).
fn cell_key(
    raw: &[Option<String>],
    dims: &[ReportDimension],
    scheme: Option<&AgeScheme>,
) -> Vec<String> {
    dims.iter()
        .zip(raw)
        .map(|(d, raw)| d.label_in(raw.as_deref(), scheme))
        .collect()
}

/// Answers counted by question, option and weighting cell (of the weighting dimensions
/// `dims`): two grouped queries.
pub(super) async fn answer_counts(
    db: &impl ConnectionTrait,
    id: ConsultationId,
    dims: &[ReportDimension],
    questions: &[QuestionItem],
    scheme: Option<&AgeScheme>,
) -> AppResult<AnswerCounts> {
    let mut counts = AnswerCounts::default();
    for row in answers_by_cell(db, id, dims).await? {
        let cell = cell_key(&row.cell, dims, scheme);
        counts.rows.push((
            row.question,
            row.option,
            row.rank,
            row.open,
            cell,
            row.answers,
        ));
    }
    // A respondent gives one answer row to a single choice, a scale or a ranking's first
    // place: those rows count who answered. Multiple choices (a row per option ticked)
    // and free text (no option) are counted in the database.
    let (one_row, counted): (Vec<&QuestionItem>, Vec<&QuestionItem>) =
        questions.iter().partition(|q| {
            !matches!(
                q.question.kind,
                QuestionKind::MultipleChoice { .. } | QuestionKind::FreeText { .. }
            )
        });
    for q in one_row {
        let mut by_cell: HashMap<(bool, Vec<String>), u64> = HashMap::new();
        for (key, _, _, open, cell, n) in &counts.rows {
            if *key == q.question.key {
                *by_cell.entry((*open, cell.clone())).or_default() += n;
            }
        }
        counts.answered.extend(
            by_cell
                .into_iter()
                .map(|((open, cell), n)| (q.question.key.clone(), open, cell, n)),
        );
    }
    if counted.is_empty() {
        return Ok(counts);
    }
    let keys: Vec<&str> = counted.iter().map(|q| q.question.key.as_str()).collect();
    for row in respondents_answering_by_cell(db, id, dims, &keys).await? {
        let cell = cell_key(&row.cell, dims, scheme);
        counts
            .answered
            .push((row.question, row.open, cell, row.respondents));
    }
    Ok(counts)
}

/// One disclosure table of a question, and what its rows are.
pub(super) struct QuestionTable {
    /// Its name: `question:<key>`, or `question:<key>:<option>` for one option's table of
    /// a multiple-choice question.
    pub(super) name: String,
    pub(super) table: CountTable,
    /// Each shown row's option key (or scale value); a row that is not an option (who
    /// answered a free-text question, who answered without ticking an option) is keyed
    /// by the empty string.
    pub(super) keys: Vec<String>,
    /// Row groups' names (`promoters`, `detractors`, `agree`, `disagree`).
    pub(super) group_names: Vec<&'static str>,
}

/// The option keys (or scale values) of a question with their labels.
pub(super) fn options_of(item: &QuestionItem) -> Vec<(String, String)> {
    let labelled = |options: &Vec<String>| {
        options
            .iter()
            .enumerate()
            .map(|(i, k)| {
                (
                    k.clone(),
                    item.labels.get(i).cloned().unwrap_or_else(|| k.clone()),
                )
            })
            .collect()
    };
    match &item.question.kind {
        QuestionKind::SingleChoice { options }
        | QuestionKind::MultipleChoice { options, .. }
        | QuestionKind::Ranking { options } => labelled(options),
        QuestionKind::Agreement => [
            "Strongly disagree",
            "Disagree",
            "Neither agree nor disagree",
            "Agree",
            "Strongly agree",
        ]
        .iter()
        .enumerate()
        .map(|(i, l)| ((i + 1).to_string(), (*l).to_owned()))
        .collect(),
        QuestionKind::Rating => (0..=10).map(|v| (v.to_string(), v.to_string())).collect(),
        QuestionKind::FreeText { .. } => Vec::new(),
    }
}

pub(super) fn kind_name(kind: &QuestionKind) -> &'static str {
    match kind {
        QuestionKind::SingleChoice { .. } => "single_choice",
        QuestionKind::MultipleChoice { .. } => "multiple_choice",
        QuestionKind::Agreement => "agreement",
        QuestionKind::Rating => "rating",
        QuestionKind::FreeText { .. } => "free_text",
        QuestionKind::Ranking { .. } => "ranking",
    }
}

/// The disclosure tables of question number `index`: one partition of everyone when each
/// respondent gives one answer (single choice, scales, first choice of a ranking, multiple
/// choice of at most one), one table per option when a respondent may tick several
/// (multiple choice), and a table of
/// the number who answered (free text). Each ends with the unpublished rest of the
/// consultation's people, so that its parts add up to theirs (`part_totals`).
pub(super) fn question_tables(
    item: &QuestionItem,
    index: usize,
    answers: &AnswerCounts,
    part_totals: &[u64],
) -> Vec<QuestionTable> {
    let key = &item.question.key;
    let part = |open: bool| if open { OPEN_PART } else { OPEN_PART - 1 };
    let with_rest = |mut rows: Vec<Vec<u64>>| {
        let mut rest: Vec<u64> = part_totals.to_vec();
        for row in &rows {
            for (p, n) in row.iter().enumerate() {
                rest[p] = rest[p].saturating_sub(*n);
            }
        }
        rows.push(rest);
        rows
    };
    let table = |rows: Vec<Vec<u64>>, groups: Vec<Vec<usize>>| CountTable {
        population: 0,
        counts: with_rest(rows),
        residual: true,
        columns: vec![RESPONDENTS],
        groups,
        linked: Vec::new(),
        ticks: None,
    };
    let options = options_of(item);
    let count_rows = |option: &str| -> Vec<u64> {
        let mut parts = vec![0; OPEN_PART + 1];
        for (q, o, _, open, _, n) in &answers.rows {
            if q == key && o == option {
                parts[part(*open)] += n;
            }
        }
        parts
    };
    let mut answered = vec![0; OPEN_PART + 1];
    for (q, open, _, n) in &answers.answered {
        if q == key {
            answered[part(*open)] += n;
        }
    }
    match &item.question.kind {
        // At most one tick (and never none: an empty answer is not stored) is one answer
        // each, the options adding up to who answered: the one-answer table below.
        QuestionKind::MultipleChoice { max, .. } if *max != Some(1) => {
            // Each option its own table (a respondent may tick several): those who ticked
            // it and those who answered without ticking it, never shown but known to
            // anyone who has both figures, so protected too. Their sum, who answered, is
            // one figure linked across the options' tables: an option is never ticked by
            // more than answered, and the options' ticks add up to between who answered
            // and the maximum times them.
            options
                .iter()
                .map(|(option, _)| {
                    let chose = count_rows(option);
                    let other = answered
                        .iter()
                        .zip(&chose)
                        .map(|(a, c)| a.saturating_sub(*c))
                        .collect();
                    QuestionTable {
                        name: format!("question:{key}:{option}"),
                        table: CountTable {
                            linked: vec![(0, index)],
                            ticks: Some(Ticks {
                                key: index,
                                row: 0,
                                answered: 0,
                                max: *max,
                            }),
                            ..table(vec![chose, other], vec![vec![0, 1]])
                        },
                        keys: vec![option.clone(), String::new()],
                        group_names: vec![ANSWERED],
                    }
                })
                .collect()
        }
        QuestionKind::FreeText { .. } => vec![QuestionTable {
            name: format!("question:{key}"),
            table: table(vec![answered], Vec::new()),
            keys: vec![String::new()],
            group_names: Vec::new(),
        }],
        kind => {
            // One answer each: the number who answered is the sum of the options' rows,
            // published as a group of them so that the protection sees it.
            let (mut groups, mut group_names): (Vec<Vec<usize>>, Vec<&'static str>) = match kind {
                QuestionKind::Rating => (
                    vec![(9..=10).collect(), (0..=6).collect()],
                    vec!["promoters", "detractors"],
                ),
                QuestionKind::Agreement => {
                    (vec![vec![3, 4], vec![0, 1]], vec!["agree", "disagree"])
                }
                _ => (Vec::new(), Vec::new()),
            };
            groups.push((0..options.len()).collect());
            group_names.push(ANSWERED);
            vec![QuestionTable {
                name: format!("question:{key}"),
                table: table(options.iter().map(|(o, _)| count_rows(o)).collect(), groups),
                keys: options.iter().map(|(o, _)| o.clone()).collect(),
                group_names,
            }]
        }
    }
}

/// The row group of a question's table that counts who answered it (in each option's
/// table of a multiple-choice question).
pub(super) const ANSWERED: &str = "answered";

/// What a question's results are worked out with.
pub(super) struct QuestionContext<'a> {
    pub(super) people: &'a Population,
    pub(super) answers: &'a AnswerCounts,
    pub(super) weights: &'a CellWeights,
    pub(super) protected: bool,
    /// What the reader may not see, by the question tables' names.
    pub(super) protection: &'a Protection,
}

/// A score from NPS or net agreement answers (`(value, weight)` pairs).
pub(super) fn score_of(kind: &QuestionKind, pairs: &[(u8, f64)]) -> Option<Score> {
    match kind {
        QuestionKind::Rating => statistics::net_promoter(pairs).map(|s| Score {
            value: s.score,
            standard_error: s.standard_error,
            low: s.low,
            high: s.high,
        }),
        QuestionKind::Agreement => statistics::net_agreement(pairs).map(|(v, se)| Score {
            value: v,
            standard_error: se,
            low: v - statistics::Z95 * se,
            high: v + statistics::Z95 * se,
        }),
        _ => None,
    }
}

impl QuestionContext<'_> {
    /// Weighted answers to `key` with `option` (all options when `None`).
    pub(super) fn weighted(&self, key: &str, option: Option<&str>) -> f64 {
        self.answers
            .rows
            .iter()
            .filter(|(q, o, ..)| q == key && option.is_none_or(|option| o == option))
            .filter_map(|(_, _, _, _, cell, n)| self.weights.get(cell).map(|w| w * *n as f64))
            .sum()
    }

    /// Each answer of a scale question with weight 1, or with its cell's weight (answers
    /// outside the weighting left out).
    pub(super) fn scale_answers(&self, key: &str, weighted: bool) -> Vec<(u8, f64)> {
        let mut pairs = Vec::new();
        for (q, o, _, _, cell, n) in &self.answers.rows {
            let Ok(v) = o.parse::<u8>() else { continue };
            if q != key {
                continue;
            }
            let w = match (weighted, self.weights.get(cell)) {
                (false, _) => 1.0,
                (true, Some(w)) => *w,
                (true, None) => continue,
            };
            pairs.extend(std::iter::repeat_n((v, w), *n as usize));
        }
        pairs
    }

    /// A question's results (without the change since the previous round).
    pub(super) fn result(&self, item: &QuestionItem, tables: &[QuestionTable]) -> QuestionResult {
        let key = &item.question.key;
        let first = &tables[0];
        // Who answered: a table of its own, or the "answered" group of the options' table.
        let answered = match first.group_names.iter().position(|g| *g == ANSWERED) {
            Some(g) => shown(
                first
                    .table
                    .value(self.people, Some(&first.table.groups[g]), 0),
                self.protection.hides_group(&first.name, g, 0),
            ),
            None => self.protection.count(
                &first.name,
                Some(&first.keys[0]),
                0,
                first.table.value(self.people, Some(&[0]), 0),
            ),
        };
        let weighted_answered: f64 = self
            .answers
            .answered
            .iter()
            .filter(|(q, ..)| q == key)
            .filter_map(|(_, _, cell, n)| self.weights.get(cell).map(|w| w * *n as f64))
            .sum();
        let mut options = Vec::new();
        for (option, label) in options_of(item) {
            // The table and row holding this option.
            let found = tables.iter().enumerate().find_map(|(t, table)| {
                table.keys.iter().position(|k| *k == option).map(|r| (t, r))
            });
            let count = found.and_then(|(t, r)| {
                self.protection.count(
                    &tables[t].name,
                    Some(&tables[t].keys[r]),
                    0,
                    tables[t].table.value(self.people, Some(&[r]), 0),
                )
            });
            let weighted_share = (count.is_some() && weighted_answered > 0.0)
                .then(|| self.weighted(key, Some(&option)) / weighted_answered);
            options.push(OptionResult {
                share: ratio_of(count, answered),
                key: option,
                label,
                count,
                weighted_share,
            });
        }
        // A score is worked out from published groups (promoters and detractors, those
        // agreeing and disagreeing) and the number who answered: all must be shown.
        let groups_shown = first.group_names.len() > 1
            && (0..first.group_names.len())
                .all(|g| !self.protection.hides_group(&first.name, g, 0))
            && answered.is_some();
        let kind = &item.question.kind;
        let scored = matches!(kind, QuestionKind::Rating | QuestionKind::Agreement)
            && (!self.protected || groups_shown);
        let score = scored
            .then(|| score_of(kind, &self.scale_answers(key, false)))
            .flatten();
        let weighted_score = (scored && !self.weights.is_empty())
            .then(|| score_of(kind, &self.scale_answers(key, true)))
            .flatten();
        QuestionResult {
            key: key.clone(),
            text: item.question.text.clone(),
            kind: kind_name(kind),
            answered,
            options,
            score,
            weighted_score,
            change: None,
        }
    }
}

/// The same question's unweighted score in the latest earlier round of the series, and
/// the test of the change (OFFICER).
pub(super) async fn previous_round(
    db: &impl ConnectionTrait,
    consultation: &Consultation,
    item: &QuestionItem,
    score: Score,
) -> AppResult<Option<Change>> {
    let Some(round) =
        previous_round_scale(db, consultation.series, consultation.id, &item.question.key).await?
    else {
        return Ok(None);
    };
    let mut pairs = Vec::new();
    for (v, n) in round.scale {
        pairs.extend(std::iter::repeat_n(
            (u8::try_from(v).unwrap_or(u8::MAX), 1.0),
            n as usize,
        ));
    }
    Ok(
        score_of(&item.question.kind, &pairs).map(|previous_score| Change {
            previous: round.consultation,
            previous_title: round.title,
            previous_score,
            difference: score.value - previous_score.value,
            p_value: statistics::change_p_value(
                score.value,
                score.standard_error,
                previous_score.value,
                previous_score.standard_error,
            ),
        }),
    )
}
