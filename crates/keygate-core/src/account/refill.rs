//! [`Refill`]: a balance set back to an amount at each UTC day or month boundary.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::meter::window::period_end;
use crate::meter::{MAX_CREDITS, Period};

/// At each boundary of `interval` (midnight UTC, or the first of the month at midnight
/// UTC) the balance is **set** to `amount` (not added to): lazily, by the first debit or
/// read after the boundary, once however many tasks and instances cross it together.
///
/// Serialized as `{"amount": 500, "interval": "daily"}`; `amount` is 1 to
/// [`MAX_CREDITS`].
///
/// ```
/// use keygate_core::account::{Refill, RefillInterval};
///
/// let refill: Refill = serde_json::from_str(r#"{"amount": 500, "interval": "monthly"}"#)?;
/// assert_eq!(refill, Refill::new(500, RefillInterval::Monthly)?);
/// assert!(serde_json::from_str::<Refill>(r#"{"amount": 0, "interval": "daily"}"#).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RefillFields")]
pub struct Refill {
    amount: u64,
    interval: RefillInterval,
}

/// How often a [`Refill`] sets the balance back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefillInterval {
    /// At every midnight UTC.
    Daily,
    /// On the first of every month, at midnight UTC.
    Monthly,
}

impl RefillInterval {
    /// `daily` or `monthly`, as in the API and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Monthly => "monthly",
        }
    }

    /// The interval named `daily` or `monthly`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "daily" => Some(Self::Daily),
            "monthly" => Some(Self::Monthly),
            _ => None,
        }
    }

    /// The calendar period it follows.
    pub const fn period(self) -> Period {
        match self {
            Self::Daily => Period::Day,
            Self::Monthly => Period::Month,
        }
    }
}

#[derive(Deserialize)]
struct RefillFields {
    amount: u64,
    interval: RefillInterval,
}

impl TryFrom<RefillFields> for Refill {
    type Error = RefillError;
    fn try_from(fields: RefillFields) -> Result<Self, Self::Error> {
        Refill::new(fields.amount, fields.interval)
    }
}

/// A refill amount of 0 or above [`MAX_CREDITS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("refill.amount: 1 to 9223372036854775807")]
pub struct RefillError;

impl Refill {
    /// `amount` credits at every boundary of `interval`; `amount` is 1 to [`MAX_CREDITS`].
    pub const fn new(amount: u64, interval: RefillInterval) -> Result<Self, RefillError> {
        if amount == 0 || amount > MAX_CREDITS {
            return Err(RefillError);
        }
        Ok(Self { amount, interval })
    }

    /// The balance after each boundary.
    pub const fn amount(&self) -> u64 {
        self.amount
    }

    /// How often.
    pub const fn interval(&self) -> RefillInterval {
        self.interval
    }

    /// The first boundary after `now`, in Unix seconds (`i64::MAX` past the last
    /// representable date).
    ///
    /// ```
    /// use keygate_core::account::{Refill, RefillInterval};
    /// use time::macros::datetime;
    ///
    /// let monthly = Refill::new(5, RefillInterval::Monthly)?;
    /// let next = monthly.next_boundary(datetime!(2031-02-14 9:30 UTC));
    /// assert_eq!(next, datetime!(2031-03-01 0:00 UTC).unix_timestamp());
    /// # Ok::<(), keygate_core::account::RefillError>(())
    /// ```
    pub fn next_boundary(&self, now: OffsetDateTime) -> i64 {
        period_end(self.interval.period(), now)
    }
}
