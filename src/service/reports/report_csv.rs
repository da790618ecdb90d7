//! Reports as CSV files in long form (`table, group, measure, value, note`), ready for a
//! spreadsheet's pivot table: a consultation's report, a panel's health and a selection
//! run's report. Each renders the published report (what the reader may see is decided
//! by the service that made it, never here): every figure it holds, a hidden count as an
//! empty value with the note `suppressed`, nothing for a figure it does not hold. The
//! HTML page and the charts mark their figures with the same table, group and measure.

use crate::domain::reports::charts::figure_value;
use crate::error::{AppError, AppResult};
use crate::service::panels::panel_report::{self, PanelReport};
use crate::service::reports::{COLUMNS, Flag, Report, Score, Split};
use crate::service::selection::selection_report::Published;

/// The header row.
pub const HEADER: [&str; 5] = ["table", "group", "measure", "value", "note"];

/// Text a spreadsheet would not take for a formula: a leading `=`, `+`, `-`, `@`, tab or
/// carriage return gets an apostrophe before it (OWASP's advice on CSV injection).
pub fn spreadsheet_safe(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

struct Rows {
    writer: csv::Writer<Vec<u8>>,
}

impl Rows {
    fn row(
        &mut self,
        table: &str,
        group: &str,
        measure: &str,
        value: Option<String>,
    ) -> AppResult<()> {
        let note = if value.is_none() { "suppressed" } else { "" };
        self.writer
            .write_record([
                spreadsheet_safe(table),
                spreadsheet_safe(group),
                measure.to_owned(),
                value.unwrap_or_default(),
                note.to_owned(),
            ])
            .map_err(AppError::internal)
    }

    /// A count, hidden when `None`.
    fn count(
        &mut self,
        table: &str,
        group: &str,
        measure: &str,
        value: Option<u64>,
    ) -> AppResult<()> {
        self.row(table, group, measure, value.map(|v| v.to_string()))
    }

    /// A figure that may be absent because it is not known (not because it is hidden):
    /// absent figures are left out.
    fn figure(
        &mut self,
        table: &str,
        group: &str,
        measure: &str,
        value: Option<f64>,
    ) -> AppResult<()> {
        match value.filter(|v| v.is_finite()) {
            Some(v) => self.row(table, group, measure, Some(figure_value(v))),
            None => Ok(()),
        }
    }

    fn score(
        &mut self,
        table: &str,
        group: &str,
        measure: &str,
        score: Option<Score>,
    ) -> AppResult<()> {
        if let Some(s) = score {
            self.figure(table, group, measure, Some(s.value))?;
            self.figure(
                table,
                group,
                &format!("{measure}_standard_error"),
                Some(s.standard_error),
            )?;
            self.figure(table, group, &format!("{measure}_low"), Some(s.low))?;
            self.figure(table, group, &format!("{measure}_high"), Some(s.high))?;
        }
        Ok(())
    }

    fn split(&mut self, split: &Split) -> AppResult<()> {
        let table = split.name.as_str();
        for group in &split.rows {
            let label = group.label.as_str();
            for (measure, value) in COLUMNS.iter().zip(group.counts) {
                self.count(table, label, measure, value)?;
            }
            self.figure(table, label, "population_share", group.population_share)?;
            self.figure(table, label, "invited_share", group.invited_share)?;
            self.figure(table, label, "respondent_share", group.respondent_share)?;
            if let Some((ratio, low, high)) = group.ratio {
                self.figure(table, label, "representation_ratio", Some(ratio))?;
                self.figure(table, label, "representation_ratio_low", Some(low))?;
                self.figure(table, label, "representation_ratio_high", Some(high))?;
            }
            let flag = match group.flag {
                Flag::None => None,
                Flag::Under => Some("under"),
                Flag::Over => Some("over"),
            };
            if let Some(flag) = flag {
                self.row(table, label, "flag", Some(flag.to_owned()))?;
            }
            self.figure(table, label, "response_rate", group.response_rate)?;
            if let Some((u, c)) = group.partial {
                self.figure(table, label, "partial_r_unconditional", Some(u))?;
                self.figure(table, label, "partial_r_conditional", Some(c))?;
            }
            self.figure(table, label, "weighted_share", group.weighted_share)?;
        }
        for (measure, value) in COLUMNS.iter().zip(split.totals) {
            self.count(table, "all", measure, value)?;
        }
        if split.benchmarked {
            self.count(
                table,
                "all",
                "respondents_without_benchmark",
                split.respondents_without_benchmark,
            )?;
        }
        self.figure(table, "all", "dissimilarity", split.dissimilarity)?;
        if let Some(chi) = &split.chi_square {
            self.figure(table, "all", "chi_square", Some(chi.statistic))?;
            self.figure(
                table,
                "all",
                "chi_square_df",
                Some(f64::from(chi.degrees_of_freedom)),
            )?;
            self.figure(table, "all", "chi_square_p", Some(chi.p_value))?;
        }
        if let Some((u, c)) = split.partial {
            self.figure(table, "all", "partial_r_unconditional", Some(u))?;
            self.figure(table, "all", "partial_r_conditional", Some(c))?;
        }
        Ok(())
    }
}

impl Rows {
    /// A file with its header row.
    fn new() -> AppResult<Self> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(HEADER).map_err(AppError::internal)?;
        Ok(Self { writer })
    }

    /// The file: UTF-8 with a byte-order mark, so that Excel reads it as UTF-8.
    fn finish(self) -> AppResult<Vec<u8>> {
        let mut bytes = "\u{feff}".as_bytes().to_vec();
        bytes.extend(self.writer.into_inner().map_err(AppError::internal)?);
        Ok(bytes)
    }
}

/// A consultation's report as CSV.
pub fn csv(report: &Report) -> AppResult<Vec<u8>> {
    let mut rows = Rows::new()?;
    for (measure, value) in COLUMNS.iter().zip(report.funnel.totals) {
        rows.count("funnel", "all", measure, value)?;
    }
    rows.count("funnel", "all", "bounced", report.funnel.bounced)?;
    rows.count(
        "funnel",
        "all",
        "machine_opened_only",
        report.funnel.machine_opened_only,
    )?;
    rows.split(&report.by_channel)?;
    for split in &report.splits {
        rows.split(split)?;
    }
    rows.split(&report.young)?;
    for day in &report.by_day {
        let group = day.day.to_string();
        for (measure, value) in ["sent", "opened", "clicked", "started", "completed"]
            .iter()
            .zip(day.counts)
        {
            rows.count("by_day", &group, measure, Some(value))?;
        }
    }
    let p = &report.propensity;
    rows.figure("propensity", "all", "r_indicator", p.r)?;
    rows.figure("propensity", "all", "propensity_sd", p.s)?;
    rows.figure("propensity", "all", "mean_propensity", p.mean)?;
    let w = &report.weighting;
    rows.figure(
        "weighting",
        "all",
        "iterations",
        w.iterations.map(f64::from),
    )?;
    if let Some(converged) = w.converged {
        rows.row("weighting", "all", "converged", Some(converged.to_string()))?;
    }
    rows.figure("weighting", "all", "max_error", w.max_error)?;
    rows.figure("weighting", "all", "effective_sample_size", w.effective_n)?;
    rows.figure("weighting", "all", "design_effect", w.design_effect)?;
    rows.count("weighting", "all", "respondents", w.respondents)?;
    rows.count("weighting", "all", "left_out", w.left_out)?;
    for q in &report.questions {
        let table = format!("question:{}", q.key);
        rows.count(&table, "all", "answered", q.answered)?;
        for o in &q.options {
            rows.count(&table, &o.label, "count", o.count)?;
            rows.figure(&table, &o.label, "share", o.share)?;
            rows.figure(&table, &o.label, "weighted_share", o.weighted_share)?;
        }
        rows.score(&table, "all", "score", q.score)?;
        rows.score(&table, "all", "weighted_score", q.weighted_score)?;
        if let Some(change) = &q.change {
            rows.score(&table, "all", "previous_score", Some(change.previous_score))?;
            rows.figure(&table, "all", "change", Some(change.difference))?;
            rows.figure(&table, "all", "change_p_value", Some(change.p_value))?;
        }
    }
    rows.finish()
}

/// A panel's health as CSV: members by each dimension (tables `panel:<dimension>`), then
/// each consultation's invitations and completions by the series' dimension (table
/// `series:<dimension>`, the group being the consultation and the category).
pub fn panel_csv(report: &PanelReport) -> AppResult<Vec<u8>> {
    let mut rows = Rows::new()?;
    for split in &report.splits {
        let table = format!("panel:{}", split.name);
        for group in &split.rows {
            let label = group.label.as_str();
            for (measure, value) in panel_report::COLUMNS.iter().zip(group.counts) {
                rows.count(&table, label, measure, value)?;
            }
            rows.figure(&table, label, "population_share", group.population_share)?;
            rows.figure(&table, label, "sitting_share", group.sitting_share)?;
            rows.figure(&table, label, "representation_ratio", group.ratio)?;
            rows.figure(&table, label, "leaving_rate", group.leaving_rate)?;
            rows.figure(&table, label, "lapse_rate", group.lapse_rate)?;
        }
        for (measure, value) in panel_report::COLUMNS.iter().zip(split.totals) {
            rows.count(&table, "all", measure, value)?;
        }
    }
    let table = format!("series:{}", report.series_dimension.as_str());
    for point in &report.series {
        let opened = point.opened.map(|d| d.to_string()).unwrap_or_default();
        for g in &point.groups {
            let group = format!("{} ({opened}): {}", point.title, g.label);
            rows.count(&table, &group, "invited", g.invited)?;
            rows.count(&table, &group, "completed", g.completed)?;
            rows.figure(&table, &group, "response_rate", g.response_rate)?;
        }
    }
    rows.finish()
}

/// A selection run's report as CSV: the run (table `run`), then per category value of the
/// quotas its quota, population share, sitting members (a top-up), pool, selected
/// (OFFICER, once drawn) and probabilities (table `value:<feature>`). What the reader may
/// not see is left out (the selected, for SCRUTINY) or marked `suppressed` (a hidden
/// count, probability or quota range).
pub fn selection_csv(report: &Published) -> AppResult<Vec<u8>> {
    let mut rows = Rows::new()?;
    let run = &report.run;
    rows.row("run", "all", "method", Some(run.method.as_str().to_owned()))?;
    rows.row("run", "all", "seats", Some(run.k.to_string()))?;
    if let Some(hash) = &run.lottery_sha256 {
        rows.row("run", "all", "lottery_sha256", Some(hash.clone()))?;
    }
    if let Some(number) = run.drawn_number {
        rows.row("run", "all", "drawn_number", Some(number.to_string()))?;
    }
    // Before it is computed a run has no pool or probabilities to hide.
    if run.summary.is_some() {
        rows.count("run", "all", "pool_size", report.pool_size.map(u64::from))?;
        rows.probabilities("run", "all", report.probabilities)?;
    }
    let officer = report.threshold.is_none();
    for v in &report.values {
        let table = format!("value:{}", v.feature);
        let label = v.value.as_str();
        let (min, max) = v.quota.unzip();
        rows.row(&table, label, "quota_min", min.map(|m| m.to_string()))?;
        rows.row(&table, label, "quota_max", max.map(|m| m.to_string()))?;
        rows.figure(&table, label, "population_share", v.population_share)?;
        if run.top_up {
            rows.count(&table, label, "sitting", v.sitting.map(u64::from))?;
        }
        rows.count(&table, label, "pool", v.pool.map(u64::from))?;
        if officer && run.drawn_number.is_some() {
            rows.count(&table, label, "selected", v.selected.map(u64::from))?;
        }
        rows.probabilities(&table, label, v.probabilities)?;
    }
    rows.finish()
}

impl Rows {
    /// Lowest, median and highest probability, each `suppressed` when hidden.
    fn probabilities(
        &mut self,
        table: &str,
        group: &str,
        values: Option<(f64, f64, f64)>,
    ) -> AppResult<()> {
        let parts = values.map_or([None; 3], |(low, median, high)| {
            [Some(low), Some(median), Some(high)]
        });
        for (measure, value) in [
            "probability_lowest",
            "probability_median",
            "probability_highest",
        ]
        .iter()
        .zip(parts)
        {
            self.row(table, group, measure, value.map(figure_value))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_as_formulas_are_defused() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("+44"), "'+44");
        assert_eq!(spreadsheet_safe("@sum"), "'@sum");
        assert_eq!(spreadsheet_safe("Aged 16 to 24"), "Aged 16 to 24");
        assert_eq!(spreadsheet_safe(""), "");
    }
}
