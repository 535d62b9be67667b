//! [`RedisMeter`]: rate limits, quotas and one-time tokens in one Redis script call per
//! request; credits in a durable ledger beside it.

mod replay;
mod script;

use std::time::Duration;

use async_trait::async_trait;
use keygate_core::account::Refill;
use keygate_core::meter::{
    CreditAccount, CreditBalance, CreditSeed, MeterDecision, MeterRequest, Settlement,
};
use keygate_core::{Meter, StoreError};
use time::OffsetDateTime;

use self::replay::Replay;
use self::script::{Keys, Outcome};
use crate::connection::RedisConnection;
use crate::error::bad_reply;

/// The clock-skew margin between instances for the one-time-token ledger: 2 minutes.
///
/// Redis keeps the used tokens in memory; a `FLUSHALL`, or a restart without
/// persistence, forgets them. So the first script call that finds the ledger's epoch key
/// missing (any metered request not refused by a limit) writes the caller's time into it:
/// the ledger is complete from then on. A
/// token used before the loss was issued before the loss, on some instance's clock; with
/// instance clocks within this margin of each other, it was issued before `epoch +
/// LEDGER_SKEW`. Such a token is refused as used (401 `token_used`), whatever the
/// ledger says; tokens issued later are decided by the ledger. One-time tokens live
/// minutes, so the cost of a flush is that tokens issued up to 2 minutes after it must
/// be minted again. Keep instance clocks in sync (NTP): with more skew, a token used
/// just before a flush could be used once more.
///
/// The epoch key has no TTL (one small key per prefix): expiring it would only refuse
/// more tokens. A brand-new deployment can record that its empty Redis is complete with
/// [`RedisMeter::declare_ledger_complete_since`] (or `SET '{<prefix>}:epoch' 0 NX`), so
/// its first tokens are not refused.
pub const LEDGER_SKEW: Duration = Duration::from_secs(120);

/// How long a used token's key outlives the token's expiry: a clock-skew margin, as the
/// SQL ledger keeps its rows (an instance whose clock lags still refuses the token as
/// expired once the key is gone).
pub const USED_TOKEN_MARGIN: Duration = Duration::from_secs(120);

/// A [`Meter`] for several instances: every rate limit and quota (GCRA and fixed
/// windows) of a request and its one-time token's use are decided in **one Lua script
/// call**, all or nothing, on Redis; credits are kept by `C`, a durable ledger (the SQL
/// store's meter, `keygate_sqlx::SqlStore::meter()`), used for credits only: balances,
/// owner accounts and refills are the ledger's, so a refill applies once across every
/// instance as the ledger guarantees.
///
/// # One request
///
/// 1. The script (EVALSHA; loaded once on `NOSCRIPT`) decides the charges in order,
///    then the token, with the caller's time (`request.now`, never Redis `TIME`), and
///    writes only if all of them allow. A refused charge or token: nothing changed, and
///    the ledger is not asked (a replayed token is answered `insufficient_credits`
///    rather than `token_used` only when the balance, read then, is short: the
///    [`Meter`] order, credits before the token).
/// 2. Credits, if any: one debit in the ledger (one SQL statement).
/// 3. If the ledger refuses (or fails), one give-back script call returns what step 1
///    took: the token's use is deleted, each window gets its unit back while its period
///    lasts, each rate limit is restored to its value before the request if no other
///    request changed it meanwhile (otherwise the slot stays taken: the meter errs
///    strict, never lenient). Only this refusal path makes the second call: an allowed
///    request costs exactly one Redis call.
///
/// A request with credits only goes to the ledger alone; one with charges or a token
/// costs one Redis call, plus one ledger statement with credits.
///
/// # Numbers and memory
///
/// GCRA times are the core's integer microseconds ([`keygate_core::meter::gcra`]), below
/// 2^53, so Lua's doubles compute them exactly; remaining, reset and retry-after are
/// computed in Rust by the same functions the memory and SQL meters use, from the stored
/// values the script reports. Every key has a TTL: a rate limit's when it is idle (its
/// TAT passed) and a window's at its period's end, each plus [`LEDGER_SKEW`] (so an
/// instance whose clock lags still finds it), a used token's at its expiry plus
/// [`USED_TOKEN_MARGIN`]; only the epoch key ([`LEDGER_SKEW`]) stays. Memory is therefore
/// one small key per active account and counter, and one per live used token.
///
/// # Failures
///
/// A Redis error or timeout is a [`StoreError`]: the engine answers 503
/// `auth_unavailable`, never admits, never charges (the script either ran, all of it, or
/// not). [`Meter::settle`] releases the token first (idempotent) and then refunds the
/// credits, so a failed settlement can be retried.
///
/// Clones share the connection and the ledger.
#[derive(Clone)]
pub struct RedisMeter<C> {
    redis: RedisConnection,
    credits: C,
}

impl<C: std::fmt::Debug> std::fmt::Debug for RedisMeter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisMeter")
            .field("redis", &self.redis)
            .field("credits", &self.credits)
            .finish()
    }
}

impl<C: Meter> RedisMeter<C> {
    /// A meter on `redis` with `credits` as the credit ledger (see
    /// [`RedisConnection::meter`]).
    pub fn new(redis: RedisConnection, credits: C) -> Self {
        Self { redis, credits }
    }

    /// The credit ledger.
    pub fn credit_ledger(&self) -> &C {
        &self.credits
    }

    /// The Redis connection.
    pub fn connection(&self) -> &RedisConnection {
        &self.redis
    }

    /// Declares the one-time-token ledger complete since `since`, if no epoch is recorded
    /// yet (`SET NX`); returns whether it was recorded. For a brand-new deployment, whose
    /// Redis never held a used token: without it, the first token request records its own
    /// time, and tokens issued in the [`LEDGER_SKEW`] after that are refused once. Never
    /// call it on a Redis that may have lost used tokens.
    pub async fn declare_ledger_complete_since(
        &self,
        since: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let key = format!("{{{}}}:epoch", self.redis.key_prefix());
        let micros = keygate_core::meter::gcra::micros(since);
        self.redis
            .call(|mut conn| async move {
                let set: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(micros)
                    .arg("NX")
                    .query_async(&mut conn)
                    .await?;
                Ok(set.is_some())
            })
            .await
    }

    async fn give_back(
        &self,
        keys: &Keys,
        request: &MeterRequest<'_>,
        replay: &Replay<'_, '_>,
    ) -> Result<(), StoreError> {
        let steps = replay.steps(request.charges.len().saturating_sub(1));
        let call = script::give_back(keys, request, &replay.stored, &steps);
        self.redis
            .call(|mut conn| async move { call.invoke_async::<i64>(&mut conn).await })
            .await
            .map(drop)
    }
}

#[async_trait]
impl<C: Meter> Meter for RedisMeter<C> {
    async fn meter(&self, request: &MeterRequest<'_>) -> Result<MeterDecision, StoreError> {
        if request.charges.is_empty() && request.one_time.is_none() {
            // Credits only (or nothing): the ledger alone.
            return self.credits.meter(request).await;
        }
        let keys = Keys::new(self.redis.key_prefix(), request)?;
        let call = script::take(&keys, request);
        let reply: Vec<i64> = self
            .redis
            .call(|mut conn| async move { call.invoke_async(&mut conn).await })
            .await?;
        let taken = script::read_take(&reply, request)?;
        let replay = Replay {
            charges: request.charges,
            stored: taken.stored,
            first: &keys.first,
            now: request.now,
        };
        match taken.outcome {
            Outcome::Limited(charge) => {
                let steps = replay.steps(charge);
                match steps.get(charge) {
                    Some(step) if !step.allowed => Ok(MeterDecision::Limited {
                        charge,
                        status: step.status,
                    }),
                    _ => Err(bad_reply("a refusal the core's arithmetic does not make")),
                }
            }
            Outcome::Used | Outcome::BeforeEpoch => {
                if taken.outcome == Outcome::BeforeEpoch {
                    tracing::debug!(
                        "one-time token issued before the Redis ledger was complete: refused as used"
                    );
                }
                // Credits come before the token in the meter's order of refusals.
                if let Some(debit) = request.credits {
                    let balance = self
                        .credits
                        .credits(debit.account, debit.seed(), request.now)
                        .await?;
                    if let Some(balance) = balance
                        && balance.credits < debit.cost
                    {
                        return Ok(MeterDecision::InsufficientCredits {
                            remaining: balance.credits,
                            tightest: replay.peek(),
                        });
                    }
                }
                Ok(MeterDecision::AlreadyUsed)
            }
            Outcome::Allowed => {
                let steps = replay.steps(request.charges.len().saturating_sub(1));
                if steps.iter().any(|step| !step.allowed) {
                    return Err(bad_reply(
                        "an admission the core's arithmetic does not make",
                    ));
                }
                let tightest = if request.charges.is_empty() {
                    None
                } else {
                    keygate_core::meter::ChargeStatus::tightest(
                        steps.iter().map(|step| step.status),
                    )
                };
                let Some(debit) = request.credits else {
                    return Ok(MeterDecision::Allowed {
                        tightest,
                        credits_remaining: None,
                    });
                };
                let credits_only = MeterRequest {
                    now: request.now,
                    charges: &[],
                    credits: Some(debit),
                    one_time: None,
                };
                match self.credits.meter(&credits_only).await {
                    Ok(MeterDecision::Allowed {
                        credits_remaining, ..
                    }) => Ok(MeterDecision::Allowed {
                        tightest,
                        credits_remaining,
                    }),
                    Ok(MeterDecision::InsufficientCredits { remaining, .. }) => {
                        if let Err(err) = self.give_back(&keys, request, &replay).await {
                            tracing::warn!(
                                error = %err,
                                "could not give back a request refused for credits: its rate-limit \
                                 slots stay taken and its one-time token stays used until they expire"
                            );
                        }
                        Ok(MeterDecision::InsufficientCredits {
                            remaining,
                            tightest: replay.peek(),
                        })
                    }
                    Ok(other) => {
                        let _ = self.give_back(&keys, request, &replay).await;
                        tracing::warn!(decision = ?other, "the credit ledger answered a credit-only request with another refusal");
                        Err(StoreError::corrupt(
                            "the credit ledger of the Redis meter refused a credit-only request for \
                             something other than credits: give it a meter that keeps credits",
                        ))
                    }
                    Err(err) => {
                        if let Err(back) = self.give_back(&keys, request, &replay).await {
                            tracing::warn!(error = %back, "could not give back a request whose credit debit failed");
                        }
                        Err(err)
                    }
                }
            }
        }
    }

    async fn settle(&self, settlement: &Settlement<'_>) -> Result<(), StoreError> {
        // The token first: releasing it twice does nothing, so a failed settlement can be
        // retried whole. Then the credits, once.
        if let Some(token_id) = settlement.one_time {
            let key = script::token_key(self.redis.key_prefix(), token_id);
            self.redis
                .call(|mut conn| async move {
                    redis::cmd("DEL")
                        .arg(&key)
                        .query_async::<i64>(&mut conn)
                        .await
                })
                .await?;
        }
        if let Some(debit) = settlement.credits {
            self.credits
                .settle(&Settlement {
                    credits: Some(debit),
                    one_time: None,
                })
                .await?;
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
        self.credits.add_credits(account, amount, seed, now).await
    }

    async fn credits(
        &self,
        account: CreditAccount<'_>,
        seed: CreditSeed,
        now: OffsetDateTime,
    ) -> Result<Option<CreditBalance>, StoreError> {
        self.credits.credits(account, seed, now).await
    }

    async fn set_refill(
        &self,
        account: CreditAccount<'_>,
        refill: Option<Refill>,
        now: OffsetDateTime,
    ) -> Result<Option<CreditBalance>, StoreError> {
        self.credits.set_refill(account, refill, now).await
    }
}
