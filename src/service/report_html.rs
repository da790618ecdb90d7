//! A consultation report as SVG charts and as one self-contained HTML page for committee
//! papers (charts inline, printable). Written from the report as the caller may read it,
//! so SCRUTINY's copy hides what the API hides: a hidden count shows `[c]` in tables and a
//! "suppressed" mark in charts.

use crate::domain::charts::{self, Series, Stage};
use crate::domain::html_report::{Cell, Document, Section, Table};
use crate::error::{AppError, AppResult};
use crate::service::reports::{COLUMNS, COMPLETED, Flag, INVITED, Report, Split};

/// The charts of a report, by name: `funnel`, then one per split (`age_band`, `sex`,
/// `ethnic_group`, `disability`, `ward`, `deprivation_decile`, `young_people`).
pub fn chart_names(report: &Report) -> Vec<String> {
    std::iter::once("funnel".to_owned())
        .chain(report.splits.iter().map(|s| s.name.clone()))
        .chain(std::iter::once(report.young.name.clone()))
        .collect()
}

/// One chart of the report as SVG; `NOT_FOUND` for a name it does not have.
pub fn chart(report: &Report, name: &str) -> AppResult<String> {
    if name == "funnel" {
        return Ok(funnel_chart(report));
    }
    report
        .splits
        .iter()
        .chain(std::iter::once(&report.young))
        .find(|s| s.name == name)
        .map(|split| shares_chart(report, split))
        .ok_or(AppError::NotFound { what: "chart" })
}

fn title_of(name: &str) -> String {
    let mut text = name.replace('_', " ");
    if let Some(first) = text.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    text
}

fn funnel_chart(report: &Report) -> String {
    let totals = report.funnel.totals;
    let invited = totals[INVITED];
    let stages: Vec<Stage> = COLUMNS[..=COMPLETED]
        .iter()
        .zip(totals)
        .map(|(label, count)| Stage {
            label: title_of(label),
            count,
            rate: match (count, invited) {
                (Some(c), Some(i)) if i > 0 => Some(c as f64 / i as f64),
                _ => None,
            },
        })
        .collect();
    charts::funnel(
        &format!("{}: invitations, stage by stage", report.consultation.title),
        "Invitations that reached at least each stage, with the share of those invited. \
         Opens by machines (mail-privacy proxies) are not counted as opened.",
        &stages,
    )
}

fn shares_chart(report: &Report, split: &Split) -> String {
    let categories: Vec<&str> = split.rows.iter().map(|r| r.label.as_str()).collect();
    let series = vec![
        Series {
            name: "Population".to_owned(),
            values: split.rows.iter().map(|r| r.population_share).collect(),
        },
        Series {
            name: "Invited".to_owned(),
            values: split.rows.iter().map(|r| r.invited_share).collect(),
        },
        Series {
            name: "Respondents".to_owned(),
            values: split.rows.iter().map(|r| r.respondent_share).collect(),
        },
    ];
    charts::grouped_bars(
        &format!(
            "{}: respondents against the population by {}",
            report.consultation.title,
            title_of(&split.name).to_lowercase()
        ),
        "Shares of the population (census), of the members invited and of the respondents \
         whose category is known, per category.",
        &categories,
        &series,
    )
}

fn percent(value: Option<f64>) -> Cell {
    match value.filter(|v| v.is_finite()) {
        Some(v) => Cell::number(format!("{:.1}%", 100.0 * v)),
        None => Cell::text("–"),
    }
}

/// A split's table: counts, shares, ratio and flag, response rate.
fn split_table(split: &Split) -> Table {
    let mut table = Table::new(
        format!("Respondents by {}", title_of(&split.name).to_lowercase()),
        &[
            "Category",
            "Invited",
            "Respondents",
            "Population share",
            "Respondent share",
            "Representation ratio (95% interval)",
            "Response rate",
        ],
    );
    for row in &split.rows {
        let ratio = match row.ratio {
            Some((r, low, high)) => {
                let flag = match row.flag {
                    Flag::Under => " under",
                    Flag::Over => " over",
                    Flag::None => "",
                };
                Cell::number(format!("{r:.2} ({low:.2}–{high:.2}){flag}"))
            }
            None => Cell::text("–"),
        };
        table = table.row(vec![
            Cell::text(row.label.clone()),
            Cell::count_or_suppressed(row.counts[INVITED]),
            Cell::count_or_suppressed(row.counts[7]),
            percent(row.population_share),
            percent(row.respondent_share),
            ratio,
            percent(row.response_rate),
        ]);
    }
    table.row(vec![
        Cell::text("All"),
        Cell::count_or_suppressed(split.totals[INVITED]),
        Cell::count_or_suppressed(split.totals[7]),
        Cell::text(""),
        Cell::text(""),
        Cell::text(""),
        Cell::text(""),
    ])
}

/// The report as one HTML page.
pub fn html(report: &Report) -> String {
    let title = format!("{}: who responded", report.consultation.title);
    let mut document = Document::new(title)
        .metadata(
            "Population",
            report
                .area_code
                .clone()
                .unwrap_or_else(|| "no benchmarks imported".to_owned()),
        )
        .metadata("Ages worked out on", report.reference_day.to_string());
    if let Some(threshold) = report.threshold {
        document = document.metadata(
            "Disclosure control",
            format!("counts below {threshold} are suppressed, with counts that would reveal them"),
        );
    }

    let f = &report.funnel;
    let mut funnel = Table::new("The funnel", &["Stage", "Count"]);
    for (label, count) in COLUMNS.iter().zip(f.totals) {
        funnel = funnel.row(vec![
            Cell::text(title_of(label)),
            Cell::count_or_suppressed(count),
        ]);
    }
    funnel = funnel
        .row(vec![
            Cell::text("Bounced"),
            Cell::count_or_suppressed(f.bounced),
        ])
        .row(vec![
            Cell::text("Opened only by machines"),
            Cell::count_or_suppressed(f.machine_opened_only),
        ]);
    document = document.section(
        Section::new("How the invitations went")
            .paragraph(
                "Each stage counts the invitations that got at least that far. Opens by \
                 mail-privacy proxies and scanners are counted apart, not as opens.",
            )
            .table(funnel)
            .figure(funnel_chart(report), "Invitations, stage by stage."),
    );

    let young = &report.young;
    let mut young_section = Section::new("Young people").table(split_table(young));
    for note in &young.notes {
        young_section = young_section.note(note.clone());
    }
    document = document.section(young_section);

    for split in &report.splits {
        let mut section = Section::new(format!(
            "Respondents by {}",
            title_of(&split.name).to_lowercase()
        ))
        .table(split_table(split));
        if split.benchmarked {
            section = section.figure(
                shares_chart(report, split),
                "Population, invited and respondent shares.",
            );
        }
        let mut fit = Vec::new();
        if let Some(d) = split.dissimilarity {
            fit.push(format!("index of dissimilarity {d:.3}"));
        }
        if let Some(chi) = &split.chi_square {
            fit.push(format!(
                "chi-square {:.2} on {} degrees of freedom, p = {:.4}",
                chi.statistic, chi.degrees_of_freedom, chi.p_value
            ));
        }
        if let Some((u, c)) = split.partial {
            fit.push(format!(
                "partial R-indicators {u:.4} (unconditional), {c:.4} (conditional)"
            ));
        }
        if !fit.is_empty() {
            section = section.paragraph(format!("Against the population: {}.", fit.join("; ")));
        }
        for note in &split.notes {
            section = section.note(note.clone());
        }
        document = document.section(section);
    }

    let p = &report.propensity;
    let mut propensity = Section::new("Who responds among those invited");
    propensity = match p.r {
        Some(r) => propensity.paragraph(format!(
            "R-indicator {r:.3} (1 when every group responds alike), from response rates in \
             cells of {}; mean response propensity {}.",
            p.dimensions
                .iter()
                .map(|d| title_of(d.as_str()).to_lowercase())
                .collect::<Vec<_>>()
                .join(", "),
            p.mean
                .map_or("–".to_owned(), |m| format!("{:.1}%", 100.0 * m))
        )),
        None => propensity.paragraph(p.note.clone().unwrap_or_default()),
    };
    document = document.section(propensity);

    let w = &report.weighting;
    let mut weighting = Section::new("Weighting");
    weighting = if w.weighted {
        weighting.paragraph(format!(
            "Respondents are raked to the population on {} ({} sweeps, {}): effective sample \
             size {:.0}, design effect {:.2}.",
            w.dimensions
                .iter()
                .map(|d| title_of(d.as_str()).to_lowercase())
                .collect::<Vec<_>>()
                .join(" and "),
            w.iterations,
            if w.converged {
                "converged"
            } else {
                "not converged"
            },
            w.effective_n,
            w.design_effect
        ))
    } else {
        weighting.paragraph(w.note.clone().unwrap_or_else(|| "Not weighted.".to_owned()))
    };
    document = document.section(weighting);

    let mut results = Section::new("Results");
    for q in &report.questions {
        if q.options.is_empty() {
            results = results.paragraph(format!(
                "{} (free text): {} answered; the answers are not part of this report.",
                q.text,
                q.answered.map_or("[c]".to_owned(), |n| n.to_string())
            ));
            continue;
        }
        let mut table = Table::new(
            q.text.clone(),
            &["Answer", "Count", "Share", "Weighted share"],
        );
        for o in &q.options {
            table = table.row(vec![
                Cell::text(o.label.clone()),
                Cell::count_or_suppressed(o.count),
                percent(o.share),
                percent(o.weighted_share),
            ]);
        }
        results = results.table(table);
        if let Some(score) = q.score {
            let name = if q.kind == "rating" {
                "Net Promoter Score"
            } else {
                "Net agreement"
            };
            let mut text = format!(
                "{name} {:.1} (95% interval {:.1} to {:.1})",
                score.value, score.low, score.high
            );
            if let Some(w) = q.weighted_score {
                text.push_str(&format!("; weighted {:.1}", w.value));
            }
            if let Some(change) = &q.change {
                text.push_str(&format!(
                    "; {:.1} in {} ({:+.1}, p = {:.3}: {})",
                    change.previous_score.value,
                    change.previous_title,
                    change.difference,
                    change.p_value,
                    if change.p_value < 0.05 {
                        "more than noise"
                    } else {
                        "within noise"
                    }
                ));
            }
            results = results.paragraph(format!("{text}."));
        }
    }
    document.section(results).render()
}
