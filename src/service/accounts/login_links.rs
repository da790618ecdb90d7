//! One-time login links: how a resident without a password logs in.
//!
//! A link carries a 256-bit token (only its SHA-256 is stored), works once and expires
//! after `CIVIC_PANEL_LOGIN_LINK_TTL_MINUTES`. The email that carries it is written to the
//! outbox in the same transaction as the link; the delivery worker sends it.
//!
//! Asking for a link never says whether the email has an account, neither in the answer
//! nor in how long it takes: the request is counted against its rate limits and queued as
//! a job, the same work whoever asks, and the job looks the account up.

use chrono::Duration;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
};

use serde::{Deserialize, Serialize};

use crate::db::entities::login_link;
use crate::db::queue::{Message, queue_message};
use crate::domain::accounts::account::Account;
use crate::domain::accounts::role::Role;
use crate::domain::accounts::session_token::{SessionToken, TokenHash};
use crate::domain::consultations::consultation::Channel;
use crate::domain::email::EmailAddress;
use crate::domain::ids::AccountId;
use crate::domain::job::JobKind;
use crate::error::{AppError, AppResult};
use crate::service::accounts;
use crate::service::accounts::auth::ClientAddress;
use crate::service::accounts::sessions::{self, IssuedSession};
use crate::service::jobs;
use crate::service::rate_limit::{self, Limit};
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
        account_id: Set(account.id),
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
    let message = Message {
        subject: "Your link to log in to the residents' panel".to_owned(),
        text: format!(
            "Hello {},\n\nUse this link to log in to the residents' panel. It works once, within {} minutes:\n\n{url}\n\nIf you did not ask for it, you can ignore this email.\n",
            account.display_name, state.config.login_link_ttl_minutes
        ),
        html: None,
        headers: Vec::new(),
    };
    let key = format!("login-link:{}", link.id);
    queue_message(
        db,
        Channel::Email,
        account.email.as_str(),
        message,
        key,
        now,
    )
    .await?;
    Ok(())
}

/// What a login-link job is given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRequest {
    /// The address asked for, normalised.
    pub email: String,
}

/// Asks for a new link to be sent to a resident's email. The answer, and the work done
/// before answering, are the same whether or not the email belongs to a resident: the
/// request is counted per client address and per email, then queued for the worker
/// ([`send_link`]). Requests past either limit are `RATE_LIMITED`.
pub async fn request(state: &AppState, raw_email: &str, client: ClientAddress) -> AppResult<()> {
    let email = EmailAddress::parse(raw_email)
        .map_err(|e| AppError::bad_input("input.email", e.to_string()))?;
    let now = state.clock.now();
    let window = Duration::hours(1);
    let limits = [
        Limit {
            bucket: format!("login-link:client:{}", client.key()),
            max: state.config.login_link_max_per_client,
            window,
        },
        Limit {
            bucket: format!("login-link:email:{email}"),
            max: state.config.login_link_max_per_email,
            window,
        },
    ];
    // Every request counts, whatever becomes of it.
    rate_limit::attempt(state.db.writer(), &limits, now)
        .await?
        .keep();
    jobs::enqueue(
        state,
        jobs::Request {
            kind: JobKind::LoginLinkRequest,
            payload: &LinkRequest {
                email: email.as_str().to_owned(),
            },
            created_by: None,
            singleton_key: None,
        },
    )
    .await?;
    Ok(())
}

/// The login-link job's work: issues a link and queues its email if the address belongs
/// to an enabled resident account; otherwise does nothing. Returns the account written to.
pub async fn send_link(state: &AppState, request: &LinkRequest) -> AppResult<Option<AccountId>> {
    let email = EmailAddress::parse(&request.email)
        .map_err(|e| AppError::bad_input("email", e.to_string()))?;
    let Some((account, _)) = accounts::find_for_login(state.db.reader(), &email).await? else {
        return Ok(None);
    };
    if account.role != Role::Resident || account.disabled {
        return Ok(None);
    }
    let txn = state.db.writer().begin().await?;
    issue_in(&txn, state, &account).await?;
    txn.commit().await?;
    state.work_queued.notify_one();
    Ok(Some(account.id))
}

/// Exchanges a link's token for a session. A used, expired or unknown token is
/// `UNAUTHENTICATED`; a link works once even under concurrent attempts.
pub async fn redeem(state: &AppState, presented: &str) -> AppResult<IssuedSession> {
    let now = state.clock.now();
    let hash = TokenHash::of(presented.trim());
    let txn = state.db.writer().begin().await?;
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
    let account = accounts::find(&txn, link.account_id).await?;
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
