//! Database migrations for civic-panel, portable between SQLite and PostgreSQL.
//!
//! Each migration is one file, named by date and sequence, and never edited once released:
//! change the schema with a new migration.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_accounts_and_sessions;
mod m20261123_000002_recruitment;
mod m20261123_000003_login_links_and_outbox;
mod m20261123_000004_unused_indexes;
mod m20261201_000005_jobs_outbox_files;
mod m20261202_000006_round_draw_records;
mod m20261202_000007_panels_and_selection;
mod m20261203_000008_consultations;
mod m20261204_000009_response_profile_index;
mod m20261207_000010_selection_run_seats;
mod m20261207_000011_outbox_handoff;
mod m20261207_000012_audit_log;
mod m20261207_000020_publications;

/// Runs every migration in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_accounts_and_sessions::Migration),
            Box::new(m20261123_000002_recruitment::Migration),
            Box::new(m20261123_000003_login_links_and_outbox::Migration),
            Box::new(m20261123_000004_unused_indexes::Migration),
            Box::new(m20261201_000005_jobs_outbox_files::Migration),
            Box::new(m20261202_000006_round_draw_records::Migration),
            Box::new(m20261202_000007_panels_and_selection::Migration),
            Box::new(m20261203_000008_consultations::Migration),
            Box::new(m20261204_000009_response_profile_index::Migration),
            Box::new(m20261207_000010_selection_run_seats::Migration),
            Box::new(m20261207_000011_outbox_handoff::Migration),
            Box::new(m20261207_000012_audit_log::Migration),
            Box::new(m20261207_000020_publications::Migration),
        ]
    }
}
