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
/// Used one-time tokens are kept this long past their expiry. Token verification has no
/// leeway on expiry (a token is refused from `expires_at` on, by the verifying instance's
/// clock), so the margin is for clock skew between instances: a row purged by an instance
/// whose clock runs up to 120 s ahead of another's is gone only after that other instance
/// refuses the token as expired. With more skew than that, the lagging instance would
/// accept the token once more after the purge: keep instance clocks in sync (NTP).
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
// Gives a one-time token's use back (the request that took it was refused after all).
const RELEASE_TOKEN: &str = "DELETE FROM kg_used_tokens WHERE token_id = $1";
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
///   expires. [`Meter::release_one_time`] deletes the token's row, so it can be used
///   again.
/// - **Rate limits** are GCRA in this process's memory, **per instance**: with `n`
///   instances behind a load balancer a key can get up to `n` times its limit. Use the
///   Redis meter for one limit across instances.
///
/// A request is decided all or nothing, as [`Meter`] requires. The rate-limit slot is
/// taken first (a rate-limited request never reaches the database); credits and the
/// token ledger are then one transaction; if that refuses the request or fails, the slot
/// is given back. So a request refused for credits takes no slot, and a replayed
/// one-time token costs no credits. The give-back is exact when no other request of the
/// account took a slot while the database was asked; otherwise it returns only the part
/// of the request's own slot that has not expired by the latest request time seen, so a
/// slow database call can never free a slot that another request holds. A request with nothing but a rate limit costs no
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

/// account → its GCRA state; see [`gcra`].
#[derive(Default)]
struct RateTable {
    entries: HashMap<String, RateEntry>,
    /// Stamps every change to an entry, table-wide, so a stamp names one state of one
    /// entry.
    changes: u64,
}

struct RateEntry {
    /// The scaled TAT.
    tat: i128,
    /// The limit `tat` is scaled by.
    scale: u32,
    /// The latest request time this entry has seen, scaled.
    latest: i128,
    /// The stamp of the entry's creation (or last rescale): a give-back meant for an
    /// earlier entry under this account does nothing.
    born: u64,
    /// The stamp of the entry's last change.
    changed: u64,
}

/// What [`RateTable::take`] took, to give it back exactly or in part.
#[derive(Debug, Clone, Copy)]
struct Taken {
    /// The request's time, scaled.
    now: i128,
    born: u64,
    changed: u64,
}

impl RateTable {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn stamp(&mut self) -> u64 {
        self.changes = self.changes.wrapping_add(1);
        self.changes
    }

    fn tat(&self, account: &str, limit: u32) -> Option<i128> {
        let entry = self.entries.get(account)?;
        Some(if entry.scale == limit {
            entry.tat
        } else {
            entry.tat / i128::from(entry.scale.max(1)) * i128::from(limit)
        })
    }

    /// Takes a slot if the limit allows it.
    fn take(
        &mut self,
        charge: &RateLimitCharge<'_>,
        now: OffsetDateTime,
    ) -> (gcra::GcraDecision, Option<Taken>) {
        let limit = charge.limit.limit();
        let scaled_now = now.unix_timestamp_nanos() * i128::from(limit);
        let decision = gcra::check(charge.limit, self.tat(charge.account, limit), now);
        if let Some(entry) = self.entries.get_mut(charge.account)
            && entry.scale == limit
        {
            // Refused requests count too: a later time only shrinks what a give-back
            // may return.
            entry.latest = entry.latest.max(scaled_now);
        }
        if !decision.allowed {
            return (decision, None);
        }
        let changed = self.stamp();
        let born = match self.entries.get_mut(charge.account) {
            Some(entry) if entry.scale == limit => {
                entry.tat = decision.new_tat;
                entry.changed = changed;
                entry.born
            }
            Some(entry) => {
                // A changed limit: a new entry, as far as give-backs are concerned.
                *entry = RateEntry {
                    tat: decision.new_tat,
                    scale: limit,
                    latest: scaled_now,
                    born: changed,
                    changed,
                };
                changed
            }
            None => {
                self.entries.insert(
                    charge.account.to_owned(),
                    RateEntry {
                        tat: decision.new_tat,
                        scale: limit,
                        latest: scaled_now,
                        born: changed,
                        changed,
                    },
                );
                changed
            }
        };
        let taken = Taken {
            now: scaled_now,
            born,
            changed,
        };
        (decision, Some(taken))
    }

    /// Gives back what is left of a slot [`take`](Self::take) took, and never more:
    ///
    /// - if the entry has not changed since, the take is undone exactly (one step);
    /// - otherwise other requests took slots (or gave theirs back) meanwhile, and only the
    ///   part of this request's slot that is still ahead of every request time the entry
    ///   has seen is returned: `clamp(now + step - latest, 0, step)`, scaled.
    ///
    /// Why that is safe: the slot this request took ends at least one step after its own
    /// time, whatever came before it, and each later request, at a time no later than
    /// `latest`, can only have shifted what followed by less than what remained of it.
    /// So removing the request from the sequence of committed requests lowers their TAT
    /// by at least this much, and the stored TAT never drops below the one the admitted
    /// requests alone would give (the property test below checks it).
    fn give_back(&mut self, charge: &RateLimitCharge<'_>, taken: Taken) {
        let limit = charge.limit.limit();
        let step = i128::from(charge.limit.window_seconds()) * 1_000_000_000;
        let Some(entry) = self.entries.get(charge.account) else {
            return;
        };
        if entry.scale != limit || entry.born != taken.born {
            return;
        }
        let amount = if entry.changed == taken.changed {
            step
        } else {
            (taken.now + step - entry.latest).clamp(0, step)
        };
        let changed = self.stamp();
        if let Some(entry) = self.entries.get_mut(charge.account) {
            entry.tat -= amount;
            entry.changed = changed;
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
        self.entries
            .retain(|_, entry| !gcra::is_idle(entry.scale, entry.tat, now));
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
                let (decision, taken) = table.take(charge, request.now);
                match taken {
                    Some(taken) => Some((decision.status, *charge, taken)),
                    None => return Ok(MeterDecision::RateLimited(decision.status)),
                }
            }
            None => None,
        };
        if request.credits.is_none() && request.one_time.is_none() {
            return Ok(MeterDecision::Allowed {
                rate_limit: rate.map(|(status, _, _)| status),
                credits_remaining: None,
            });
        }

        let outcome = self.ledger(request).await;
        let give_back = || {
            rate.map(|(_, charge, taken)| {
                let mut table = self.lock();
                table.give_back(&charge, taken);
                table.peek(&charge, request.now)
            })
        };
        let decision = match outcome {
            Ok(Ledger::Allowed { credits_remaining }) => MeterDecision::Allowed {
                rate_limit: rate.map(|(status, _, _)| status),
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

    async fn release_one_time(&self, token_id: &str) -> Result<(), StoreError> {
        on_pool!(&self.pool, pool => {
            sqlx::query(RELEASE_TOKEN)
                .bind(token_id)
                .execute(pool)
                .await
                .map_err(store_error)?;
        });
        Ok(())
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use keygate_core::key::RateLimit;
    use proptest::prelude::*;
    use time::Duration;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

    fn charge(limit: RateLimit) -> RateLimitCharge<'static> {
        RateLimitCharge {
            account: "k",
            limit,
        }
    }

    #[test]
    fn a_give_back_with_nothing_in_between_undoes_the_take() {
        let limit = RateLimit::new(3, 60).unwrap();
        let mut table = RateTable::default();
        let (first, _) = table.take(&charge(limit), T0);
        assert_eq!(first.status.remaining, 2);
        let (_, taken) = table.take(&charge(limit), T0 + Duration::seconds(1));
        table.give_back(&charge(limit), taken.unwrap());
        let (again, _) = table.take(&charge(limit), T0 + Duration::seconds(1));
        assert_eq!(
            again.status.remaining, 1,
            "the given-back slot is free again"
        );
    }

    /// The reviewer's case: A takes at T0 and waits on the database; B takes the refilled
    /// slot at T0 + 20 s; A gives back. C at T0 + 20 s must be refused.
    #[test]
    fn a_late_give_back_returns_nothing_of_an_expired_slot() {
        let limit = RateLimit::new(1, 10).unwrap();
        let mut table = RateTable::default();
        let (_, a) = table.take(&charge(limit), T0);
        let later = T0 + Duration::seconds(20);
        let (b, _) = table.take(&charge(limit), later);
        assert!(b.allowed);
        table.give_back(&charge(limit), a.unwrap());
        let (c, _) = table.take(&charge(limit), later);
        assert!(!c.allowed, "C shared B's window");
    }

    /// A give-back meant for an entry that was swept (or rescaled) since does nothing.
    #[test]
    fn a_give_back_to_a_new_entry_does_nothing() {
        let limit = RateLimit::new(2, 10).unwrap();
        let mut table = RateTable::default();
        let (_, a) = table.take(&charge(limit), T0);
        table.sweep(T0 + Duration::seconds(30));
        assert_eq!(table.len(), 0);
        let later = T0 + Duration::seconds(30);
        table.take(&charge(limit), later);
        let (full, _) = table.take(&charge(limit), later);
        assert_eq!(full.status.remaining, 0);
        table.give_back(&charge(limit), a.unwrap());
        assert!(!table.take(&charge(limit), later).0.allowed);
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// A request `dt` seconds after the previous one (may be negative: clocks of
        /// concurrent requests are not ordered).
        Take(i64),
        /// The SQL part of pending request `pick` (modulo) decided: `true` refused (give
        /// back), `false` allowed (keep).
        Settle(usize, bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (-2i64..6).prop_map(Op::Take),
            (any::<usize>(), any::<bool>()).prop_map(|(pick, refused)| Op::Settle(pick, refused)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Whatever the interleaving of takes and give-backs, the requests that stay
        /// admitted form a sequence the limit allows, and the stored TAT is never below
        /// the one those requests alone give (so no later request is over-admitted).
        #[test]
        fn give_backs_never_admit_more_than_the_limit(
            limit in 1u32..6,
            window in 1u32..11,
            ops in proptest::collection::vec(op(), 1..60),
        ) {
            let limit = RateLimit::new(limit, window).unwrap();
            let charge = charge(limit);
            let mut table = RateTable::default();
            let mut now = T0;
            // Admitted and not given back, in the order they were taken.
            let mut kept: Vec<(u64, OffsetDateTime)> = Vec::new();
            let mut pending: Vec<(u64, Taken)> = Vec::new();
            let mut next = 0u64;
            for op in ops {
                match op {
                    Op::Take(dt) => {
                        now += Duration::seconds(dt);
                        if let (_, Some(taken)) = table.take(&charge, now) {
                            next += 1;
                            kept.push((next, now));
                            pending.push((next, taken));
                        }
                    }
                    Op::Settle(pick, refused) => {
                        if pending.is_empty() {
                            continue;
                        }
                        let (id, taken) = pending.remove(pick % pending.len());
                        if refused {
                            table.give_back(&charge, taken);
                            kept.retain(|(kept_id, _)| *kept_id != id);
                        }
                    }
                }
                let mut tat = None;
                for (_, at) in &kept {
                    let replay = gcra::check(limit, tat, *at);
                    prop_assert!(replay.allowed, "more admitted than the limit allows");
                    tat = Some(replay.new_tat);
                }
                if let Some(tat) = tat {
                    prop_assert!(table.tat("k", limit.limit()).unwrap() >= tat);
                }
            }
        }
    }
}
