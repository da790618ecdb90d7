//! File downloads: export bundles built by jobs, the audit list of drawn addresses and
//! incentive claims for finance (OFFICER), and reports: consultations', panels' and
//! selection runs' (OFFICER, SCRUTINY).
//! Authenticated like `/graphql`, with a bearer token; errors carry the same codes. Each
//! handler is its use case over the extractors of `http::extract`.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use futures_util::stream;

use crate::domain::ids::{ConsultationId, FileId, PanelId, RoundId, SelectionRunId};
use crate::error::AppError;
use crate::http::HttpState;
use crate::http::extract::{Download, Downloaded, PathId, Signed};
use crate::service::reports::{self, ReportDimension, ReportOptions};
use crate::service::{
    downloads, panels::panel_report, recruitment, recruitment::incentives, recruitment::letters,
    reports::report_csv, reports::report_html, selection::selection_report,
};

/// `GET /exports/files/{file}`: a bundle an export job built (its ID is in the job's
/// result), streamed from the database a chunk at a time.
pub async fn file(
    State(state): State<HttpState>,
    Signed { caller, .. }: Signed,
    PathId(file_id): PathId<FileId>,
) -> Downloaded {
    let info = downloads::file(&state.app, &caller, file_id).await?;
    let app = state.app.clone();
    let chunks = stream::try_unfold(0i32, move |seq| {
        let app = app.clone();
        async move {
            match downloads::chunk(&app, file_id, seq).await {
                Ok(Some(bytes)) => Ok(Some((bytes, seq + 1))),
                Ok(None) => Ok(None),
                Err(err) => {
                    tracing::error!(file_id = %file_id, seq, "reading a download failed");
                    Err(std::io::Error::other(format!("{:?}", err.code())))
                }
            }
        }
    });
    Ok(Download::file(
        info.content_type.into(),
        info.name,
        Body::from_stream(chunks),
    )
    .sized(info.size, info.sha256))
}

/// `GET /exports/rounds/{round}/addresses.csv`: the drawn addresses, for the audit.
pub async fn addresses_csv(
    State(state): State<HttpState>,
    Signed { caller, .. }: Signed,
    PathId(round): PathId<RoundId>,
) -> Downloaded {
    let csv = letters::audit_list_csv(&state.app, &caller, round).await?;
    Ok(Download::csv(format!("round-{round}-addresses.csv"), csv))
}

/// `GET /exports/rounds/{round}/incentives.csv`: who is owed the incentive, for finance.
pub async fn incentives_csv(
    State(state): State<HttpState>,
    Signed { caller, .. }: Signed,
    PathId(round_id): PathId<RoundId>,
) -> Downloaded {
    let claims = incentives::all_claims(&state.app, &caller, round_id).await?;
    let round = recruitment::find_round(state.app.db.reader(), round_id).await?;
    let (description, amount) = round
        .incentive
        .map_or((String::new(), None), |i| (i.description, i.amount_pence));
    let csv = incentives::claims_csv(&claims, &description, amount)?;
    Ok(Download::csv(
        format!("round-{round_id}-incentives.csv"),
        csv,
    ))
}

/// Report settings from a download's query string: `areaCode` (the rest as the API's
/// defaults).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportQuery {
    area_code: Option<String>,
}

impl ReportQuery {
    fn options(self) -> ReportOptions {
        ReportOptions {
            area_code: self.area_code,
            ..ReportOptions::default()
        }
    }
}

/// `GET /exports/consultations/{consultation}/report.csv?areaCode=…`: a consultation's
/// report as CSV (OFFICER in full; SCRUTINY protected exactly as in the API).
pub async fn report_csv(
    State(state): State<HttpState>,
    Signed { caller, .. }: Signed,
    PathId(id): PathId<ConsultationId>,
    Query(query): Query<ReportQuery>,
) -> Downloaded {
    let report = reports::consultation_report(&state.app, &caller, id, &query.options()).await?;
    let csv = report_csv::csv(&report)?;
    Ok(Download::csv(format!("consultation-{id}-report.csv"), csv))
}

/// `GET /exports/consultations/{consultation}/report.html?areaCode=…`: the report as one
/// self-contained page (charts inline, printable) for committee papers.
pub async fn report_html(
    State(state): State<HttpState>,
    Signed { caller, .. }: Signed,
    PathId(id): PathId<ConsultationId>,
    Query(query): Query<ReportQuery>,
) -> Downloaded {
    let report = reports::consultation_report(&state.app, &caller, id, &query.options()).await?;
    Ok(Download::html(
        format!("consultation-{id}-report.html"),
        report_html::html(&report),
    ))
}

/// `GET /exports/consultations/{consultation}/charts/{chart}.svg?areaCode=…`: one chart
/// of the report (`funnel`, `age_band`, `sex`, `ethnic_group`, `disability`, `ward`,
/// `deprivation_decile`, `young_people`), shown inline.
pub async fn report_chart(
    State(state): State<HttpState>,
    Signed { caller, .. }: Signed,
    PathId(id): PathId<ConsultationId>,
    Path((_, chart)): Path<(String, String)>,
    Query(query): Query<ReportQuery>,
) -> Downloaded {
    let name = chart
        .strip_suffix(".svg")
        .ok_or(AppError::NotFound { what: "chart" })?;
    let report = reports::consultation_report(&state.app, &caller, id, &query.options()).await?;
    Ok(Download::svg(report_html::chart(&report, name)?))
}

/// A panel report's download settings: `areaCode`, and `seriesDimension` (a dimension's
/// name as in the report's splits, `age_band` when not given).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PanelReportQuery {
    area_code: Option<String>,
    series_dimension: Option<String>,
}

/// `GET /exports/panels/{panel}/report.csv?areaCode=…&seriesDimension=…`: a panel's
/// health as CSV (OFFICER in full; SCRUTINY protected exactly as in the API).
pub async fn panel_report_csv(
    State(state): State<HttpState>,
    Signed { caller, .. }: Signed,
    PathId(panel): PathId<PanelId>,
    Query(query): Query<PanelReportQuery>,
) -> Downloaded {
    let series = match query.series_dimension.as_deref() {
        None => ReportDimension::AgeBand,
        Some(name) => ReportDimension::ALL
            .into_iter()
            .find(|d| d.as_str() == name)
            .ok_or_else(|| {
                AppError::bad_input(
                    "seriesDimension",
                    format!(
                        "{name:?} is not a dimension: one of age_band, sex, ethnic_group, \
                         disability, ward, deprivation_decile"
                    ),
                )
            })?,
    };
    let options = ReportQuery {
        area_code: query.area_code,
    }
    .options();
    let report = panel_report::panel_report(&state.app, &caller, panel, &options, series).await?;
    let csv = report_csv::panel_csv(&report)?;
    Ok(Download::csv(format!("panel-{panel}-report.csv"), csv))
}

/// `GET /exports/selection-runs/{run}/report.csv`: a selection run's report as CSV
/// (OFFICER in full; SCRUTINY protected exactly as in the API).
pub async fn selection_report_csv(
    State(state): State<HttpState>,
    Signed { caller, .. }: Signed,
    PathId(run): PathId<SelectionRunId>,
) -> Downloaded {
    let report = selection_report::published(&state.app, &caller, run).await?;
    let csv = report_csv::selection_csv(&report)?;
    Ok(Download::csv(
        format!("selection-run-{run}-report.csv"),
        csv,
    ))
}

/// `GET /exports/selection-runs/{run}/probabilities.svg`: everyone's chance of selection
/// in a run as a chart (OFFICER).
pub async fn probabilities_svg(
    State(state): State<HttpState>,
    Signed { caller, .. }: Signed,
    PathId(run): PathId<SelectionRunId>,
) -> Downloaded {
    Ok(Download::svg(
        selection_report::probabilities_svg(&state.app, &caller, run).await?,
    ))
}
