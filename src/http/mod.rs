//! The HTTP surface: `/graphql`, `/healthz`, `/readyz`, request ids, graceful shutdown.

pub mod error;
pub mod exports;
pub mod extract;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod negotiate;
pub mod request_id;
pub mod response_exports;
pub mod subscriptions;
pub mod tracking;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

use crate::graphql::{AppSchema, build_schema};
use crate::state::AppState;

/// What handlers share.
#[derive(Clone)]
pub struct HttpState {
    /// Database, config and services.
    pub app: AppState,
    /// The executable schema.
    pub schema: AppSchema,
}

impl axum::extract::FromRef<HttpState> for AppState {
    fn from_ref(state: &HttpState) -> AppState {
        state.app.clone()
    }
}

/// The router with every route and layer.
pub fn router(app: AppState) -> Router {
    let schema = build_schema(app.clone());
    let state = HttpState { app, schema };
    Router::new()
        .route("/graphql", get(graphql::handler).post(graphql::handler))
        .route("/graphql/ws", get(subscriptions::handler))
        .route("/exports/files/{file}", get(exports::file))
        .route(
            "/exports/rounds/{round}/addresses.csv",
            get(exports::addresses_csv),
        )
        .route(
            "/exports/rounds/{round}/incentives.csv",
            get(exports::incentives_csv),
        )
        .route(
            "/exports/consultations/{consultation}/report.csv",
            get(exports::report_csv),
        )
        .route(
            "/exports/consultations/{consultation}/report.html",
            get(exports::report_html),
        )
        .route(
            "/exports/consultations/{consultation}/charts/{chart}",
            get(exports::report_chart),
        )
        .route(
            "/exports/consultations/{consultation}/responses.csv",
            get(response_exports::responses_csv),
        )
        .route(
            "/exports/consultations/{consultation}/response-members.csv",
            get(response_exports::members_csv),
        )
        .route(
            "/exports/panels/{panel}/report.csv",
            get(exports::panel_report_csv),
        )
        .route(
            "/exports/selection-runs/{run}/report.csv",
            get(exports::selection_report_csv),
        )
        .route(
            "/exports/selection-runs/{run}/probabilities.svg",
            get(exports::probabilities_svg),
        )
        .route("/t/o/{token}", get(tracking::open))
        .route("/t/c/{token}", get(tracking::click))
        .merge(crate::pages::routes())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .with_state(state)
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(request_id::middleware))
}

/// Serves until `shutdown` completes (SIGTERM or Ctrl-C for the server), then finishes the
/// requests in flight.
pub async fn serve(
    app: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let address = listener.local_addr()?;
    tracing::info!(%address, "civic-panel listening; GraphQL at http://{address}/graphql");
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}
