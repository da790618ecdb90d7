//! Officers' downloads of a consultation's responses: `responses.csv` (every answer, free
//! text included, streamed a thousand responses at a time) and `response-members.csv`
//! (which member gave which, for a consultation that is not anonymous). Authenticated like
//! `/graphql`; each download is in the audit log before a byte is sent.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, stream};

use crate::domain::ids::ConsultationId;
use crate::global_id as id;
use crate::http::HttpState;
use crate::http::error::respond;
use crate::http::exports::{authenticated, download, headers_for};
use crate::http::graphql::client_address;
use crate::service::accounts::auth::{Caller, ClientAddress};
use crate::service::consultations::response_csv;

const CSV: &str = "text/csv; charset=utf-8";

/// The caller, where they are, and the consultation the path names; or the refusal.
async fn asked(
    state: &HttpState,
    consultation: &str,
    request: Request,
) -> Result<(Caller, ClientAddress, ConsultationId), Response> {
    // Read before any wait: a request's body is not shared across threads.
    let client = client_address(state, &request);
    let headers = request.headers().clone();
    drop(request);
    let caller = authenticated(state, &headers).await?;
    let id = id::decode::<ConsultationId>(consultation, "consultation").map_err(respond)?;
    Ok((caller, client, id))
}

/// `GET /exports/consultations/{consultation}/responses.csv` (OFFICER).
pub async fn responses_csv(
    State(state): State<HttpState>,
    Path(consultation): Path<String>,
    request: Request,
) -> Response {
    let (caller, client, id) = match asked(&state, &consultation, request).await {
        Ok(asked) => asked,
        Err(response) => return response,
    };
    let export = match response_csv::responses(&state.app, &caller, client, id).await {
        Ok(export) => export,
        Err(err) => return respond(err),
    };
    let header = match export.header() {
        Ok(header) => header,
        Err(err) => return respond(err),
    };
    let name = export.file_name();
    let app = state.app.clone();
    let export = std::sync::Arc::new(export);
    let rows = stream::try_unfold(Some(None), move |next| {
        let (app, export) = (app.clone(), std::sync::Arc::clone(&export));
        async move {
            let Some(after) = next else {
                return Ok(None);
            };
            match export.rows(&app, after).await {
                Ok(Some((bytes, last))) => Ok(Some((bytes, Some(Some(last))))),
                Ok(None) => Ok(None),
                Err(err) => {
                    tracing::error!(consultation_id = %id, "writing a responses export failed");
                    Err(std::io::Error::other(format!("{:?}", err.code())))
                }
            }
        }
    });
    let body = stream::once(async move { Ok::<_, std::io::Error>(header) }).chain(rows);
    (
        StatusCode::OK,
        headers_for(CSV, &name),
        Body::from_stream(body),
    )
        .into_response()
}

/// `GET /exports/consultations/{consultation}/response-members.csv` (OFFICER).
pub async fn members_csv(
    State(state): State<HttpState>,
    Path(consultation): Path<String>,
    request: Request,
) -> Response {
    let (caller, client, id) = match asked(&state, &consultation, request).await {
        Ok(asked) => asked,
        Err(response) => return response,
    };
    download(
        response_csv::members(&state.app, &caller, client, id).await,
        CSV,
        &format!("consultation-{id}-response-members.csv"),
    )
}
