//! The one conversion from an [`AppError`] to an HTTP response, for the transport-level
//! refusals of `/graphql` (a bad token, a malformed request) and for the file exports:
//! the status for each code, the coded JSON error body, and `Retry-After` when the error
//! says when to try again. Internal detail is logged here and never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::{AppError, ErrorCode};
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
    let field = match &err {
        AppError::BadUserInput { field, .. } => Some(field.clone()),
        _ => None,
    };
    match err {
        AppError::Internal(detail) => tracing::error!(error = ?detail, "request failed"),
        AppError::Unavailable { detail, .. } => tracing::warn!(error = ?detail, "service busy"),
        _ => {}
    }
    let mut refusal = Refusal::transport(status_of(code), code, message);
    refusal.retry_after = retry_after;
    refusal.field = field;
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

/// A failure before execution: its HTTP status, code and message. The status is the same
/// under both response types (malformed JSON and parameters are 400 for everyone).
pub struct Refusal {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    /// Seconds to wait before trying again, sent as `Retry-After` and in the error.
    pub retry_after: Option<u64>,
    /// The input at fault (`BAD_USER_INPUT`), sent as the error's `field` as `/graphql`
    /// sends it.
    field: Option<String>,
}

impl Refusal {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::transport(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    /// A refusal with this status, code and message.
    pub fn transport(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            field: None,
        }
    }

    /// The response, with a coded error body of `response_type`.
    pub fn into_response(self, response_type: ResponseType) -> Response {
        let status = self.status;
        let mut extensions = json!({ "code": self.code.as_str() });
        if let Some(seconds) = self.retry_after {
            extensions["retryAfterSeconds"] = json!(seconds);
        }
        if let Some(field) = &self.field {
            extensions["field"] = json!(field);
        }
        let body = json!({
            "errors": [{ "message": self.message, "extensions": extensions }]
        });
        let mut response = json_response(status, response_type, &body);
        if let Some(seconds) = self.retry_after {
            set_retry_after(&mut response, seconds);
        }
        match self.status {
            StatusCode::METHOD_NOT_ALLOWED => {
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            StatusCode::UNAUTHORIZED => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            _ => {}
        }
        response
    }
}

/// A JSON body with this status, typed as `response_type`.
pub(crate) fn json_response(
    status: StatusCode,
    response_type: ResponseType,
    body: &Value,
) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(response_type.content_type()),
        )],
        bytes,
    )
        .into_response()
}
