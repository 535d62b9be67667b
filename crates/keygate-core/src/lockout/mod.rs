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
//! Three budgets, each a fixed window that starts at its first failure; a failure counts
//! against every budget it falls in, and an attempt is refused when any of them is spent:
//!
//! | budget | default | why |
//! |---|---|---|
//! | one address (IPv4, or an IPv6 /64) | `failures` = 10 per 60 s | the lock-out itself |
//! | one IPv6 /48 | 10 × `failures` = 100 per 60 s | a site is commonly given a /48, which holds 65 536 /64s: without this budget it could make 655 360 guesses a minute, a /64 at a time |
//! | every address together | `global_failures` = 1 000 per 60 s | a ceiling on guesses per instance whatever the attacker holds (many /48s, a botnet, the overflow below): 1 000 a minute is 1.44 million a day, hopeless against a generated secret and slow against a chosen one |
//!
//! - **A valid secret from a locked address is refused too**: it is not checked. Only a
//!   wrong secret counts (`invalid_secret_key`), not a revoked or expired `sk_` key.
//! - **The global ceiling spares clean addresses.** Once every address together has
//!   failed `global_failures` times in a window, `x-client-secret` is refused, until that
//!   window ends, to every address that has itself failed in its current window (and to
//!   everyone sharing the overflow count once it has failed). An address with no failure
//!   of its own, the operator's, is still checked: a flood of wrong secrets cannot lock
//!   the operator out of the admin routes. The price is that past the ceiling each fresh
//!   address gets one guess per window before it is refused, so guessing stays below
//!   `global_failures + capacity` per window (11 000 a minute by default; one instance):
//!   hopeless against a generated secret. Other credentials (`Authorization`,
//!   `X-API-Key`) are never affected.
//! - **Bounded memory.** The table holds at most `capacity` counts (addresses and /48s,
//!   default 10 000, about 50 bytes each), plus two fixed counts (the overflow and the
//!   global one). An entry whose window ended is free; when the table is full, those are
//!   swept out, never a live entry, so an attacker cannot push their own count out by
//!   failing from many other addresses. When every entry is live, addresses not in the
//!   table share one overflow count with the per-address limit: guessing stays at
//!   `failures` per window for all of them together, and the price of a full table is
//!   that such addresses can lock one another out until the windows end. A /48 that finds
//!   the table full is not counted (its /64 is, in the overflow, and the global ceiling
//!   holds).
//! - **Per process.** Each instance counts its own failures: N instances behind one
//!   balancer allow up to N × each budget per window.

mod table;

pub(crate) use table::Lockouts;

use time::Duration;

/// How failed `x-client-secret` checks lock an address out (see the [module](self)).
///
/// ```
/// use keygate_core::lockout::SecretLockout;
/// use time::Duration;
///
/// let strict = SecretLockout::new(5, Duration::minutes(5))?.capacity(50_000);
/// assert_eq!(strict.failures(), 5);
/// assert_eq!(strict.network_failures(), 50, "an IPv6 /48: 10 × the per-address limit");
/// assert_eq!(strict.global_limit(), 1_000);
/// assert_eq!(SecretLockout::default().failures(), 10);
/// assert!(SecretLockout::new(0, Duration::minutes(1)).is_err());
///
/// // The ceiling is never below the per-address limit.
/// let loose = SecretLockout::default().global_failures(3);
/// assert_eq!(loose.global_limit(), 10);
/// # Ok::<(), keygate_core::lockout::SecretLockoutError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretLockout {
    failures: u32,
    window: Duration,
    capacity: usize,
    global: u32,
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
    /// Counts the table holds, by default.
    pub const DEFAULT_CAPACITY: usize = 10_000;
    /// How many times the per-address limit an IPv6 /48 may fail in a window.
    pub const NETWORK_FACTOR: u32 = 10;
    /// Failures from every address together that close `x-client-secret`, until the
    /// window ends, to every address that has failed in its own window, by default.
    pub const DEFAULT_GLOBAL_FAILURES: u32 = 1_000;

    /// `failures` failed checks in `window` (1 s to 1 day) lock an address until the
    /// window ends; an IPv6 /48 is locked at [`NETWORK_FACTOR`](Self::NETWORK_FACTOR) ×
    /// `failures`, and every address that has failed at all at
    /// [`DEFAULT_GLOBAL_FAILURES`](Self::DEFAULT_GLOBAL_FAILURES) from everyone together
    /// (or `failures`, if more).
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
            global: Self::DEFAULT_GLOBAL_FAILURES.max(failures),
        })
    }

    /// Holds at most `capacity` counts (at least 1); see the [module](self) for what
    /// happens when the table is full.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Failures from every address together, in one window, that close
    /// `x-client-secret` until that window ends to every address that has failed in its
    /// own window (never below
    /// [`failures`](Self::failures)); see the [module](self) for the trade.
    pub fn global_failures(mut self, failures: u32) -> Self {
        self.global = failures.max(self.failures);
        self
    }

    /// The failures that lock an address.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The failures that lock an IPv6 /48.
    pub fn network_failures(&self) -> u32 {
        self.failures.saturating_mul(Self::NETWORK_FACTOR)
    }

    /// The failures from every address together that lock everyone.
    pub fn global_limit(&self) -> u32 {
        self.global
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
            global: Self::DEFAULT_GLOBAL_FAILURES,
        }
    }
}
