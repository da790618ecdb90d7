//! What a download handler takes and gives, as axum extractors and responses: the signed-in
//! caller ([`Signed`]), an ID from the path decoded to its kind ([`PathId`]), and a file to
//! download ([`Download`]). Each refuses with the same coded JSON error as `/graphql`, so a
//! handler is its use case and nothing else.

use std::borrow::Cow;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::global_id::{self as id, GlobalId};
use crate::http::HttpState;
use crate::http::error::respond;
use crate::http::graphql::{address_of, caller};
use crate::http::negotiate::ResponseType;
use crate::service::accounts::auth::{Caller, ClientAddress};

/// The caller a request's bearer token names (anonymous without one) and where the request
/// came from. A bad or expired token is refused with 401 `UNAUTHENTICATED`; what the caller
/// may see is left to the use case.
pub struct Signed {
    /// Who asks.
    pub caller: Caller,
    /// Their address, as the rate limits and the audit log record it.
    pub client: ClientAddress,
}

impl FromRequestParts<HttpState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &HttpState,
    ) -> Result<Self, Self::Rejection> {
        let client = address_of(state, &parts.headers, &parts.extensions);
        let caller = caller(state, &parts.headers)
            .await
            .map_err(|refusal| refusal.into_response(ResponseType::Json))?;
        Ok(Self { caller, client })
    }
}

/// The first parameter of the request's path, decoded as a global ID of kind `T`; one of
/// another kind, or no ID at all, is 400 `BAD_USER_INPUT` naming the parameter.
pub struct PathId<T>(pub T);

impl<T: GlobalId + Send> FromRequestParts<HttpState> for PathId<T> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &HttpState,
    ) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let (name, raw) = params
            .first()
            .ok_or_else(|| respond(AppError::NotFound { what: "path" }))?;
        id::decode::<T>(raw, name).map(Self).map_err(respond)
    }
}

/// A handler's refusal: any use case's error, answered with its code.
pub struct Refused(pub AppError);

impl From<AppError> for Refused {
    fn from(err: AppError) -> Self {
        Self(err)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        respond(self.0)
    }
}

/// What a download handler gives back.
pub type Downloaded = Result<Download, Refused>;

/// A file to download, or an image to show, never cached.
pub struct Download {
    content_type: Cow<'static, str>,
    /// The name to save it under; none for an image shown inline.
    name: Option<String>,
    body: Body,
    /// Bytes in all and an entity tag, when known before the body is read.
    length: Option<u64>,
    etag: Option<String>,
}

impl Download {
    /// A CSV file saved as `name`.
    pub fn csv(name: String, bytes: Vec<u8>) -> Self {
        Self::file("text/csv; charset=utf-8".into(), name, Body::from(bytes))
    }

    /// An HTML page saved as `name`.
    pub fn html(name: String, page: String) -> Self {
        Self::file("text/html; charset=utf-8".into(), name, Body::from(page))
    }

    /// An SVG image shown inline.
    pub fn svg(svg: String) -> Self {
        Self {
            content_type: "image/svg+xml".into(),
            name: None,
            body: Body::from(svg),
            length: None,
            etag: None,
        }
    }

    /// Any file saved as `name`, its body read as it is sent.
    pub fn file(content_type: Cow<'static, str>, name: String, body: Body) -> Self {
        Self {
            content_type,
            name: Some(name),
            body,
            length: None,
            etag: None,
        }
    }

    /// Says the file's size and SHA-256 before it is sent (`Content-Length`, `ETag`).
    pub fn sized(mut self, length: u64, sha256: Option<String>) -> Self {
        self.length = Some(length);
        self.etag = sha256;
        self
    }
}

impl IntoResponse for Download {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::OK, self.body).into_response();
        let headers = response.headers_mut();
        let content_type = HeaderValue::from_str(&self.content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
        headers.insert(header::CONTENT_TYPE, content_type);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(name) = self.name {
            let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
                .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
            headers.insert(header::CONTENT_DISPOSITION, disposition);
        }
        if let Some(length) = self.length {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        if let Some(etag) = self
            .etag
            .and_then(|d| HeaderValue::from_str(&format!("\"{d}\"")).ok())
        {
            headers.insert(header::ETAG, etag);
        }
        response
    }
}
