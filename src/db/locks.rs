//! Named locks held for the length of a transaction, so that a short check-then-write
//! sequence runs one at a time across every process sharing the database.
//!
//! PostgreSQL takes a transaction-level advisory lock on a 64-bit key derived from the
//! name; SQLite needs nothing, since its one writing connection already runs write
//! transactions one at a time.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement};
use sha2::{Digest, Sha256};

/// Holds the lock called `name` until `txn` ends (commit or rollback).
pub async fn hold_until_commit(txn: &DatabaseTransaction, name: &str) -> Result<(), DbErr> {
    match txn.get_database_backend() {
        DbBackend::Postgres => {
            txn.query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [key(name).into()],
            ))
            .await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The advisory-lock key of a name: the first 8 bytes of its SHA-256, so unrelated names
/// practically never share a key.
fn key(name: &str) -> i64 {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_get_distinct_stable_keys() {
        assert_eq!(key("redeem:global"), key("redeem:global"));
        assert_ne!(key("redeem:global"), key("login:global"));
    }
}
