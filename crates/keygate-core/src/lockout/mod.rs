//! Brute force on `x-client-secret`: after too many failed checks from one client address
//! in a window, that address's `x-client-secret` attempts are refused, unverified, with
//! 429 `rate_limited` and `Retry-After` until the window ends.
//!
//! On by default ([`SecretLockout::default`]: 10 failures in 60 s), configured with
//! [`KeygateBuilder::secret_lockout`](crate::KeygateBuilder::secret_lockout). The client
//! address is [`Client::address`](crate::transport::Client::address): the peer, or the first
//! untrusted `X-Forwarded-For` hop when the peer is a trusted proxy. IPv6 addresses count
//! per /64 (one host usually holds a whole /64); requests whose peer the server did not
//! report share one count.
//!
//! - **A fixed window per address.** It starts at the address's first failure; the
//!   address is locked once it has `failures` failures in it, until it ends. A valid
//!   secret from a locked address is refused too: it is not checked. Only a wrong secret
//!   counts (`invalid_secret_key`), not a revoked or expired `sk_` key.
//! - **Bounded memory.** The table holds at most `capacity` addresses (default 10 000,
//!   about 50 bytes each). An entry whose window ended is free; when the table is full,
//!   those are swept out, never a live entry, so an attacker cannot push their own count
//!   out by failing from many other addresses. When every entry is live, addresses not in
//!   the table share one overflow count with the same limit: guessing stays at `failures`
//!   per window for all of them together, and the price of a full table is that such
//!   addresses can lock one another out until the windows end.
//! - **Per process.** Each instance counts its own failures: N instances behind one
//!   balancer allow up to N × `failures` guesses per window from one address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

use crate::transport::canonical;

/// How failed `x-client-secret` checks lock an address out (see the [module](self)).
///
/// ```
/// use keygate_core::lockout::SecretLockout;
/// use time::Duration;
///
/// let strict = SecretLockout::new(5, Duration::minutes(5))?.capacity(50_000);
/// assert_eq!(strict.failures(), 5);
/// assert_eq!(SecretLockout::default().failures(), 10);
/// assert!(SecretLockout::new(0, Duration::minutes(1)).is_err());
/// # Ok::<(), keygate_core::lockout::SecretLockoutError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretLockout {
    failures: u32,
    window: Duration,
    capacity: usize,
}

/// Why a [`SecretLockout`] cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretLockoutError {
    /// The failure count is 0.
    #[error(
        "a secret lock-out needs at least 1 failure to lock; to turn it off, pass None to KeygateBuilder::secret_lockout"
    )]
    NoFailures,
    /// The window is not between 1 second and 1 day.
    #[error("a secret lock-out window must be between 1 second and 1 day")]
    Window,
}

impl SecretLockout {
    /// Failures that lock an address, by default.
    pub const DEFAULT_FAILURES: u32 = 10;
    /// The window, by default.
    pub const DEFAULT_WINDOW: Duration = Duration::seconds(60);
    /// Addresses the table holds, by default.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// `failures` failed checks in `window` (1 s to 1 day) lock an address until the
    /// window ends.
    pub fn new(failures: u32, window: Duration) -> Result<Self, SecretLockoutError> {
        if failures == 0 {
            return Err(SecretLockoutError::NoFailures);
        }
        if window < Duration::SECOND || window > Duration::DAY {
            return Err(SecretLockoutError::Window);
        }
        Ok(Self {
            failures,
            window,
            capacity: Self::DEFAULT_CAPACITY,
        })
    }

    /// Holds at most `capacity` addresses (at least 1); see the [module](self) for what
    /// happens when the table is full.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// The failures that lock an address.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }
}

impl Default for SecretLockout {
    fn default() -> Self {
        Self {
            failures: Self::DEFAULT_FAILURES,
            window: Self::DEFAULT_WINDOW,
            capacity: Self::DEFAULT_CAPACITY,
        }
    }
}

/// Whom a count belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Bucket {
    /// The server did not report the peer.
    Unknown,
    V4(u32),
    /// The /64 prefix.
    V6(u64),
}

impl Bucket {
    fn of(address: Option<IpAddr>) -> Self {
        match address.map(canonical) {
            None => Self::Unknown,
            Some(IpAddr::V4(v4)) => Self::V4(u32::from(v4)),
            Some(IpAddr::V6(v6)) => Self::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

/// One address's window: when it started and how many failures it holds (Unix µs).
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    end: i64,
    failures: u32,
}

/// The counts, behind a mutex: every call is a short critical section that neither
/// blocks on anything else nor awaits. `Debug` shows the settings and how many addresses
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

    /// `Err(retry_after_secs)` when `address` is locked at `now`.
    pub(crate) fn check(&self, address: Option<IpAddr>, now: OffsetDateTime) -> Result<(), u64> {
        let now = micros(now);
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = Bucket::of(address);
        let entry = match table.entries.get(&bucket) {
            Some(entry) => entry,
            None if table.entries.len() >= self.config.capacity => &table.overflow,
            None => return Ok(()),
        };
        if entry.end > now && entry.failures >= self.config.failures {
            return Err(retry_secs(entry.end, now));
        }
        Ok(())
    }

    /// Counts a failed check from `address` at `now`; `Some(retry_after_secs)` when this
    /// failure locked the address (once per window, for the log).
    pub(crate) fn fail(&self, address: Option<IpAddr>, now: OffsetDateTime) -> Option<u64> {
        let now = micros(now);
        let window = i64::try_from(self.config.window.whole_microseconds()).unwrap_or(i64::MAX);
        let limit = self.config.failures;
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let table = &mut *table;
        let bucket = Bucket::of(address);
        if !table.entries.contains_key(&bucket) && table.entries.len() >= self.config.capacity {
            table.sweep(now);
        }
        let capacity = self.config.capacity;
        let entry = if table.entries.len() < capacity || table.entries.contains_key(&bucket) {
            table.entries.entry(bucket).or_default()
        } else {
            &mut table.overflow
        };
        if entry.end <= now {
            *entry = Entry {
                end: now.saturating_add(window),
                failures: 0,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
        (entry.failures == limit).then(|| retry_secs(entry.end, now))
    }
}

impl Table {
    /// Drops the entries whose window ended, if any can have.
    fn sweep(&mut self, now: i64) {
        if now < self.next_free {
            return;
        }
        self.entries.retain(|_, entry| entry.end > now);
        self.next_free = self
            .entries
            .values()
            .map(|entry| entry.end)
            .min()
            .unwrap_or(i64::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    fn lockouts(capacity: usize) -> Lockouts {
        Lockouts::new(SecretLockout::default().capacity(capacity))
    }

    #[test]
    fn ten_failures_lock_until_the_window_ends() {
        let l = lockouts(100);
        let a = ip("203.0.113.9");
        for n in 0..9 {
            assert_eq!(l.fail(a, T0 + Duration::seconds(n)), None);
            assert!(l.check(a, T0 + Duration::seconds(n)).is_ok());
        }
        assert_eq!(l.fail(a, T0 + Duration::seconds(10)), Some(50));
        assert_eq!(l.check(a, T0 + Duration::seconds(10)), Err(50));
        assert_eq!(l.check(a, T0 + Duration::milliseconds(59_500)), Err(1));
        assert!(l.check(ip("203.0.113.10"), T0).is_ok(), "another address");
        assert!(
            l.check(a, T0 + Duration::seconds(60)).is_ok(),
            "the window ended"
        );
        assert_eq!(l.fail(a, T0 + Duration::seconds(60)), None, "a new window");
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let l = lockouts(100);
        for n in 0..10 {
            l.fail(ip(&format!("2001:db8::{n:x}")), T0);
        }
        assert!(l.check(ip("2001:db8::ffff:1"), T0).is_err());
        assert!(l.check(ip("2001:db8:0:1::1"), T0).is_ok());
        for _ in 0..10 {
            l.fail(ip("::ffff:198.51.100.4"), T0);
        }
        assert!(l.check(ip("198.51.100.4"), T0).is_err());
        for _ in 0..10 {
            l.fail(None, T0);
        }
        assert!(l.check(None, T0).is_err(), "unknown peers share one count");
    }

    #[test]
    fn a_full_table_keeps_live_entries_and_sends_newcomers_to_overflow() {
        let l = lockouts(3);
        let attacker = ip("198.51.100.1");
        for _ in 0..10 {
            l.fail(attacker, T0);
        }
        // Two other addresses fill the table.
        l.fail(ip("198.51.100.2"), T0);
        l.fail(ip("198.51.100.3"), T0);
        // Failing from many more addresses evicts nothing: the attacker stays locked.
        for n in 10..200 {
            l.fail(ip(&format!("192.0.2.{n}")), T0 + Duration::seconds(1));
        }
        assert!(l.check(attacker, T0 + Duration::seconds(1)).is_err());
        // Those newcomers shared the overflow count, and it is locked too.
        assert!(
            l.check(ip("192.0.2.250"), T0 + Duration::seconds(1))
                .is_err()
        );
        assert!(
            l.check(ip("198.51.100.2"), T0 + Duration::seconds(1))
                .is_ok()
        );
        assert_eq!(l.table.lock().unwrap().entries.len(), 3);
        // Once the windows end, a sweep frees the table for new addresses.
        let later = T0 + Duration::seconds(61);
        assert!(l.check(attacker, later).is_ok());
        assert_eq!(l.fail(ip("192.0.2.1"), later), None);
        assert!(
            l.table
                .lock()
                .unwrap()
                .entries
                .contains_key(&Bucket::of(ip("192.0.2.1")))
        );
        assert_eq!(l.table.lock().unwrap().entries.len(), 1);
        let shown = format!("{l:?}");
        assert!(
            shown.contains("addresses: 1") && !shown.contains("192.0.2"),
            "{shown}"
        );
    }
}
