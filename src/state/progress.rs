//! Progress of long work: the use case doing it reports how far it is, and whoever runs it
//! (a background job's worker, the command line's progress bar) reads it and may ask it to
//! stop. Cheap enough to update per row.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::domain::ids::JobId;
use crate::error::{AppError, AppResult};

/// A shared progress counter with a stop flag.
#[derive(Clone, Debug, Default)]
pub struct Progress(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    done: AtomicU64,
    /// The total plus one; 0 while it is unknown.
    total_plus_one: AtomicU64,
    cancelled: AtomicBool,
}

impl Progress {
    /// Nothing done, total unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how many units the work has in all.
    pub fn set_total(&self, total: u64) {
        self.0
            .total_plus_one
            .store(total.saturating_add(1), Ordering::Relaxed);
    }

    /// Sets how many units are done.
    pub fn set_done(&self, done: u64) {
        self.0.done.store(done, Ordering::Relaxed);
    }

    /// Adds to the units done.
    pub fn advance(&self, by: u64) {
        self.0.done.fetch_add(by, Ordering::Relaxed);
    }

    /// Units done, and the total once known.
    pub fn snapshot(&self) -> (u64, Option<u64>) {
        let total = self.0.total_plus_one.load(Ordering::Relaxed);
        (self.0.done.load(Ordering::Relaxed), total.checked_sub(1))
    }

    /// Asks the work to stop at its next check.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::Relaxed);
    }

    /// Whether the work was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` once the work was asked to stop: call between steps, before
    /// anything is written that should not be.
    pub fn check(&self) -> AppResult<()> {
        if self.is_cancelled() {
            Err(AppError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Runs CPU work (a solver, a draw) on a blocking thread, looking five times a second
    /// whether the work was asked to stop. When it was, the flag handed to `work` is set,
    /// so that it stops too instead of running on to its own time limit, and this answers
    /// `Cancelled` at once.
    pub async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&AtomicBool) -> T + Send + 'static,
    ) -> AppResult<T> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let mut running = tokio::task::spawn_blocking(move || work(&stopping));
        loop {
            tokio::select! {
                done = &mut running => return done.map_err(AppError::internal),
                () = tokio::time::sleep(std::time::Duration::from_millis(200)) => {
                    if let Err(err) = self.check() {
                        stop.store(true, Ordering::Relaxed);
                        return Err(err);
                    }
                }
            }
        }
    }
}

/// The jobs this process is running, by ID, so a cancellation asked for here reaches
/// the work at once; a job running in another process learns of it at its next
/// heartbeat.
#[derive(Clone, Debug, Default)]
pub struct RunningJobs(Arc<Mutex<HashMap<JobId, Progress>>>);

impl RunningJobs {
    /// Records that `id` is running with `progress`, until the returned guard is dropped.
    pub fn start(&self, id: JobId, progress: Progress) -> RunningGuard {
        self.lock().insert(id, progress);
        RunningGuard {
            jobs: self.clone(),
            id,
        }
    }

    /// Tells `id`'s work to stop if it runs in this process; whether it does.
    pub fn cancel(&self, id: JobId) -> bool {
        match self.lock().get(&id) {
            Some(progress) => {
                progress.cancel();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Progress>> {
        // The map is left consistent by every holder, so a panic elsewhere cannot spoil it.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Removes a job from [`RunningJobs`] when its work ends, however it ends.
#[derive(Debug)]
pub struct RunningGuard {
    jobs: RunningJobs,
    id: JobId,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.jobs.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_and_stops_when_asked() {
        let progress = Progress::new();
        assert_eq!(progress.snapshot(), (0, None));
        progress.set_total(10);
        progress.advance(3);
        progress.advance(4);
        assert_eq!(progress.snapshot(), (7, Some(10)));
        let shared = progress.clone();
        assert!(shared.check().is_ok());
        progress.cancel();
        assert!(matches!(shared.check(), Err(AppError::Cancelled)));
    }

    #[test]
    fn a_running_job_is_cancelled_through_the_registry_until_it_ends() {
        let running = RunningJobs::default();
        let progress = Progress::new();
        let guard = running.start(JobId(7), progress.clone());
        assert!(!running.cancel(JobId(8)), "another job is not running here");
        assert!(!progress.is_cancelled());
        assert!(running.cancel(JobId(7)));
        assert!(progress.is_cancelled());
        drop(guard);
        assert!(!running.cancel(JobId(7)), "gone once its work ended");
    }
}
