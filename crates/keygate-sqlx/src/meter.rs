//! [`SqlMeter`]: credits and one-time tokens in SQL, rate limits in this process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use keygate_core::meter::{
    CreditDebit, MAX_CREDITS, MeterDecision, MeterRequest, RateLimitCharge, RateLimitStatus, gcra,
};
use keygate_core::{Meter, StoreError};
use time::OffsetDateTime;

use crate::backend::{Pool, on_pool};
use crate::error::store_error;
use crate::row::micros;
use crate::store::{SqlStore, db_of};

/// Sweep idle rate-limit entries, and purge expired one-time tokens, every this many
/// calls.
const SWEEP_EVERY: u64 = 1024;
/// Used one-time tokens are kept this long past their expiry, so an instance whose clock
/// lags another's (up to the 60 s that token verification tolerates) still finds them.
const USED_TOKEN_MARGIN_MICROS: i64 = 120_000_000;
const MAX_BALANCE: i64 = i64::MAX;

// Takes `$3` credits from account `$1`, seeding it with `$2` if it is new; returns the
// new balance, or no row when the balance is short. One statement: the conditional update
// and the seed are one atomic step on both backends.
const DEBIT: &str = "INSERT INTO kg_credits (account, balance) SELECT $1, $2 - $3 WHERE $2 >= $3 \
     ON CONFLICT (account) DO UPDATE SET balance = kg_credits.balance - $3 \
     WHERE kg_credits.balance >= $3 RETURNING balance";
const BALANCE: &str = "SELECT balance FROM kg_credits WHERE account = $1";
// Adds `$3` to account `$1` (seeding it with `$2`), saturating at the largest balance.
const CREDIT: &str = "INSERT INTO kg_credits (account, balance) VALUES ($1, $2) \
     ON CONFLICT (account) DO UPDATE SET balance = CASE \
     WHEN kg_credits.balance > $4 - $3 THEN $4 ELSE kg_credits.balance + $3 END \
     RETURNING balance";
// Records a one-time token's use; no row changes when it was used before.
const USE_TOKEN: &str = "INSERT INTO kg_used_tokens (token_id, expires_at) VALUES ($1, $2) \
     ON CONFLICT (token_id) DO NOTHING";
const PURGE_TOKENS: &str = "DELETE FROM kg_used_tokens WHERE expires_at < $1";

/// Counters for a SQL deployment: credit balances and the one-time-token ledger in the
/// database, shared by every instance; rate limits in this process.
///
/// - **Credits**: one conditional upsert per request (`… DO UPDATE SET balance = balance -
///   cost WHERE balance >= cost RETURNING balance`): concurrent requests on any number of
///   instances never overspend. The first request of a lineage seeds its row with the
///   key's allowance.
/// - **One-time tokens**: an insert-once ledger (`ON CONFLICT DO NOTHING`): a token is
///   used once across every instance. Rows are purged two minutes after the token
///   expires.
/// - **Rate limits** are GCRA in this process's memory, **per instance**: with `n`
///   instances behind a load balancer a key can get up to `n` times its limit. Use the
///   Redis meter for one limit across instances.
///
/// A request is decided all or nothing, as [`Meter`] requires. The rate-limit slot is
/// taken first (a rate-limited request never reaches the database); credits and the
/// token ledger are then one transaction; if that refuses the request or fails, the slot
/// is given back. So a request refused for credits takes no slot, and a replayed
/// one-time token costs no credits. A request with nothing but a rate limit costs no
/// database round trip; one with credits or a one-time token costs one statement (two
/// plus `BEGIN`/`COMMIT` when it has both).
///
/// Clones share the rate-limit state and the pool.
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
    /// state: build one per process and clone it.
    pub fn meter(&self) -> SqlMeter {
        SqlMeter {
            pool: self.pool.clone(),
            rates: Arc::new(Mutex::new(RateTable::default())),
            calls: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// account → (scaled TAT, the limit it is scaled by); see [`gcra`].
#[derive(Default)]
struct RateTable(HashMap<String, (i128, u32)>);

impl RateTable {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn tat(&self, account: &str, limit: u32) -> Option<i128> {
        let (tat, scale) = *self.0.get(account)?;
        Some(if scale == limit {
            tat
        } else {
            tat / i128::from(scale.max(1)) * i128::from(limit)
        })
    }

    /// Takes a slot if the limit allows it.
    fn take(&mut self, charge: &RateLimitCharge<'_>, now: OffsetDateTime) -> gcra::GcraDecision {
        let limit = charge.limit.limit();
        let decision = gcra::check(charge.limit, self.tat(charge.account, limit), now);
        if decision.allowed {
            match self.0.get_mut(charge.account) {
                Some(slot) => *slot = (decision.new_tat, limit),
                None => {
                    self.0
                        .insert(charge.account.to_owned(), (decision.new_tat, limit));
                }
            }
        }
        decision
    }

    /// Gives back a slot [`take`](Self::take) took: one step of the limit. Exact when no
    /// other request ran in between; otherwise still one slot, never more.
    fn give_back(&mut self, charge: &RateLimitCharge<'_>) {
        let limit = charge.limit.limit();
        if let Some((tat, scale)) = self.0.get_mut(charge.account)
            && *scale == limit
        {
            *tat -= i128::from(charge.limit.window_seconds()) * 1_000_000_000;
        }
    }

    fn peek(&self, charge: &RateLimitCharge<'_>, now: OffsetDateTime) -> RateLimitStatus {
        gcra::peek(
            charge.limit,
            self.tat(charge.account, charge.limit.limit()),
            now,
        )
    }

    fn sweep(&mut self, now: OffsetDateTime) {
        self.0
            .retain(|_, (tat, scale)| !gcra::is_idle(*scale, *tat, now));
    }
}

/// What the SQL part of a request decided.
enum Ledger {
    Allowed { credits_remaining: Option<u64> },
    InsufficientCredits { remaining: u64 },
    AlreadyUsed,
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value.min(MAX_CREDITS)).unwrap_or(MAX_BALANCE)
}

fn to_u64(balance: i64) -> Result<u64, StoreError> {
    u64::try_from(balance).map_err(|_| StoreError::corrupt("a stored credit balance is negative"))
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

    /// Credits and the one-time ledger, in one transaction when both apply.
    async fn ledger(&self, request: &MeterRequest<'_>) -> Result<Ledger, StoreError> {
        let debit = request.credits;
        let use_ = request.one_time;
        on_pool!(&self.pool, pool => {
            async {
                let mut tx = match (debit, use_) {
                    (Some(_), Some(_)) => Some(pool.begin_with(db_of(pool).begin()).await?),
                    _ => None,
                };
                let mut credits_remaining = None;
                if let Some(debit) = debit {
                    let account = debit.account;
                    let allowance = to_i64(debit.allowance);
                    let balance: Option<i64> = if debit.cost == 0 {
                        // Nothing to take: read the balance (or the allowance of a new one).
                        let query = sqlx::query_scalar(BALANCE).bind(account);
                        let found: Option<i64> = match tx.as_mut() {
                            Some(tx) => query.fetch_optional(&mut **tx).await?,
                            None => query.fetch_optional(pool).await?,
                        };
                        Some(found.unwrap_or(allowance))
                    } else {
                        let query = sqlx::query_scalar(DEBIT)
                            .bind(account)
                            .bind(allowance)
                            .bind(to_i64(debit.cost));
                        match tx.as_mut() {
                            Some(tx) => query.fetch_optional(&mut **tx).await?,
                            None => query.fetch_optional(pool).await?,
                        }
                    };
                    match balance {
                        Some(balance) => credits_remaining = Some(balance),
                        None => {
                            let query = sqlx::query_scalar(BALANCE).bind(account);
                            let found: Option<i64> = match tx.as_mut() {
                                Some(tx) => query.fetch_optional(&mut **tx).await?,
                                None => query.fetch_optional(pool).await?,
                            };
                            if let Some(tx) = tx {
                                tx.rollback().await?;
                            }
                            return Ok(Err(found.unwrap_or(allowance)));
                        }
                    }
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
                        return Ok(Ok(None));
                    }
                }
                if let Some(tx) = tx {
                    tx.commit().await?;
                }
                Ok::<_, sqlx::Error>(Ok(Some(credits_remaining)))
            }
            .await
        })
        .map_err(store_error)
        .and_then(|outcome| match outcome {
            Ok(Some(remaining)) => Ok(Ledger::Allowed {
                credits_remaining: remaining.map(to_u64).transpose()?,
            }),
            Ok(None) => Ok(Ledger::AlreadyUsed),
            Err(remaining) => Ok(Ledger::InsufficientCredits {
                remaining: to_u64(remaining)?,
            }),
        })
    }

    async fn add(&self, account: &str, amount: u64, allowance: u64) -> Result<u64, StoreError> {
        let seed = allowance.saturating_add(amount).min(MAX_CREDITS);
        let balance: i64 = on_pool!(&self.pool, pool => {
            sqlx::query_scalar(CREDIT)
                .bind(account)
                .bind(to_i64(seed))
                .bind(to_i64(amount))
                .bind(MAX_BALANCE)
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

        // The rate limit first, in memory: a limited request never reaches the database.
        let rate = match &request.rate_limit {
            Some(charge) => {
                let mut table = self.lock();
                if sweep {
                    table.sweep(request.now);
                }
                let decision = table.take(charge, request.now);
                if !decision.allowed {
                    return Ok(MeterDecision::RateLimited(decision.status));
                }
                Some(decision.status)
            }
            None => None,
        };
        if request.credits.is_none() && request.one_time.is_none() {
            return Ok(MeterDecision::Allowed {
                rate_limit: rate,
                credits_remaining: None,
            });
        }

        let outcome = self.ledger(request).await;
        let give_back = || {
            request.rate_limit.map(|charge| {
                let mut table = self.lock();
                table.give_back(&charge);
                table.peek(&charge, request.now)
            })
        };
        let decision = match outcome {
            Ok(Ledger::Allowed { credits_remaining }) => MeterDecision::Allowed {
                rate_limit: rate,
                credits_remaining,
            },
            Ok(Ledger::InsufficientCredits { remaining }) => MeterDecision::InsufficientCredits {
                remaining,
                rate_limit: give_back(),
            },
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
        Ok(decision)
    }

    async fn refund(&self, debit: &CreditDebit<'_>) -> Result<(), StoreError> {
        self.add(debit.account, debit.cost, debit.allowance)
            .await
            .map(|_| ())
    }

    async fn add_credits(
        &self,
        account: &str,
        amount: u64,
        allowance: u64,
    ) -> Result<u64, StoreError> {
        self.add(account, amount, allowance).await
    }

    async fn credits(&self, account: &str, allowance: u64) -> Result<u64, StoreError> {
        let found: Option<i64> = on_pool!(&self.pool, pool => {
            sqlx::query_scalar(BALANCE)
                .bind(account)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        found.map_or(Ok(allowance.min(MAX_CREDITS)), to_u64)
    }
}
