//! Role guards for fields. Every field that is not public names the roles that may use it
//! (ADMIN may use everything); the check itself lives in [`Caller::require`].
//!
//! [`Caller::require`]: crate::service::accounts::auth::Caller::require

use async_graphql::{Context, Guard, Result};

use crate::domain::accounts::role::Role;
use crate::graphql::context;

/// Allows callers whose role is one of `roles` (and ADMIN).
pub struct RoleGuard {
    roles: &'static [Role],
}

impl RoleGuard {
    /// Only ADMIN.
    pub const ADMIN: RoleGuard = RoleGuard {
        roles: &[Role::Admin],
    };
    /// Engagement officers (and ADMIN).
    pub const OFFICER: RoleGuard = RoleGuard {
        roles: &[Role::Officer],
    };
    /// Officers and scrutiny members: aggregate, non-personal data.
    pub const OFFICER_OR_SCRUTINY: RoleGuard = RoleGuard {
        roles: &[Role::Officer, Role::Scrutiny],
    };
    /// Officers (any member's data) and residents (their own).
    pub const OFFICER_OR_RESIDENT: RoleGuard = RoleGuard {
        roles: &[Role::Officer, Role::Resident],
    };
    /// Any logged-in caller.
    pub const ANY_ACCOUNT: RoleGuard = RoleGuard { roles: &Role::ALL };
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        context::request(ctx).caller.require(self.roles)?;
        Ok(())
    }
}
