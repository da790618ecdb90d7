//! What one process keeps in memory for every request: the questions of open
//! consultations, and recent protected publications with the computations under way.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::domain::consultations::consultation::QuestionItem;
use crate::domain::ids::ConsultationId;
use crate::domain::reports::disclosure::tables::Protection;
use crate::error::{AppError, AppResult};

/// The questions of consultations that are no longer drafts: once open, a consultation's
/// questions never change, and every fetch and submission needs them.
#[derive(Clone, Default)]
pub struct QuestionCache(Arc<Mutex<HashMap<ConsultationId, Arc<Vec<QuestionItem>>>>>);

impl QuestionCache {
    /// The questions kept for `consultation`, if any.
    pub fn get(&self, consultation: ConsultationId) -> Option<Arc<Vec<QuestionItem>>> {
        self.0.lock().ok()?.get(&consultation).cloned()
    }

    /// Keeps `questions` for `consultation` (call only once it is no longer a draft).
    pub fn put(&self, consultation: ConsultationId, questions: &Arc<Vec<QuestionItem>>) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(consultation, Arc::clone(questions));
        }
    }
}

/// How many protections a process remembers.
const REMEMBERED: usize = 64;

/// Recent protections by key, oldest first.
type Recent = VecDeque<(String, Arc<Protection>)>;

/// Per key being computed, the lock its computation holds.
type Flights = HashMap<String, Arc<tokio::sync::Mutex<()>>>;

/// This process's memory of recent protections, and the computations under way.
#[derive(Clone, Default)]
pub struct Publications {
    recent: Arc<Mutex<Recent>>,
    flights: Arc<Mutex<Flights>>,
    computed: Arc<std::sync::atomic::AtomicU64>,
}

impl Publications {
    /// A protection remembered under `key`.
    pub fn remembered(&self, key: &str) -> Option<Arc<Protection>> {
        let recent = self.recent.lock().ok()?;
        recent
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, p)| Arc::clone(p))
    }

    /// Remembers `protection` under `key`, forgetting the oldest beyond the limit.
    pub fn remember(&self, key: &str, protection: &Arc<Protection>) {
        if let Ok(mut recent) = self.recent.lock() {
            if recent.iter().any(|(k, _)| k == key) {
                return;
            }
            if recent.len() >= REMEMBERED {
                recent.pop_front();
            }
            recent.push_back((key.to_owned(), Arc::clone(protection)));
        }
    }

    /// The lock that one computation of `key` holds while it runs.
    pub fn flight(&self, key: &str) -> AppResult<Arc<tokio::sync::Mutex<()>>> {
        let mut flights = self
            .flights
            .lock()
            .map_err(|_| AppError::internal(anyhow::anyhow!("publication flights poisoned")))?;
        Ok(Arc::clone(flights.entry(key.to_owned()).or_default()))
    }

    /// Forgets the lock of a computation that has finished.
    pub fn landed(&self, key: &str) {
        if let Ok(mut flights) = self.flights.lock() {
            flights.remove(key);
        }
    }

    /// Counts one protection computed here.
    pub fn count_computed(&self) {
        self.computed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many protections this process has computed (rather than found).
    pub fn computed(&self) -> u64 {
        self.computed.load(std::sync::atomic::Ordering::Relaxed)
    }
}
