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

/// Checks the caller is an officer and decodes the round ID.
async fn officer_round(
    state: &HttpState,
    headers: &HeaderMap,
    round: &str,
) -> Result<i64, Response> {
    let caller = caller(state, headers)
        .await
        .map_err(|refusal| refusal.into_response(ResponseType::Json))?;
    caller.require(&[Role::Officer]).map_err(refuse)?;
    let round_id = id::decode(ROUND, round, "round").map_err(refuse)?;
    recruitment::find_round(&state.app.db, round_id)
        .await
        .map_err(refuse)?;
    Ok(round_id)
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
    let round_id = match officer_round(&state, &headers, &round).await {
        Ok(id) => id,
        Err(response) => return response,
    };
    let bundle = letters::issue_codes_then(
        &state.app,
        round_id,
        options.reissue,
        Some(letters::MAX_LETTERS_PER_BUNDLE),
        |printed| async move {
            tokio::task::spawn_blocking(move || letters::bundle(&printed))
                .await
                .map_err(AppError::internal)?
        },
    )
    .await;
    match bundle {
        Ok(zip) => file(
            "application/zip",
            format!("round-{round_id}-letters.zip"),
            zip,
        ),
        Err(err) => refuse(err),
    }
}

/// `GET /exports/rounds/{round}/addresses.csv`: the drawn addresses, for the audit.
pub async fn addresses_csv(
    State(state): State<HttpState>,
    Path(round): Path<String>,
    headers: HeaderMap,
) -> Response {
    let round_id = match officer_round(&state, &headers, &round).await {
        Ok(id) => id,
        Err(response) => return response,
    };
    match letters::audit_list_csv(&state.app.db, round_id).await {
        Ok(csv) => file(
            "text/csv; charset=utf-8",
            format!("round-{round_id}-addresses.csv"),
            csv,
        ),
        Err(err) => refuse(err),
    }
}

/// `GET /exports/rounds/{round}/incentives.csv`: who is owed the incentive, for finance.
pub async fn incentives_csv(
    State(state): State<HttpState>,
    Path(round): Path<String>,
    headers: HeaderMap,
) -> Response {
    let round_id = match officer_round(&state, &headers, &round).await {
        Ok(id) => id,
        Err(response) => return response,
    };
    let result = async {
        let round = recruitment::find_round(&state.app.db, round_id).await?;
        let claims = incentives::claims(&state.app.db, round_id).await?;
        incentives::claims_csv(
            &claims,
            round.incentive_description.as_deref().unwrap_or(""),
            round.incentive_amount_pence,
        )
    }
    .await;
    match result {
        Ok(csv) => file(
            "text/csv; charset=utf-8",
            format!("round-{round_id}-incentives.csv"),
            csv,
        ),
        Err(err) => refuse(err),
    }
}
