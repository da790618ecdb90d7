//! `AppState`: what every request shares.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::config::Config;
use crate::service::clock::Clock;
use crate::service::passwords::PasswordHasher;

/// Shared, cheaply cloned state.
#[derive(Clone)]
pub struct AppState {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// Configuration in force.
    pub config: Arc<Config>,
    /// argon2id hashing.
    pub passwords: PasswordHasher,
    /// The time source.
    pub clock: Clock,
}

impl AppState {
    /// Assembles the state from an open, migrated database.
    pub fn new(db: DatabaseConnection, config: Config, clock: Clock) -> anyhow::Result<Self> {
        let passwords = PasswordHasher::new(&config.password_hash)?;
        Ok(Self {
            db,
            config: Arc::new(config),
            passwords,
            clock,
        })
    }
}
