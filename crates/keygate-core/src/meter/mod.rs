//! Shared counters: rate limits, quotas, credits and one-time-token use, behind one
//! [`Meter`] call per request.
//!
//! The engine asks the meter once per request with everything the request needs counted
//! ([`MeterRequest`]): any number of [charges](Charge) (a GCRA [rate limit](Limit::Rate)
//! or a [fixed window](WindowLimit) per UTC day or month, each against an
//! [account](MeterAccount): a key lineage, an owner account, a user, a tenant), a credit
//! debit, a one-time token to consume. The meter decides all of it together and commits
//! all or nothing: a request refused by one charge takes nothing from the others, one
//! refused for credits takes no charge, and a replayed one-time token costs nothing. The
//! [decision](MeterDecision) names the charge that refused, or the tightest one for the
//! `X-RateLimit-*` headers. When the request turns out refused after all, one
//! [`Settlement`] gives back its credits and its token's use.
//!
//! Meters that count in process share a [`RateTable`]; the Redis meter keeps the same
//! numbers (GCRA times in whole microseconds, see [`gcra`]) in one script.

mod balance;
mod decision;
pub mod gcra;
mod memory;
mod rate_table;
mod request;
pub mod window;

pub use balance::{CreditBalance, CreditSeed, StoredBalance};
pub(crate) use decision::retry_wait;
pub use decision::{
    ChargeStatus, MeterDecision, QUOTA_LIMIT, QUOTA_REMAINING, RATE_LIMIT_LIMIT,
    RATE_LIMIT_REMAINING, RATE_LIMIT_RESET, RateLimitStatus,
};
pub use memory::MemoryMeter;
pub use rate_table::{RateTable, SWEEP_EVERY, Taken};
pub use request::{
    AccountKind, Charge, CreditAccount, CreditDebit, Limit, MeterAccount, MeterRequest,
    OWNER_BALANCE_PREFIX, OneTimeUse, Period, Settlement, WindowLimit, WindowLimitError,
};

use std::fmt;

use async_trait::async_trait;

use time::OffsetDateTime;

use crate::account::Refill;
use crate::store::StoreError;

/// The largest credit balance a meter keeps (fits a signed 64-bit database column).
pub const MAX_CREDITS: u64 = i64::MAX as u64;

/// Shared counters. Implementations decide a [`MeterRequest`] atomically: all counters
/// allow it and all are updated, or nothing changes.
///
/// Refusals are checked in this order, and the first one is the answer: the charges (in
/// the request's order), then credits, then the one-time token.
///
/// `keygate_core::testing::meter` (feature `testing`) is the suite every meter must
/// pass; `keygate_core::meter_suite!` (feature `testing`) runs it.
#[async_trait]
pub trait Meter: Send + Sync + fmt::Debug + 'static {
    /// Decides and, if allowed, commits everything `request` asks for.
    async fn meter(&self, request: &MeterRequest<'_>) -> Result<MeterDecision, StoreError>;

    /// Gives back what an allowed request took, once it was refused after all (see
    /// [`Keygate::settle`](crate::Keygate::settle)): its credits (saturating at
    /// [`MAX_CREDITS`]; an account the meter has not seen starts from the allowance) and
    /// its one-time token's use (the token can be used again until it expires; a token
    /// not recorded as used is left alone). Both or neither: when the meter fails,
    /// nothing was given back and the call can be retried.
    ///
    /// Required, with no default: a meter that silently kept a use would burn tokens the
    /// contract says a refused request leaves unused.
    async fn settle(&self, settlement: &Settlement<'_>) -> Result<(), StoreError>;

    /// Adds `amount` credits to `account` (saturating at [`MAX_CREDITS`]) and returns the
    /// new balance. A due refill is applied first. A balance the meter has not seen starts
    /// from `seed` (an owner account's from [`CreditSeed::NONE`]: adding credits makes it
    /// metered).
    async fn add_credits(
        &self,
        account: CreditAccount<'_>,
        amount: u64,
        seed: CreditSeed,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// The balance of `account` at `now`, a due refill applied. A key lineage the meter
    /// has not seen reads as `seed`; an owner account it has not seen is `None` (not
    /// metered).
    async fn credits(
        &self,
        account: CreditAccount<'_>,
        seed: CreditSeed,
        now: OffsetDateTime,
    ) -> Result<Option<CreditBalance>, StoreError>;

    /// Sets (or, with `None`, clears) the refill rule of `account` at `now` and returns the
    /// balance. A due refill of the old rule is applied first; the credits are then kept
    /// until the new rule's next boundary. A balance the meter has not seen starts at the
    /// rule's amount; clearing the rule of one creates nothing (`None`).
    async fn set_refill(
        &self,
        account: CreditAccount<'_>,
        refill: Option<Refill>,
        now: OffsetDateTime,
    ) -> Result<Option<CreditBalance>, StoreError>;
}

#[async_trait]
impl<M: Meter + ?Sized> Meter for std::sync::Arc<M> {
    async fn meter(&self, request: &MeterRequest<'_>) -> Result<MeterDecision, StoreError> {
        (**self).meter(request).await
    }
    async fn settle(&self, settlement: &Settlement<'_>) -> Result<(), StoreError> {
        (**self).settle(settlement).await
    }
    async fn add_credits(
        &self,
        account: CreditAccount<'_>,
        amount: u64,
        seed: CreditSeed,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        (**self).add_credits(account, amount, seed, now).await
    }
    async fn credits(
        &self,
        account: CreditAccount<'_>,
        seed: CreditSeed,
        now: OffsetDateTime,
    ) -> Result<Option<CreditBalance>, StoreError> {
        (**self).credits(account, seed, now).await
    }
    async fn set_refill(
        &self,
        account: CreditAccount<'_>,
        refill: Option<Refill>,
        now: OffsetDateTime,
    ) -> Result<Option<CreditBalance>, StoreError> {
        (**self).set_refill(account, refill, now).await
    }
}
