//! File downloads: export bundles built by jobs, the audit list of drawn addresses and
//! incentive claims for finance (OFFICER), and reports: consultations', panels' and
//! selection runs' (OFFICER, SCRUTINY).
//! Authenticated like `/graphql`, with a bearer token; errors carry the same codes.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;

use crate::domain::ids::{ConsultationId, FileId, PanelId, RoundId, SelectionRunId};
use crate::error::AppError;
use crate::global_id as id;
use crate::http::HttpState;
use crate::http::error::respond;
use crate::http::graphql::caller;
use crate::http::negotiate::ResponseType;
use crate::service::accounts::auth::Caller;
use crate::service::reports::{self, ReportDimension, ReportOptions};
use crate::service::{
    downloads, panels::panel_report, recruitment, recruitment::incentives, recruitment::letters,
    reports::report_csv, reports::report_html, selection::selection_report,
};

/// The caller of a download request, or the response refusing it.
pub(crate) async fn authenticated(
    state: &HttpState,
    headers: &HeaderMap,
) -> Result<Caller, Response> {
    caller(state, headers)
        .await
        .map_err(|refusal| refusal.into_response(ResponseType::Json))
}

pub(crate) fn headers_for(
    content_type: &str,
    name: &str,
) -> [(header::HeaderName, HeaderValue); 3] {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let content_type = HeaderValue::from_str(content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

/// The file as a download, or the coded error.
pub(crate) fn download(
    result: Result<Vec<u8>, AppError>,
    content_type: &str,
    name: &str,
) -> Response {
    match result {
        Ok(bytes) => (StatusCode::OK, headers_for(content_type, name), bytes).into_response(),
        Err(err) => respond(err),
    }
}

/// `GET /exports/files/{file}`: a bundle an export job built (its ID is in the job's
/// result), streamed from the database a chunk at a time.
pub async fn file(
    State(state): State<HttpState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let caller = match authenticated(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let file_id = match id::decode::<FileId>(&file, "file") {
        Ok(id) => id,
        Err(err) => return respond(err),
    };
    let info = match downloads::file(&state.app, &caller, file_id).await {
        Ok(info) => info,
        Err(err) => return respond(err),
    };
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
    let mut response = (
        StatusCode::OK,
        headers_for(&info.content_type, &info.name),
        Body::from_stream(chunks),
    )
        .into_response();
    let extra = response.headers_mut();
    if let Ok(length) = HeaderValue::from_str(&info.size.to_string()) {
        extra.insert(header::CONTENT_LENGTH, length);
    }
    if let Some(digest) = info
        .sha256
        .as_deref()
        .and_then(|d| HeaderValue::from_str(&format!("\"{d}\"")).ok())
    {
        extra.insert(header::ETAG, digest);
    }
    response
}

/// `GET /exports/rounds/{round}/addresses.csv`: the drawn addresses, for the audit.
pub async fn addresses_csv(
    State(state): State<HttpState>,
    Path(round): Path<String>,
    headers: HeaderMap,
) -> Response {
    let caller = match authenticated(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let csv = match id::decode::<RoundId>(&round, "round") {
        Ok(round_id) => letters::audit_list_csv(&state.app, &caller, round_id).await,
        Err(err) => Err(err),
    };
    download(
        csv,
        "text/csv; charset=utf-8",
        &format!("round-{}-addresses.csv", number_for_name::<RoundId>(&round)),
    )
}

/// `GET /exports/rounds/{round}/incentives.csv`: who is owed the incentive, for finance.
pub async fn incentives_csv(
    State(state): State<HttpState>,
    Path(round): Path<String>,
    headers: HeaderMap,
) -> Response {
    let caller = match authenticated(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let csv = async {
        let round_id = id::decode::<RoundId>(&round, "round")?;
        let claims = incentives::all_claims(&state.app, &caller, round_id).await?;
        let round = recruitment::find_round(state.app.db.reader(), round_id).await?;
        let (description, amount) = round
            .incentive
            .map_or((String::new(), None), |i| (i.description, i.amount_pence));
        incentives::claims_csv(&claims, &description, amount)
    }
    .await;
    download(
        csv,
        "text/csv; charset=utf-8",
        &format!(
            "round-{}-incentives.csv",
            number_for_name::<RoundId>(&round)
        ),
    )
}

/// An ID's number for a file name (`unknown` when it does not decode).
fn number_for_name<T: id::GlobalId>(raw: &str) -> String {
    id::decode::<T>(raw, "id").map_or_else(|_| "unknown".to_owned(), |id| id.row().to_string())
}

/// Report settings from a download's query string: `areaCode` (the rest as the API's
/// defaults).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportQuery {
    area_code: Option<String>,
}

/// The caller's report of a consultation (OFFICER in full; SCRUTINY protected exactly as
/// in the API), or the response refusing it.
async fn report_for(
    state: &HttpState,
    headers: &HeaderMap,
    consultation: &str,
    query: ReportQuery,
) -> Result<reports::Report, Response> {
    let caller = authenticated(state, headers).await?;
    let report = async {
        let consultation_id = id::decode::<ConsultationId>(consultation, "consultation")?;
        let options = ReportOptions {
            area_code: query.area_code,
            ..ReportOptions::default()
        };
        reports::consultation_report(&state.app, &caller, consultation_id, &options).await
    }
    .await;
    report.map_err(respond)
}

/// `GET /exports/consultations/{consultation}/report.csv?areaCode=…`: a consultation's
/// report as CSV.
pub async fn report_csv(
    State(state): State<HttpState>,
    Path(consultation): Path<String>,
    Query(query): Query<ReportQuery>,
    headers: HeaderMap,
) -> Response {
    let csv = match report_for(&state, &headers, &consultation, query).await {
        Ok(report) => report_csv::csv(&report),
        Err(response) => return response,
    };
    download(
        csv,
        "text/csv; charset=utf-8",
        &format!(
            "consultation-{}-report.csv",
            number_for_name::<ConsultationId>(&consultation)
        ),
    )
}

/// `GET /exports/consultations/{consultation}/report.html?areaCode=…`: the report as one
/// self-contained page (charts inline, printable) for committee papers.
pub async fn report_html(
    State(state): State<HttpState>,
    Path(consultation): Path<String>,
    Query(query): Query<ReportQuery>,
    headers: HeaderMap,
) -> Response {
    match report_for(&state, &headers, &consultation, query).await {
        Ok(report) => download(
            Ok(report_html::html(&report).into_bytes()),
            "text/html; charset=utf-8",
            &format!(
                "consultation-{}-report.html",
                number_for_name::<ConsultationId>(&consultation)
            ),
        ),
        Err(response) => response,
    }
}

/// `GET /exports/consultations/{consultation}/charts/{chart}.svg?areaCode=…`: one chart
/// of the report (`funnel`, `age_band`, `sex`, `ethnic_group`, `disability`, `ward`,
/// `deprivation_decile`, `young_people`), shown inline.
pub async fn report_chart(
    State(state): State<HttpState>,
    Path((consultation, chart)): Path<(String, String)>,
    Query(query): Query<ReportQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(name) = chart.strip_suffix(".svg") else {
        return respond(AppError::NotFound { what: "chart" });
    };
    let report = match report_for(&state, &headers, &consultation, query).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    match report_html::chart(&report, name) {
        Ok(svg) => (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("image/svg+xml"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            svg,
        )
            .into_response(),
        Err(err) => respond(err),
    }
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
    Path(panel): Path<String>,
    Query(query): Query<PanelReportQuery>,
    headers: HeaderMap,
) -> Response {
    let caller = match authenticated(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let csv = async {
        let panel_id = id::decode::<PanelId>(&panel, "panel")?;
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
        let options = ReportOptions {
            area_code: query.area_code,
            ..ReportOptions::default()
        };
        let report =
            panel_report::panel_report(&state.app, &caller, panel_id, &options, series).await?;
        report_csv::panel_csv(&report)
    }
    .await;
    download(
        csv,
        "text/csv; charset=utf-8",
        &format!("panel-{}-report.csv", number_for_name::<PanelId>(&panel)),
    )
}

/// `GET /exports/selection-runs/{run}/report.csv`: a selection run's report as CSV
/// (OFFICER in full; SCRUTINY protected exactly as in the API).
pub async fn selection_report_csv(
    State(state): State<HttpState>,
    Path(run): Path<String>,
    headers: HeaderMap,
) -> Response {
    let caller = match authenticated(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let csv = async {
        let run_id = id::decode::<SelectionRunId>(&run, "run")?;
        let report = selection_report::published(&state.app, &caller, run_id).await?;
        report_csv::selection_csv(&report)
    }
    .await;
    download(
        csv,
        "text/csv; charset=utf-8",
        &format!(
            "selection-run-{}-report.csv",
            number_for_name::<SelectionRunId>(&run)
        ),
    )
}

/// `GET /exports/selection-runs/{run}/probabilities.svg`: everyone's chance of selection
/// in a run as a chart (OFFICER).
pub async fn probabilities_svg(
    State(state): State<HttpState>,
    Path(run): Path<String>,
    headers: HeaderMap,
) -> Response {
    let caller = match authenticated(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let svg = async {
        let run_id = id::decode::<SelectionRunId>(&run, "run")?;
        selection_report::probabilities_svg(&state.app, &caller, run_id).await
    }
    .await;
    match svg {
        Ok(svg) => svg_response(svg),
        Err(err) => respond(err),
    }
}

/// An SVG image, shown inline and never cached.
fn svg_response(svg: String) -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        svg,
    )
        .into_response()
}
