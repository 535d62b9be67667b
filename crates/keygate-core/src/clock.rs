//! Injected time.
//!
//! Every expiry, rate limit and token lifetime in keygate reads the time from a [`Clock`],
//! never from the system directly, so tests move time forward instead of sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::{Duration, OffsetDateTime};

/// A source of the current time (UTC).
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> OffsetDateTime;
}

/// `at` to the microsecond: the precision the SQL stores keep, so a time shown when a
/// record is made is the time shown when it is read back.
///
/// ```
/// use time::macros::datetime;
/// let at = datetime!(2030-01-01 0:00:00.123456789 UTC);
/// assert_eq!(keygate_core::clock::to_micros(at), datetime!(2030-01-01 0:00:00.123456 UTC));
/// ```
pub fn to_micros(at: OffsetDateTime) -> OffsetDateTime {
    at - Duration::nanoseconds(i64::from(at.nanosecond() % 1_000))
}

/// The real time of the operating system.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to. Clones share the same time.
///
/// ```
/// use keygate_core::{Clock, ManualClock};
/// use time::{Duration, macros::datetime};
///
/// let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
/// let seen_by_engine = clock.clone();
/// clock.advance(Duration::minutes(5));
/// assert_eq!(seen_by_engine.now(), datetime!(2030-01-01 0:05 UTC));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    /// Nanoseconds since the Unix epoch; `i64` covers the years 1678–2262.
    nanos: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock stopped at `start` (truncated to whole nanoseconds in 1678–2262).
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            nanos: Arc::new(AtomicI64::new(to_nanos(start))),
        }
    }

    /// Moves the clock by `by` (which may be negative).
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.whole_nanoseconds()).unwrap_or(i64::MAX);
        self.nanos.fetch_add(by, Ordering::SeqCst);
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: OffsetDateTime) {
        self.nanos.store(to_nanos(at), Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    /// A clock stopped at the current system time.
    fn default() -> Self {
        Self::new(OffsetDateTime::now_utc())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        let nanos = self.nanos.load(Ordering::SeqCst);
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

fn to_nanos(at: OffsetDateTime) -> i64 {
    let nanos = at.unix_timestamp_nanos();
    i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
        assert_eq!(clock.now(), datetime!(2030-01-01 0:00 UTC));
        clock.advance(Duration::seconds(90));
        assert_eq!(clock.now(), datetime!(2030-01-01 0:01:30 UTC));
        clock.advance(Duration::seconds(-30));
        assert_eq!(clock.now(), datetime!(2030-01-01 0:01 UTC));
        clock.set(datetime!(2031-06-01 12:00 UTC));
        assert_eq!(clock.clone().now(), datetime!(2031-06-01 12:00 UTC));
    }
}
