//! What the meter answers: [`MeterDecision`], and each counter's [`RateLimitStatus`].

/// The state of one counter (a rate limit or a quota) after a request, for the
/// `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// Requests allowed per window.
    pub limit: u32,
    /// Requests still allowed right now.
    pub remaining: u32,
    /// When the limit is fully replenished (a quota: when its period ends), in Unix
    /// seconds.
    pub reset: i64,
    /// Seconds to wait before retrying: at least 1 when refused, 0 when allowed.
    pub retry_after: u64,
}

/// Header carrying the limit.
pub const RATE_LIMIT_LIMIT: &str = "x-ratelimit-limit";
/// Header carrying the requests left.
pub const RATE_LIMIT_REMAINING: &str = "x-ratelimit-remaining";
/// Header carrying the reset time.
pub const RATE_LIMIT_RESET: &str = "x-ratelimit-reset";

/// Header carrying a quota's count per period.
pub const QUOTA_LIMIT: &str = "x-quota-limit";
/// Header carrying the requests a quota still allows this period.
pub const QUOTA_REMAINING: &str = "x-quota-remaining";

/// The contract's floor on every `Retry-After`: a refused client waits at least 1 s.
pub(crate) fn retry_wait(secs: u64) -> u64 {
    secs.max(1)
}

impl RateLimitStatus {
    /// Seconds a refused request should wait: at least 1, as `Retry-After` must say,
    /// even from a meter that reported 0. (For an allowed request, read `retry_after`.)
    pub fn retry_after_secs(&self) -> u64 {
        retry_wait(self.retry_after)
    }

    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (names in
    /// lower case, values as integers).
    pub fn headers(&self) -> [(&'static str, u64); 3] {
        [
            (RATE_LIMIT_LIMIT, u64::from(self.limit)),
            (RATE_LIMIT_REMAINING, u64::from(self.remaining)),
            (RATE_LIMIT_RESET, u64::try_from(self.reset).unwrap_or(0)),
        ]
    }
}

impl RateLimitStatus {
    /// `X-Quota-Limit` and `X-Quota-Remaining`, for a quota's counter.
    pub fn quota_headers(&self) -> [(&'static str, u64); 2] {
        [
            (QUOTA_LIMIT, u64::from(self.limit)),
            (QUOTA_REMAINING, u64::from(self.remaining)),
        ]
    }
}

/// One charge's counter after a request: which charge (its index in
/// [`MeterRequest::charges`](super::MeterRequest::charges)) and its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargeStatus {
    /// Index of the charge in the request.
    pub charge: usize,
    /// Its counter.
    pub status: RateLimitStatus,
}

impl ChargeStatus {
    /// The tightest of `statuses`: the fewest remaining, the first of equals. What the
    /// `X-RateLimit-*` headers show.
    ///
    /// ```
    /// use keygate_core::meter::{ChargeStatus, RateLimitStatus};
    ///
    /// let status = |remaining| RateLimitStatus { limit: 5, remaining, reset: 0, retry_after: 0 };
    /// let tightest = ChargeStatus::tightest([status(3), status(1), status(1)]);
    /// assert_eq!(tightest.map(|t| t.charge), Some(1));
    /// ```
    pub fn tightest(statuses: impl IntoIterator<Item = RateLimitStatus>) -> Option<Self> {
        statuses
            .into_iter()
            .enumerate()
            .map(|(charge, status)| Self { charge, status })
            .fold(None, |best: Option<Self>, next| match best {
                Some(best) if best.status.remaining <= next.status.remaining => Some(best),
                _ => Some(next),
            })
    }
}

/// What the meter decided. Nothing was committed unless it is [`MeterDecision::Allowed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterDecision {
    /// Every counter allowed the request and was updated.
    Allowed {
        /// The charge with the fewest remaining after this request (the first of equals),
        /// when the request had charges.
        tightest: Option<ChargeStatus>,
        /// Credits left after the debit, if credits applied.
        credits_remaining: Option<u64>,
    },
    /// Charge `charge` (an index into the request's charges: the first that refused) is
    /// used up. No charge took anything.
    Limited {
        /// Index of the refusing charge in the request.
        charge: usize,
        /// Its counter, with `retry_after` at least 1.
        status: RateLimitStatus,
    },
    /// Fewer credits than the request costs. No charge took anything.
    InsufficientCredits {
        /// Credits left.
        remaining: u64,
        /// The tightest charge as it stands (this request took nothing).
        tightest: Option<ChargeStatus>,
    },
    /// The one-time token was already used. Nothing was taken.
    AlreadyUsed,
}
