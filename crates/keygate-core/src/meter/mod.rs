//! Shared counters: rate limits, credits and one-time-token use, behind one [`Meter`]
//! call per request.
//!
//! The engine asks the meter once per request with everything the request needs counted
//! ([`MeterRequest`]): a rate-limit slot, a credit debit, a one-time token to consume. The
//! meter decides all three together and commits all or nothing: a request refused for
//! credits does not spend a rate-limit slot, and a replayed one-time token costs nothing.
//! On Redis this is one script, one round trip.

pub mod gcra;
mod memory;

pub use memory::MemoryMeter;

use std::fmt;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::key::RateLimit;
use crate::store::StoreError;

/// The largest credit balance a meter keeps (fits a signed 64-bit database column).
pub const MAX_CREDITS: u64 = i64::MAX as u64;

/// What one request needs counted.
#[derive(Debug, Clone, Copy)]
pub struct MeterRequest<'a> {
    /// The time of the request, from the engine's [`Clock`](crate::Clock).
    pub now: OffsetDateTime,
    /// Take one slot of this rate limit, counted against this account.
    pub rate_limit: Option<RateLimitCharge<'a>>,
    /// Deduct credits.
    pub credits: Option<CreditDebit<'a>>,
    /// Consume a one-time token.
    pub one_time: Option<OneTimeUse<'a>>,
}

/// A rate-limit slot to take.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitCharge<'a> {
    /// The counter: a key's lineage id.
    pub account: &'a str,
    /// The limit that applies.
    pub limit: RateLimit,
}

/// Credits to deduct (or, in [`Meter::refund`], to give back).
#[derive(Debug, Clone, Copy)]
pub struct CreditDebit<'a> {
    /// The balance: a key's lineage id.
    pub account: &'a str,
    /// Credits this request costs.
    pub cost: u64,
    /// The balance to start from when the meter has none yet for this account (the key's
    /// allowance at creation). A meter backed by the key table ignores it.
    pub allowance: u64,
}

/// A one-time token to consume.
#[derive(Debug, Clone, Copy)]
pub struct OneTimeUse<'a> {
    /// The token's `jti`.
    pub token_id: &'a str,
    /// When the token expires; the meter may forget it after that.
    pub expires_at: OffsetDateTime,
}

/// The state of a rate limit after a request, for the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// Requests allowed per window.
    pub limit: u32,
    /// Requests still allowed right now.
    pub remaining: u32,
    /// When the limit is fully replenished, in Unix seconds.
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

/// What the meter decided. Nothing was committed unless it is [`MeterDecision::Allowed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterDecision {
    /// Every counter allowed the request and was updated.
    Allowed {
        /// The rate limit after this request, if one applied.
        rate_limit: Option<RateLimitStatus>,
        /// Credits left after the debit, if credits applied.
        credits_remaining: Option<u64>,
    },
    /// The rate limit is used up.
    RateLimited(RateLimitStatus),
    /// Fewer credits than the request costs.
    InsufficientCredits {
        /// Credits left.
        remaining: u64,
        /// The rate limit as it stands (this request took no slot).
        rate_limit: Option<RateLimitStatus>,
    },
    /// The one-time token was already used.
    AlreadyUsed,
}

/// Shared counters. Implementations decide a [`MeterRequest`] atomically: all counters
/// allow it and all are updated, or nothing changes.
#[async_trait]
pub trait Meter: Send + Sync + fmt::Debug + 'static {
    /// Decides and, if allowed, commits everything `request` asks for.
    async fn meter(&self, request: &MeterRequest<'_>) -> Result<MeterDecision, StoreError>;

    /// Gives back credits taken by an allowed request that was rejected after all (see
    /// [`Keygate::settle`](crate::Keygate::settle)).
    async fn refund(&self, debit: &CreditDebit<'_>) -> Result<(), StoreError>;

    /// Gives back the use of one-time token `token_id`, taken by an allowed request that
    /// was refused after all (a 4xx answer, see [`Keygate::settle`](crate::Keygate::settle)):
    /// the token can be used again until it expires. Releasing a token that is not
    /// recorded as used does nothing.
    ///
    /// Required, with no default: a meter that silently kept the use would burn tokens
    /// the contract says a refused request leaves unused.
    async fn release_one_time(&self, token_id: &str) -> Result<(), StoreError>;

    /// Adds `amount` credits to `account` (saturating at [`MAX_CREDITS`]) and returns the
    /// new balance; `allowance` seeds an account the meter has not seen.
    async fn add_credits(
        &self,
        account: &str,
        amount: u64,
        allowance: u64,
    ) -> Result<u64, StoreError>;

    /// The current balance of `account`; `allowance` when the meter has not seen it.
    async fn credits(&self, account: &str, allowance: u64) -> Result<u64, StoreError>;
}

#[async_trait]
impl<M: Meter + ?Sized> Meter for std::sync::Arc<M> {
    async fn meter(&self, request: &MeterRequest<'_>) -> Result<MeterDecision, StoreError> {
        (**self).meter(request).await
    }
    async fn refund(&self, debit: &CreditDebit<'_>) -> Result<(), StoreError> {
        (**self).refund(debit).await
    }
    async fn release_one_time(&self, token_id: &str) -> Result<(), StoreError> {
        (**self).release_one_time(token_id).await
    }
    async fn add_credits(
        &self,
        account: &str,
        amount: u64,
        allowance: u64,
    ) -> Result<u64, StoreError> {
        (**self).add_credits(account, amount, allowance).await
    }
    async fn credits(&self, account: &str, allowance: u64) -> Result<u64, StoreError> {
        (**self).credits(account, allowance).await
    }
}
