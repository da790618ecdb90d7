//! The tracking routes in every email: `/t/o/{token}`, the 1×1 image whose fetch is an
//! open, and `/t/c/{token}`, the link whose follow is a click and which redirects to the
//! resident web client (`CIVIC_PANEL_PUBLIC_URL/c/{token}`).
//!
//! (`/t/u/{token}`, which stops reminders, is a resident page: `pages::unsubscribe`.)
//!
//! Each answers only once its event is stored (see `db::tracking::Tracker`), sets no
//! cookie, and answers the same whether or not the token belongs to an invitation, so the
//! routes tell nobody which tokens exist.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::db::tracking::Hit;
use crate::domain::consultations::tracking::EventKind;
use crate::domain::urls::path_segment;
use crate::http::HttpState;
use crate::http::graphql::client_address;

/// A transparent 1×1 GIF (43 bytes).
const PIXEL: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Longest token looked up; anything longer cannot be one.
const MAX_TOKEN: usize = 100;

/// The token in the path, without an image extension a mail client may need.
fn token_of(raw: &str) -> &str {
    raw.strip_suffix(".gif")
        .or_else(|| raw.strip_suffix(".png"))
        .unwrap_or(raw)
}

/// The hit a request makes; `None` for a token that cannot be one.
fn hit_of(state: &HttpState, request: &Request, token: &str, kind: EventKind) -> Option<Hit> {
    if token.is_empty() || token.len() > MAX_TOKEN {
        return None;
    }
    Some(Hit {
        token: token.to_owned(),
        kind,
        at: state.app.clock.now(),
        address: client_address(state, request).0,
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    })
}

/// Stores the hit, if any; whether it is safely stored (or there was nothing to store).
async fn record(state: &HttpState, hit: Option<Hit>) -> bool {
    match hit {
        Some(hit) => state.app.tracker.record(hit).await.is_ok(),
        None => true,
    }
}

fn not_stored() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::RETRY_AFTER, HeaderValue::from_static("5")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}

/// `GET /t/o/{token}`: records an open, answers the image.
pub async fn open(
    State(state): State<HttpState>,
    Path(raw): Path<String>,
    request: Request,
) -> Response {
    let hit = hit_of(&state, &request, token_of(&raw), EventKind::Opened);
    drop(request);
    if !record(&state, hit).await {
        return not_stored();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/gif")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store, no-cache, private, max-age=0"),
            ),
        ],
        PIXEL,
    )
        .into_response()
}

/// `GET /t/c/{token}`: records a click, redirects to the resident web client.
pub async fn click(
    State(state): State<HttpState>,
    Path(raw): Path<String>,
    request: Request,
) -> Response {
    let token = token_of(&raw);
    let hit = hit_of(&state, &request, token, EventKind::Clicked);
    drop(request);
    if !record(&state, hit).await {
        return not_stored();
    }
    let target = format!(
        "{}/c/{}",
        state.app.config.public_url.trim_end_matches('/'),
        path_segment(token)
    );
    match HeaderValue::from_str(&target) {
        Ok(location) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ),
            ],
        )
            .into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pixel_is_a_gif_and_tokens_lose_an_image_extension() {
        assert_eq!(&PIXEL[..6], b"GIF89a");
        assert_eq!(PIXEL[PIXEL.len() - 1], 0x3b);
        assert_eq!(token_of("cpc_abc.gif"), "cpc_abc");
        assert_eq!(token_of("cpc_abc"), "cpc_abc");
    }
}
