//! The report's paragraphs that carry figures: fit against the population, scores, the
//! weighting. Every figure in them is marked (see the parent module).

use crate::domain::reports::charts::FigureKey;
use crate::domain::reports::html_report::{Inline, Section};
use crate::service::reports::{QuestionResult, Report, Score, Split};

use super::title_of;

/// A figure written into a paragraph.
pub(super) fn inline(table: &str, group: &str, measure: &str, text: String, value: f64) -> Inline {
    Inline::figure(FigureKey::new(table, group, measure), text, value)
}

/// What a split says against the population, as a paragraph (nothing when nothing is
/// shown).
pub(super) fn fit_paragraph(split: &Split) -> Option<Vec<Inline>> {
    let name = split.name.as_str();
    let mut pieces = vec![Inline::text("Against the population: ")];
    let start = pieces.len();
    if let Some(d) = split.dissimilarity {
        pieces.push(Inline::text("index of dissimilarity "));
        pieces.push(inline(name, "all", "dissimilarity", format!("{d:.3}"), d));
    }
    if let Some(chi) = &split.chi_square {
        if pieces.len() > start {
            pieces.push(Inline::text("; "));
        }
        pieces.push(Inline::text("chi-square "));
        pieces.push(inline(
            name,
            "all",
            "chi_square",
            format!("{:.2}", chi.statistic),
            chi.statistic,
        ));
        pieces.push(Inline::text(" on "));
        let df = f64::from(chi.degrees_of_freedom);
        pieces.push(inline(name, "all", "chi_square_df", format!("{df}"), df));
        pieces.push(Inline::text(" degrees of freedom, p = "));
        pieces.push(inline(
            name,
            "all",
            "chi_square_p",
            format!("{:.4}", chi.p_value),
            chi.p_value,
        ));
    }
    if let Some((u, c)) = split.partial {
        if pieces.len() > start {
            pieces.push(Inline::text("; "));
        }
        pieces.push(Inline::text("partial R-indicators "));
        pieces.push(inline(
            name,
            "all",
            "partial_r_unconditional",
            format!("{u:.4}"),
            u,
        ));
        pieces.push(Inline::text(" (unconditional), "));
        pieces.push(inline(
            name,
            "all",
            "partial_r_conditional",
            format!("{c:.4}"),
            c,
        ));
        pieces.push(Inline::text(" (conditional)"));
    }
    if pieces.len() == start {
        return None;
    }
    pieces.push(Inline::text("."));
    Some(pieces)
}

/// A score written out: its value and interval, weighted, and the change since the
/// previous round when the report has them.
pub(super) fn score_paragraph(table: &str, q: &QuestionResult) -> Option<Vec<Inline>> {
    let score = q.score?;
    let name = if q.kind == "rating" {
        "Net Promoter Score"
    } else {
        "Net agreement"
    };
    let with_interval = |pieces: &mut Vec<Inline>, measure: &str, s: Score| {
        let parts = [
            ("", s.value, " (95% interval "),
            ("_low", s.low, " to "),
            ("_high", s.high, ")"),
        ];
        for (suffix, value, after) in parts {
            let name = format!("{measure}{suffix}");
            pieces.push(inline(table, "all", &name, format!("{value:.1}"), value));
            pieces.push(Inline::text(after));
        }
    };
    let mut pieces = vec![Inline::text(format!("{name} "))];
    with_interval(&mut pieces, "score", score);
    if let Some(w) = q.weighted_score {
        pieces.push(Inline::text("; weighted "));
        pieces.push(inline(
            table,
            "all",
            "weighted_score",
            format!("{:.1}", w.value),
            w.value,
        ));
    }
    if let Some(change) = &q.change {
        pieces.push(Inline::text("; "));
        pieces.push(inline(
            table,
            "all",
            "previous_score",
            format!("{:.1}", change.previous_score.value),
            change.previous_score.value,
        ));
        pieces.push(Inline::text(format!(" in {} (", change.previous_title)));
        pieces.push(inline(
            table,
            "all",
            "change",
            format!("{:+.1}", change.difference),
            change.difference,
        ));
        pieces.push(Inline::text(", p = "));
        pieces.push(inline(
            table,
            "all",
            "change_p_value",
            format!("{:.3}", change.p_value),
            change.p_value,
        ));
        pieces.push(Inline::text(if change.p_value < 0.05 {
            ": more than noise)"
        } else {
            ": within noise)"
        }));
    }
    pieces.push(Inline::text("."));
    Some(pieces)
}

/// How respondents were weighted, as far as the report says.
pub(super) fn weighting_section(report: &Report) -> Section {
    let w = &report.weighting;
    let section = Section::new("Weighting");
    if !w.weighted {
        return section.paragraph(w.note.clone().unwrap_or_else(|| "Not weighted.".to_owned()));
    }
    let dimensions = w
        .dimensions
        .iter()
        .map(|d| title_of(d.as_str()).to_lowercase())
        .collect::<Vec<_>>()
        .join(" and ");
    let mut pieces = vec![Inline::text(format!(
        "Respondents are raked to the population on {dimensions}"
    ))];
    let mut said = Vec::new();
    if let Some(iterations) = w.iterations {
        said.push(vec![
            inline(
                "weighting",
                "all",
                "iterations",
                iterations.to_string(),
                f64::from(iterations),
            ),
            Inline::text(" sweeps"),
        ]);
    }
    if let Some(converged) = w.converged {
        said.push(vec![Inline::text(if converged {
            "converged"
        } else {
            "not converged"
        })]);
    }
    if let Some(n) = w.effective_n {
        said.push(vec![
            Inline::text("effective sample size "),
            inline(
                "weighting",
                "all",
                "effective_sample_size",
                format!("{n:.0}"),
                n,
            ),
        ]);
    }
    if let Some(d) = w.design_effect {
        said.push(vec![
            Inline::text("design effect "),
            inline("weighting", "all", "design_effect", format!("{d:.2}"), d),
        ]);
    }
    for (i, part) in said.into_iter().enumerate() {
        pieces.push(Inline::text(if i == 0 { ": " } else { ", " }));
        pieces.extend(part);
    }
    pieces.push(Inline::text("."));
    let mut section = section.marked_paragraph(pieces);
    if let Some(note) = &w.note {
        section = section.note(note.clone());
    }
    section
}
