//! A panel's report in the API: its members against the census by split, and their
//! engagement over consultations.

use super::*;

/// Members of a panel (`null` where hidden from the reader).
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct PanelCounts {
    /// Everyone who has been a member.
    pub members: Option<u64>,
    /// Still sitting (selected, active or paused).
    pub sitting: Option<u64>,
    /// Left (withdrawn or term ended).
    pub left: Option<u64>,
    /// Completed at least one of their two latest invitations.
    pub responding: Option<u64>,
    /// Completed an earlier invitation but neither of their two latest.
    pub lapsed: Option<u64>,
    /// Invited, never completed.
    pub never_responded: Option<u64>,
}

impl From<[Option<u64>; 6]> for PanelCounts {
    fn from(c: [Option<u64>; 6]) -> Self {
        Self {
            members: c[0],
            sitting: c[1],
            left: c[2],
            responding: c[3],
            lapsed: c[4],
            never_responded: c[5],
        }
    }
}

/// One group of a panel.
#[derive(SimpleObject, Clone, Debug)]
pub struct PanelReportGroup {
    /// The category: census categories in the census's wording, others (wards, deciles)
    /// as stored, and `Not given` for people who did not say.
    pub label: String,
    /// Its members.
    pub counts: PanelCounts,
    /// Its share of the population (census benchmarks).
    pub population_share: Option<f64>,
    /// Its share of the sitting members whose category is known.
    pub sitting_share: Option<f64>,
    /// Sitting share ÷ population share.
    pub representation_ratio: Option<f64>,
    /// Left ÷ members: the groups recruitment should top up.
    pub leaving_rate: Option<f64>,
    /// Lapsed ÷ those who ever responded: who stopped responding.
    pub lapse_rate: Option<f64>,
}

/// A panel's members split by one dimension.
#[derive(SimpleObject, Clone, Debug)]
pub struct PanelReportSplit {
    /// `age_band`, `sex`, `ethnic_group`, `disability`, `ward` or `deprivation_decile`.
    pub name: String,
    /// The population's categories first (empty ones included), then any others, then
    /// `Not given`.
    pub groups: Vec<PanelReportGroup>,
    /// Everyone.
    pub totals: PanelCounts,
}

/// One group's invitations and completions in one consultation.
#[derive(SimpleObject, Clone, Debug)]
pub struct EngagementGroup {
    /// The category: census categories in the census's wording, others (wards, deciles)
    /// as stored, and `Not given` for people who did not say.
    pub label: String,
    /// Members invited.
    pub invited: Option<u64>,
    /// Members invited who submitted their answers.
    pub completed: Option<u64>,
    /// Completed ÷ invited.
    pub response_rate: Option<f64>,
}

/// One consultation of the panel, by group.
#[derive(SimpleObject, Clone, Debug)]
pub struct EngagementPoint {
    /// The ID of one of the consultations that went to the panel and has opened.
    pub consultation_id: ID,
    /// The consultation's title, as it is now.
    pub title: String,
    /// The day it opened.
    pub opened_on: Option<NaiveDate>,
    /// Per group of `seriesDimension`, as the consultation's own report shows them.
    pub groups: Vec<EngagementGroup>,
}

/// A panel's health: its make-up against the population, who left, who responds and who
/// stopped, and each consultation's response by group.
#[derive(SimpleObject, Clone, Debug)]
pub struct PanelReport {
    /// The ID of the panel reported on.
    pub panel_id: ID,
    /// The panel's name, as it is now.
    pub name: String,
    /// The benchmark area compared with.
    pub area_code: Option<String>,
    /// The disclosure threshold applied (`null` when the reader sees every count).
    pub threshold: Option<u64>,
    /// Whether anything is hidden.
    pub suppressed: bool,
    /// Members by each dimension.
    pub splits: Vec<PanelReportSplit>,
    /// The dimension `series` splits each consultation by, as asked (age band by default).
    pub series_dimension: DimensionValue,
    /// The panel's consultations in the order they opened.
    pub series: Vec<EngagementPoint>,
    /// The drawn selections that filled the panel, newest first: each one's report is
    /// `selectionReport`.
    pub selection_run_ids: Vec<ID>,
}

impl From<crate::service::panels::panel_report::PanelReport> for PanelReport {
    fn from(report: crate::service::panels::panel_report::PanelReport) -> Self {
        Self {
            panel_id: id::encode(report.panel),
            name: report.name,
            area_code: report.area_code,
            threshold: report.threshold,
            suppressed: report.suppressed,
            splits: report
                .splits
                .into_iter()
                .map(|s| PanelReportSplit {
                    name: s.name,
                    groups: s
                        .rows
                        .into_iter()
                        .map(|g| PanelReportGroup {
                            label: g.label,
                            counts: g.counts.into(),
                            population_share: g.population_share.and_then(finite),
                            sitting_share: g.sitting_share.and_then(finite),
                            representation_ratio: g.ratio.and_then(finite),
                            leaving_rate: g.leaving_rate.and_then(finite),
                            lapse_rate: g.lapse_rate.and_then(finite),
                        })
                        .collect(),
                    totals: s.totals.into(),
                })
                .collect(),
            series_dimension: report.series_dimension.into(),
            series: report
                .series
                .into_iter()
                .map(|p| EngagementPoint {
                    consultation_id: id::encode(p.consultation),
                    title: p.title,
                    opened_on: p.opened,
                    groups: p
                        .groups
                        .into_iter()
                        .map(|g| EngagementGroup {
                            label: g.label,
                            invited: g.invited,
                            completed: g.completed,
                            response_rate: g.response_rate.and_then(finite),
                        })
                        .collect(),
                })
                .collect(),
            selection_run_ids: report.selection_runs.into_iter().map(id::encode).collect(),
        }
    }
}
