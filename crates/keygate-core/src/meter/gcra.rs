//! The generic cell rate algorithm (GCRA), in whole microseconds.
//!
//! A limit of `L` requests per window `W` is kept as one number per account: the
//! *theoretical arrival time* (TAT), in whole microseconds since the Unix epoch (an
//! `i64`). Each admitted request moves it one *emission interval* `T` forward, where `T`
//! is `W / L` rounded **up** to a whole microsecond. A request at `now` is admitted when
//!
//! ```text
//! max(tat, now) + T - now  <=  L * T
//! ```
//!
//! that is, when the account is at most `L - 1` intervals ahead of the clock. A fresh
//! account (no TAT, or one in the past) therefore bursts exactly `L` requests in one
//! instant, then gets one request every `T`. With `T = W / L` exactly this is the classic
//! rule `new_tat - now <= W`; rounding `T` up and comparing with `L * T` (not `W`) keeps
//! the burst at exactly `L` where `W / L` is not a whole number of microseconds, and
//! never admits more than `L` per `W`.
//!
//! Why microseconds in an `i64`: every meter (memory, SQL, Redis) can keep the TAT as a
//! plain integer, and times stay below 2^53 (until the year 2255), so a Redis Lua script,
//! which computes in doubles, does this arithmetic exactly. Clocks are read to the
//! microsecond, rounded down.
//!
//! Compared with exact arithmetic (times in nanoseconds scaled by `L`, the previous
//! implementation, kept as the reference in `tests/gcra_equivalence.rs`) the decisions
//! are the same except for requests within 1 µs of the boundary, when `W / L` is a whole
//! number of microseconds (all common limits: 100 per minute, 1000 per hour, ...). When it
//! is not, the rounding `δ = T - W / L < 1 µs` also shifts the boundary by up to
//! `max(L - 1, n) · δ`, where `n` counts the requests since the account was last idle;
//! the meter is then stricter, never more lenient, than exact arithmetic (up to 1 µs).
//!
//! The sustained rate, once the burst is spent, is `1 / T`, and `T` is rounded **up** to
//! a whole microsecond, so very high limits sustain less than configured: 999 999 per
//! second is `T = 2 µs`, so 500 000 per second sustained (600 000 per second is
//! `T = 2 µs` too; 1 000 000 per second is exactly `T = 1 µs`). The shortfall is under
//! `1 µs / T` of the limit: within one part in a million when `W / L` is a second or
//! more, and none when `W / L` is a whole number of microseconds. Bursts are exact: a
//! fresh account gets `L` requests at once whatever the rounding.

use time::OffsetDateTime;

use super::RateLimitStatus;
use crate::key::RateLimit;

const MICROS_PER_SEC: i64 = 1_000_000;

/// The latest time the meter reads, in Unix microseconds: later clocks are read as this.
/// It leaves room for a TAT up to 2^46 µs (over two years, more than any window plus its
/// burst) ahead, so every TAT stays below 2^53.
pub const MAX_MICROS: i64 = (1 << 53) - (1 << 46);

/// The outcome of one GCRA step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcraDecision {
    /// Whether the request is within the limit.
    pub allowed: bool,
    /// The TAT to store if the request is committed, in Unix microseconds.
    pub new_tat: i64,
    /// The headers' view of the limit.
    pub status: RateLimitStatus,
}

/// `now` in whole microseconds since the Unix epoch, rounded down, within
/// `0..=`[`MAX_MICROS`].
pub fn micros(now: OffsetDateTime) -> i64 {
    let micros = now.unix_timestamp_nanos().div_euclid(1000);
    i64::try_from(micros.clamp(0, i128::from(MAX_MICROS))).unwrap_or(MAX_MICROS)
}

/// The emission interval `T` of `limit`: `window / limit`, in microseconds, rounded up.
/// At least 1 (a limit admits at most a million per second).
pub fn emission_interval(limit: RateLimit) -> i64 {
    let window = i64::from(limit.window_seconds()) * MICROS_PER_SEC;
    ceil_div(window, i64::from(limit.limit())).max(1)
}

/// Decides one request at `now` against `limit`, given the stored TAT (`None` for a
/// fresh account).
pub fn check(limit: RateLimit, tat: Option<i64>, now: OffsetDateTime) -> GcraDecision {
    check_micros(limit, tat, micros(now))
}

/// [`check`] with the time already in microseconds (see [`micros`]).
pub fn check_micros(limit: RateLimit, tat: Option<i64>, now: i64) -> GcraDecision {
    let step = emission_interval(limit);
    let burst = step * i64::from(limit.limit());
    let tat = tat.map_or(now, |tat| tat.max(now));
    let new_tat = tat + step;
    let allowed = new_tat - now <= burst;
    let status = if allowed {
        RateLimitStatus {
            limit: limit.limit(),
            remaining: clamp_u32((burst - (new_tat - now)) / step),
            reset: ceil_secs(new_tat),
            retry_after: 0,
        }
    } else {
        RateLimitStatus {
            limit: limit.limit(),
            remaining: 0,
            reset: ceil_secs(tat),
            retry_after: u64::try_from(ceil_div(new_tat - burst - now, MICROS_PER_SEC))
                .unwrap_or(0)
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
pub fn peek(limit: RateLimit, tat: Option<i64>, now: OffsetDateTime) -> RateLimitStatus {
    peek_micros(limit, tat, micros(now))
}

/// [`peek`] with the time already in microseconds.
pub fn peek_micros(limit: RateLimit, tat: Option<i64>, now: i64) -> RateLimitStatus {
    let step = emission_interval(limit);
    let burst = step * i64::from(limit.limit());
    let tat = tat.map_or(now, |tat| tat.max(now));
    RateLimitStatus {
        limit: limit.limit(),
        remaining: clamp_u32((burst - (tat - now)) / step),
        reset: ceil_secs(tat),
        retry_after: 0,
    }
}

/// Whether a stored TAT is in the past at `now` (microseconds): the account is then
/// exactly as a fresh one, and its entry can be dropped.
pub fn is_idle(tat: i64, now: i64) -> bool {
    tat <= now
}

fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1).div_euclid(b)
}

fn ceil_secs(micros: i64) -> i64 {
    ceil_div(micros, MICROS_PER_SEC)
}

fn clamp_u32(value: i64) -> u32 {
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
    fn limits_that_do_not_divide_the_window_still_burst_exactly() {
        // 7 per 10 s: T = 1 428 572 µs (rounded up); the 8th in the same instant is
        // refused, the 7th is not.
        let limit = RateLimit::new(7, 10).unwrap();
        assert_eq!(emission_interval(limit), 1_428_572);
        let mut tat = None;
        for _ in 0..7 {
            let d = check(limit, tat, T0);
            assert!(d.allowed);
            tat = Some(d.new_tat);
        }
        assert!(!check(limit, tat, T0).allowed);
        let tat = tat.unwrap();
        // After 7 steps everything is back.
        let rested = T0 + Duration::microseconds(7 * 1_428_572);
        assert_eq!(peek(limit, Some(tat), rested).remaining, 7);
        assert!(is_idle(tat, micros(rested)));
        assert!(!is_idle(tat, micros(T0 + Duration::seconds(9))));
    }

    #[test]
    fn high_limits_sustain_one_request_per_rounded_up_interval() {
        // 999 999 per second: T = 1.000001 µs rounds up to 2 µs. The burst is exact,
        // the sustained rate is 1 / T = 500 000 per second (the module's docs).
        let limit = RateLimit::new(999_999, 1).unwrap();
        assert_eq!(emission_interval(limit), 2);
        let now = micros(T0);
        let mut tat = None;
        let mut burst = 0;
        while let d @ GcraDecision { allowed: true, .. } = check_micros(limit, tat, now) {
            burst += 1;
            tat = Some(d.new_tat);
        }
        assert_eq!(burst, 999_999);
        // Then one request a microsecond for 100 ms: one in two is admitted.
        let mut admitted = 0;
        for step in 1..=100_000 {
            let d = check_micros(limit, tat, now + step);
            if d.allowed {
                admitted += 1;
                tat = Some(d.new_tat);
            }
        }
        assert_eq!(admitted, 50_000);
    }

    #[test]
    fn peek_takes_nothing() {
        let limit = RateLimit::new(2, 60).unwrap();
        let first = check(limit, None, T0);
        let seen = peek(limit, Some(first.new_tat), T0);
        assert_eq!(seen.remaining, 1);
        assert_eq!(check(limit, Some(first.new_tat), T0).status.remaining, 0);
    }

    #[test]
    fn times_stay_below_2_pow_53() {
        let limit = RateLimit::new(1, 31_622_400).unwrap();
        let far = datetime!(9999-12-31 23:59 UTC);
        let d = check(limit, None, far);
        assert!(d.allowed);
        assert!(d.new_tat < 1 << 53);
        assert_eq!(micros(OffsetDateTime::UNIX_EPOCH - Duration::days(1)), 0);
        // Sub-microsecond times round down.
        assert_eq!(
            micros(T0 + Duration::nanoseconds(999)),
            T0.unix_timestamp() * 1_000_000
        );
    }
}
