//! Stopping reminders: the page a reminder's footer link and its `List-Unsubscribe`
//! header lead to (`/t/u/{token}`).
//!
//! Opening the page changes nothing (link checkers and mail scanners follow links); its
//! button posts to the same address, and so does a mail client's one-click unsubscribe
//! (RFC 8058, body `List-Unsubscribe=One-Click`). The button's post is answered with a
//! redirect to the page saying it is done (post, redirect, get: a reload posts nothing);
//! the one-click post, which no person sees, with a line of text. Both answer the same
//! for any token, so the page tells nobody which tokens exist. The token in the address
//! is the proof of who is asking, as in the one-click standard: no session or form token
//! is needed, and none could be sent by a mail client.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use crate::domain::urls::path_segment;
use crate::pages::layout;
use crate::service::consultations::invitations;
use crate::state::AppState;

/// Longest token looked up; anything longer cannot be one.
const MAX_TOKEN: usize = 100;

/// The form field the page's button sends, telling its post from a mail client's.
const FROM_PAGE: &str = "from=page";

/// `?done=1` once reminders have been stopped from the page.
#[derive(Debug, Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// The page whose button stops reminders, or that says they are stopped.
fn page_for(state: &AppState, token: &str, done: bool) -> Response {
    if done {
        return layout::page(
            state,
            "Reminders stopped",
            html! {
                div class="panel" role="status" { h2 { "We will not remind you again" } }
                p { "You will still get an email when there is a new survey for you." }
                p { "You can close this page." }
            },
        );
    }
    let action = format!("/t/u/{}", path_segment(token));
    layout::page(
        state,
        "Stop reminders",
        html! {
            p { "We send a reminder when you have not answered a survey yet." }
            p { "If you stop reminders, you will still get an email when there is a new survey for you." }
            form method="post" action=(action) {
                input type="hidden" name="from" value="page";
                button type="submit" { "Stop reminders" }
            }
        },
    )
}

/// `GET /t/u/{token}`.
pub async fn page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    page_for(&state, &token, done.done.is_some())
}

/// `POST /t/u/{token}`: stops reminders to the token's member (the same answer for any
/// token); the page's button is sent on to the page saying so.
pub async fn stop(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: String,
) -> Response {
    if token.len() <= MAX_TOKEN && invitations::opt_out(&state, &token).await.is_err() {
        // Not stored: nothing is promised. The page's button gets a page saying so.
        let retry = [(header::RETRY_AFTER, HeaderValue::from_static("5"))];
        let mut response = layout::page(
            &state,
            "Sorry, that did not work",
            html! {
                p { "We could not stop your reminders just now." }
                p { "Please go back and press the button again in a minute." }
            },
        );
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        return (retry, response).into_response();
    }
    if body.split('&').any(|field| field == FROM_PAGE) {
        return Redirect::to(&format!("/t/u/{}?done=1", path_segment(&token))).into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        "You will get no more reminders.\n",
    )
        .into_response()
}
