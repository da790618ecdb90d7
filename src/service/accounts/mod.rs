//! Accounts: creating staff logins, finding and listing them.

pub mod auth;
pub mod login_links;
pub mod sessions;

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::db::entities::account;
use crate::db::pages::{self, Order};
use crate::db::views;
use crate::domain::accounts::account::{Account, parse_display_name};
use crate::domain::accounts::password::NewPassword;
use crate::domain::accounts::role::Role;
use crate::domain::email::EmailAddress;
use crate::domain::ids::AccountId;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::state::AppState;

/// Input for a new account, already parsed.
#[derive(Debug)]
pub struct NewAccount {
    /// Login and contact address.
    pub email: EmailAddress,
    /// How the holder is addressed.
    pub display_name: String,
    /// What they may do.
    pub role: Role,
    /// Their password (`None` for one-time-link logins).
    pub password: Option<NewPassword>,
}

impl NewAccount {
    /// Parses raw input, naming the offending field (`input.<name>`) on failure.
    pub fn parse(
        email: &str,
        display_name: &str,
        role: Role,
        password: Option<&str>,
    ) -> AppResult<Self> {
        let email = EmailAddress::parse(email)
            .map_err(|e| AppError::bad_input("input.email", e.to_string()))?;
        let display_name = parse_display_name(display_name)
            .map_err(|message| AppError::bad_input("input.displayName", message))?;
        let password = password
            .map(NewPassword::parse)
            .transpose()
            .map_err(|e| AppError::bad_input("input.password", e.to_string()))?;
        Ok(Self {
            email,
            display_name,
            role,
            password,
        })
    }
}

/// Creates an account. A duplicate email is a `CONFLICT`, also when two requests race.
pub async fn create(state: &AppState, new: NewAccount) -> AppResult<Account> {
    let password_hash = match &new.password {
        Some(password) => Some(state.passwords.hash(password).await?),
        None => None,
    };
    let now = state.clock.now();
    let inserted = account::ActiveModel {
        email: Set(new.email.as_str().to_owned()),
        display_name: Set(new.display_name),
        role: Set(new.role),
        password_hash: Set(password_hash),
        created_at: Set(now),
        updated_at: Set(now),
        disabled_at: Set(None),
        ..Default::default()
    }
    .insert(state.db.writer())
    .await
    .map_err(|err| match AppError::from(err) {
        AppError::Conflict { .. } => AppError::conflict(format!(
            "An account with the email {} already exists.",
            new.email
        )),
        other => other,
    })?;
    to_domain(inserted)
}

/// One account by id.
pub async fn find(db: &impl ConnectionTrait, id: AccountId) -> AppResult<Account> {
    account::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or(AppError::NotFound { what: "account" })
        .and_then(to_domain)
}

/// One account, if `caller` may see it ([`views::accounts`]; `NOT_FOUND` otherwise:
/// whether it exists is not said either).
pub async fn account(state: &AppState, caller: &Caller, id: AccountId) -> AppResult<Account> {
    caller.session()?;
    views::accounts(caller.viewer())
        .filter(account::Column::Id.eq(id))
        .one(state.db.reader())
        .await?
        .ok_or(AppError::NotFound { what: "account" })
        .and_then(to_domain)
}

/// The accounts of `ids` that `caller` may see (for a loader).
pub async fn visible_to(
    state: &AppState,
    caller: &Caller,
    ids: &[AccountId],
) -> AppResult<Vec<Account>> {
    views::accounts(caller.viewer())
        .filter(account::Column::Id.is_in(ids.iter().copied()))
        .all(state.db.reader())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// One account by (normalised) email, with its stored password hash.
pub async fn find_for_login(
    db: &impl ConnectionTrait,
    email: &EmailAddress,
) -> AppResult<Option<(Account, Option<String>)>> {
    let row = account::Entity::find()
        .filter(account::Column::Email.eq(email.as_str()))
        .one(db)
        .await?;
    row.map(|model| {
        let hash = model.password_hash.clone();
        to_domain(model).map(|account| (account, hash))
    })
    .transpose()
}

/// A page of accounts in id order, after `after`, optionally of one role (ADMIN only).
/// Returns up to `limit + 1` rows so the caller can tell whether another page exists.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    after: Option<AccountId>,
    limit: u64,
    role: Option<Role>,
) -> AppResult<Vec<Account>> {
    caller.require(&[Role::Admin])?;
    let mut query = pages::page(
        account::Entity::find(),
        account::Column::Id,
        Order::OldestFirst,
        after.map(|a| a.0),
        limit,
    );
    if let Some(role) = role {
        query = query.filter(account::Column::Role.eq(role));
    }
    query
        .all(state.db.reader())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// Turns a stored row into the domain value; a corrupt row is an internal error.
pub fn to_domain(model: account::Model) -> AppResult<Account> {
    let email = EmailAddress::parse(&model.email)
        .map_err(|e| AppError::internal(anyhow::anyhow!("stored email {}: {e}", model.id)))?;
    Ok(Account {
        id: model.id,
        email,
        display_name: model.display_name,
        role: model.role,
        created_at: model.created_at,
        disabled: model.disabled_at.is_some(),
    })
}
