//! Finding the code secret at start-up (see `domain::recruitment::code_key` for what it protects).
//!
//! In order: `CIVIC_PANEL_CODE_SECRET`, then the file `CIVIC_PANEL_CODE_SECRET_FILE`. With
//! neither, the embedded SQLite default keeps its secret in a file beside the database,
//! `<database file>.code-secret`, generated on first start (readable by its owner only);
//! an in-memory database gets a secret for the life of the process. PostgreSQL needs the
//! secret given: several servers share the database, so each must be handed the same one,
//! and a secret kept beside the database's own files would defeat its purpose.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::config::SecretConfig;
use crate::db;
use crate::domain::recruitment::code_key::{CodeKey, CodeKeys};

/// The code secrets for a database at `database_url`.
pub fn code_keys(config: &SecretConfig, database_url: &str) -> anyhow::Result<CodeKeys> {
    let current = current_secret(config, database_url)?;
    let current = CodeKey::new(&current).context("the code secret")?;
    let previous = config
        .code_secret_previous
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            CodeKey::new(s).context("a previous code secret (CIVIC_PANEL_CODE_SECRET_PREVIOUS)")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(CodeKeys { current, previous })
}

fn current_secret(config: &SecretConfig, database_url: &str) -> anyhow::Result<String> {
    match (&config.code_secret, &config.code_secret_file) {
        (Some(_), Some(_)) => {
            bail!("set CIVIC_PANEL_CODE_SECRET or CIVIC_PANEL_CODE_SECRET_FILE, not both")
        }
        (Some(secret), None) => return Ok(secret.clone()),
        (None, Some(path)) => return read_secret(path),
        (None, None) => {}
    }
    if !db::is_sqlite(database_url) {
        bail!(
            "PostgreSQL needs a code secret: put 32 or more random characters in a file \
             readable only by this service (e.g. `openssl rand -base64 32 > /etc/civic-panel/code-secret`) \
             and set CIVIC_PANEL_CODE_SECRET_FILE to its path; every API and worker process \
             must be given the same secret. See README, \"The code secret\"."
        );
    }
    match db::sqlite_file(database_url) {
        Some(database) => secret_beside(&database),
        None => {
            tracing::warn!(
                "in-memory database: using a code secret that lasts only as long as this process"
            );
            Ok(CodeKey::generate_text(&mut rand::rng()))
        }
    }
}

/// The secret file kept beside an SQLite database.
pub fn secret_path_for(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".code-secret");
    PathBuf::from(name)
}

fn read_secret(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("reading the code secret from {}", path.display()))
}

/// Reads the secret beside `database`, generating it on first start.
fn secret_beside(database: &Path) -> anyhow::Result<String> {
    let path = secret_path_for(database);
    if path.exists() {
        return read_secret(&path);
    }
    let secret = CodeKey::generate_text(&mut rand::rng());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut file) => {
            writeln!(file, "{secret}")
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing the code secret to {}", path.display()))?;
            tracing::info!(
                path = %path.display(),
                "generated the invitation-code secret; back it up with the database, or \
                 printed codes stop working"
            );
            Ok(secret)
        }
        // Another process starting on the same database wrote it first.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => read_secret(&path),
        Err(err) => {
            Err(err).with_context(|| format!("creating the code secret file {}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SecretConfig {
        SecretConfig {
            code_secret: None,
            code_secret_file: None,
            code_secret_previous: None,
        }
    }

    #[test]
    fn postgresql_without_a_secret_is_refused_with_a_clear_error() {
        let err = code_keys(&config(), "postgres://u:p@localhost/db").unwrap_err();
        assert!(
            format!("{err:#}").contains("CIVIC_PANEL_CODE_SECRET_FILE"),
            "{err:#}"
        );
    }

    #[test]
    fn sqlite_generates_its_secret_once_beside_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/panel.db?mode=rwc", dir.path().display());
        let code = crate::domain::recruitment::invitation_code::InvitationCode::parse("7K3M9QXW25")
            .unwrap();
        let first = code_keys(&config(), &url).unwrap();
        let second = code_keys(&config(), &url).unwrap();
        assert_eq!(first.stored_hash(&code), second.stored_hash(&code));
        let file = dir.path().join("panel.db.code-secret");
        assert!(file.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read the secret");
        }
    }

    #[test]
    fn a_short_or_doubly_given_secret_is_refused() {
        let mut short = config();
        short.code_secret = Some("too short".to_owned());
        assert!(code_keys(&short, "sqlite::memory:").is_err());
        let mut both = config();
        both.code_secret = Some("x".repeat(40));
        both.code_secret_file = Some(PathBuf::from("/nonexistent"));
        assert!(code_keys(&both, "sqlite::memory:").is_err());
    }

    #[test]
    fn previous_secrets_are_read_from_a_comma_separated_list() {
        let mut given = config();
        given.code_secret = Some("c".repeat(40));
        given.code_secret_previous = Some(format!("{}, {}", "a".repeat(40), "b".repeat(40)));
        let keys = code_keys(&given, "sqlite::memory:").unwrap();
        assert_eq!(keys.previous.len(), 2);
    }
}
