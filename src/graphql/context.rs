//! What a resolver can know about its request, fetched without `unwrap`.

use async_graphql::Context;

use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::{Caller, ClientAddress};
use crate::state::AppState;

/// Per-request data the HTTP layer attaches.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// Who is calling.
    pub caller: Caller,
    /// From where.
    pub client: ClientAddress,
}

/// The shared state.
pub fn state<'a>(ctx: &Context<'a>) -> AppResult<&'a AppState> {
    ctx.data::<AppState>()
        .map_err(|_| AppError::internal(anyhow::anyhow!("AppState missing from schema data")))
}

/// Who is calling.
pub fn caller(ctx: &Context<'_>) -> Caller {
    request(ctx).caller
}

/// The request's context; a request built without one (e.g. in a unit test) is anonymous.
pub fn request<'a>(ctx: &Context<'a>) -> RequestContext {
    ctx.data_opt::<RequestContext>()
        .cloned()
        .unwrap_or(RequestContext {
            caller: Caller::Anonymous,
            client: ClientAddress(None),
        })
}
