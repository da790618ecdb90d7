//! The worker: claims jobs and outbox messages and runs them, beside the HTTP server
//! (`civic-panel serve`) or alone (`civic-panel worker`). Any number of workers may share
//! one PostgreSQL database; each claim is exclusive (see `db::queue`).
//!
//! A running job holds a lease, which a heartbeat renews (recording progress as it goes)
//! every third of the lease. If the worker dies, the heartbeat stops, the lease runs out
//! and another worker claims the job again. The heartbeat also notices a cancellation
//! request, or that the lease was lost, and tells the job to stop.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::db::entities::job;
use crate::db::files;
use crate::db::queue::{self, Claim, Outcome};
use crate::domain::ids::JobId;
use crate::domain::job::{Job, retry_delay};
use crate::error::{AppError, AppResult};
use crate::jobs::mail::Mailer;
use crate::jobs::sms::SmsSender;
use crate::jobs::{delivery, handlers};
use crate::service::jobs::to_domain;
use crate::state::AppState;
use crate::state::progress::Progress;

/// How often a worker deletes expired files.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);

/// A worker process's share of the work.
#[derive(Clone)]
pub struct Worker {
    state: AppState,
    mailer: Arc<Mailer>,
    sms: Arc<SmsSender>,
    name: String,
}

impl Worker {
    /// A worker over `state`, sending mail through `mailer`.
    pub fn new(state: AppState, mailer: Mailer) -> Self {
        let name = format!(
            "{}:{}:{:04x}",
            hostname(),
            std::process::id(),
            rand::random::<u16>()
        );
        let sms = Arc::new(SmsSender::from_config(&state.config.mail));
        Self {
            state,
            mailer: Arc::new(mailer),
            sms,
            name,
        }
    }

    /// Its name in leases and logs (`host:pid:tag`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs until `shutdown` completes: claims work whenever a slot is free, waits for work
    /// otherwise. On shutdown it stops claiming and waits for running jobs to finish (a
    /// job cut short by the process ending is claimed again elsewhere once its lease ends).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let concurrency =
            usize::try_from(self.state.config.worker.worker_concurrency.max(1)).unwrap_or(1);
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut running = JoinSet::new();
        let poll = self.state.config.worker.poll();
        tracing::info!(
            worker = %self.name,
            concurrency,
            mail = %self.mailer.describe(),
            "worker started"
        );
        tokio::pin!(shutdown);
        // At start, then every so often: a worker restarted often still tidies up.
        let mut housekeeping: Option<tokio::time::Instant> = None;
        loop {
            if housekeeping.is_none_or(|last| last.elapsed() >= HOUSEKEEPING_EVERY) {
                housekeeping = Some(tokio::time::Instant::now());
                self.housekeeping().await;
            }
            let mut busy = false;
            match self.claim(slots.available_permits()).await {
                Ok(claimed) => {
                    busy |= !claimed.is_empty();
                    for row in claimed {
                        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                            break;
                        };
                        let worker = self.clone();
                        running.spawn(async move {
                            worker.run_claimed(row).await;
                            drop(permit);
                        });
                    }
                }
                Err(err) => log_failure("claiming jobs failed", &err),
            }
            match delivery::deliver_due(&self.state, &self.mailer, &self.sms, &self.name).await {
                Ok(sent) => busy |= sent > 0,
                Err(err) => log_failure("delivering messages failed", &err),
            }
            if busy && slots.available_permits() > 0 {
                continue;
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = self.state.work_queued.notified() => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
        tracing::info!(worker = %self.name, running = running.len(), "worker stopping");
        while running.join_next().await.is_some() {}
        tracing::info!(worker = %self.name, "worker stopped");
    }

    /// Runs every job and delivers every message that is due, one after another, until
    /// none is left; returns how many jobs ran. For tests and one-off runs.
    pub async fn run_until_idle(&self) -> AppResult<usize> {
        let mut ran = 0;
        loop {
            let claimed = self.claim(1).await?;
            let sent =
                delivery::deliver_due(&self.state, &self.mailer, &self.sms, &self.name).await?;
            if claimed.is_empty() && sent == 0 {
                return Ok(ran);
            }
            for row in claimed {
                self.run_claimed(row).await;
                ran += 1;
            }
        }
    }

    /// Deletes expired files (export bundles past their retention, abandoned uploads).
    async fn housekeeping(&self) {
        let now = self.state.clock.now();
        match files::purge_expired(self.state.db.writer(), now).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "expired files deleted"),
            Err(err) => log_failure("deleting expired files failed", &err),
        }
    }

    async fn claim(&self, free: usize) -> AppResult<Vec<job::Model>> {
        if free == 0 {
            return Ok(Vec::new());
        }
        let now = self.state.clock.now();
        let lease_until = now + self.state.config.worker.lease();
        queue::claim_jobs(
            self.state.db.writer(),
            &self.name,
            now,
            lease_until,
            free as u64,
        )
        .await
    }

    /// Runs one claimed job to its outcome and records it.
    async fn run_claimed(&self, row: job::Model) {
        let claim = Claim {
            worker: self.name.clone(),
            attempt: row.attempts,
        };
        let id = row.id;
        let outcome = match to_domain(row) {
            Ok(job) if job.attempts > job.max_attempts => Outcome::Failed {
                error: format!(
                    "Stopped after {} attempts; the last did not finish (its worker stopped).",
                    job.max_attempts
                ),
            },
            Ok(job) => self.execute(&job, &claim).await,
            Err(err) => Outcome::Failed {
                error: describe(&err),
            },
        };
        let now = self.state.clock.now();
        match queue::finish(self.state.db.writer(), id, &claim, outcome, now).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(job_id = %id, "the job's lease ran out before it finished"),
            Err(err) => log_failure("recording a job's outcome failed", &err),
        }
    }

    /// Runs the job's work beside its heartbeat.
    async fn execute(&self, job: &Job, claim: &Claim) -> Outcome {
        let progress = Progress::new();
        let _running = self.state.running.start(job.id, progress.clone());
        let started = std::time::Instant::now();
        tracing::info!(job_id = %job.id, kind = %job.kind, attempt = job.attempts, "job started");
        let work = {
            let state = self.state.clone();
            let job = job.clone();
            let progress = progress.clone();
            // A task of its own, so a panic in the work fails the job, not the worker.
            tokio::spawn(async move { handlers::run(&state, &job, &progress).await })
        };
        let heartbeat = self.heartbeat(job.id, claim.clone(), progress.clone());
        tokio::pin!(heartbeat);
        tokio::pin!(work);
        let result = tokio::select! {
            result = &mut work => result,
            () = &mut heartbeat => work.await,
        };
        let result = result.unwrap_or_else(|panic| Err(AppError::internal(panic)));
        let elapsed_ms = started.elapsed().as_millis();
        match result {
            Ok(result) => {
                tracing::info!(job_id = %job.id, kind = %job.kind, elapsed_ms, "job succeeded");
                Outcome::Succeeded { result }
            }
            Err(AppError::Cancelled) => {
                tracing::info!(job_id = %job.id, kind = %job.kind, "job cancelled");
                Outcome::Cancelled
            }
            Err(err) if err.is_transient() && job.attempts < job.max_attempts => {
                log_failure("job failed; it will be retried", &err);
                let wait = retry_delay(job.attempts, rand::random::<f64>());
                let run_after = self.state.clock.now()
                    + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                Outcome::Retry {
                    error: describe(&err),
                    run_after,
                }
            }
            Err(err) => {
                log_failure("job failed", &err);
                Outcome::Failed {
                    error: describe(&err),
                }
            }
        }
    }

    /// Renews the job's lease and records its progress every third of the lease (at
    /// least once a second, so progress is current), until the lease is lost; tells the
    /// work to stop when it is cancelled or its lease is lost. Never returns otherwise.
    async fn heartbeat(&self, id: JobId, claim: Claim, progress: Progress) {
        let lease = self.state.config.worker.lease();
        let every = lease
            .to_std()
            .unwrap_or(Duration::from_secs(60))
            .div_f64(3.0)
            .min(Duration::from_secs(1));
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let until = self.state.clock.now() + lease;
            let snapshot = Some(progress.snapshot());
            match queue::renew(self.state.db.writer(), id, &claim, until, snapshot).await {
                Ok(renewal) if !renewal.held => {
                    tracing::warn!(job_id = %id, "lost the job's lease; stopping it");
                    progress.cancel();
                    return;
                }
                Ok(renewal) => {
                    if renewal.cancel_requested {
                        progress.cancel();
                    }
                }
                // A missed renewal is not yet a lost lease; the next one may work.
                Err(err) => log_failure("renewing a job's lease failed", &err),
            }
        }
    }
}

/// What is recorded as a job's error: the public message, and the field for bad input;
/// internal detail goes to the log only.
fn describe(err: &AppError) -> String {
    match err {
        AppError::BadUserInput { field, message } => format!("{message} ({field})"),
        other => other.public_message(),
    }
}

fn log_failure(what: &str, err: &AppError) {
    match err {
        AppError::Internal(detail) | AppError::Unavailable { detail, .. } => {
            tracing::error!(error = ?detail, "{what}");
        }
        other => tracing::warn!(error = %other.public_message(), "{what}"),
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
