//! Progress of long work: the use case doing it reports how far it is, and whoever runs it
//! (a background job's worker, the command line's progress bar) reads it and may ask it to
//! stop. Cheap enough to update per row.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
}
