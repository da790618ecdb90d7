//! Accounts in the API: the caller (`me`), staff accounts for ADMINs.

pub mod sessions;

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::accounts::account::Account;
use crate::domain::accounts::role::Role;
use crate::domain::ids::AccountId;
use crate::error::AppError;
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::graphql::id;
use crate::graphql::pagination::{Page, connection_complexity};
use crate::service::accounts::{self, NewAccount};

/// What an account holder may do.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "Role")]
pub enum RoleValue {
    /// Engagement lead: everything, including accounts and erasure.
    Admin,
    /// Engagement officer: recruitment, panels, consultations, member data.
    Officer,
    /// Scrutiny committee member: aggregate reports only.
    Scrutiny,
    /// Panel member.
    Resident,
}

impl From<Role> for RoleValue {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => Self::Admin,
            Role::Officer => Self::Officer,
            Role::Scrutiny => Self::Scrutiny,
            Role::Resident => Self::Resident,
        }
    }
}

impl From<RoleValue> for Role {
    fn from(role: RoleValue) -> Self {
        match role {
            RoleValue::Admin => Self::Admin,
            RoleValue::Officer => Self::Officer,
            RoleValue::Scrutiny => Self::Scrutiny,
            RoleValue::Resident => Self::Resident,
        }
    }
}

/// A login: a member of staff or a resident.
pub struct AccountNode(pub Account);

/// A login: a member of staff or a resident.
#[Object(name = "Account")]
impl AccountNode {
    /// The account's global ID, for `account(id:)` and `node(id:)`.
    pub async fn id(&self) -> ID {
        id::encode(self.0.id)
    }
    /// Login and contact address (lower-cased).
    async fn email(&self) -> &str {
        self.0.email.as_str()
    }
    /// How the holder is addressed.
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    /// What the holder may do.
    async fn role(&self) -> RoleValue {
        self.0.role.into()
    }
    /// When the account was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Disabled accounts cannot log in.
    async fn disabled(&self) -> bool {
        self.0.disabled
    }
}

/// The `Query` fields about accounts: the caller's own, and (for ADMIN) anyone's.
#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The caller's own account.
    #[graphql(guard = "RoleGuard::ANY_ACCOUNT")]
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<AccountNode> {
        let caller = context::caller(ctx);
        let session = caller.session()?;
        let state = context::state(ctx)?;
        Ok(AccountNode(
            accounts::account(state, &caller, session.account_id).await?,
        ))
    }

    /// One account by ID (ADMIN only).
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's ID.")] id: ID,
    ) -> async_graphql::Result<AccountNode> {
        let account_id = id::decode::<AccountId>(&id, "id")?;
        let state = context::state(ctx)?;
        Ok(AccountNode(
            accounts::account(state, &context::caller(ctx), account_id).await?,
        ))
    }

    /// Accounts in the order they were made, optionally of one role (ADMIN only).
    #[graphql(
        guard = "RoleGuard::ADMIN",
        complexity = "connection_complexity(first, child_complexity)"
    )]
    async fn accounts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last account of the previous page.")] after: Option<String>,
        #[graphql(desc = "Only accounts with this role.")] role: Option<RoleValue>,
    ) -> async_graphql::Result<Connection<String, AccountNode>> {
        let page = Page::<AccountId>::parse(first, after.as_deref())?;
        let state = context::state(ctx)?;
        let rows = accounts::list(
            state,
            &context::caller(ctx),
            page.after,
            page.first,
            role.map(Role::from),
        )
        .await?;
        Ok(page.connection(rows, |account| account.id, AccountNode))
    }
}

/// A new staff account.
#[derive(InputObject)]
pub struct AccountCreateInput {
    /// Login and contact address; must not belong to another account.
    pub email: String,
    /// How the holder is addressed.
    pub display_name: String,
    /// ADMIN, OFFICER or SCRUTINY (residents register with an invitation code).
    pub role: RoleValue,
    /// At least 12 characters.
    pub password: String,
}

/// The account made.
#[derive(SimpleObject)]
pub struct AccountCreatePayload {
    /// The new account.
    pub account: AccountNode,
}

/// The `Mutation` field that creates staff accounts (ADMIN only).
#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates a staff account (ADMIN only).
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn account_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new account.")] input: AccountCreateInput,
    ) -> async_graphql::Result<AccountCreatePayload> {
        let role = Role::from(input.role);
        if !role.is_staff() {
            return Err(AppError::bad_input(
                "input.role",
                "Residents join with an invitation code; choose ADMIN, OFFICER or SCRUTINY.",
            )
            .into());
        }
        let new = NewAccount::parse(
            &input.email,
            &input.display_name,
            role,
            Some(&input.password),
        )?;
        let state = context::state(ctx)?;
        let account = accounts::create(state, new).await?;
        tracing::info!(account_id = %account.id, role = %account.role, "account created");
        Ok(AccountCreatePayload {
            account: AccountNode(account),
        })
    }
}
