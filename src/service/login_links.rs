//! One-time login links: how a resident without a password logs in.
//!
//! A link carries a 256-bit token (only its SHA-256 is stored), works once and expires
//! after `CIVIC_PANEL_LOGIN_LINK_TTL_MINUTES`. The email that carries it is written to the
//! outbox in the same transaction as the link; the delivery worker sends it. Asking for a
//! link never says whether the email has an account.

use chrono::Duration;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
};

use crate::db::entities::{login_link, outbox};
use crate::domain::account::Account;
use crate::domain::email::EmailAddress;
use crate::domain::role::Role;
use crate::domain::session_token::{SessionToken, TokenHash};
use crate::error::{AppError, AppResult};
use crate::service::accounts;
use crate::service::auth::ClientAddress;
use crate::service::rate_limit::{self, Limit};
use crate::service::sessions::{self, IssuedSession};
use crate::state::AppState;

/// Creates a link for `account` and queues the email that carries it, inside `db` (the
/// caller's transaction).
pub async fn issue_in(
    db: &impl ConnectionTrait,
    state: &AppState,
    account: &Account,
) -> AppResult<()> {
    let now = state.clock.now();
    let token = SessionToken::generate_login_link();
    let link = login_link::ActiveModel {
        account_id: Set(account.id.0),
        token_hash: Set(token.hash().as_str().to_owned()),
        created_at: Set(now),
        expires_at: Set(now + Duration::minutes(i64::from(state.config.login_link_ttl_minutes))),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let url = format!(
        "{}/login?token={}",
        state.config.public_url.trim_end_matches('/'),
        token.expose()
    );
    outbox::ActiveModel {
        channel: Set("email".to_owned()),
        recipient: Set(account.email.as_str().to_owned()),
        subject: Set("Your link to log in to the residents' panel".to_owned()),
        body: Set(format!(
            "Hello {},\n\nUse this link to log in to the residents' panel. It works once, within {} minutes:\n\n{url}\n\nIf you did not ask for it, you can ignore this email.\n",
            account.display_name, state.config.login_link_ttl_minutes
        )),
        idempotency_key: Set(format!("login-link:{}", link.id)),
        created_at: Set(now),
        sent_at: Set(None),
        attempts: Set(0),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Sends a new link to a resident's email, if it belongs to a resident account. The answer
/// is the same either way; requests are rate-limited per client address and per email.
pub async fn request(state: &AppState, raw_email: &str, client: ClientAddress) -> AppResult<()> {
    let email = EmailAddress::parse(raw_email)
        .map_err(|e| AppError::bad_input("input.email", e.to_string()))?;
    let now = state.clock.now();
    let window = Duration::hours(1);
    let per_client = Limit {
        bucket: format!("login-link:client:{}", client.key()),
        max: 10,
        window,
    };
    let per_email = Limit {
        bucket: format!("login-link:email:{email}"),
        max: 3,
        window,
    };
    rate_limit::reserve(&state.db, &per_client, now).await?;
    rate_limit::reserve(&state.db, &per_email, now).await?;
    let Some((account, _)) = accounts::find_for_login(&state.db, &email).await? else {
        return Ok(());
    };
    if account.role != Role::Resident || account.disabled {
        return Ok(());
    }
    let txn = state.db.begin().await?;
    issue_in(&txn, state, &account).await?;
    txn.commit().await?;
    Ok(())
}

/// Exchanges a link's token for a session. A used, expired or unknown token is
/// `UNAUTHENTICATED`; a link works once even under concurrent attempts.
pub async fn redeem(state: &AppState, presented: &str) -> AppResult<IssuedSession> {
    let now = state.clock.now();
    let hash = TokenHash::of(presented.trim());
    let txn = state.db.begin().await?;
    let Some(link) = login_link::Entity::find()
        .filter(login_link::Column::TokenHash.eq(hash.as_str()))
        .one(&txn)
        .await?
    else {
        return Err(AppError::InvalidSession);
    };
    if link.expires_at <= now {
        return Err(AppError::InvalidSession);
    }
    let claimed = login_link::Entity::update_many()
        .col_expr(login_link::Column::UsedAt, Expr::value(now))
        .filter(login_link::Column::Id.eq(link.id))
        .filter(login_link::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(AppError::InvalidSession);
    }
    let account = accounts::find(&txn, crate::domain::account::AccountId(link.account_id)).await?;
    if account.disabled {
        return Err(AppError::InvalidSession);
    }
    let (token, expires_at) = sessions::open_in(&txn, state, account.id).await?;
    txn.commit().await?;
    Ok(IssuedSession {
        token,
        expires_at,
        account,
    })
}
