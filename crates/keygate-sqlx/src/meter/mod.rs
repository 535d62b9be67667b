//! [`SqlMeter`]: credits, quotas (fixed windows) and one-time tokens in SQL, rate limits
//! in this process.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use keygate_core::account::Refill;
use keygate_core::meter::window::{self, period_end};
use keygate_core::meter::{
    Charge, ChargeStatus, CreditAccount, CreditBalance, CreditSeed, Limit, MAX_CREDITS,
    MeterDecision, MeterRequest, Period, RateLimitStatus, RateTable, SWEEP_EVERY, Settlement,
};
use keygate_core::{Meter, StoreError};
use time::OffsetDateTime;

use crate::backend::{Pool, on_pool};
use crate::error::store_error;
use crate::row::{micros, refill_amount};
use crate::store::{SqlStore, db_of};

mod balance;
mod statements;

use self::balance::{Boundaries, balance_of, secs_to_micros, seed_refill, to_i64, to_u64};
use self::statements::*;

/// Used one-time tokens are kept this long past their expiry. Token verification has no
/// leeway on expiry (a token is refused from `expires_at` on, by the verifying instance's
/// clock), so the margin is for clock skew between instances: a row purged by an instance
/// whose clock runs up to 120 s ahead of another's is gone only after that other instance
/// refuses the token as expired. With more skew than that, the lagging instance would
/// accept the token once more after the purge: keep instance clocks in sync (NTP).
const USED_TOKEN_MARGIN_MICROS: i64 = 120_000_000;
const MAX_BALANCE: i64 = i64::MAX;

/// Counters for a SQL deployment: credit balances, quotas and the one-time-token ledger in
/// the database, shared by every instance; rate limits in this process.
///
/// - **Credits**: one conditional upsert per request (`… DO UPDATE SET balance = balance -
///   cost WHERE balance >= cost RETURNING balance`): concurrent requests on any number of
///   instances never overspend. The first request of an account seeds its row with the
///   allowance. Rows are keyed by [`CreditAccount::balance_key`]: a key lineage by its
///   bare id (as before owner accounts existed), an owner account by
///   `owner:<tenant>/<owner>`.
/// - **One-time tokens**: an insert-once ledger (`ON CONFLICT DO NOTHING`): a token is
///   used once across every instance. Rows are purged two minutes after the token
///   expires. [`Meter::settle`] deletes the token's row, so it can be used again.
/// - **Quotas** (fixed windows per UTC day or month, [`Limit::Window`]): one conditional
///   upsert per window in `kg_windows` (`… DO UPDATE SET used = used + 1 WHERE used <
///   count`, a row whose period ended starting again from one), keyed
///   `<kind>:<day|month>:<id>`: shared by every instance, so a free allowance is one
///   allowance however many instances serve it. Rows whose period ended are deleted by
///   the meter's periodic sweep.
/// - **Rate limits** (GCRA) are counted in this process's memory (a [`RateTable`]), **per
///   instance**: with `n` instances behind a load balancer an account can get up to `n`
///   times its limit; a restart forgets them. Use the Redis meter for one count across
///   instances.
///
/// A request is decided all or nothing, as [`Meter`] requires. The rate limits are taken
/// first (a request a rate limit refuses never reaches the database); the windows,
/// credits and the token ledger are then one transaction (when more than one of them
/// applies); if that refuses the request or fails, it is rolled back and the rate limits
/// are given back. A rate limit refuses before a window does, whatever their order in the
/// request. So a request refused for credits takes no charge, and a
/// replayed one-time token costs no credits. The give-back is exact when no other request
/// of the account took a slot while the database was asked; otherwise a rate limit gets
/// back only the part of the request's own slot that has not expired by the latest
/// request time seen, so a slow database call can never free a slot that another request
/// holds. A request with nothing but rate limits costs no database round trip; one with a
/// quota, credits or a one-time token costs one statement each (plus `BEGIN`/`COMMIT`
/// when it has more than one); a settlement costs one or two.
///
/// Clones share the in-process counters and the pool.
#[derive(Clone)]
pub struct SqlMeter {
    pool: Pool,
    rates: Arc<Mutex<RateTable>>,
    calls: Arc<AtomicU64>,
}

impl std::fmt::Debug for SqlMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlMeter")
            .field("backend", &self.pool.backend())
            .field("rate_limits", &self.lock().len())
            .finish()
    }
}

impl SqlStore {
    /// A meter on this store's database. Each call makes a meter with its own rate-limit
    /// and quota counters: build one per process and clone it.
    pub fn meter(&self) -> SqlMeter {
        SqlMeter {
            pool: self.pool.clone(),
            rates: Arc::new(Mutex::new(RateTable::new())),
            calls: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// What the SQL part of a request decided. `windows` is the tightest window after the
/// request (allowed) or as it stands (refused for credits).
enum Ledger {
    Allowed {
        credits_remaining: Option<u64>,
        windows: Option<ChargeStatus>,
    },
    Limited {
        charge: usize,
        status: RateLimitStatus,
    },
    InsufficientCredits {
        remaining: u64,
        windows: Option<ChargeStatus>,
    },
    AlreadyUsed,
}

/// What the transaction's closure answers, before its numbers are checked.
enum Outcome {
    Allowed(Option<i64>),
    Limited(usize, RateLimitStatus),
    Short(i64),
    AlreadyUsed,
}

/// A window taken in the transaction: its charge index, limit and row after the take.
struct TakenWindow {
    charge: usize,
    limit: keygate_core::meter::WindowLimit,
    end: i64,
    used: u32,
}

/// The `kg_windows` row of a window charge: `<kind>:<day|month>:<id>`. Kinds and periods
/// contain no `:`, so two charges share a row exactly when they count the same thing.
fn window_counter(charge: &Charge<'_>, period: Period) -> String {
    let period = match period {
        Period::Day => "day",
        _ => "month",
    };
    format!(
        "{}:{period}:{}",
        charge.account.kind.as_str(),
        charge.account.id
    )
}

/// The tighter of two counters: fewer remaining, else the earlier charge.
fn tighter(a: Option<ChargeStatus>, b: Option<ChargeStatus>) -> Option<ChargeStatus> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let b_first = (b.status.remaining, b.charge) < (a.status.remaining, a.charge);
            Some(if b_first { b } else { a })
        }
        (a, b) => a.or(b),
    }
}

/// The tightest of the taken windows, after the take (`before`: as it stood before it).
fn windows_tightest(
    taken: &[TakenWindow],
    now: OffsetDateTime,
    before: bool,
) -> Option<ChargeStatus> {
    taken.iter().fold(None, |best, window| {
        let prior = (window.end, window.used.saturating_sub(1));
        let status = if before {
            window::peek(window.limit, Some(prior), now)
        } else {
            window::check(window.limit, Some(prior), now).status
        };
        tighter(
            best,
            Some(ChargeStatus {
                charge: window.charge,
                status,
            }),
        )
    })
}

impl SqlMeter {
    fn lock(&self) -> std::sync::MutexGuard<'_, RateTable> {
        // Each critical section leaves the table consistent.
        self.rates.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Deletes used one-time tokens that expired more than two minutes before `now`.
    /// The meter also does this every 1024 calls; call it from a maintenance job if you
    /// like.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let cutoff = micros(now).saturating_sub(USED_TOKEN_MARGIN_MICROS);
        let done = on_pool!(&self.pool, pool => {
            sqlx::query(PURGE_TOKENS)
                .bind(cutoff)
                .execute(pool)
                .await
                .map_err(store_error)?
                .rows_affected()
        });
        Ok(done)
    }

    /// Deletes the `kg_windows` rows whose period ended at or before `now`: they count as
    /// zero already. The meter also does this every 1024 calls with a window.
    pub async fn purge_ended_windows(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let done = on_pool!(&self.pool, pool => {
            sqlx::query(PURGE_WINDOWS)
                .bind(now.unix_timestamp())
                .execute(pool)
                .await
                .map_err(store_error)?
                .rows_affected()
        });
        Ok(done)
    }

    /// The windows, credits and the one-time ledger, in one transaction when more than
    /// one statement applies.
    async fn ledger(&self, request: &MeterRequest<'_>) -> Result<Ledger, StoreError> {
        let debit = request.credits;
        let use_ = request.one_time;
        let now = request.now;
        let now_secs = now.unix_timestamp();
        let windows: Vec<(usize, &Charge<'_>, keygate_core::meter::WindowLimit)> = request
            .charges
            .iter()
            .enumerate()
            .filter_map(|(index, charge)| match charge.limit {
                Limit::Window(limit) => Some((index, charge, limit)),
                _ => None,
            })
            .collect();
        let statements = windows.len() + usize::from(debit.is_some()) + usize::from(use_.is_some());
        let mut taken: Vec<TakenWindow> = Vec::with_capacity(windows.len());
        let outcome = on_pool!(&self.pool, pool => {
            async {
                let mut tx = if statements > 1 {
                    Some(pool.begin_with(db_of(pool).begin()).await?)
                } else {
                    None
                };
                for (index, charge, limit) in &windows {
                    let counter = window_counter(charge, limit.period());
                    let query = sqlx::query_as(TAKE_WINDOW)
                        .bind(counter)
                        .bind(period_end(limit.period(), now))
                        .bind(i64::from(limit.count()))
                        .bind(now_secs);
                    let row: Option<(i64, i64)> = match tx.as_mut() {
                        Some(tx) => query.fetch_optional(&mut **tx).await?,
                        None => query.fetch_optional(pool).await?,
                    };
                    match row {
                        Some((used, end)) => taken.push(TakenWindow {
                            charge: *index,
                            limit: *limit,
                            end,
                            used: u32::try_from(used).unwrap_or(u32::MAX),
                        }),
                        None => {
                            if let Some(tx) = tx {
                                tx.rollback().await?;
                            }
                            let full = (period_end(limit.period(), now), limit.count());
                            let status = window::check(*limit, Some(full), now).status;
                            return Ok(Outcome::Limited(*index, status));
                        }
                    }
                }
                let mut credits_remaining = None;
                if let Some(debit) = debit {
                    let key = debit.account.balance_key();
                    let account: &str = &key;
                    let allowance = to_i64(debit.allowance);
                    let seeded = debit.account.is_seeded();
                    let at = Boundaries::at(now);
                    let balance: Option<i64> = if debit.cost == 0 {
                        // Nothing to take: read the balance (or the allowance of a new key
                        // lineage; an owner account without one is not metered).
                        let query = sqlx::query_as(BALANCE).bind(account).bind(at.now);
                        let found: Option<(i64, Option<i64>, Option<String>)> = match tx.as_mut() {
                            Some(tx) => query.fetch_optional(&mut **tx).await?,
                            None => query.fetch_optional(pool).await?,
                        };
                        match found {
                            Some((balance, _, _)) => Some(balance),
                            None if seeded => Some(allowance),
                            None => None,
                        }
                    } else {
                        let (amount, interval, refill_at) = seed_refill(debit.refill, Some(now));
                        let query = sqlx::query_scalar(DEBIT)
                            .bind(account)
                            .bind(allowance)
                            .bind(to_i64(debit.cost))
                            .bind(amount)
                            .bind(interval)
                            .bind(refill_at)
                            .bind(seeded)
                            .bind(at.now)
                            .bind(at.day)
                            .bind(at.month);
                        let paid: Option<i64> = match tx.as_mut() {
                            Some(tx) => query.fetch_optional(&mut **tx).await?,
                            None => query.fetch_optional(pool).await?,
                        };
                        match paid {
                            Some(balance) => Some(balance),
                            None => {
                                let query = sqlx::query_as(BALANCE).bind(account).bind(at.now);
                                let found: Option<(i64, Option<i64>, Option<String>)> = match tx.as_mut() {
                                    Some(tx) => query.fetch_optional(&mut **tx).await?,
                                    None => query.fetch_optional(pool).await?,
                                };
                                match found {
                                    Some((balance, _, _)) => {
                                        if let Some(tx) = tx {
                                            tx.rollback().await?;
                                        }
                                        return Ok(Outcome::Short(balance));
                                    }
                                    // An owner account without a balance: not metered.
                                    None if !seeded => None,
                                    None => {
                                        if let Some(tx) = tx {
                                            tx.rollback().await?;
                                        }
                                        return Ok(Outcome::Short(allowance));
                                    }
                                }
                            }
                        }
                    };
                    credits_remaining = balance;
                }
                if let Some(use_) = use_ {
                    let query = sqlx::query(USE_TOKEN)
                        .bind(use_.token_id)
                        .bind(micros(use_.expires_at));
                    let inserted = match tx.as_mut() {
                        Some(tx) => query.execute(&mut **tx).await?,
                        None => query.execute(pool).await?,
                    }
                    .rows_affected();
                    if inserted == 0 {
                        if let Some(tx) = tx {
                            tx.rollback().await?;
                        }
                        return Ok(Outcome::AlreadyUsed);
                    }
                }
                if let Some(tx) = tx {
                    tx.commit().await?;
                }
                Ok::<_, sqlx::Error>(Outcome::Allowed(credits_remaining))
            }
            .await
        })
        .map_err(store_error)?;
        Ok(match outcome {
            Outcome::Allowed(remaining) => Ledger::Allowed {
                credits_remaining: remaining.map(to_u64).transpose()?,
                windows: windows_tightest(&taken, now, false),
            },
            Outcome::Limited(charge, status) => Ledger::Limited { charge, status },
            Outcome::Short(remaining) => Ledger::InsufficientCredits {
                remaining: to_u64(remaining)?,
                windows: windows_tightest(&taken, now, true),
            },
            Outcome::AlreadyUsed => Ledger::AlreadyUsed,
        })
    }

    async fn add(
        &self,
        account: CreditAccount<'_>,
        amount: u64,
        seed: CreditSeed,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let start = seed.allowance.saturating_add(amount).min(MAX_CREDITS);
        let key = account.balance_key();
        let (refill, interval, refill_at) = seed_refill(seed.refill, Some(now));
        let at = Boundaries::at(now);
        let balance: i64 = on_pool!(&self.pool, pool => {
            sqlx::query_scalar(CREDIT)
                .bind(&*key)
                .bind(to_i64(start))
                .bind(to_i64(amount))
                .bind(MAX_BALANCE)
                .bind(refill)
                .bind(interval)
                .bind(refill_at)
                .bind(at.now)
                .bind(at.day)
                .bind(at.month)
                .bind(true)
                .fetch_one(pool)
                .await
                .map_err(store_error)?
        });
        to_u64(balance)
    }
}

#[async_trait]
impl Meter for SqlMeter {
    async fn meter(&self, request: &MeterRequest<'_>) -> Result<MeterDecision, StoreError> {
        let calls = self.calls.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        let sweep = calls.is_multiple_of(SWEEP_EVERY);

        // The rate limits first, in memory: a request they refuse never reaches the
        // database. The windows are counted in SQL, with the credits.
        let has_windows = request
            .charges
            .iter()
            .any(|charge| matches!(charge.limit, Limit::Window(_)));
        // Each in-memory charge's index in the request.
        let (rates, positions): (Cow<'_, [Charge<'_>]>, Vec<usize>) = if has_windows {
            let (rates, positions): (Vec<Charge<'_>>, Vec<usize>) = request
                .charges
                .iter()
                .enumerate()
                .filter(|(_, charge)| !matches!(charge.limit, Limit::Window(_)))
                .map(|(index, charge)| (*charge, index))
                .unzip();
            (Cow::Owned(rates), positions)
        } else {
            (Cow::Borrowed(request.charges), Vec::new())
        };
        let original = |index: usize| {
            if has_windows {
                positions.get(index).copied().unwrap_or(index)
            } else {
                index
            }
        };
        let taken = if rates.is_empty() && !sweep {
            None
        } else {
            let mut table = self.lock();
            if sweep {
                table.sweep(request.now);
            }
            match table.take(&rates, request.now) {
                Ok(taken) => Some(taken),
                Err(refused) => {
                    return Ok(MeterDecision::Limited {
                        charge: original(refused.charge),
                        status: refused.status,
                    });
                }
            }
        };
        let remap = |status: Option<ChargeStatus>| {
            status.map(|status| ChargeStatus {
                charge: original(status.charge),
                ..status
            })
        };
        let tightest = remap(taken.and_then(|taken| taken.tightest()));
        if !has_windows && request.credits.is_none() && request.one_time.is_none() {
            return Ok(MeterDecision::Allowed {
                tightest,
                credits_remaining: None,
            });
        }

        let outcome = self.ledger(request).await;
        let give_back = || {
            let mut table = self.lock();
            if let Some(taken) = &taken {
                table.give_back(&rates, taken);
            }
            remap(table.peek(&rates, request.now))
        };
        let decision = match outcome {
            Ok(Ledger::Allowed {
                credits_remaining,
                windows,
            }) => MeterDecision::Allowed {
                tightest: tighter(tightest, windows),
                credits_remaining,
            },
            Ok(Ledger::Limited { charge, status }) => {
                give_back();
                MeterDecision::Limited { charge, status }
            }
            Ok(Ledger::InsufficientCredits { remaining, windows }) => {
                MeterDecision::InsufficientCredits {
                    remaining,
                    tightest: tighter(give_back(), windows),
                }
            }
            Ok(Ledger::AlreadyUsed) => {
                give_back();
                MeterDecision::AlreadyUsed
            }
            Err(err) => {
                give_back();
                return Err(err);
            }
        };
        if sweep
            && request.one_time.is_some()
            && let Err(err) = self.purge_expired(request.now).await
        {
            tracing::warn!(error = %err, "could not purge expired one-time tokens");
        }
        if sweep
            && has_windows
            && let Err(err) = self.purge_ended_windows(request.now).await
        {
            tracing::warn!(error = %err, "could not purge ended quota windows");
        }
        Ok(decision)
    }

    async fn settle(&self, settlement: &Settlement<'_>) -> Result<(), StoreError> {
        let refund = settlement.credits.map(|debit| {
            let seed = debit.allowance.saturating_add(debit.cost).min(MAX_CREDITS);
            (
                debit.account.balance_key(),
                to_i64(seed),
                to_i64(debit.cost),
                seed_refill(debit.refill, None),
                debit.account.is_seeded(),
            )
        });
        // A refund belongs to the period of its debit: it applies no refill.
        let at = Boundaries::never();
        let release = settlement.one_time;
        on_pool!(&self.pool, pool => {
            async {
                // Both in one transaction: given back together, or (on failure) neither.
                let mut tx = match (&refund, release) {
                    (Some(_), Some(_)) => Some(pool.begin_with(db_of(pool).begin()).await?),
                    _ => None,
                };
                if let Some((key, seed, cost, (refill, interval, refill_at), seeded)) = &refund {
                    let query = sqlx::query(CREDIT)
                        .bind(&**key)
                        .bind(*seed)
                        .bind(*cost)
                        .bind(MAX_BALANCE)
                        .bind(*refill)
                        .bind(*interval)
                        .bind(*refill_at)
                        .bind(at.now)
                        .bind(at.day)
                        .bind(at.month)
                        .bind(*seeded);
                    match tx.as_mut() {
                        Some(tx) => query.execute(&mut **tx).await?,
                        None => query.execute(pool).await?,
                    };
                }
                if let Some(token_id) = release {
                    let query = sqlx::query(RELEASE_TOKEN).bind(token_id);
                    match tx.as_mut() {
                        Some(tx) => query.execute(&mut **tx).await?,
                        None => query.execute(pool).await?,
                    };
                }
                if let Some(tx) = tx {
                    tx.commit().await?;
                }
                Ok::<_, sqlx::Error>(())
            }
            .await
        })
        .map_err(store_error)
    }

    async fn add_credits(
        &self,
        account: CreditAccount<'_>,
        amount: u64,
        seed: CreditSeed,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.add(account, amount, seed, now).await
    }

    async fn credits(
        &self,
        account: CreditAccount<'_>,
        seed: CreditSeed,
        now: OffsetDateTime,
    ) -> Result<Option<CreditBalance>, StoreError> {
        let key = account.balance_key();
        let found: Option<(i64, Option<i64>, Option<String>)> = on_pool!(&self.pool, pool => {
            sqlx::query_as(BALANCE)
                .bind(&*key)
                .bind(micros(now))
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        match found {
            Some(row) => balance_of(row).map(Some),
            None if account.is_seeded() => Ok(Some(CreditBalance {
                credits: seed.allowance.min(MAX_CREDITS),
                refill: seed.refill,
            })),
            None => Ok(None),
        }
    }

    async fn set_refill(
        &self,
        account: CreditAccount<'_>,
        refill: Option<Refill>,
        now: OffsetDateTime,
    ) -> Result<Option<CreditBalance>, StoreError> {
        let key = account.balance_key();
        let balance: Option<i64> = match refill {
            Some(rule) => {
                let next = secs_to_micros(rule.next_boundary(now));
                on_pool!(&self.pool, pool => {
                    sqlx::query_scalar(SET_REFILL)
                        .bind(&*key)
                        .bind(refill_amount(&rule))
                        .bind(rule.interval().as_str())
                        .bind(next)
                        .bind(micros(now))
                        .fetch_optional(pool)
                        .await
                        .map_err(store_error)?
                })
            }
            None => on_pool!(&self.pool, pool => {
                sqlx::query_scalar(CLEAR_REFILL)
                    .bind(&*key)
                    .bind(micros(now))
                    .fetch_optional(pool)
                    .await
                    .map_err(store_error)?
            }),
        };
        balance
            .map(|balance| {
                Ok(CreditBalance {
                    credits: to_u64(balance)?,
                    refill,
                })
            })
            .transpose()
    }
}
