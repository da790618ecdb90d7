//! `/healthz` (the process is alive) and `/readyz` (the database answers).

use axum::extract::State;
use axum::http::StatusCode;

use crate::db;
use crate::http::HttpState;

/// Always 200 while the process serves requests.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 when the database answers, 503 otherwise (so a load balancer stops sending work).
pub async fn readyz(State(state): State<HttpState>) -> (StatusCode, &'static str) {
    match db::ping(&state.app.db).await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
    }
}
