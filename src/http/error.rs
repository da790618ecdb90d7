//! The one conversion from an [`AppError`] to an HTTP response, for the transport-level
//! refusals of `/graphql` (a bad token, a malformed request) and for the file exports:
//! the status for each code, the coded JSON error body, and `Retry-After` when the error
//! says when to try again. Internal detail is logged here and never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::error::{AppError, ErrorCode};
use crate::http::graphql::Refusal;
use crate::http::negotiate::ResponseType;

/// The HTTP status that goes with an error code outside a GraphQL response.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::BadUserInput
        | ErrorCode::BadRequest
        | ErrorCode::GraphqlParseFailed
        | ErrorCode::GraphqlValidationFailed
        | ErrorCode::QueryTooDeep
        | ErrorCode::QueryTooComplex => StatusCode::BAD_REQUEST,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Unavailable | ErrorCode::Timeout => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The refusal for `err`, its detail logged if it is ours.
pub fn refusal(err: AppError) -> Refusal {
    let code = err.code();
    let message = err.public_message();
    let retry_after = err.retry_after_secs();
    match err {
        AppError::Internal(detail) => tracing::error!(error = ?detail, "request failed"),
        AppError::Unavailable { detail, .. } => tracing::warn!(error = ?detail, "service busy"),
        _ => {}
    }
    let mut refusal = Refusal::transport(status_of(code), code, message);
    refusal.retry_after = retry_after;
    refusal
}

/// The response for `err`, as JSON.
pub fn respond(err: AppError) -> Response {
    refusal(err).into_response(ResponseType::Json)
}

/// Adds `Retry-After` to a response.
pub fn set_retry_after(response: &mut Response, seconds: u64) {
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
}
