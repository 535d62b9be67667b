//! What a request asks the meter to count ([`MeterRequest`]) and to give back
//! ([`Settlement`]).

use std::borrow::Cow;
use std::fmt;

use time::OffsetDateTime;

use crate::account::Refill;
use crate::key::RateLimit;

/// What one request needs counted: any number of charges, then credits, then a one-time
/// token, decided together and committed all or nothing.
///
/// `charges` is a slice so the common single charge needs no allocation:
///
/// ```
/// use keygate_core::key::RateLimit;
/// use keygate_core::meter::{Charge, Limit, MeterAccount, MeterRequest};
///
/// let charge = Charge {
///     account: MeterAccount::key_lineage("key_0123"),
///     limit: Limit::Rate(RateLimit::new(100, 60)?),
/// };
/// let request = MeterRequest {
///     now: time::OffsetDateTime::UNIX_EPOCH,
///     charges: std::slice::from_ref(&charge),
///     credits: None,
///     one_time: None,
/// };
/// assert_eq!(request.charges.len(), 1);
/// # Ok::<(), keygate_core::key::RateLimitError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MeterRequest<'a> {
    /// The time of the request, from the engine's [`Clock`](crate::Clock).
    pub now: OffsetDateTime,
    /// Counters to take one from, each against its account. A refusal names the charge by
    /// its index in this slice.
    pub charges: &'a [Charge<'a>],
    /// Credits to deduct.
    pub credits: Option<CreditDebit<'a>>,
    /// A one-time token to consume.
    pub one_time: Option<OneTimeUse<'a>>,
}

impl MeterRequest<'_> {
    /// Whether the request asks for nothing (the meter then need not be called).
    pub fn is_empty(&self) -> bool {
        self.charges.is_empty() && self.credits.is_none() && self.one_time.is_none()
    }
}

/// One counter to take a unit from: `limit`, counted against `account`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge<'a> {
    /// Whose counter.
    pub account: MeterAccount<'a>,
    /// The limit that applies.
    pub limit: Limit,
}

/// An account counters are kept for: a kind and an id.
///
/// Counters are per `(kind, id)`: a user `acme` and a tenant `acme` count separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MeterAccount<'a> {
    /// What the id names.
    pub kind: AccountKind,
    /// The id: a lineage id, `<tenant>/<owner>`, a user id or a tenant id.
    pub id: &'a str,
}

impl<'a> MeterAccount<'a> {
    /// A key's lineage (the id its first version was created with; rotations keep it).
    pub const fn key_lineage(id: &'a str) -> Self {
        Self {
            kind: AccountKind::KeyLineage,
            id,
        }
    }

    /// An owner account, `<tenant>/<owner>`: it owns keys and a balance they share.
    pub const fn owner(id: &'a str) -> Self {
        Self {
            kind: AccountKind::Owner,
            id,
        }
    }

    /// A user (the subject of a user JWT).
    pub const fn user(id: &'a str) -> Self {
        Self {
            kind: AccountKind::User,
            id,
        }
    }

    /// A tenant.
    pub const fn tenant(id: &'a str) -> Self {
        Self {
            kind: AccountKind::Tenant,
            id,
        }
    }
}

/// What a [`MeterAccount`]'s id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AccountKind {
    /// A key lineage.
    KeyLineage,
    /// An owner account, `<tenant>/<owner>`.
    Owner,
    /// A user.
    User,
    /// A tenant.
    Tenant,
}

impl AccountKind {
    /// A short lower-case name (`key_lineage`, `owner`, `user`, `tenant`), for counter
    /// keys and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::KeyLineage => "key_lineage",
            Self::Owner => "owner",
            Self::User => "user",
            Self::Tenant => "tenant",
        }
    }
}

impl fmt::Display for AccountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a [`Charge`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// A GCRA rate limit: bursts up to the limit, refilling smoothly (see
    /// [`gcra`](super::gcra)).
    Rate(RateLimit),
    /// A fixed window: a count per UTC day or month, reset at the boundary.
    Window(WindowLimit),
}

impl Limit {
    /// Requests allowed per window (the `X-RateLimit-Limit` value).
    pub fn count(&self) -> u32 {
        match self {
            Self::Rate(rate) => rate.limit(),
            Self::Window(window) => window.count(),
        }
    }
}

/// A quota: at most `count` requests per UTC day or UTC month; the count starts again at
/// the boundary (midnight UTC, or the first of the month at midnight UTC). "5 per day":
///
/// ```
/// use keygate_core::meter::{Period, WindowLimit};
///
/// let quota = WindowLimit::per_day(5)?;
/// assert_eq!((quota.count(), quota.period()), (5, Period::Day));
/// assert!(WindowLimit::per_month(0).is_err());
/// # Ok::<(), keygate_core::meter::WindowLimitError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowLimit {
    count: u32,
    period: Period,
}

/// The calendar period of a [`WindowLimit`], in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Period {
    /// From midnight UTC to the next midnight UTC.
    Day,
    /// From the first of a month, midnight UTC, to the first of the next.
    Month,
}

/// A [`WindowLimit`] with a count of 0: a quota must allow at least one request (to
/// refuse every request, do not grant the route).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a quota allows at least 1 request per period; use a count of 1 or more")]
pub struct WindowLimitError;

impl WindowLimit {
    /// `count` requests per UTC day; `count` is at least 1.
    pub const fn per_day(count: u32) -> Result<Self, WindowLimitError> {
        Self::new(count, Period::Day)
    }

    /// `count` requests per UTC month; `count` is at least 1.
    pub const fn per_month(count: u32) -> Result<Self, WindowLimitError> {
        Self::new(count, Period::Month)
    }

    /// `count` requests per `period`; `count` is at least 1.
    pub const fn new(count: u32, period: Period) -> Result<Self, WindowLimitError> {
        if count == 0 {
            return Err(WindowLimitError);
        }
        Ok(Self { count, period })
    }

    /// Requests allowed per period.
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// The period the count resets with.
    pub const fn period(&self) -> Period {
        self.period
    }
}

/// Credits to deduct (or, in a [`Settlement`], to give back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditDebit<'a> {
    /// The balance.
    pub account: CreditAccount<'a>,
    /// Credits this request costs.
    pub cost: u64,
    /// The balance to start from when the meter has none yet for a key lineage (the key's
    /// allowance at creation). Ignored for an owner account: one the meter has no balance
    /// for is not metered.
    pub allowance: u64,
    /// The refill rule stored with a new key lineage's balance (the key's). Ignored for an
    /// owner account, whose rule is kept with its balance.
    pub refill: Option<Refill>,
}

impl CreditDebit<'_> {
    /// What a new balance of this account starts from.
    pub fn seed(&self) -> super::CreditSeed {
        super::CreditSeed {
            allowance: self.allowance,
            refill: self.refill,
        }
    }
}

/// An account that holds a credit balance: a key lineage or an owner account. (Users and
/// tenants hold no balance, so they cannot be named here.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CreditAccount<'a> {
    /// A key lineage id: the balance of a key and its rotations.
    KeyLineage(&'a str),
    /// An owner account, `<tenant>/<owner>`: one balance shared by its keys.
    Owner(&'a str),
}

/// Prefix of an owner account's [`CreditAccount::balance_key`].
pub const OWNER_BALANCE_PREFIX: &str = "owner:";

impl<'a> CreditAccount<'a> {
    /// The key a meter stores the balance under.
    ///
    /// A key lineage's balance is kept under the bare lineage id, as it always was, so
    /// balances stored before owner accounts existed stay readable. An owner account's is
    /// kept under `owner:<tenant>/<owner>`: a lineage id is a
    /// [`KeyId`](crate::key::KeyId) (`key_` and base62 characters), which never contains
    /// `:` or `/`, so the two can never collide.
    ///
    /// ```
    /// use keygate_core::meter::CreditAccount;
    ///
    /// assert_eq!(CreditAccount::KeyLineage("key_0123").balance_key(), "key_0123");
    /// assert_eq!(CreditAccount::Owner("acme/ada").balance_key(), "owner:acme/ada");
    /// ```
    pub fn balance_key(&self) -> Cow<'a, str> {
        match *self {
            Self::KeyLineage(id) => Cow::Borrowed(id),
            Self::Owner(id) => Cow::Owned(format!("{OWNER_BALANCE_PREFIX}{id}")),
        }
    }

    /// Whether the meter seeds a balance it has not seen from the request's allowance (a key
    /// lineage), or treats the account as not metered (an owner account, until credits are
    /// added or a refill set).
    pub const fn is_seeded(&self) -> bool {
        matches!(self, Self::KeyLineage(_))
    }

    /// The account as a [`MeterAccount`].
    pub const fn account(&self) -> MeterAccount<'a> {
        match *self {
            Self::KeyLineage(id) => MeterAccount::key_lineage(id),
            Self::Owner(id) => MeterAccount::owner(id),
        }
    }
}

impl<'a> From<CreditAccount<'a>> for MeterAccount<'a> {
    fn from(account: CreditAccount<'a>) -> Self {
        account.account()
    }
}

/// A one-time token to consume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneTimeUse<'a> {
    /// The token's `jti`.
    pub token_id: &'a str,
    /// When the token was issued (its `iat`). A meter whose ledger can lose entries (a
    /// Redis flushed or restarted without persistence) refuses a token issued before its
    /// ledger was last known complete, rather than let it be used twice.
    pub issued_at: OffsetDateTime,
    /// When the token expires; the meter may forget it after that.
    pub expires_at: OffsetDateTime,
}

/// What an allowed request gives back once it turned out to be refused after all (see
/// [`Keygate::settle`](crate::Keygate::settle)), applied atomically by
/// [`Meter::settle`](super::Meter::settle).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settlement<'a> {
    /// Credits to give back (the request's debit).
    pub credits: Option<CreditDebit<'a>>,
    /// The `jti` of a one-time token whose use is given back: it can be used again until
    /// it expires. Releasing a token not recorded as used does nothing.
    pub one_time: Option<&'a str>,
}

impl Settlement<'_> {
    /// Whether there is nothing to give back.
    pub fn is_empty(&self) -> bool {
        self.credits.is_none() && self.one_time.is_none()
    }
}
