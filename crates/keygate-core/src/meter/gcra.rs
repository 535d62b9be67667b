//! The generic cell rate algorithm (GCRA), in exact integer arithmetic.
//!
//! A limit of `L` requests per window `W` admits a request when, after it, the
//! *theoretical arrival time* (TAT) is at most `W` ahead of now; each request moves the TAT
//! `W / L` forward. Bursts of up to `L` are allowed, and the limit refills smoothly.
//!
//! To stay exact for any `L` and `W`, times are kept in nanoseconds multiplied by `L`, so
//! the step `W / L` becomes `W` and no division rounds. Every meter (memory, SQL, Redis)
//! keeps one `i128` per account: the scaled TAT returned here.

use time::OffsetDateTime;

use super::RateLimitStatus;
use crate::key::RateLimit;

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// The outcome of one GCRA step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcraDecision {
    /// Whether the request is within the limit.
    pub allowed: bool,
    /// The scaled TAT to store if the request is committed.
    pub new_tat: i128,
    /// The headers' view of the limit.
    pub status: RateLimitStatus,
}

/// Decides one request at `now` against `limit`, given the stored scaled TAT (`None` for a
/// fresh account).
pub fn check(limit: RateLimit, tat: Option<i128>, now: OffsetDateTime) -> GcraDecision {
    let (l, w, now) = scaled(limit, now);
    let tat = tat.map_or(now, |tat| tat.max(now));
    let new_tat = tat + w;
    let allowed = new_tat - now <= w * l;
    let status = if allowed {
        RateLimitStatus {
            limit: limit.limit(),
            remaining: clamp_u32((w * l - (new_tat - now)) / w),
            reset: ceil_secs(new_tat, l),
            retry_after: 0,
        }
    } else {
        let wait = new_tat - w * l - now;
        RateLimitStatus {
            limit: limit.limit(),
            remaining: 0,
            reset: ceil_secs(tat, l),
            retry_after: u64::try_from(ceil_div(wait, l * NANOS_PER_SEC))
                .unwrap_or(u64::MAX)
                .max(1),
        }
    };
    GcraDecision {
        allowed,
        new_tat,
        status,
    }
}

/// The limit as it stands at `now`, taking nothing.
pub fn peek(limit: RateLimit, tat: Option<i128>, now: OffsetDateTime) -> RateLimitStatus {
    let (l, w, now) = scaled(limit, now);
    let tat = tat.map_or(now, |tat| tat.max(now));
    RateLimitStatus {
        limit: limit.limit(),
        remaining: clamp_u32((w * l - (tat - now)) / w),
        reset: ceil_secs(tat, l),
        retry_after: 0,
    }
}

/// Whether a stored scaled TAT is in the past at `now`: the account is then exactly as a
/// fresh one, and its entry can be dropped.
pub fn is_idle(limit_scale: u32, tat: i128, now: OffsetDateTime) -> bool {
    tat <= now.unix_timestamp_nanos() * i128::from(limit_scale)
}

fn scaled(limit: RateLimit, now: OffsetDateTime) -> (i128, i128, i128) {
    let l = i128::from(limit.limit());
    let w = i128::from(limit.window_seconds()) * NANOS_PER_SEC;
    (l, w, now.unix_timestamp_nanos() * l)
}

fn ceil_div(a: i128, b: i128) -> i128 {
    (a + b - 1).div_euclid(b)
}

fn ceil_secs(scaled: i128, l: i128) -> i64 {
    i64::try_from(ceil_div(scaled, l * NANOS_PER_SEC)).unwrap_or(i64::MAX)
}

fn clamp_u32(value: i128) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

    #[test]
    fn a_fresh_key_bursts_to_the_limit_then_waits_one_step() {
        let limit = RateLimit::new(3, 60).unwrap();
        let mut tat = None;
        for remaining in [2, 1, 0] {
            let d = check(limit, tat, T0);
            assert!(d.allowed);
            assert_eq!(d.status.remaining, remaining);
            tat = Some(d.new_tat);
        }
        let refused = check(limit, tat, T0);
        assert!(!refused.allowed);
        assert_eq!(refused.status.retry_after, 20);
        assert_eq!(refused.status.reset, T0.unix_timestamp() + 60);
        // One step later exactly one more request fits.
        let later = T0 + Duration::seconds(20);
        let d = check(limit, tat, later);
        assert!(d.allowed);
        assert_eq!(d.status.remaining, 0);
        assert!(!check(limit, Some(d.new_tat), later).allowed);
    }

    #[test]
    fn retry_after_is_at_least_one_second_and_rounds_up() {
        let limit = RateLimit::new(1000, 1).unwrap();
        let mut tat = None;
        for _ in 0..1000 {
            let d = check(limit, tat, T0);
            assert!(d.allowed);
            tat = Some(d.new_tat);
        }
        let refused = check(limit, tat, T0);
        assert!(!refused.allowed);
        assert_eq!(refused.status.retry_after, 1);
    }

    #[test]
    fn limits_that_do_not_divide_the_window_stay_exact() {
        // 7 per 10 s: the 8th in the same instant is refused, whatever the rounding.
        let limit = RateLimit::new(7, 10).unwrap();
        let mut tat = None;
        for _ in 0..7 {
            let d = check(limit, tat, T0);
            assert!(d.allowed);
            tat = Some(d.new_tat);
        }
        assert!(!check(limit, tat, T0).allowed);
        // After the full window everything is back.
        let status = peek(limit, tat, T0 + Duration::seconds(10));
        assert_eq!(status.remaining, 7);
        assert!(is_idle(7, tat.unwrap(), T0 + Duration::seconds(10)));
        assert!(!is_idle(7, tat.unwrap(), T0 + Duration::seconds(9)));
    }

    #[test]
    fn peek_takes_nothing() {
        let limit = RateLimit::new(2, 60).unwrap();
        let first = check(limit, None, T0);
        let seen = peek(limit, Some(first.new_tat), T0);
        assert_eq!(seen.remaining, 1);
        assert_eq!(check(limit, Some(first.new_tat), T0).status.remaining, 0);
    }
}
