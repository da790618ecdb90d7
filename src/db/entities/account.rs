//! `accounts`: staff and resident logins.

use crate::domain::accounts::role::Role;
use crate::domain::ids::AccountId;
use sea_orm::entity::prelude::*;

/// One login. `email` is stored lower-cased and is unique.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: AccountId,
    #[sea_orm(unique)]
    pub email: String,
    pub display_name: String,
    /// One of `Role::as_str()`.
    pub role: Role,
    /// argon2id PHC string; absent for accounts that log in by one-time link only.
    pub password_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub disabled_at: Option<DateTimeUtc>,
}

/// A session points at its account (`session::Relation::Account`); nothing here points
/// back, so the account table knows nothing of the tables that refer to it.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
