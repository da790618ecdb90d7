//! Logging in and out, and turning a bearer token back into a caller.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::db::entities::{account, session};
use crate::domain::accounts::account::Account;
use crate::domain::accounts::session_token::{SessionToken, TokenHash};
use crate::domain::email::EmailAddress;
use crate::domain::ids::AccountId;
use crate::error::{AppError, AppResult};
use crate::service::accounts;
use crate::service::accounts::auth::{AuthSession, ClientAddress};
use crate::service::rate_limit::{self, Limit};
use crate::state::AppState;

/// A session just issued: the token is shown once, here.
#[derive(Debug)]
pub struct IssuedSession {
    /// The bearer token.
    pub token: SessionToken,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Whose it is.
    pub account: Account,
}

fn account_limit(state: &AppState, email: &EmailAddress) -> Limit {
    Limit {
        bucket: format!("login:account:{email}"),
        max: state.config.login_max_failures_per_account,
        window: state.config.login_window(),
    }
}

fn client_limit(state: &AppState, client: ClientAddress) -> Limit {
    Limit {
        bucket: format!("login:client:{}", client.key()),
        max: state.config.login_max_failures_per_client,
        window: state.config.login_window(),
    }
}

/// Checks an email and password and opens a session.
///
/// Failures are counted per account and per client address; past either limit the login
/// is refused with `RATE_LIMITED` before any password is checked. Each attempt is counted
/// before the password is checked and taken back when it succeeds. Unknown emails, disabled
/// accounts and accounts without a password cost the same argon2 work as a real check.
pub async fn log_in(
    state: &AppState,
    raw_email: &str,
    password: &str,
    client: ClientAddress,
) -> AppResult<IssuedSession> {
    let email = EmailAddress::parse(raw_email)
        .map_err(|e| AppError::bad_input("input.email", e.to_string()))?;
    let now = state.clock.now();
    let db = state.db.writer();
    let per_account = account_limit(state, &email);
    let attempt =
        rate_limit::attempt(db, &[client_limit(state, client), per_account.clone()], now).await?;

    let found = accounts::find_for_login(state.db.reader(), &email).await?;
    let (account, stored_hash) = match found {
        Some((account, hash)) if !account.disabled => (Some(account), hash),
        _ => (None, None),
    };
    let verified = state
        .passwords
        .verify(password, stored_hash.as_deref())
        .await?;
    let account = match account {
        Some(account) if verified => account,
        _ => {
            attempt.keep();
            return Err(AppError::InvalidCredentials);
        }
    };

    attempt.forgive(db).await?;
    rate_limit::clear(db, &per_account.bucket).await?;
    let (token, expires_at) = open(state, account.id).await?;
    Ok(IssuedSession {
        token,
        expires_at,
        account,
    })
}

/// Opens a session for an account already identified: its token (shown once) and expiry.
pub async fn open(
    state: &AppState,
    account_id: AccountId,
) -> AppResult<(SessionToken, DateTime<Utc>)> {
    open_in(state.db.writer(), state, account_id).await
}

/// Like [`open`], inside the caller's transaction `db`.
pub async fn open_in(
    db: &impl ConnectionTrait,
    state: &AppState,
    account_id: AccountId,
) -> AppResult<(SessionToken, DateTime<Utc>)> {
    let now = state.clock.now();
    let token = SessionToken::generate();
    let expires_at = now + state.config.session_ttl();
    session::ActiveModel {
        account_id: Set(account_id),
        token_hash: Set(token.hash().as_str().to_owned()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    tracing::info!(account_id = account_id.0, "session opened");
    Ok((token, expires_at))
}

/// Resolves a presented bearer token to its session. Wrong, expired and revoked tokens,
/// and tokens of disabled accounts, are all `UNAUTHENTICATED` with the same message.
pub async fn authenticate(state: &AppState, presented: &str) -> AppResult<AuthSession> {
    let hash = TokenHash::of(presented);
    let found = session::Entity::find()
        .filter(session::Column::TokenHash.eq(hash.as_str()))
        .find_also_related(account::Entity)
        .one(state.db.reader())
        .await?;
    let now = state.clock.now();
    match found {
        Some((session, Some(account))) if is_live(&session, &account, now) => Ok(AuthSession {
            session_id: session.id,
            account_id: account.id,
            role: account.role,
        }),
        _ => Err(AppError::InvalidSession),
    }
}

/// Whether a session authenticated earlier still holds: not revoked, not expired, its
/// account not disabled (for long-lived connections, such as a subscription's).
pub async fn still_valid(state: &AppState, session: &AuthSession) -> AppResult<bool> {
    let found = session::Entity::find_by_id(session.session_id)
        .find_also_related(account::Entity)
        .one(state.db.reader())
        .await?;
    let now = state.clock.now();
    Ok(matches!(found, Some((session, Some(account))) if is_live(&session, &account, now)))
}

/// A session that works at `now`: not revoked, not expired, its account not disabled.
fn is_live(session: &session::Model, account: &account::Model, now: DateTime<Utc>) -> bool {
    session.revoked_at.is_none() && session.expires_at > now && account.disabled_at.is_none()
}

/// Ends one session, or every open session of its account. Returns how many ended.
pub async fn revoke(state: &AppState, current: &AuthSession, everywhere: bool) -> AppResult<u64> {
    let now = state.clock.now();
    let mut update = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(now))
        .filter(session::Column::RevokedAt.is_null());
    update = if everywhere {
        update.filter(session::Column::AccountId.eq(current.account_id))
    } else {
        update.filter(session::Column::Id.eq(current.session_id))
    };
    let result = update.exec(state.db.writer()).await?;
    tracing::info!(
        account_id = current.account_id.0,
        everywhere,
        "session revoked"
    );
    Ok(result.rows_affected)
}
