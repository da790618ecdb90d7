//! The one place that turns an [`AppError`] into a GraphQL error with `extensions.code`,
//! and that stamps codes on errors async-graphql raises itself (parse, validation, limits).

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerError, ServerResult, ValidationResult, Variables};

use crate::error::{AppError, ErrorCode};
use crate::graphql::loaders::LoadError;

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        to_graphql(&err)
    }
}

impl From<LoadError> for async_graphql::Error {
    fn from(err: LoadError) -> Self {
        to_graphql(&err.0)
    }
}

/// The GraphQL error for `err`: its public message and `extensions.code`, the offending
/// field for bad input, when to retry for limits; internal detail is logged, never sent.
fn to_graphql(err: &AppError) -> async_graphql::Error {
    let mut gql = async_graphql::Error::new(err.public_message());
    let extensions = gql.extensions.get_or_insert_with(Default::default);
    extensions.set("code", err.code().as_str());
    if let Some(seconds) = err.retry_after_secs() {
        extensions.set("retryAfterSeconds", seconds);
    }
    match err {
        AppError::BadUserInput { field, .. } => extensions.set("field", field.as_str()),
        AppError::Internal(detail) => tracing::error!(error = ?detail, "internal error"),
        AppError::Unavailable { detail, .. } => {
            tracing::warn!(error = ?detail, "service busy");
        }
        _ => {}
    }
    gql
}

/// Sets `extensions.code` on a server error that has none.
pub fn with_code(mut error: ServerError, code: ErrorCode) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code.as_str());
    }
    error
}

/// Schema extension that codes the errors raised before execution starts.
pub struct RequestErrorCodes;

impl ExtensionFactory for RequestErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestErrorCodes)
    }
}

// async-graphql only reports depth and complexity overruns by these messages.
const TOO_DEEP: &str = "Query is nested too deep.";
const TOO_COMPLEX: &str = "Query is too complex.";

#[async_graphql::async_trait::async_trait]
impl Extension for RequestErrorCodes {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, ErrorCode::GraphqlParseFailed))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    let code = match e.message.as_str() {
                        TOO_DEEP => ErrorCode::QueryTooDeep,
                        TOO_COMPLEX => ErrorCode::QueryTooComplex,
                        _ => ErrorCode::GraphqlValidationFailed,
                    };
                    with_code(e, code)
                })
                .collect()
        })
    }
}
