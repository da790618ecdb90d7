//! Password hashing with argon2id, off the async worker threads.
//!
//! Verification of an unknown email runs against a dummy hash made with the same
//! parameters, so a login takes the same time whether or not the account exists.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

use crate::config::PasswordHashConfig;
use crate::domain::accounts::password::NewPassword;
use crate::error::{AppError, AppResult};

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    dummy_hash: Arc<String>,
}

impl PasswordHasher {
    /// Builds the hasher and its dummy hash (one hash at start-up).
    pub fn new(config: &PasswordHashConfig) -> anyhow::Result<Self> {
        let params = Params::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        let dummy_hash = hash_blocking(&params, "dummy password for timing equality")?;
        Ok(Self {
            params,
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    /// Hashes a new password into a PHC string (salt and parameters included).
    pub async fn hash(&self, password: &NewPassword) -> AppResult<String> {
        let params = self.params.clone();
        let secret = password.expose().to_owned();
        tokio::task::spawn_blocking(move || hash_blocking(&params, &secret))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::Internal)
    }

    /// Whether `password` matches `stored`. With no stored hash the dummy is checked
    /// instead, and the answer is always `false`.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> AppResult<bool> {
        let known = stored.is_some();
        let phc = stored.map_or_else(|| self.dummy_hash.as_str().to_owned(), str::to_owned);
        let secret = password.to_owned();
        let matched = tokio::task::spawn_blocking(move || verify_blocking(&phc, &secret))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::Internal)?;
        Ok(known && matched)
    }
}

fn argon2(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(params: &Params, secret: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    argon2(params.clone())
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("argon2 hash: {e}"))
}

fn verify_blocking(phc: &str, secret: &str) -> anyhow::Result<bool> {
    let parsed = PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
    // Parameters come from the stored hash, so older hashes still verify after the
    // configured cost changes.
    Ok(Argon2::default()
        .verify_password(secret.as_bytes(), &parsed)
        .is_ok())
}
