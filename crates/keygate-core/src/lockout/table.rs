//! The counts behind [`SecretLockout`]: per address (IPv4, or an IPv6 /64), per IPv6 /48,
//! and one for every address together, in one bounded table.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use super::SecretLockout;
use crate::transport::canonical;

/// Whom a count belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Bucket {
    /// The server did not report the peer.
    Unknown,
    V4(u32),
    /// The /64 prefix.
    V6(u64),
    /// The /48 prefix (the top 48 bits).
    V6Network(u64),
}

impl Bucket {
    /// The address's own bucket, and its network's (IPv6 only).
    fn of(address: Option<IpAddr>) -> (Self, Option<Self>) {
        match address.map(canonical) {
            None => (Self::Unknown, None),
            Some(IpAddr::V4(v4)) => (Self::V4(u32::from(v4)), None),
            Some(IpAddr::V6(v6)) => {
                let bits = u128::from(v6);
                (
                    Self::V6((bits >> 64) as u64),
                    Some(Self::V6Network((bits >> 80) as u64)),
                )
            }
        }
    }
}

/// What a failure locked, for the log: the broadest budget it spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum LockScope {
    /// The client's address (an IPv6 /64).
    Address,
    /// The client's IPv6 /48.
    Network,
    /// Every address: the global ceiling.
    Everyone,
}

impl LockScope {
    /// What is locked, in words.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Address => "this address",
            Self::Network => "this address's IPv6 /48",
            Self::Everyone => "every address (the global ceiling)",
        }
    }
}

/// One count's window: when it ends and how many failures it holds (Unix µs).
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    end: i64,
    failures: u32,
}

impl Entry {
    /// Whether it holds at least `limit` failures in a window not ended at `now`.
    fn locks(&self, limit: u32, now: i64) -> bool {
        self.end > now && self.failures >= limit
    }

    /// Counts one failure at `now` (a new window if the last one ended); whether this
    /// failure reached `limit`.
    fn fail(&mut self, limit: u32, now: i64, window: i64) -> bool {
        if self.end <= now {
            *self = Self {
                end: now.saturating_add(window),
                failures: 0,
            };
        }
        self.failures = self.failures.saturating_add(1);
        self.failures == limit
    }
}

/// The counts, behind a mutex: every call is a short critical section that neither
/// blocks on anything else nor awaits. `Debug` shows the settings and how many counts
/// are held, not the addresses.
pub(crate) struct Lockouts {
    config: SecretLockout,
    table: Mutex<Table>,
}

impl std::fmt::Debug for Lockouts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.table.lock().map_or(0, |table| table.entries.len());
        f.debug_struct("Lockouts")
            .field("config", &self.config)
            .field("addresses", &held)
            .finish()
    }
}

#[derive(Debug, Default)]
struct Table {
    entries: HashMap<Bucket, Entry>,
    /// The shared count of addresses that found the table full.
    overflow: Entry,
    /// Every failure, from any address.
    global: Entry,
    /// The earliest window end among the entries when last swept: no entry is free
    /// before it, so a full table is not swept again until then.
    next_free: i64,
}

fn micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// Whole seconds from `now` to `end`, at least 1.
fn retry_secs(end: i64, now: i64) -> u64 {
    let left = u64::try_from(end.saturating_sub(now)).unwrap_or(0);
    left.div_ceil(1_000_000).max(1)
}

impl Lockouts {
    pub(crate) fn new(config: SecretLockout) -> Self {
        Self {
            config,
            table: Mutex::new(Table::default()),
        }
    }

    /// `Err(retry_after_secs)` when `address` is locked at `now` (by any budget: the
    /// latest end among those spent; the global one only for an address that failed in
    /// its own window).
    pub(crate) fn check(&self, address: Option<IpAddr>, now: OffsetDateTime) -> Result<(), u64> {
        let now = micros(now);
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let (own, network) = Bucket::of(address);
        let own_entry = match table.entries.get(&own) {
            Some(entry) => Some(entry),
            None if table.entries.len() >= self.config.capacity => Some(&table.overflow),
            None => None,
        };
        let spent = [
            (own_entry, self.config.failures),
            (
                network.and_then(|n| table.entries.get(&n)),
                self.config.network_failures(),
            ),
            // The global ceiling closes x-client-secret only to addresses that failed in
            // their window: one that never guessed wrong (the operator's) is still
            // checked, so a flood of wrong secrets cannot lock the operator out.
            (
                own_entry
                    .is_some_and(|entry| entry.end > now && entry.failures > 0)
                    .then_some(&table.global),
                self.config.global_limit(),
            ),
        ];
        let end = spent
            .iter()
            .filter_map(|(entry, limit)| entry.filter(|e| e.locks(*limit, now)))
            .map(|entry| entry.end)
            .max();
        match end {
            Some(end) => Err(retry_secs(end, now)),
            None => Ok(()),
        }
    }

    /// Counts a failed check from `address` at `now` against each of its budgets;
    /// `Some((scope, retry_after_secs))` when this failure spent one (once per window,
    /// for the log), the broadest if several.
    pub(crate) fn fail(
        &self,
        address: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Option<(LockScope, u64)> {
        let now = micros(now);
        let window = i64::try_from(self.config.window.whole_microseconds()).unwrap_or(i64::MAX);
        let capacity = self.config.capacity;
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let table = &mut *table;
        let (own, network) = Bucket::of(address);
        let mut locked = None;
        let mut spent = |scope: LockScope, entry: &Entry| {
            locked = locked.max(Some((scope, retry_secs(entry.end, now))));
        };

        if table.global.fail(self.config.global_limit(), now, window) {
            spent(LockScope::Everyone, &table.global);
        }
        table.make_room(own, capacity, now);
        let entry = if table.entries.len() < capacity || table.entries.contains_key(&own) {
            table.entries.entry(own).or_default()
        } else {
            &mut table.overflow
        };
        if entry.fail(self.config.failures, now, window) {
            spent(LockScope::Address, entry);
        }
        if let Some(network) = network {
            table.make_room(network, capacity, now);
            if table.entries.len() < capacity || table.entries.contains_key(&network) {
                let entry = table.entries.entry(network).or_default();
                if entry.fail(self.config.network_failures(), now, window) {
                    spent(LockScope::Network, entry);
                }
            }
        }
        locked
    }
}

impl Table {
    /// Before `bucket` is counted: when it is not held and the table is full, drops the
    /// entries whose window ended, if any can have.
    fn make_room(&mut self, bucket: Bucket, capacity: usize, now: i64) {
        if self.entries.len() < capacity || self.entries.contains_key(&bucket) {
            return;
        }
        if now < self.next_free {
            return;
        }
        self.entries.retain(|_, entry| entry.end > now);
        self.next_free = self
            .entries
            .values()
            .map(|entry| entry.end)
            .min()
            // Emptied: nothing is due, and the next full table is swept again.
            .unwrap_or(i64::MIN);
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
