//! Logging in (`sessionCreate`) and out (`sessionRevoke`).

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::graphql::accounts::AccountNode;
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::service::{accounts::login_links, accounts::sessions};

/// An email address and password to log in with.
#[derive(InputObject)]
pub struct SessionCreateInput {
    /// The account's email address.
    pub email: String,
    /// As typed. A wrong password, an unknown email and a disabled account all give the
    /// same `UNAUTHENTICATED` error.
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

/// A resident asking for a one-time login link.
#[derive(InputObject)]
pub struct LoginLinkRequestInput {
    /// The email address the resident registered with.
    pub email: String,
}

/// The request was taken (whether or not the email has an account).
#[derive(SimpleObject)]
pub struct LoginLinkRequestPayload {
    /// Always true: the answer never says whether the email belongs to an account.
    pub accepted: bool,
}

/// A one-time login link's token.
#[derive(InputObject)]
pub struct SessionCreateFromLinkInput {
    /// The `token` parameter of the emailed link.
    pub token: String,
}

/// The `Mutation` fields that log in and out, with a password or a one-time link.
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

    /// Emails a resident a one-time login link (public). Rate-limited per client address
    /// and per email.
    async fn login_link_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Where to send the link.")] input: LoginLinkRequestInput,
    ) -> async_graphql::Result<LoginLinkRequestPayload> {
        let state = context::state(ctx)?;
        let client = context::request(ctx).client;
        login_links::request(state, &input.email, client).await?;
        Ok(LoginLinkRequestPayload { accepted: true })
    }

    /// Logs in with a one-time login link (public). A link works once, before it expires.
    async fn session_create_from_link(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The link's token.")] input: SessionCreateFromLinkInput,
    ) -> async_graphql::Result<SessionCreatePayload> {
        let state = context::state(ctx)?;
        let issued = login_links::redeem(state, &input.token).await?;
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
