//! Residents' own pages, rendered on the server: plain HTML forms that work without
//! JavaScript on a cheap phone, in the council's name and colour, built on the same
//! services as the API (no second path to the data, no business rule in a template).
//!
//! Every page goes out through [`layout::page`]: one small stylesheet from this server
//! (`/assets/site.css`), no script, no request to anywhere else, and headers that forbid
//! all three (`Content-Security-Policy`), keep tokens in URLs from leaking to other sites
//! (`Referrer-Policy: no-referrer`) and stop pages being framed.
//!
//! Pages so far: stopping reminders (`/t/u/{token}`, the link in every reminder's footer
//! and its `List-Unsubscribe` header).

pub mod layout;
pub mod unsubscribe;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;

use crate::state::AppState;

/// The pages' routes, for a router whose state holds the [`AppState`].
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    AppState: FromRef<S>,
{
    Router::new()
        .route("/assets/site.css", get(layout::stylesheet))
        .route(
            "/t/u/{token}",
            get(unsubscribe::page).post(unsubscribe::stop),
        )
}
