//! GraphQL over HTTP: media types, status codes and request errors.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::helpers::{TestApp, post_request};

fn post_raw(body: &str, content_type: Option<&str>, accept: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(Method::POST).uri("/graphql");
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(accept) = accept {
        builder = builder.header(header::ACCEPT, accept);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

fn get(uri: &str, accept: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(Method::GET).uri(uri);
    if let Some(accept) = accept {
        builder = builder.header(header::ACCEPT, accept);
    }
    builder.body(Body::empty()).unwrap()
}

const GQL_RESPONSE: &str = "application/graphql-response+json";
const TYPENAME: &str = r#"{"query":"{ __typename }"}"#;

#[tokio::test]
async fn a_query_answers_application_json_when_accept_is_missing_or_wildcard() {
    let app = TestApp::spawn().await;
    for accept in [None, Some("*/*"), Some("application/json")] {
        let response = app
            .send(post_raw(TYPENAME, Some("application/json"), accept))
            .await;
        assert_eq!(response.status, StatusCode::OK, "{accept:?}");
        assert_eq!(response.content_type(), "application/json; charset=utf-8");
        assert_eq!(
            response.json(),
            json!({ "data": { "__typename": "Query" } })
        );
    }
}

#[tokio::test]
async fn a_client_that_names_graphql_response_json_gets_it() {
    let app = TestApp::spawn().await;
    let response = app
        .send(post_raw(
            TYPENAME,
            Some("application/json; charset=utf-8"),
            Some(GQL_RESPONSE),
        ))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.content_type(),
        "application/graphql-response+json; charset=utf-8"
    );
    assert_eq!(response.json()["data"]["__typename"], "Query");
}

#[tokio::test]
async fn an_accept_header_with_nothing_we_speak_is_406() {
    let app = TestApp::spawn().await;
    let response = app
        .send(post_raw(
            TYPENAME,
            Some("application/json"),
            Some("text/csv"),
        ))
        .await;
    assert_eq!(response.status, StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn unparsable_json_is_400_with_a_bad_request_code_under_both_media_types() {
    let app = TestApp::spawn().await;
    for accept in ["application/json", GQL_RESPONSE] {
        let response = app
            .send(post_raw(
                r#"{ "not a JSON"#,
                Some("application/json"),
                Some(accept),
            ))
            .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{accept}");
        assert_eq!(response.first_error_code(), "BAD_REQUEST");
        assert!(response.json().get("data").is_none());
    }
}

#[tokio::test]
async fn parameters_of_the_wrong_type_are_400() {
    let app = TestApp::spawn().await;
    let bodies = [
        json!({ "notquery": "{ __typename }" }),
        json!({ "query": 1 }),
        json!({ "query": "{ __typename }", "variables": "x" }),
        json!({ "query": "{ __typename }", "operationName": ["a"] }),
        json!({ "query": "{ __typename }", "extensions": false }),
        json!(["not", "an", "object"]),
    ];
    for body in bodies {
        let response = app.post(&body, None).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(response.first_error_code(), "BAD_REQUEST", "{body}");
    }
}

#[tokio::test]
async fn null_optional_parameters_are_allowed() {
    let app = TestApp::spawn().await;
    let body = json!({ "query": "{ __typename }", "variables": null, "operationName": null, "extensions": null });
    let response = app.post(&body, None).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.json(),
        json!({ "data": { "__typename": "Query" } })
    );
}

#[tokio::test]
async fn a_document_that_does_not_parse_is_400_without_data_for_graphql_response_json() {
    let app = TestApp::spawn().await;
    let response = app
        .send(post_raw(
            r#"{"query":"{"}"#,
            Some("application/json"),
            Some(GQL_RESPONSE),
        ))
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    let body = response.json();
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(response.first_error_code(), "GRAPHQL_PARSE_FAILED");
}

#[tokio::test]
async fn a_document_that_does_not_parse_is_200_with_errors_for_plain_json() {
    let app = TestApp::spawn().await;
    let response = app
        .send(post_raw(r#"{"query":"{"}"#, Some("application/json"), None))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.json().get("data").is_none());
    assert_eq!(response.first_error_code(), "GRAPHQL_PARSE_FAILED");
}

#[tokio::test]
async fn an_unknown_field_fails_validation_with_its_name_in_the_message() {
    let app = TestApp::spawn().await;
    let response = app
        .send(post_raw(
            r#"{"query":"{ residentsWithSecrets }"}"#,
            Some("application/json"),
            Some(GQL_RESPONSE),
        ))
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(response.first_error_code(), "GRAPHQL_VALIDATION_FAILED");
    let message = response.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("residentsWithSecrets"), "{message}");
}

#[tokio::test]
async fn a_variable_that_does_not_coerce_is_a_request_error() {
    let app = TestApp::spawn().await;
    let body = r#"{"query":"query Q($id: ID!) { __typename }","variables":{"id":null}}"#;
    let strict = app
        .send(post_raw(body, Some("application/json"), Some(GQL_RESPONSE)))
        .await;
    assert_eq!(strict.status, StatusCode::BAD_REQUEST);
    assert!(strict.json().get("data").is_none());
    let legacy = app
        .send(post_raw(body, Some("application/json"), None))
        .await;
    assert_eq!(legacy.status, StatusCode::OK);
    assert!(
        legacy.json()["errors"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );
}

#[tokio::test]
async fn a_post_without_a_content_type_is_415() {
    let app = TestApp::spawn().await;
    let response = app.send(post_raw(TYPENAME, None, None)).await;
    assert_eq!(response.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(response.first_error_code(), "BAD_REQUEST");
    let other = app.send(post_raw(TYPENAME, Some("text/plain"), None)).await;
    assert_eq!(other.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let latin1 = app
        .send(post_raw(
            TYPENAME,
            Some("application/json; charset=latin1"),
            None,
        ))
        .await;
    assert_eq!(latin1.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn an_empty_post_body_is_400() {
    let app = TestApp::spawn().await;
    let response = app.send(post_raw("", Some("application/json"), None)).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(response.first_error_code(), "BAD_REQUEST");
}

#[tokio::test]
async fn a_get_query_with_url_encoded_variables_runs() {
    let app = TestApp::spawn().await;
    let uri = "/graphql?query=query%20T(%24name%3A%20String!)%20%7B%20__type(name%3A%20%24name)%20%7B%20name%20%7D%20%7D&variables=%7B%22name%22%3A%22Account%22%7D";
    let response = app.send(get(uri, None)).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.json(),
        json!({ "data": { "__type": { "name": "Account" } } })
    );
}

#[tokio::test]
async fn mutations_are_refused_on_get_with_405_and_run_nothing() {
    let app = TestApp::spawn().await;
    let uri = "/graphql?query=mutation%20%7B%20sessionRevoke%20%7B%20revokedCount%20%7D%20%7D";
    let response = app.send(get(uri, Some(GQL_RESPONSE))).await;
    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers.get(header::ALLOW).unwrap(), "POST");
    assert_eq!(response.first_error_code(), "BAD_REQUEST");
}

#[tokio::test]
async fn browsers_get_graphiql_unless_it_is_disabled() {
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let app = TestApp::spawn().await;
    let page = app.send(get("/graphql", Some(browser))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.content_type().starts_with("text/html"));
    assert!(page.text.contains("GraphiQL.createFetcher"));

    let app = TestApp::spawn_with(|config| config.graphiql = false).await;
    let refused = app.send(get("/graphql", Some(browser))).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(!refused.text.contains("GraphiQL"));
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let health = app.send(get("/healthz", None)).await;
    assert_eq!(
        (health.status, health.text.as_str()),
        (StatusCode::OK, "ok\n")
    );
    let ready = app.send(get("/readyz", None)).await;
    assert_eq!(
        (ready.status, ready.text.as_str()),
        (StatusCode::OK, "ready\n")
    );
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.state.db.clone().close().await;
    let ready = app.send(get("/readyz", None)).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_well_formed_incoming_one_is_kept() {
    let app = TestApp::spawn().await;
    let fresh = app
        .send(post_request(&json!({ "query": "{ __typename }" }), None))
        .await;
    let id = fresh.headers.get("x-request-id").unwrap().to_str().unwrap();
    assert_eq!(id.len(), 16);

    let mut request = post_request(&json!({ "query": "{ __typename }" }), None);
    request
        .headers_mut()
        .insert("x-request-id", "proxy-abc-123".parse().unwrap());
    let kept = app.send(request).await;
    assert_eq!(kept.headers.get("x-request-id").unwrap(), "proxy-abc-123");

    let mut request = post_request(&json!({ "query": "{ __typename }" }), None);
    request
        .headers_mut()
        .insert("x-request-id", "bad id with spaces".parse().unwrap());
    let replaced = app.send(request).await;
    assert_ne!(
        replaced.headers.get("x-request-id").unwrap(),
        "bad id with spaces"
    );
}
