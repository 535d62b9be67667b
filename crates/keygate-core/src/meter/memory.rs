use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{CreditDebit, MAX_CREDITS, Meter, MeterDecision, MeterRequest, gcra};
use crate::store::StoreError;

/// Sweep idle entries every this many requests.
const SWEEP_EVERY: u64 = 1024;

/// Counters in process memory: exact for one process, not shared between instances.
/// Clones share the same counters.
///
/// Memory stays bounded: rate-limit entries are dropped once their account is fully
/// replenished and one-time-token entries once the token has expired (both are then
/// indistinguishable from having no entry), in a sweep every 1024 requests. Credit
/// balances are kept, one per key.
#[derive(Clone, Default)]
pub struct MemoryMeter {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// account → (scaled TAT, the limit it is scaled by).
    rate: HashMap<String, (i128, u32)>,
    /// account → balance.
    credits: HashMap<String, u64>,
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

    /// Entries currently held (rate limits, balances, used tokens): for tests of the
    /// memory bound.
    pub fn len(&self) -> usize {
        let state = self.lock();
        state.rate.len() + state.credits.len() + state.used.len()
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
            .field("rate_limits", &state.rate.len())
            .field("balances", &state.credits.len())
            .field("used_tokens", &state.used.len())
            .finish()
    }
}

impl State {
    fn sweep(&mut self, now: OffsetDateTime) {
        let now_nanos = now.unix_timestamp_nanos();
        self.rate
            .retain(|_, (tat, scale)| !gcra::is_idle(*scale, *tat, now));
        self.used.retain(|_, expires| *expires > now_nanos);
    }

    fn tat(&self, account: &str, limit: u32) -> Option<i128> {
        let (tat, scale) = *self.rate.get(account)?;
        // A changed limit rescales the stored time; nothing is lost but rounding.
        Some(if scale == limit {
            tat
        } else {
            tat / i128::from(scale.max(1)) * i128::from(limit)
        })
    }

    fn balance(&self, account: &str, allowance: u64) -> u64 {
        self.credits.get(account).copied().unwrap_or(allowance)
    }

    fn set_balance(&mut self, account: &str, balance: u64) {
        match self.credits.get_mut(account) {
            Some(slot) => *slot = balance,
            None => {
                self.credits.insert(account.to_owned(), balance);
            }
        }
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

        // Decide everything first…
        let rate = request.rate_limit.map(|charge| {
            let tat = state.tat(charge.account, charge.limit.limit());
            (charge, gcra::check(charge.limit, tat, request.now))
        });
        if let Some((_, decision)) = rate
            && !decision.allowed
        {
            return Ok(MeterDecision::RateLimited(decision.status));
        }
        let credits = request.credits.map(|debit| {
            let balance = state.balance(debit.account, debit.allowance);
            (debit, balance)
        });
        if let Some((debit, balance)) = credits
            && balance < debit.cost
        {
            let rate_limit = request.rate_limit.map(|charge| {
                let tat = state.tat(charge.account, charge.limit.limit());
                gcra::peek(charge.limit, tat, request.now)
            });
            return Ok(MeterDecision::InsufficientCredits {
                remaining: balance,
                rate_limit,
            });
        }
        if let Some(use_) = request.one_time
            && state.used.contains_key(use_.token_id)
        {
            return Ok(MeterDecision::AlreadyUsed);
        }

        // …then commit all of it.
        if let Some((charge, decision)) = rate {
            let scale = charge.limit.limit();
            match state.rate.get_mut(charge.account) {
                Some(slot) => *slot = (decision.new_tat, scale),
                None => {
                    state
                        .rate
                        .insert(charge.account.to_owned(), (decision.new_tat, scale));
                }
            }
        }
        let credits_remaining = credits.map(|(debit, balance)| {
            let left = balance - debit.cost;
            state.set_balance(debit.account, left);
            left
        });
        if let Some(use_) = request.one_time {
            state.used.insert(
                use_.token_id.to_owned(),
                use_.expires_at.unix_timestamp_nanos(),
            );
        }
        Ok(MeterDecision::Allowed {
            rate_limit: rate.map(|(_, decision)| decision.status),
            credits_remaining,
        })
    }

    async fn refund(&self, debit: &CreditDebit<'_>) -> Result<(), StoreError> {
        let mut state = self.lock();
        let balance = state.balance(debit.account, debit.allowance);
        state.set_balance(
            debit.account,
            balance.saturating_add(debit.cost).min(MAX_CREDITS),
        );
        Ok(())
    }

    async fn release_one_time(&self, token_id: &str) -> Result<(), StoreError> {
        self.lock().used.remove(token_id);
        Ok(())
    }

    async fn add_credits(
        &self,
        account: &str,
        amount: u64,
        allowance: u64,
    ) -> Result<u64, StoreError> {
        let mut state = self.lock();
        let balance = state
            .balance(account, allowance)
            .saturating_add(amount)
            .min(MAX_CREDITS);
        state.set_balance(account, balance);
        Ok(balance)
    }

    async fn credits(&self, account: &str, allowance: u64) -> Result<u64, StoreError> {
        Ok(self.lock().balance(account, allowance))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::RateLimit;
    use crate::meter::{OneTimeUse, RateLimitCharge};
    use time::Duration;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

    fn request(now: OffsetDateTime) -> MeterRequest<'static> {
        MeterRequest {
            now,
            rate_limit: None,
            credits: None,
            one_time: None,
        }
    }

    #[tokio::test]
    async fn a_refused_request_commits_nothing() {
        let meter = MemoryMeter::new();
        let limit = RateLimit::new(2, 60).unwrap();
        let req = MeterRequest {
            rate_limit: Some(RateLimitCharge {
                account: "k",
                limit,
            }),
            credits: Some(CreditDebit {
                account: "k",
                cost: 5,
                allowance: 4,
            }),
            one_time: Some(OneTimeUse {
                token_id: "t",
                expires_at: T0 + Duration::minutes(5),
            }),
            ..request(T0)
        };
        let decision = meter.meter(&req).await.unwrap();
        let MeterDecision::InsufficientCredits {
            remaining: 4,
            rate_limit: Some(status),
        } = decision
        else {
            panic!("{decision:?}");
        };
        assert_eq!(status.remaining, 2, "no rate-limit slot taken");
        // The token was not consumed and the slot not taken: a cheaper request passes.
        let cheaper = MeterRequest {
            credits: Some(CreditDebit {
                cost: 4,
                ..req.credits.unwrap()
            }),
            ..req
        };
        let MeterDecision::Allowed {
            rate_limit: Some(status),
            credits_remaining: Some(0),
        } = meter.meter(&cheaper).await.unwrap()
        else {
            panic!("should pass");
        };
        assert_eq!(status.remaining, 1);
        // Credits are checked before the token: with the balance at 0 the replay is
        // refused for credits; without a debit, for the used token.
        let replay = MeterRequest {
            credits: None,
            ..req
        };
        assert_eq!(
            meter.meter(&replay).await.unwrap(),
            MeterDecision::AlreadyUsed
        );
    }

    #[tokio::test]
    async fn memory_is_bounded_by_sweeping_idle_entries() {
        let meter = MemoryMeter::new();
        let limit = RateLimit::new(10, 1).unwrap();
        let accounts: Vec<String> = (0..5000).map(|i| format!("acct{i}")).collect();
        let tokens: Vec<String> = (0..5000).map(|i| format!("tok{i}")).collect();
        for (account, token) in accounts.iter().zip(&tokens) {
            let req = MeterRequest {
                rate_limit: Some(RateLimitCharge { account, limit }),
                one_time: Some(OneTimeUse {
                    token_id: token,
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

    #[tokio::test]
    async fn credits_seed_from_the_allowance_and_saturate() {
        let meter = MemoryMeter::new();
        assert_eq!(meter.credits("k", 10).await.unwrap(), 10);
        assert_eq!(meter.add_credits("k", 5, 10).await.unwrap(), 15);
        assert_eq!(meter.credits("k", 10).await.unwrap(), 15);
        assert_eq!(
            meter.add_credits("k", u64::MAX, 0).await.unwrap(),
            MAX_CREDITS
        );
        meter
            .refund(&CreditDebit {
                account: "k",
                cost: 1,
                allowance: 0,
            })
            .await
            .unwrap();
        assert_eq!(meter.credits("k", 0).await.unwrap(), MAX_CREDITS);
    }
}
