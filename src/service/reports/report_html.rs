//! A consultation report as SVG charts and as one self-contained HTML page for committee
//! papers (charts inline, printable). Rendered from the published report only (what the
//! reader may see is decided in `service::reports`): a hidden count shows `[c]` in tables
//! and a "suppressed" mark in charts, and a figure the reader may not see is simply not
//! there. Every figure printed or drawn is marked with where it sits in the report, as the
//! CSV names it (`data-table`, `data-group`, `data-measure`, `data-value`).

use crate::domain::reports::charts::{self, FigureKey, Series, Stage};
use crate::domain::reports::html_report::{Cell, Document, Inline, Section, Table};
use crate::error::{AppError, AppResult};
use crate::service::reports::{COLUMNS, COMPLETED, Flag, INVITED, RESPONDENTS, Report, Split};

mod paragraphs;

use paragraphs::{fit_paragraph, inline, score_paragraph, weighting_section};

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
        .map(|(measure, count)| Stage {
            label: title_of(measure),
            count,
            rate: match (count, invited) {
                (Some(c), Some(i)) if i > 0 => Some(c as f64 / i as f64),
                _ => None,
            },
            key: Some(FigureKey::new("funnel", "all", *measure)),
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
    let series = |name: &str, measure: &str, values: Vec<Option<f64>>| Series {
        name: name.to_owned(),
        values,
        key: Some((split.name.clone(), measure.to_owned())),
    };
    let series = vec![
        series(
            "Population",
            "population_share",
            split.rows.iter().map(|r| r.population_share).collect(),
        ),
        series(
            "Invited",
            "invited_share",
            split.rows.iter().map(|r| r.invited_share).collect(),
        ),
        series(
            "Respondents",
            "respondent_share",
            split.rows.iter().map(|r| r.respondent_share).collect(),
        ),
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

/// A share as a marked percentage, or a dash when there is none.
fn percent(key: FigureKey, value: Option<f64>) -> Cell {
    match value.filter(|v| v.is_finite()) {
        Some(v) => Cell::marked(key, format!("{:.1}%", 100.0 * v), v),
        None => Cell::text("–"),
    }
}

/// A split's table: counts, shares, ratio and flag, response rate.
fn split_table(split: &Split) -> Table {
    let name = split.name.as_str();
    let mut table = Table::new(
        format!("Respondents by {}", title_of(name).to_lowercase()),
        &[
            "Category",
            "Invited",
            "Respondents",
            "Population share",
            "Respondent share",
            "Representation ratio",
            "95% interval",
            "Response rate",
        ],
    );
    for row in &split.rows {
        let label = row.label.as_str();
        let key = |measure: &str| FigureKey::new(name, label, measure);
        let (ratio, interval) = match row.ratio {
            Some((r, low, high)) => {
                let flag = match row.flag {
                    Flag::Under => " under",
                    Flag::Over => " over",
                    Flag::None => "",
                };
                (
                    Cell::marked(key("representation_ratio"), format!("{r:.2}{flag}"), r),
                    Cell::text(format!("{low:.2}–{high:.2}")),
                )
            }
            None => (Cell::text("–"), Cell::text("")),
        };
        table = table.row(vec![
            Cell::text(label),
            Cell::marked_count(key(COLUMNS[INVITED]), row.counts[INVITED]),
            Cell::marked_count(key(COLUMNS[RESPONDENTS]), row.counts[RESPONDENTS]),
            percent(key("population_share"), row.population_share),
            percent(key("respondent_share"), row.respondent_share),
            ratio,
            interval,
            percent(key("response_rate"), row.response_rate),
        ]);
    }
    let key = |measure: &str| FigureKey::new(name, "all", measure);
    table.row(vec![
        Cell::text("All"),
        Cell::marked_count(key(COLUMNS[INVITED]), split.totals[INVITED]),
        Cell::marked_count(key(COLUMNS[RESPONDENTS]), split.totals[RESPONDENTS]),
        Cell::text(""),
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
    let key = |measure: &str| FigureKey::new("funnel", "all", measure);
    let mut funnel = Table::new("The funnel", &["Stage", "Count"]);
    for (measure, count) in COLUMNS.iter().zip(f.totals) {
        funnel = funnel.row(vec![
            Cell::text(title_of(measure)),
            Cell::marked_count(key(measure), count),
        ]);
    }
    funnel = funnel
        .row(vec![
            Cell::text("Bounced"),
            Cell::marked_count(key("bounced"), f.bounced),
        ])
        .row(vec![
            Cell::text("Opened only by machines"),
            Cell::marked_count(key("machine_opened_only"), f.machine_opened_only),
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
        if let Some(fit) = fit_paragraph(split) {
            section = section.marked_paragraph(fit);
        }
        for note in &split.notes {
            section = section.note(note.clone());
        }
        document = document.section(section);
    }

    let p = &report.propensity;
    let mut propensity = Section::new("Who responds among those invited");
    propensity = match p.r {
        Some(r) => {
            let mut pieces = vec![
                Inline::text("R-indicator "),
                inline("propensity", "all", "r_indicator", format!("{r:.3}"), r),
                Inline::text(format!(
                    " (1 when every group responds alike), from response rates in cells of {}",
                    p.dimensions
                        .iter()
                        .map(|d| title_of(d.as_str()).to_lowercase())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            ];
            if let Some(m) = p.mean {
                pieces.push(Inline::text("; mean response propensity "));
                pieces.push(inline(
                    "propensity",
                    "all",
                    "mean_propensity",
                    format!("{:.1}%", 100.0 * m),
                    m,
                ));
            }
            pieces.push(Inline::text("."));
            propensity.marked_paragraph(pieces)
        }
        None => propensity.paragraph(p.note.clone().unwrap_or_default()),
    };
    document = document.section(propensity);
    document = document.section(weighting_section(report));

    let mut results = Section::new("Results");
    for q in &report.questions {
        let table_name = format!("question:{}", q.key);
        if q.options.is_empty() {
            let mut pieces = vec![Inline::text(format!("{} (free text): ", q.text))];
            match q.answered {
                Some(n) => pieces.push(inline(
                    &table_name,
                    "all",
                    "answered",
                    n.to_string(),
                    n as f64,
                )),
                None => pieces.push(Inline::text("[c]")),
            }
            pieces.push(Inline::text(
                " answered; the answers are not part of this report.",
            ));
            results = results.marked_paragraph(pieces);
            continue;
        }
        let mut table = Table::new(
            q.text.clone(),
            &["Answer", "Count", "Share", "Weighted share"],
        );
        for o in &q.options {
            let key =
                |measure: &str| FigureKey::new(table_name.as_str(), o.label.as_str(), measure);
            table = table.row(vec![
                Cell::text(o.label.clone()),
                Cell::marked_count(key("count"), o.count),
                percent(key("share"), o.share),
                percent(key("weighted_share"), o.weighted_share),
            ]);
        }
        results = results.table(table);
        if let Some(pieces) = score_paragraph(&table_name, q) {
            results = results.marked_paragraph(pieces);
        }
    }
    document.section(results).render()
}
