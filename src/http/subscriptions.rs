//! `GET /graphql/ws`: GraphQL subscriptions over WebSocket, in the `graphql-transport-ws`
//! protocol (and the older `graphql-ws`). The client signs in with its session token in
//! the `connection_init` payload (`{"authorization": "Bearer …"}`) or in the upgrade
//! request's `Authorization` header; a bad token closes the connection.

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{Request, State, WebSocketUpgrade};
use axum::http::header;
use axum::response::Response;

use crate::graphql::context::RequestContext;
use crate::http::HttpState;
use crate::service::accounts::auth::Caller;
use crate::service::accounts::sessions;

/// The token in `Bearer <token>` (or a bare token).
fn token_of(value: &str) -> Option<String> {
    let value = value.trim();
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        Some(_) => return None,
        None => value,
    };
    (!token.is_empty()).then(|| token.to_owned())
}

/// The token in a `connection_init` payload, if it carries one.
fn payload_token(payload: &serde_json::Value) -> Option<String> {
    ["authorization", "Authorization", "token"]
        .iter()
        .find_map(|key| payload.get(key).and_then(|v| v.as_str()))
        .and_then(token_of)
}

/// Upgrades to a GraphQL WebSocket.
pub async fn handler(
    State(state): State<HttpState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
    request: Request,
) -> Response {
    let client = crate::http::graphql::client_address(&state, &request);
    let header_token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(token_of);
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            let app = state.app.clone();
            GraphQLWebSocket::new(stream, state.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let caller = match payload_token(&payload).or(header_token) {
                        Some(token) => Caller::Session(
                            sessions::authenticate(&app, &token)
                                .await
                                .map_err(|e| async_graphql::Error::new(e.public_message()))?,
                        ),
                        None => Caller::Anonymous,
                    };
                    let mut data = Data::default();
                    data.insert(crate::graphql::loaders::for_request(
                        app.clone(),
                        caller.clone(),
                    ));
                    data.insert(RequestContext { caller, client });
                    Ok(data)
                })
                .serve()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_comes_from_the_payload_in_any_usual_spelling() {
        assert_eq!(token_of("Bearer cps_a"), Some("cps_a".to_owned()));
        assert_eq!(token_of("cps_a"), Some("cps_a".to_owned()));
        assert_eq!(token_of("Basic abc"), None);
        assert_eq!(
            payload_token(&serde_json::json!({ "Authorization": "bearer cps_b" })),
            Some("cps_b".to_owned())
        );
        assert_eq!(payload_token(&serde_json::json!({})), None);
    }
}
