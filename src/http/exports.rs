//! File exports for officers: the printer's letters bundle, the audit list of drawn
//! addresses, and incentive claims for finance. Authenticated like `/graphql`, with a
//! bearer token of an OFFICER (or ADMIN).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::domain::role::Role;
use crate::error::{AppError, ErrorCode};
use crate::graphql::id;
use crate::graphql::recruitment::ROUND;
use crate::http::HttpState;
use crate::http::graphql::{Refusal, caller};
use crate::http::negotiate::ResponseType;
use crate::service::{incentives, letters, recruitment};

fn refuse(err: AppError) -> Response {
    let status = match err.code() {
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::BadUserInput => StatusCode::BAD_REQUEST,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let code = err.code();
    let message = err.public_message();
    if let AppError::Internal(detail) = err {
        tracing::error!(error = ?detail, "export failed");
    }
    Refusal::transport(status, code, message).into_response(ResponseType::Json)
}

/// Checks the caller is an officer and loads the round the path names.
async fn officer_round(
    state: &HttpState,
    headers: &HeaderMap,
    round: &str,
) -> Result<recruitment::Round, Response> {
    let caller = caller(state, headers)
        .await
        .map_err(|refusal| refusal.into_response(ResponseType::Json))?;
    caller.require(&[Role::Officer]).map_err(refuse)?;
    let round_id = id::decode(ROUND, round, "round").map_err(refuse)?;
    recruitment::find_round(&state.app.db, round_id)
        .await
        .map_err(refuse)
}

/// The file as a download, or the coded error.
fn download(
    result: Result<Vec<u8>, AppError>,
    content_type: &'static str,
    name: String,
) -> Response {
    match result {
        Ok(bytes) => file(content_type, name, bytes),
        Err(err) => refuse(err),
    }
}

fn file(content_type: &'static str, name: String, bytes: Vec<u8>) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        bytes,
    )
        .into_response()
}

/// Options of the letters export.
#[derive(Deserialize)]
pub struct LettersQuery {
    /// Replace the codes of every unredeemed letter (the old ones stop working).
    #[serde(default)]
    reissue: bool,
}

/// `POST /exports/rounds/{round}/letters.zip`: mints codes for letters not yet exported
/// (or all unredeemed ones with `?reissue=true`) and returns `letters.csv` with QR images.
/// One bundle holds at most 20,000 letters; export again for the next ones. The codes are
/// stored only once the bundle is built.
pub async fn letters_zip(
    State(state): State<HttpState>,
    Path(round): Path<String>,
    Query(options): Query<LettersQuery>,
    headers: HeaderMap,
) -> Response {
    let round = match officer_round(&state, &headers, &round).await {
        Ok(round) => round,
        Err(response) => return response,
    };
    let bundle = letters::issue_codes_then(
        &state.app,
        round.id,
        options.reissue,
        Some(letters::MAX_LETTERS_PER_BUNDLE),
        |printed| async move {
            tokio::task::spawn_blocking(move || letters::bundle(&printed))
                .await
                .map_err(AppError::internal)?
        },
    )
    .await;
    download(
        bundle,
        "application/zip",
        format!("round-{}-letters.zip", round.id),
    )
}

/// `GET /exports/rounds/{round}/addresses.csv`: the drawn addresses, for the audit.
pub async fn addresses_csv(
    State(state): State<HttpState>,
    Path(round): Path<String>,
    headers: HeaderMap,
) -> Response {
    let round = match officer_round(&state, &headers, &round).await {
        Ok(round) => round,
        Err(response) => return response,
    };
    let csv = letters::audit_list_csv(&state.app.db, round.id).await;
    download(
        csv,
        "text/csv; charset=utf-8",
        format!("round-{}-addresses.csv", round.id),
    )
}

/// `GET /exports/rounds/{round}/incentives.csv`: who is owed the incentive, for finance.
pub async fn incentives_csv(
    State(state): State<HttpState>,
    Path(round): Path<String>,
    headers: HeaderMap,
) -> Response {
    let round = match officer_round(&state, &headers, &round).await {
        Ok(round) => round,
        Err(response) => return response,
    };
    let csv = match incentives::claims(&state.app.db, round.id).await {
        Ok(claims) => incentives::claims_csv(
            &claims,
            round.incentive_description.as_deref().unwrap_or(""),
            round.incentive_amount_pence,
        ),
        Err(err) => Err(err),
    };
    download(
        csv,
        "text/csv; charset=utf-8",
        format!("round-{}-incentives.csv", round.id),
    )
}
