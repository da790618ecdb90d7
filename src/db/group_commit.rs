//! Group commit: requests hand their writes to one writer task and wait; the writer takes
//! everything waiting (up to a limit), writes it in one transaction, and then answers each
//! request with its own outcome. A request is answered only once its write is committed
//! (or known to have failed), so nothing acknowledged is lost, and a thousand concurrent
//! writes cost a handful of commits rather than a thousand.
//!
//! The writer task starts with the first request. [`GroupCommit::drain`] stops it
//! gracefully: new requests are turned away, and those already queued are written and
//! answered before it returns.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// What one group-commit writer writes.
pub trait BatchWrite: Send + Sync + 'static {
    /// One request's write.
    type Item: Send + 'static;
    /// How one request's write went.
    type Outcome: Send + 'static;

    /// Writes `items`, committed before it returns, and says how each went, in their
    /// order. It never fails as a whole: a failure is an outcome of each item it touched.
    fn write(&self, items: Vec<Self::Item>) -> impl Future<Output = Vec<Self::Outcome>> + Send;
}

/// The writer has stopped (the server is shutting down) or gave no answer.
#[derive(Debug, thiserror::Error)]
#[error("the {0} writer has stopped")]
pub struct Stopped(&'static str);

/// A request waiting for the writer.
struct Waiting<W: BatchWrite> {
    item: W::Item,
    reply: oneshot::Sender<W::Outcome>,
}

/// What every handle to one writer shares.
struct Shared<W: BatchWrite> {
    /// Names the writer in errors and logs.
    name: &'static str,
    writer: Arc<W>,
    max_batch: usize,
    queue_length: usize,
    queue: OnceLock<mpsc::Sender<Waiting<W>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    stop: watch::Sender<bool>,
    timings: Arc<Timings>,
}

/// Upper ends of the [`BatchStats::by_duration`] buckets, in milliseconds (the last
/// bucket is everything longer).
pub const DURATION_BUCKETS_MS: [u64; 6] = [1, 2, 5, 10, 20, 50];

/// How a writer's batches went since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Batches written.
    pub batches: u64,
    /// Requests written, in all.
    pub items: u64,
    /// The longest a batch took to write.
    pub longest: Duration,
    /// How many requests that batch held.
    pub longest_items: u64,
    /// Batches by how long they took to write: up to each of [`DURATION_BUCKETS_MS`],
    /// then longer.
    pub by_duration: [u64; DURATION_BUCKETS_MS.len() + 1],
}

/// The counters behind [`BatchStats`], updated by the writer task.
#[derive(Default)]
struct Timings {
    batches: AtomicU64,
    items: AtomicU64,
    longest_micros: AtomicU64,
    longest_items: AtomicU64,
    by_duration: [AtomicU64; DURATION_BUCKETS_MS.len() + 1],
}

impl Timings {
    fn record(&self, items: usize, took: Duration) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.items.fetch_add(items as u64, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        if self.longest_micros.fetch_max(micros, Ordering::Relaxed) < micros {
            self.longest_items.store(items as u64, Ordering::Relaxed);
        }
        let bucket = DURATION_BUCKETS_MS
            .iter()
            .position(|&ms| micros <= ms * 1000)
            .unwrap_or(DURATION_BUCKETS_MS.len());
        self.by_duration[bucket].fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> BatchStats {
        BatchStats {
            batches: self.batches.load(Ordering::Relaxed),
            items: self.items.load(Ordering::Relaxed),
            longest: Duration::from_micros(self.longest_micros.load(Ordering::Relaxed)),
            longest_items: self.longest_items.load(Ordering::Relaxed),
            by_duration: std::array::from_fn(|i| self.by_duration[i].load(Ordering::Relaxed)),
        }
    }
}

/// A group-commit writer: cloned handles share one queue and one writer task.
pub struct GroupCommit<W: BatchWrite> {
    shared: Arc<Shared<W>>,
}

impl<W: BatchWrite> Clone for GroupCommit<W> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<W: BatchWrite> GroupCommit<W> {
    /// A writer named `name` (for errors and logs) writing at most `max_batch` items a
    /// transaction, with up to `queue_length` requests waiting before new ones wait to
    /// join the queue.
    pub fn new(name: &'static str, writer: W, max_batch: usize, queue_length: usize) -> Self {
        let (stop, _) = watch::channel(false);
        Self {
            shared: Arc::new(Shared {
                name,
                writer: Arc::new(writer),
                max_batch: max_batch.max(1),
                queue_length: queue_length.max(1),
                queue: OnceLock::new(),
                task: Mutex::new(None),
                stop,
                timings: Arc::default(),
            }),
        }
    }

    /// The writer itself.
    pub fn writer(&self) -> &W {
        &self.shared.writer
    }

    /// How the batches written so far went.
    pub fn stats(&self) -> BatchStats {
        self.shared.timings.snapshot()
    }

    /// Queues `item` and returns its outcome once the batch it joined is written.
    pub async fn write(&self, item: W::Item) -> Result<W::Outcome, Stopped> {
        let shared = &self.shared;
        if *shared.stop.borrow() {
            return Err(Stopped(shared.name));
        }
        let queue = shared.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(shared.queue_length);
            let task = tokio::spawn(run(
                Arc::clone(&shared.writer),
                receiver,
                shared.stop.subscribe(),
                shared.max_batch,
                Arc::clone(&shared.timings),
            ));
            if let Ok(mut slot) = shared.task.lock() {
                *slot = Some(task);
            }
            sender
        });
        let (reply, outcome) = oneshot::channel();
        queue
            .send(Waiting { item, reply })
            .await
            .map_err(|_| Stopped(shared.name))?;
        outcome.await.map_err(|_| Stopped(shared.name))
    }

    /// Stops the writer: new requests are refused, and this returns once everything
    /// already queued is written and answered.
    pub async fn drain(&self) {
        let shared = &self.shared;
        shared.stop.send_replace(true);
        let task = shared.task.lock().ok().and_then(|mut slot| slot.take());
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::error!(writer = shared.name, error = %error, "a group-commit writer failed");
        }
    }
}

/// The writer task: takes whatever is waiting (up to `max_batch`), writes it, answers each
/// request, and goes round again; once told to stop it takes no more requests and ends
/// when the queue is empty.
async fn run<W: BatchWrite>(
    writer: Arc<W>,
    mut receiver: mpsc::Receiver<Waiting<W>>,
    mut stop: watch::Receiver<bool>,
    max_batch: usize,
    timings: Arc<Timings>,
) {
    let mut batch: Vec<Waiting<W>> = Vec::with_capacity(max_batch);
    let mut stopping = false;
    loop {
        tokio::select! {
            taken = receiver.recv_many(&mut batch, max_batch) => {
                if taken == 0 {
                    break;
                }
                let (items, replies): (Vec<_>, Vec<_>) =
                    batch.drain(..).map(|w| (w.item, w.reply)).unzip();
                let size = items.len();
                let started = Instant::now();
                let outcomes = writer.write(items).await;
                timings.record(size, started.elapsed());
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // A request that gave up waiting is not an error.
                    let _ = reply.send(outcome);
                }
            }
            // Whether told to stop or every handle is gone, finish what is queued.
            () = stopped(&mut stop), if !stopping => {
                stopping = true;
                receiver.close();
            }
        }
    }
}

/// Completes once told to stop, or once nothing can tell it any more.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the size of every batch and echoes each item doubled.
    struct Doubler(Mutex<Vec<usize>>);

    impl BatchWrite for Doubler {
        type Item = u32;
        type Outcome = u32;

        async fn write(&self, items: Vec<u32>) -> Vec<u32> {
            if let Ok(mut sizes) = self.0.lock() {
                sizes.push(items.len());
            }
            tokio::task::yield_now().await;
            items.into_iter().map(|i| i * 2).collect()
        }
    }

    #[tokio::test]
    async fn each_request_gets_its_own_outcome_and_waiting_requests_share_a_batch() {
        let commits = GroupCommit::new("test", Doubler(Mutex::new(Vec::new())), 64, 1024);
        let outcomes = futures_util::future::join_all((0..200).map(|i| commits.write(i))).await;
        let outcomes: Vec<u32> = outcomes.into_iter().map(Result::unwrap).collect();
        assert_eq!(outcomes, (0..200).map(|i| i * 2).collect::<Vec<_>>());
        let sizes = commits.writer().0.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 200);
        assert!(sizes.iter().all(|&s| s <= 64), "{sizes:?}");
        assert!(sizes.len() < 200, "batched: {sizes:?}");
        let stats = commits.stats();
        assert_eq!(stats.batches, sizes.len() as u64);
        assert_eq!(stats.items, 200);
        assert_eq!(stats.by_duration.iter().sum::<u64>(), stats.batches);
        assert!(sizes.contains(&(stats.longest_items as usize)));
    }

    #[tokio::test]
    async fn a_drained_writer_finishes_what_is_queued_and_refuses_more() {
        let commits = GroupCommit::new("test", Doubler(Mutex::new(Vec::new())), 8, 1024);
        let queued = {
            let commits = commits.clone();
            tokio::spawn(async move {
                futures_util::future::join_all((0..50).map(|i| commits.write(i))).await
            })
        };
        // Let the requests join the queue, then stop.
        tokio::task::yield_now().await;
        assert_eq!(commits.write(1).await.unwrap(), 2);
        commits.drain().await;
        let answered = queued.await.unwrap();
        assert!(
            answered.iter().all(Result::is_ok),
            "every queued request answered"
        );
        assert!(
            commits.write(3).await.is_err(),
            "nothing new after draining"
        );
    }
}
