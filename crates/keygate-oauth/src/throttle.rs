//! Failed client authentications, counted per (client, client address): after
//! [`FAILURE_LIMIT`] failures in [`FAILURE_WINDOW`], that pair's attempts are refused
//! without verifying the secret until the window ends. Keyed by the pair, so a stranger
//! hammering a client from one address does not lock the client out elsewhere; bounded,
//! so a flood of addresses cannot grow memory (the least recently seen pairs go first).

use std::net::IpAddr;
use std::sync::Arc;

use quick_cache::sync::Cache;
use time::{Duration, OffsetDateTime};

/// Failures allowed per (client, address) in one window.
pub const FAILURE_LIMIT: u32 = 10;
/// The window failures are counted in.
pub const FAILURE_WINDOW: Duration = Duration::seconds(60);
/// Most (client, address) pairs remembered.
pub const TRACKED_PAIRS: usize = 16_384;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: OffsetDateTime,
    failures: u32,
}

/// The failure counter.
#[derive(Debug)]
pub(crate) struct Throttle {
    windows: Cache<(Arc<str>, Option<IpAddr>), Window>,
}

impl Throttle {
    pub(crate) fn new() -> Self {
        Self {
            windows: Cache::new(TRACKED_PAIRS),
        }
    }

    /// Seconds until `client` may try again from `address`, if it is throttled now.
    pub(crate) fn blocked_for(
        &self,
        client: &Arc<str>,
        address: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Option<u64> {
        let window = self.windows.get(&(client.clone(), address))?;
        let ends = window.started + FAILURE_WINDOW;
        (window.failures >= FAILURE_LIMIT && now < ends).then(|| {
            u64::try_from((ends - now).whole_seconds())
                .unwrap_or(0)
                .max(1)
        })
    }

    /// Counts one failure.
    pub(crate) fn fail(&self, client: &Arc<str>, address: Option<IpAddr>, now: OffsetDateTime) {
        let key = (client.clone(), address);
        let window = match self.windows.get(&key) {
            Some(w) if now < w.started + FAILURE_WINDOW => Window {
                failures: w.failures.saturating_add(1),
                ..w
            },
            _ => Window {
                started: now,
                failures: 1,
            },
        };
        self.windows.insert(key, window);
    }
}
