//! Fixed windows: a count per UTC day or UTC month, reset at the boundary.
//!
//! A window counter is the end of its period (Unix seconds) and the requests admitted in
//! it. A request whose time is at or past the stored end starts a new period from zero.

use time::{Date, OffsetDateTime, Time, UtcOffset};

use super::{Period, RateLimitStatus, WindowLimit};

/// The end of the period `now` falls in (the next UTC midnight, or the first of the
/// next month at midnight UTC), in Unix seconds. Past the last representable date it is
/// `i64::MAX`: such a window never resets.
pub fn period_end(period: Period, now: OffsetDateTime) -> i64 {
    let date = now.to_offset(UtcOffset::UTC).date();
    let next = match period {
        Period::Day => date.next_day(),
        Period::Month => {
            let (year, month) = match date.month() {
                time::Month::December => (date.year().checked_add(1), time::Month::January),
                month => (Some(date.year()), month.next()),
            };
            year.and_then(|year| Date::from_calendar_date(year, month, 1).ok())
        }
    };
    next.map_or(i64::MAX, |next| {
        next.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp()
    })
}

/// The outcome of one window step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowDecision {
    /// Whether the request fits the count.
    pub allowed: bool,
    /// The counter to store if the request is committed: `(period end, used)`.
    pub new_counter: (i64, u32),
    /// The headers' view of the window.
    pub status: RateLimitStatus,
}

/// The counter as it applies at `now`: the stored one while its period lasts, else a
/// fresh one for the period `now` falls in.
fn current(limit: WindowLimit, counter: Option<(i64, u32)>, now: OffsetDateTime) -> (i64, u32) {
    let secs = now.unix_timestamp();
    match counter {
        // A stored period that has not ended (or, for a clock behind another request's,
        // a later one) counts: a request never escapes a count by an earlier clock.
        Some((end, used)) if end > secs => (end, used),
        _ => (period_end(limit.period(), now), 0),
    }
}

/// Decides one request at `now` against `limit`, given the stored `(period end, used)`.
pub fn check(
    limit: WindowLimit,
    counter: Option<(i64, u32)>,
    now: OffsetDateTime,
) -> WindowDecision {
    let (end, used) = current(limit, counter, now);
    let allowed = used < limit.count();
    let new_used = if allowed { used + 1 } else { used };
    let status = RateLimitStatus {
        limit: limit.count(),
        remaining: limit.count().saturating_sub(new_used),
        reset: end,
        retry_after: if allowed { 0 } else { wait(end, now) },
    };
    WindowDecision {
        allowed,
        new_counter: (end, new_used),
        status,
    }
}

/// The window as it stands at `now`, taking nothing.
pub fn peek(
    limit: WindowLimit,
    counter: Option<(i64, u32)>,
    now: OffsetDateTime,
) -> RateLimitStatus {
    let (end, used) = current(limit, counter, now);
    RateLimitStatus {
        limit: limit.count(),
        remaining: limit.count().saturating_sub(used),
        reset: end,
        retry_after: 0,
    }
}

/// Whether a stored counter's period has ended at `now` (Unix seconds): it is then
/// exactly as no counter, and can be dropped.
pub fn is_idle(end: i64, now_secs: i64) -> bool {
    end <= now_secs
}

/// Whole seconds from `now` to `end`, rounded up, at least 1.
fn wait(end: i64, now: OffsetDateTime) -> u64 {
    let nanos = i128::from(end) * 1_000_000_000 - now.unix_timestamp_nanos();
    let secs = (nanos + 999_999_999).div_euclid(1_000_000_000);
    u64::try_from(secs).unwrap_or(0).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn days_end_at_the_next_utc_midnight() {
        let end = period_end(Period::Day, datetime!(2030-01-31 23:59:59.9 UTC));
        assert_eq!(end, datetime!(2030-02-01 0:00 UTC).unix_timestamp());
        // An offset clock reads the same instant.
        let end = period_end(Period::Day, datetime!(2030-02-01 01:00 +02:00));
        assert_eq!(end, datetime!(2030-02-01 0:00 UTC).unix_timestamp());
        let end = period_end(Period::Day, datetime!(2030-02-01 0:00 UTC));
        assert_eq!(end, datetime!(2030-02-02 0:00 UTC).unix_timestamp());
    }

    #[test]
    fn months_end_on_the_first_of_the_next() {
        let end = period_end(Period::Month, datetime!(2030-12-15 12:00 UTC));
        assert_eq!(end, datetime!(2031-01-01 0:00 UTC).unix_timestamp());
        let end = period_end(Period::Month, datetime!(2032-02-29 0:00 UTC));
        assert_eq!(end, datetime!(2032-03-01 0:00 UTC).unix_timestamp());
        assert_eq!(
            period_end(Period::Month, datetime!(9999-12-31 0:00 UTC)),
            i64::MAX
        );
    }

    #[test]
    fn a_refusal_waits_until_the_boundary() {
        let limit = WindowLimit::per_day(1).unwrap();
        let now = datetime!(2030-01-01 23:59:58.5 UTC);
        let first = check(limit, None, now);
        assert!(first.allowed);
        let refused = check(limit, Some(first.new_counter), now);
        assert!(!refused.allowed);
        assert_eq!(refused.status.retry_after, 2);
        assert_eq!(refused.status.remaining, 0);
        let next = datetime!(2030-01-02 0:00 UTC);
        assert!(check(limit, Some(first.new_counter), next).allowed);
    }
}
