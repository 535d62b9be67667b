//! Credit balances as the SQL meter binds and reads them: the refill times a statement
//! applies refills with, a new row's refill columns, and balance conversions.

use keygate_core::StoreError;
use keygate_core::account::Refill;
use keygate_core::meter::window::period_end;
use keygate_core::meter::{CreditBalance, MAX_CREDITS, Period};
use time::OffsetDateTime;

use super::MAX_BALANCE;
use crate::row::{micros, refill_amount, refill_from};

pub(super) fn to_i64(value: u64) -> i64 {
    i64::try_from(value.min(MAX_CREDITS)).unwrap_or(MAX_BALANCE)
}

/// The times a statement applies refills with: now, and the first daily and monthly
/// boundaries after it (Unix microseconds).
#[derive(Clone, Copy)]
pub(super) struct Boundaries {
    pub(super) now: i64,
    pub(super) day: i64,
    pub(super) month: i64,
}

pub(super) fn secs_to_micros(secs: i64) -> i64 {
    secs.saturating_mul(1_000_000)
}

impl Boundaries {
    pub(super) fn at(now: OffsetDateTime) -> Self {
        Self {
            now: micros(now),
            day: secs_to_micros(period_end(Period::Day, now)),
            month: secs_to_micros(period_end(Period::Month, now)),
        }
    }

    /// A time at which no refill is due: for refunds, which belong to the period of the
    /// debit they give back.
    pub(super) fn never() -> Self {
        Self {
            now: i64::MIN,
            day: i64::MAX,
            month: i64::MAX,
        }
    }
}

/// A new row's refill columns: amount, interval, next boundary after `now` (`None` for a
/// refund's seed: due at once, since the settlement has no time of its own).
pub(super) fn seed_refill(
    refill: Option<Refill>,
    now: Option<OffsetDateTime>,
) -> (Option<i64>, Option<&'static str>, Option<i64>) {
    match refill {
        None => (None, None, None),
        Some(refill) => (
            Some(refill_amount(&refill)),
            Some(refill.interval().as_str()),
            Some(now.map_or(0, |now| secs_to_micros(refill.next_boundary(now)))),
        ),
    }
}

/// A balance row as [`BALANCE`] reads it.
pub(super) fn balance_of(
    row: (i64, Option<i64>, Option<String>),
) -> Result<CreditBalance, StoreError> {
    Ok(CreditBalance {
        credits: to_u64(row.0)?,
        refill: refill_from(row.1, row.2.as_deref())?,
    })
}

pub(super) fn to_u64(balance: i64) -> Result<u64, StoreError> {
    u64::try_from(balance).map_err(|_| StoreError::corrupt("a stored credit balance is negative"))
}
