//! `/graphql`: GraphQL over HTTP, following the GraphQL-over-HTTP specification.
//!
//! The stock async-graphql responder answers request errors with 200 whatever the
//! client accepts and does not negotiate media types, so this handler does the HTTP
//! part itself:
//!
//! - GET (queries only; a mutation is 405) and POST with `application/json`;
//! - the response type is negotiated from `Accept` (see [`negotiate`]);
//! - a body that is not JSON, or parameters of the wrong type, are 400 under both;
//! - a document that does not parse or validate (or whose variables do not coerce)
//!   answers 400 without `data` under `application/graphql-response+json`, and 200 with
//!   `errors` under `application/json`, as the specification asks of legacy clients;
//! - bodies over the limit are 413, a missing or unsupported `Content-Type` is 415, a bad
//!   bearer token is 401, and a request past the time limit is 503; each with a coded
//!   error in the body.

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{ServerError, Variables};
use axum::body::Body;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{AppError, ErrorCode};
use crate::graphql::context::RequestContext;
use crate::graphql::error::with_code;
use crate::http::HttpState;
use crate::http::error::{Refusal, json_response};
use crate::http::negotiate::{ResponseType, negotiate};
use crate::service::accounts::auth::{Caller, ClientAddress};
use crate::service::accounts::sessions;

/// The GraphQL request parameters of the specification, checked for type.
struct Params {
    query: String,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

fn optional_string(body: &Map<String, Value>, key: &str) -> Result<Option<String>, Refusal> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Refusal::bad_request(format!(
            "The `{key}` parameter must be a string."
        ))),
    }
}

fn optional_map(
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<Map<String, Value>>, Refusal> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(_) => Err(Refusal::bad_request(format!(
            "The `{key}` parameter must be a map (JSON object)."
        ))),
    }
}

fn params_from_json(body: &Value) -> Result<Params, Refusal> {
    let Value::Object(body) = body else {
        return Err(Refusal::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    let query = optional_string(body, "query")?
        .ok_or_else(|| Refusal::bad_request("The `query` parameter is required."))?;
    Ok(Params {
        query,
        operation_name: optional_string(body, "operationName")?,
        variables: optional_map(body, "variables")?,
        extensions: optional_map(body, "extensions")?,
    })
}

/// Query-string parameters of a GET request.
#[derive(Deserialize)]
struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

fn decode_json_param(
    raw: Option<String>,
    key: &str,
) -> Result<Option<Map<String, Value>>, Refusal> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let value: Value = serde_json::from_str(&raw).map_err(|_| {
        Refusal::bad_request(format!("The `{key}` parameter must be URL-encoded JSON."))
    })?;
    let mut holder = Map::new();
    holder.insert(key.to_owned(), value);
    optional_map(&holder, key)
}

fn params_from_get(request: &Request) -> Result<Params, Refusal> {
    let Query(get) = Query::<GetParams>::try_from_uri(request.uri())
        .map_err(|_| Refusal::bad_request("The query string is malformed."))?;
    let query = get
        .query
        .ok_or_else(|| Refusal::bad_request("The `query` parameter is required."))?;
    Ok(Params {
        query,
        operation_name: get.operation_name,
        variables: decode_json_param(get.variables, "variables")?,
        extensions: decode_json_param(get.extensions, "extensions")?,
    })
}

/// Refuses mutations over GET (they must not be triggered by a link or a prefetch).
fn refuse_mutation_on_get(params: &Params) -> Result<(), Refusal> {
    // A document that does not parse is reported by execution, with its position.
    let Ok(document) = async_graphql::parser::parse_query(&params.query) else {
        return Ok(());
    };
    let operation_type = match (&document.operations, &params.operation_name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => {
            ops.get(name.as_str()).map(|op| op.node.ty)
        }
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        (DocumentOperations::Multiple(_), None) => None,
    };
    if operation_type == Some(OperationType::Mutation) {
        return Err(Refusal::transport(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::BadRequest,
            "Mutations must be sent with POST.",
        ));
    }
    Ok(())
}

async fn request_from_post(
    state: &HttpState,
    request: Request,
) -> Result<async_graphql::Request, Refusal> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(content_type) = content_type else {
        return Err(Refusal::transport(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadRequest,
            "A POST needs `Content-Type: application/json`.",
        ));
    };
    let mime = content_type.parse::<mime::Mime>().ok();
    if mime
        .as_ref()
        .is_some_and(|m| m.essence_str() == "multipart/form-data")
    {
        return request_from_multipart(state, &content_type, request.into_body()).await;
    }
    let is_utf8_json = mime.is_some_and(|m| {
        m.essence_str() == "application/json"
            && m.get_param(mime::CHARSET)
                .is_none_or(|charset| charset.as_str().eq_ignore_ascii_case("utf-8"))
    });
    if !is_utf8_json {
        return Err(Refusal::transport(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadRequest,
            format!(
                "Unsupported Content-Type `{content_type}`: send UTF-8 `application/json` \
                 (or `multipart/form-data` for file uploads)."
            ),
        ));
    }
    let limit = state.app.config.body_limit_bytes;
    if content_length_over(request.headers(), limit) {
        return Err(too_large(limit));
    }
    let bytes = read_body(request.into_body(), limit).await?;
    if bytes.is_empty() {
        return Err(Refusal::bad_request(
            "A POST needs a JSON body with a `query`.",
        ));
    }
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Refusal::bad_request(format!("The body is not valid JSON: {e}.")))?;
    params_from_json(&body).map(request_from_params)
}

fn too_large(limit: usize) -> Refusal {
    Refusal::transport(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!("The request body is larger than {limit} bytes."),
    )
}

/// A GraphQL multipart request (file uploads), within the upload size limit.
async fn request_from_multipart(
    state: &HttpState,
    content_type: &str,
    body: Body,
) -> Result<async_graphql::Request, Refusal> {
    use futures_util::TryStreamExt;

    let limit = state.app.config.upload_limit_bytes;
    let overflowed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = overflowed.clone();
    let mut seen = 0usize;
    let stream = body
        .into_data_stream()
        .map_err(std::io::Error::other)
        .and_then(move |chunk| {
            seen += chunk.len();
            let over = seen > limit;
            if over {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            async move {
                if over {
                    Err(std::io::Error::other(UploadTooLarge))
                } else {
                    Ok(chunk)
                }
            }
        });
    let options = async_graphql::http::MultipartOptions::default()
        .max_file_size(limit)
        .max_num_files(4);
    async_graphql::http::receive_body(Some(content_type), stream.into_async_read(), options)
        .await
        .map_err(|err| {
            let too_big = matches!(&err, async_graphql::ParseRequestError::PayloadTooLarge)
                || overflowed.load(std::sync::atomic::Ordering::Relaxed);
            if too_big {
                too_large(limit)
            } else {
                Refusal::bad_request(format!("The multipart request is malformed: {err}."))
            }
        })
}

/// Marks the stream error raised when an upload passes its limit.
#[derive(Debug)]
struct UploadTooLarge;

impl std::fmt::Display for UploadTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upload too large")
    }
}

impl std::error::Error for UploadTooLarge {}

async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, Refusal> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(limit))
}

fn content_length_over(headers: &HeaderMap, limit: usize) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > limit as u64)
}

fn bearer_token(headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let invalid = || {
        Refusal::transport(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            AppError::InvalidSession.public_message(),
        )
    };
    let text = value.to_str().map_err(|_| invalid())?;
    let (scheme, token) = text.split_once(' ').ok_or_else(invalid)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(invalid());
    }
    Ok(Some(token.to_owned()))
}

/// The caller a request's bearer token names (anonymous without one); a bad token is 401.
pub async fn caller(state: &HttpState, headers: &HeaderMap) -> Result<Caller, Refusal> {
    let Some(token) = bearer_token(headers)? else {
        return Ok(Caller::Anonymous);
    };
    match sessions::authenticate(&state.app, &token).await {
        Ok(session) => Ok(Caller::Session(session)),
        Err(err) => Err(crate::http::error::refusal(err)),
    }
}

/// The client's address: the connection's, or behind one trusted proxy the last
/// `X-Forwarded-For` entry.
pub(crate) fn client_address(state: &HttpState, request: &Request) -> ClientAddress {
    address_of(state, request.headers(), request.extensions())
}

/// [`client_address`] from a request's headers and extensions (an extractor's parts).
pub(crate) fn address_of(
    state: &HttpState,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
) -> ClientAddress {
    if state.app.config.trust_forwarded_for {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            // The proxy appends the address it saw; entries before it are the client's own
            // claims and could be anything.
            .and_then(|v| v.rsplit(',').next())
            .and_then(|last| last.trim().parse().ok());
        if forwarded.is_some() {
            return ClientAddress(forwarded);
        }
    }
    ClientAddress(
        extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip()),
    )
}

/// Codes any error that has none: request-stage errors are `BAD_REQUEST`; field errors
/// without a code did not come from our use cases, so they are hidden as `INTERNAL`.
fn code_uncoded(error: ServerError, request_error: bool) -> ServerError {
    let has_code = error
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some());
    if has_code {
        error
    } else if request_error {
        with_code(error, ErrorCode::BadRequest)
    } else {
        tracing::error!(message = %error.message, path = ?error.path, "uncoded field error");
        let mut hidden = ServerError::new("Internal server error.", None);
        hidden.path = error.path;
        hidden.locations = error.locations;
        with_code(hidden, ErrorCode::Internal)
    }
}

fn request_from_params(params: Params) -> async_graphql::Request {
    let mut request = async_graphql::Request::new(params.query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.variables {
        request = request.variables(Variables::from_json(Value::Object(variables)));
    }
    if let Some(extensions) = params.extensions {
        for (key, value) in extensions {
            if let Ok(value) = async_graphql::Value::from_json(value) {
                request.extensions.insert(key, value);
            }
        }
    }
    request
}

async fn execute(
    state: &HttpState,
    request: async_graphql::Request,
    context: RequestContext,
    response_type: ResponseType,
) -> Response {
    let loaders = crate::graphql::loaders::for_request(state.app.clone(), context.caller.clone());
    let mut response = state
        .schema
        .execute(request.data(context).data(loaders))
        .await;
    // Errors before execution (parse, validation, operation selection) leave no data and
    // no field path.
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    response.errors = std::mem::take(&mut response.errors)
        .into_iter()
        .map(|e| code_uncoded(e, request_error))
        .collect();
    let mut body = serde_json::to_value(&response).unwrap_or_else(|_| json!({}));
    let status = if request_error {
        if let Value::Object(map) = &mut body {
            map.remove("data");
        }
        match response_type {
            ResponseType::Json => StatusCode::OK,
            ResponseType::GraphqlResponseJson => StatusCode::BAD_REQUEST,
        }
    } else {
        StatusCode::OK
    };
    json_response(status, response_type, &body)
}

/// Handles GET and POST `/graphql`. The whole request, authentication included, runs
/// under the configured time limit; an abandoned request's transaction rolls back.
pub async fn handler(State(state): State<HttpState>, request: Request) -> Response {
    let response_type = negotiate(
        request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    )
    .response
    .unwrap_or(ResponseType::Json);
    let timeout = state.app.config.request_timeout();
    match tokio::time::timeout(timeout, handle(&state, request)).await {
        Ok(response) => response,
        Err(_) => Refusal::transport(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Timeout,
            format!(
                "The request took longer than {} seconds and was abandoned.",
                timeout.as_secs()
            ),
        )
        .into_response(response_type),
    }
}

async fn handle(state: &HttpState, request: Request) -> Response {
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let negotiated = negotiate(accept);
    let is_get = request.method() == Method::GET;
    let has_query = request.uri().query().is_some_and(|q| !q.is_empty());
    if is_get && negotiated.wants_html && !has_query && state.app.config.graphiql {
        return Html(crate::http::graphiql::page("/graphql")).into_response();
    }
    let Some(response_type) = negotiated.response else {
        return (
            StatusCode::NOT_ACCEPTABLE,
            "Accept application/graphql-response+json or application/json.\n",
        )
            .into_response();
    };
    let caller = match caller(state, request.headers()).await {
        Ok(caller) => caller,
        Err(refusal) => return refusal.into_response(response_type),
    };
    let client = client_address(state, &request);
    let graphql_request = if is_get {
        params_from_get(&request)
            .and_then(|p| refuse_mutation_on_get(&p).map(|()| p))
            .map(request_from_params)
    } else {
        request_from_post(state, request).await
    };
    match graphql_request {
        Ok(graphql_request) => {
            execute(
                state,
                graphql_request,
                RequestContext { caller, client },
                response_type,
            )
            .await
        }
        Err(refusal) => refusal.into_response(response_type),
    }
}
