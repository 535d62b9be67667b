use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use time::OffsetDateTime;

use super::rate_table::{RateTable, SWEEP_EVERY};
use super::{
    CreditAccount, CreditBalance, CreditSeed, MAX_CREDITS, Meter, MeterDecision, MeterRequest,
    Settlement, StoredBalance,
};
use crate::account::Refill;
use crate::store::StoreError;

/// Counters in process memory: exact for one process, not shared between instances.
/// Clones share the same counters.
///
/// Rate limits and quotas live in a [`RateTable`]; credit balances and used one-time
/// tokens beside it, under one lock, so a request is decided all or nothing.
///
/// Memory stays bounded: rate-limit and quota entries are dropped once idle and
/// one-time-token entries once the token has expired (both are then indistinguishable
/// from having no entry), in a sweep every 1024 requests. Credit balances are kept, one
/// per account.
#[derive(Clone, Default)]
pub struct MemoryMeter {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    rates: RateTable,
    /// balance key (see [`CreditAccount::balance_key`]) → balance and refill rule.
    credits: HashMap<String, StoredBalance>,
    /// token id → expiry in Unix nanoseconds.
    used: HashMap<String, i128>,
    requests: u64,
}

impl MemoryMeter {
    /// An empty meter.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Each critical section below decides before it writes, so a poisoned lock holds
        // consistent counters.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Entries currently held (rate limits and quotas, balances, used tokens): for tests
    /// of the memory bound.
    pub fn len(&self) -> usize {
        let state = self.lock();
        state.rates.len() + state.credits.len() + state.used.len()
    }

    /// Whether the meter holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for MemoryMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryMeter")
            .field("rate_limits", &state.rates.len())
            .field("balances", &state.credits.len())
            .field("used_tokens", &state.used.len())
            .finish()
    }
}

impl State {
    fn sweep(&mut self, now: OffsetDateTime) {
        let now_nanos = now.unix_timestamp_nanos();
        self.rates.sweep(now);
        self.used.retain(|_, expires| *expires > now_nanos);
    }

    /// The balance of `account` at `now`, a due refill applied (and kept); a key lineage
    /// not seen yet is seeded (and kept) from `seed`, an owner account not seen is `None`.
    fn balance(
        &mut self,
        account: CreditAccount<'_>,
        seed: CreditSeed,
        now: OffsetDateTime,
    ) -> Option<&mut StoredBalance> {
        let key = account.balance_key();
        if !self.credits.contains_key(key.as_ref()) {
            if !account.is_seeded() {
                return None;
            }
            self.credits
                .insert(key.clone().into_owned(), StoredBalance::seeded(seed, now));
        }
        let balance = self.credits.get_mut(key.as_ref())?;
        balance.refresh(now);
        Some(balance)
    }

    fn add(
        &mut self,
        account: CreditAccount<'_>,
        amount: u64,
        seed: CreditSeed,
        now: OffsetDateTime,
    ) -> u64 {
        let key = account.balance_key();
        let balance = self
            .credits
            .entry(key.into_owned())
            .or_insert_with(|| StoredBalance::seeded(seed, now));
        balance.refresh(now);
        balance.credits = balance.credits.saturating_add(amount).min(MAX_CREDITS);
        balance.credits
    }
}

#[async_trait]
impl Meter for MemoryMeter {
    async fn meter(&self, request: &MeterRequest<'_>) -> Result<MeterDecision, StoreError> {
        let mut state = self.lock();
        state.requests = state.requests.wrapping_add(1);
        if state.requests.is_multiple_of(SWEEP_EVERY) {
            state.sweep(request.now);
        }

        // The charges first, taking only when every one allows (under this lock a
        // give-back below undoes the take exactly)…
        let taken = match state.rates.take(request.charges, request.now) {
            Ok(taken) => taken,
            Err(refused) => {
                return Ok(MeterDecision::Limited {
                    charge: refused.charge,
                    status: refused.status,
                });
            }
        };
        // …then credits (a due refill applied first; an owner account without a balance
        // is not metered)…
        let credits = request.credits.and_then(|debit| {
            let fresh = !state
                .credits
                .contains_key(debit.account.balance_key().as_ref());
            let balance = state.balance(debit.account, debit.seed(), request.now)?;
            Some((debit, balance.credits, fresh))
        });
        if let Some((debit, balance, fresh)) = credits
            && balance < debit.cost
        {
            if fresh {
                // A refused request stores nothing, not even the seed (as the SQL meter
                // inserts no row): the balance is seeded by the first debit it can pay.
                state.credits.remove(debit.account.balance_key().as_ref());
            }
            state.rates.give_back(request.charges, &taken);
            return Ok(MeterDecision::InsufficientCredits {
                remaining: balance,
                tightest: state.rates.peek(request.charges, request.now),
            });
        }
        // …then the one-time token…
        if let Some(use_) = request.one_time
            && state.used.contains_key(use_.token_id)
        {
            state.rates.give_back(request.charges, &taken);
            return Ok(MeterDecision::AlreadyUsed);
        }

        // …then commit the rest.
        let credits_remaining = credits.map(|(debit, balance, _)| {
            let left = balance - debit.cost;
            if let Some(stored) = state.credits.get_mut(debit.account.balance_key().as_ref()) {
                stored.credits = left;
            }
            left
        });
        if let Some(use_) = request.one_time {
            state.used.insert(
                use_.token_id.to_owned(),
                use_.expires_at.unix_timestamp_nanos(),
            );
        }
        Ok(MeterDecision::Allowed {
            tightest: taken.tightest(),
            credits_remaining,
        })
    }

    async fn settle(&self, settlement: &Settlement<'_>) -> Result<(), StoreError> {
        let mut state = self.lock();
        if let Some(debit) = settlement.credits {
            // A settlement has no time of its own: the refund is added as the balance
            // stands, without applying a refill.
            let key = debit.account.balance_key();
            match state.credits.get_mut(key.as_ref()) {
                Some(balance) => {
                    balance.credits = balance.credits.saturating_add(debit.cost).min(MAX_CREDITS);
                }
                None if debit.account.is_seeded() => {
                    let mut seed = debit.seed();
                    seed.allowance = seed.allowance.saturating_add(debit.cost).min(MAX_CREDITS);
                    let balance = StoredBalance {
                        credits: seed.allowance,
                        refill: seed.refill,
                        // With no time to count from, a rule is due at the next use (as
                        // the SQL meter seeds it).
                        refill_at: 0,
                    };
                    state.credits.insert(key.into_owned(), balance);
                }
                None => {}
            }
        }
        if let Some(token_id) = settlement.one_time {
            state.used.remove(token_id);
        }
        Ok(())
    }

    async fn add_credits(
        &self,
        account: CreditAccount<'_>,
        amount: u64,
        seed: CreditSeed,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        Ok(self.lock().add(account, amount, seed, now))
    }

    async fn credits(
        &self,
        account: CreditAccount<'_>,
        seed: CreditSeed,
        now: OffsetDateTime,
    ) -> Result<Option<CreditBalance>, StoreError> {
        let mut state = self.lock();
        if account.is_seeded() && !state.credits.contains_key(account.balance_key().as_ref()) {
            // Reading a key's balance stores nothing: its seed is what it reads as.
            let mut seeded = StoredBalance::seeded(seed, now);
            seeded.refresh(now);
            return Ok(Some(seeded.report()));
        }
        Ok(state
            .balance(account, seed, now)
            .map(|balance| balance.report()))
    }

    async fn set_refill(
        &self,
        account: CreditAccount<'_>,
        refill: Option<Refill>,
        now: OffsetDateTime,
    ) -> Result<Option<CreditBalance>, StoreError> {
        let mut state = self.lock();
        let key = account.balance_key();
        let balance = match (state.credits.get_mut(key.as_ref()), refill) {
            (Some(balance), _) => balance,
            (None, None) => return Ok(None),
            (None, Some(refill)) => {
                state
                    .credits
                    .entry(key.into_owned())
                    .or_insert(StoredBalance::seeded(
                        CreditSeed {
                            allowance: refill.amount(),
                            refill: Some(refill),
                        },
                        now,
                    ))
            }
        };
        balance.set_refill(refill, now);
        Ok(Some(balance.report()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use crate::key::RateLimit;
    use crate::meter::{Charge, Limit, MeterAccount, OneTimeUse};
    use time::Duration;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

    fn request(now: OffsetDateTime) -> MeterRequest<'static> {
        MeterRequest {
            now,
            charges: &[],
            credits: None,
            one_time: None,
        }
    }

    #[tokio::test]
    async fn memory_is_bounded_by_sweeping_idle_entries() {
        let meter = MemoryMeter::new();
        let limit = Limit::Rate(RateLimit::new(10, 1).unwrap());
        let accounts: Vec<String> = (0..5000).map(|i| format!("acct{i}")).collect();
        let tokens: Vec<String> = (0..5000).map(|i| format!("tok{i}")).collect();
        for (account, token) in accounts.iter().zip(&tokens) {
            let charge = Charge {
                account: MeterAccount::key_lineage(account),
                limit,
            };
            let req = MeterRequest {
                charges: std::slice::from_ref(&charge),
                one_time: Some(OneTimeUse {
                    token_id: token,
                    issued_at: T0,
                    expires_at: T0 + Duration::seconds(1),
                }),
                ..request(T0)
            };
            meter.meter(&req).await.unwrap();
        }
        assert_eq!(meter.len(), 10_000);
        // Later, every entry is idle; the sweeps that run as traffic continues drop them.
        let later = T0 + Duration::seconds(2);
        for _ in 0..SWEEP_EVERY {
            meter.meter(&request(later)).await.unwrap();
        }
        assert_eq!(meter.len(), 0);
    }
}
