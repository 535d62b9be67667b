//! Usage records: one per settled request and one per refusal, reported off the request
//! path.
//!
//! The engine never awaits a sink on the request path. It offers each [`UsageRecord`] to
//! a bounded [`UsageQueue`]; a [`UsageWorker`], a future the application spawns, hands
//! them to the [`UsageSink`]. When the queue is full the record is dropped and counted
//! ([`UsageQueue::dropped`]), so a slow sink can cost records but never a request's time.
//! Refusals may fill only half the queue, so a flood of bad credentials cannot push out
//! the records of served requests.
//!
//! ```
//! use keygate_core::usage::{self, UsageRecord};
//! use keygate_core::{Keygate, Pepper};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (queue, worker) = usage::queue(1024, |record: UsageRecord| {
//!     // Store it, count it, bill it: this runs in the worker, not in a request.
//!     let _ = (record.route, record.outcome);
//! });
//! tokio::spawn(worker.run()); // ends when the engine and every queue clone are gone
//! let keygate = Keygate::builder()
//!     .pepper(Pepper::generate()?)
//!     .usage(queue.clone())
//!     .build()?;
//! # let _ = keygate;
//! assert_eq!(queue.dropped(), 0);
//! # Ok(())
//! # }
//! ```

mod queue;

pub use queue::{MAX_CAPACITY, UsageQueue, UsageWorker, queue};

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::access::AuthMethod;
use crate::key::KeyId;

/// One request, as the usage queue reports it. Identifiers only, never a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UsageRecord {
    /// When the request was settled or refused, by the engine's clock.
    pub at: OffsetDateTime,
    /// The route's name ([`Access::named`](crate::Access::named)), if it has one.
    pub route: Option<Arc<str>>,
    /// How the caller authenticated; `None` for a refusal or an anonymous request.
    pub method: Option<AuthMethod>,
    /// The caller's tenant.
    pub tenant: Option<Arc<str>>,
    /// Who acted (the user under impersonation or for user JWTs, else the key).
    pub subject: Option<Arc<str>>,
    /// The API key behind the credential.
    pub key_id: Option<KeyId>,
    /// The account the key's counters and credits belong to (its lineage).
    pub account: Option<KeyId>,
    /// What became of the request.
    pub outcome: Outcome,
    /// Credits the request spent (after any refund).
    pub credits_spent: u64,
}

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The route answered with `status`.
    Answered {
        /// The response status.
        status: u16,
    },
    /// The route failed without an answer.
    Failed,
    /// keygate refused the request.
    Refused {
        /// The refusal's stable code (`invalid_api_key`, `rate_limited`, …).
        code: &'static str,
        /// Its status.
        status: u16,
    },
}

/// Where usage records go. Called by the [`UsageWorker`], one record at a time, never on
/// a request's path. Any `Fn(UsageRecord)` closure is a sink.
#[async_trait]
pub trait UsageSink: Send + Sync + 'static {
    /// Takes one record.
    async fn record(&self, record: UsageRecord);
}

#[async_trait]
impl<F> UsageSink for F
where
    F: Fn(UsageRecord) + Send + Sync + 'static,
{
    async fn record(&self, record: UsageRecord) {
        self(record);
    }
}
