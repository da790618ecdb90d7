//! Officers' downloads of a consultation's responses: `responses.csv` (every answer, free
//! text included, streamed a thousand responses at a time) and `response-members.csv`
//! (which member gave which, for a consultation that is not anonymous). Authenticated like
//! `/graphql`; each download is in the audit log before a byte is sent.

use axum::body::Body;
use axum::extract::State;
use futures_util::{StreamExt, stream};

use crate::domain::ids::ConsultationId;
use crate::http::HttpState;
use crate::http::extract::{Download, Downloaded, PathId, Signed};
use crate::service::consultations::response_csv;

/// `GET /exports/consultations/{consultation}/responses.csv` (OFFICER).
pub async fn responses_csv(
    State(state): State<HttpState>,
    Signed { caller, client }: Signed,
    PathId(id): PathId<ConsultationId>,
) -> Downloaded {
    let export = response_csv::responses(&state.app, &caller, client, id).await?;
    let header = export.header()?;
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
    Ok(Download::file(
        "text/csv; charset=utf-8".into(),
        name,
        Body::from_stream(body),
    ))
}

/// `GET /exports/consultations/{consultation}/response-members.csv` (OFFICER).
pub async fn members_csv(
    State(state): State<HttpState>,
    Signed { caller, client }: Signed,
    PathId(id): PathId<ConsultationId>,
) -> Downloaded {
    let csv = response_csv::members(&state.app, &caller, client, id).await?;
    Ok(Download::csv(
        format!("consultation-{id}-response-members.csv"),
        csv,
    ))
}
