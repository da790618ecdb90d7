//! Logging in (`sessionCreate`) and out (`sessionRevoke`).

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::graphql::accounts::AccountNode;
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::service::sessions;

/// Credentials.
#[derive(InputObject)]
pub struct SessionCreateInput {
    /// The account's email address.
    pub email: String,
    /// The account's password.
    pub password: String,
}

/// A new session.
#[derive(SimpleObject)]
pub struct SessionCreatePayload {
    /// Send as `Authorization: Bearer <token>`. Shown only here, never again.
    pub token: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// Whose session it is.
    pub account: AccountNode,
}

/// Which sessions to end.
#[derive(InputObject, Default)]
pub struct SessionRevokeInput {
    /// End every open session of the caller's account, not only this one.
    #[graphql(default = false)]
    pub everywhere: bool,
}

/// How many sessions ended.
#[derive(SimpleObject)]
pub struct SessionRevokePayload {
    /// Number of sessions ended (0 if it had already ended).
    pub revoked_count: u64,
}

/// Session mutations.
#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Logs in. Wrong credentials are `UNAUTHENTICATED`; repeated failures per account or
    /// per client address are `RATE_LIMITED`.
    async fn session_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Email address and password.")] input: SessionCreateInput,
    ) -> async_graphql::Result<SessionCreatePayload> {
        let state = context::state(ctx)?;
        let client = context::request(ctx).client;
        let issued = sessions::log_in(state, &input.email, &input.password, client).await?;
        Ok(SessionCreatePayload {
            token: issued.token.expose().to_owned(),
            expires_at: issued.expires_at,
            account: AccountNode(issued.account),
        })
    }

    /// Logs out: ends the session whose token made this request (or all of them).
    #[graphql(guard = "RoleGuard::ANY_ACCOUNT")]
    async fn session_revoke(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "Which sessions to end (default: this one).")]
        input: SessionRevokeInput,
    ) -> async_graphql::Result<SessionRevokePayload> {
        let caller = context::request(ctx).caller;
        let session = caller.session()?;
        let state = context::state(ctx)?;
        let revoked_count = sessions::revoke(state, session, input.everywhere).await?;
        Ok(SessionRevokePayload { revoked_count })
    }
}
