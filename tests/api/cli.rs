//! The command line: `create-admin`, `migrate`, `export-schema`, run as a user would.

use std::process::Command;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use civic_panel::config::DatabaseConfig;
use civic_panel::db::{self, entities::account};

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_civic-panel"));
    command
        .env_remove("DATABASE_URL")
        .env("CIVIC_PANEL_ARGON2_MEMORY_KIB", "64")
        .env("CIVIC_PANEL_ARGON2_ITERATIONS", "1")
        .env("RUST_LOG", "warn");
    command
}

/// A database the binary can open by URL: a temporary SQLite file, or a fresh schema.
async fn database() -> (DatabaseConfig, Option<tempfile::TempDir>) {
    let fresh = crate::helpers::fresh_database().await;
    if db::is_sqlite(&fresh.database_url) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("panel.db").display()
        );
        (
            DatabaseConfig {
                database_url: url,
                db_max_connections: 1,
            },
            Some(dir),
        )
    } else {
        (fresh, None)
    }
}

#[tokio::test]
async fn create_admin_makes_an_admin_who_can_log_in() {
    let (database, _dir) = database().await;
    let output = binary()
        .args([
            "create-admin",
            "--email",
            "Lead@Council.gov.uk",
            "--name",
            "Engagement Lead",
        ])
        .env("DATABASE_URL", &database.database_url)
        .env("CIVIC_PANEL_ADMIN_PASSWORD", "a long enough admin password")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("lead@council.gov.uk"));

    let connection = db::connect(&database).await.unwrap();
    let admin = account::Entity::find()
        .filter(account::Column::Email.eq("lead@council.gov.uk"))
        .one(&connection)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.role, "ADMIN");
    assert!(admin.password_hash.unwrap().starts_with("$argon2id$"));

    // A second admin with the same email is refused, and the process says why.
    let again = binary()
        .args(["create-admin", "--email", "lead@council.gov.uk"])
        .env("DATABASE_URL", &database.database_url)
        .env("CIVIC_PANEL_ADMIN_PASSWORD", "a long enough admin password")
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("CONFLICT"));
}

#[tokio::test]
async fn create_admin_refuses_a_short_password_and_writes_nothing() {
    let (database, _dir) = database().await;
    let output = binary()
        .args(["create-admin", "--email", "lead@council.gov.uk"])
        .env("DATABASE_URL", &database.database_url)
        .env("CIVIC_PANEL_ADMIN_PASSWORD", "short")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("BAD_USER_INPUT"));
    let connection = db::connect(&database).await.unwrap();
    db::migrate(&connection).await.unwrap();
    assert!(
        account::Entity::find()
            .one(&connection)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn migrate_creates_the_schema_and_is_idempotent() {
    let (database, _dir) = database().await;
    for _ in 0..2 {
        let output = binary()
            .arg("migrate")
            .env("DATABASE_URL", &database.database_url)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let connection = db::connect(&database).await.unwrap();
    assert!(
        account::Entity::find()
            .one(&connection)
            .await
            .unwrap()
            .is_none()
    );
}

#[test]
fn export_schema_prints_the_committed_contract() {
    let output = binary().arg("export-schema").output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        civic_panel::graphql::sdl()
    );
}
