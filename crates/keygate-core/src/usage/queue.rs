//! The bounded queue between the request path and the [`UsageSink`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use super::{Outcome, UsageRecord, UsageSink};

/// The largest queue [`queue`] makes: about a million records in flight.
pub const MAX_CAPACITY: usize = 1 << 20;

/// A bounded queue of usage records and the worker that drains it into `sink`. Spawn the
/// worker's [`run`](UsageWorker::run); give the queue to
/// [`KeygateBuilder::usage`](crate::KeygateBuilder::usage). `capacity` is clamped to
/// between 1 and [`MAX_CAPACITY`].
///
/// Refusals may fill only half the queue: a flood of bad credentials costs its own
/// records, never the records of served requests (which carry the credits they spent).
pub fn queue<S: UsageSink>(capacity: usize, sink: S) -> (UsageQueue, UsageWorker<S>) {
    let (sender, receiver) = mpsc::channel(capacity.clamp(1, MAX_CAPACITY));
    (
        UsageQueue {
            sender,
            dropped: Arc::new(AtomicU64::new(0)),
        },
        UsageWorker { receiver, sink },
    )
}

/// The sending side: cheap to clone, never waits.
#[derive(Clone)]
pub struct UsageQueue {
    sender: mpsc::Sender<UsageRecord>,
    dropped: Arc<AtomicU64>,
}

impl UsageQueue {
    /// Offers a record without waiting: a full queue (or one whose worker has stopped)
    /// drops it and counts it. A refusal finds the queue full once it is half full.
    pub(crate) fn offer(&self, record: UsageRecord) {
        let refusal = matches!(record.outcome, Outcome::Refused { .. });
        let crowded = refusal && self.sender.capacity() <= self.sender.max_capacity() / 2;
        if crowded || self.sender.try_send(record).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records dropped so far because the queue was full or its worker had stopped.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for UsageQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsageQueue")
            .field("capacity", &self.sender.max_capacity())
            .field("dropped", &self.dropped())
            .finish()
    }
}

/// The receiving side: a future to spawn ([`run`](Self::run)).
pub struct UsageWorker<S> {
    receiver: mpsc::Receiver<UsageRecord>,
    sink: S,
}

impl<S: UsageSink> UsageWorker<S> {
    /// Hands every queued record to the sink, in order, until every [`UsageQueue`] clone
    /// (the engine's included) is dropped and the queue is empty.
    pub async fn run(mut self) {
        while let Some(record) = self.receiver.recv().await {
            self.sink.record(record).await;
        }
    }
}

impl<S> fmt::Debug for UsageWorker<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsageWorker").finish_non_exhaustive()
    }
}
