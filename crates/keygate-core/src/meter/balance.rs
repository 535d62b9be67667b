//! Credit balances: what a new one starts from ([`CreditSeed`]), what a meter reports
//! ([`CreditBalance`]), and how a [`Refill`] applies to a stored one ([`StoredBalance`]).

use time::OffsetDateTime;

use crate::account::Refill;

/// What a balance the meter has not seen yet starts from: a key's allowance and its refill
/// rule (from its [`KeyRecord`](crate::KeyRecord)). An owner account has none: it is not
/// metered until credits are added or a refill is set ([`CreditSeed::NONE`]).
///
/// ```
/// use keygate_core::account::{Refill, RefillInterval};
/// use keygate_core::meter::CreditSeed;
///
/// let refill = Refill::new(500, RefillInterval::Daily)?;
/// // A key created with a refill and no credits starts at the refill's amount.
/// assert_eq!(CreditSeed::of_key(None, Some(refill)).map(|s| s.allowance), Some(500));
/// assert_eq!(CreditSeed::of_key(None, None), None, "unlimited");
/// # Ok::<(), keygate_core::account::RefillError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreditSeed {
    /// The starting balance.
    pub allowance: u64,
    /// The refill rule stored with the new balance.
    pub refill: Option<Refill>,
}

impl CreditSeed {
    /// Nothing: a balance of 0 and no refill (what an owner account starts from when
    /// credits are first added to it).
    pub const NONE: Self = Self {
        allowance: 0,
        refill: None,
    };

    /// `allowance` credits and no refill.
    pub const fn credits(allowance: u64) -> Self {
        Self {
            allowance,
            refill: None,
        }
    }

    /// The seed of a key with `credits` and `refill`: the credits, else the refill's
    /// amount; `None` for a key with neither (it is unlimited).
    pub fn of_key(credits: Option<u64>, refill: Option<Refill>) -> Option<Self> {
        let allowance = credits.or(refill.map(|refill| refill.amount()))?;
        Some(Self { allowance, refill })
    }

    /// The seed of a key created at `created_at`, as its balance stands at `now`: once a
    /// boundary of its refill has passed since the key's creation, the refill's amount
    /// (the first boundary counts from the creation, not from the first time a meter
    /// sees the key). A meter seeding a balance at `now` then counts the next boundary
    /// from `now`, which is the same boundary when none has passed.
    ///
    /// ```
    /// use keygate_core::account::{Refill, RefillInterval};
    /// use keygate_core::meter::CreditSeed;
    /// use time::macros::datetime;
    ///
    /// let daily = Refill::new(100, RefillInterval::Daily)?;
    /// let seed = CreditSeed::of_key(Some(5), Some(daily)).unwrap();
    /// let created = datetime!(2031-01-01 9:00 UTC);
    /// assert_eq!(seed.as_of(created, datetime!(2031-01-01 23:00 UTC)).allowance, 5);
    /// assert_eq!(seed.as_of(created, datetime!(2031-01-03 8:00 UTC)).allowance, 100);
    /// # Ok::<(), keygate_core::account::RefillError>(())
    /// ```
    pub fn as_of(self, created_at: OffsetDateTime, now: OffsetDateTime) -> Self {
        match self.refill {
            Some(refill) if refill.next_boundary(created_at) <= now.unix_timestamp() => Self {
                allowance: refill.amount(),
                refill: self.refill,
            },
            _ => self,
        }
    }
}

/// A balance as a meter reports it: the credits (any due refill applied) and its refill
/// rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditBalance {
    /// Credits left.
    pub credits: u64,
    /// The refill rule kept with the balance.
    pub refill: Option<Refill>,
}

/// A stored balance: the credits, the refill rule, and the next boundary (Unix seconds)
/// at which the rule sets the credits back. For meters that keep balances in process or
/// write their own store; the SQL meter does the same in its statements.
///
/// ```
/// use keygate_core::account::{Refill, RefillInterval};
/// use keygate_core::meter::{CreditSeed, StoredBalance};
/// use time::macros::datetime;
///
/// let daily = Refill::new(10, RefillInterval::Daily)?;
/// let seed = CreditSeed { allowance: 10, refill: Some(daily) };
/// let mut balance = StoredBalance::seeded(seed, datetime!(2031-01-01 9:00 UTC));
/// balance.credits = 3;
/// assert!(!balance.refresh(datetime!(2031-01-01 23:59:59 UTC)));
/// assert!(balance.refresh(datetime!(2031-01-02 0:00 UTC)), "set back at midnight");
/// assert_eq!(balance.credits, 10);
/// assert!(!balance.refresh(datetime!(2031-01-02 0:00 UTC)), "once");
/// # Ok::<(), keygate_core::account::RefillError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBalance {
    /// Credits left, as stored.
    pub credits: u64,
    /// The refill rule.
    pub refill: Option<Refill>,
    /// When the rule next sets the credits back (Unix seconds; meaningless without a rule).
    pub refill_at: i64,
}

impl StoredBalance {
    /// A new balance from `seed`, at `now`: its first refill is at the next boundary.
    pub fn seeded(seed: CreditSeed, now: OffsetDateTime) -> Self {
        Self {
            credits: seed.allowance,
            refill: seed.refill,
            refill_at: next_refill(seed.refill, now),
        }
    }

    /// Applies the refill if a boundary has passed by `now`: the credits are set to the
    /// amount and the next boundary is the first after `now`. Returns whether it applied.
    pub fn refresh(&mut self, now: OffsetDateTime) -> bool {
        match self.refill {
            Some(refill) if now.unix_timestamp() >= self.refill_at => {
                self.credits = refill.amount();
                self.refill_at = refill.next_boundary(now);
                true
            }
            _ => false,
        }
    }

    /// Replaces the refill rule at `now` (a due refill of the old rule applied first);
    /// the credits are kept until the new rule's next boundary.
    pub fn set_refill(&mut self, refill: Option<Refill>, now: OffsetDateTime) {
        self.refresh(now);
        self.refill = refill;
        self.refill_at = next_refill(refill, now);
    }

    /// What a meter reports.
    pub fn report(&self) -> CreditBalance {
        CreditBalance {
            credits: self.credits,
            refill: self.refill,
        }
    }
}

/// The first boundary of `refill` after `now`; 0 without a rule.
fn next_refill(refill: Option<Refill>, now: OffsetDateTime) -> i64 {
    refill.map_or(0, |refill| refill.next_boundary(now))
}
