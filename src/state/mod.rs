//! `AppState`: what every request, job and command shares, and what one process holds for
//! all of them: the clock, password hashing, the progress of the jobs running here, and
//! caches. Nothing here imports a service: services sit above the state they are given.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::config::Config;
use crate::db::Db;
use crate::db::submissions::Submissions;
use crate::db::tracking::Tracker;
use crate::domain::recruitment::code_key::CodeKeys;

pub mod caches;
pub mod clock;
pub mod passwords;
pub mod progress;

use caches::{Publications, QuestionCache};
use clock::Clock;
use passwords::PasswordHasher;
use progress::RunningJobs;

/// Shared, cheaply cloned state.
#[derive(Clone)]
pub struct AppState {
    /// The database (a writer and readers).
    pub db: Db,
    /// Configuration in force.
    pub config: Arc<Config>,
    /// argon2id hashing.
    pub passwords: PasswordHasher,
    /// The time source.
    pub clock: Clock,
    /// The secrets that key stored invitation-code hashes.
    pub codes: Arc<CodeKeys>,
    /// Wakes this process's worker when a job or a message is queued, so work queued here
    /// starts at once rather than at the next poll.
    pub work_queued: Arc<Notify>,
    /// The jobs this process's worker is running, so a cancellation reaches them at once.
    pub running: RunningJobs,
    /// Stores opens and clicks in batches and tells subscribers of progress.
    pub tracker: Tracker,
    /// Writes submissions in batches.
    pub submissions: Submissions,
    /// Open consultations' questions, which never change.
    pub questions: QuestionCache,
    /// Recent protected publications, and the ones being computed.
    pub publications: Publications,
}

impl AppState {
    /// Assembles the state from an open, migrated database; finds (or, for the SQLite
    /// default, creates) the code secret.
    pub fn new(db: Db, config: Config, clock: Clock) -> anyhow::Result<Self> {
        let passwords = PasswordHasher::new(&config.password_hash)?;
        let codes = crate::secrets::code_keys(&config.secrets, &config.database.database_url)?;
        let tracker = Tracker::new(db.writer().clone(), config.open_rules()?);
        let submissions = Submissions::new(db.writer().clone(), tracker.clone());
        Ok(Self {
            db,
            config: Arc::new(config),
            passwords,
            clock,
            codes: Arc::new(codes),
            work_queued: Arc::new(Notify::new()),
            running: RunningJobs::default(),
            tracker,
            submissions,
            questions: QuestionCache::default(),
            publications: Publications::default(),
        })
    }

    /// Stops the group-commit writers once what is queued is written (at shutdown, after
    /// the last request, before the database closes).
    pub async fn drain(&self) {
        self.submissions.drain().await;
        self.tracker.drain().await;
    }
}
