//! A model-based property test for any [`Meter`]: random sequences of requests (a rate
//! limit, a daily quota, credits, a one-time token, in any combination), settlements
//! (refunds and token releases), top-ups, balance reads and clock moves, checked step by
//! step against a simple model of what the meter must do. [`meter_model!`](crate::meter_model) runs it:
//!
//! ```
//! keygate_core::meter_model!(memory_model, async { keygate_core::MemoryMeter::new() });
//! ```
//!
//! expands to a module `memory_model` with one `#[tokio::test]` that runs [`CASES`] sequences (or `PROPTEST_CASES`),
//! shrinks a failing one to a minimal sequence of steps, and panics with it.
//!
//! What the model holds every meter to:
//!
//! - **credits**: a balance starts at its allowance, a paid request passes exactly when
//!   the balance covers its cost and then takes exactly the cost, a refund and a top-up
//!   add (saturating at [`MAX_CREDITS`]), and every read says the model's balance. So no
//!   balance goes below zero and the credits spent never exceed what the account was
//!   given;
//! - **one-time tokens**: a token passes once; again only after its use was released;
//! - **the daily quota**: exactly `QUOTA` requests per UTC day pass, counted again from
//!   midnight;
//! - **the rate limit** (GCRA, whose exact slot times the model leaves to the meter): in
//!   any stretch of `d` seconds at most `limit + d·limit/window` requests pass, and a
//!   request after a whole quiet window is never limited;
//! - **all or nothing**: a refused request takes no credit, no token, no quota.
//!
//! Time comes from a [`ManualClock`] that starts a minute before a UTC midnight and
//! moves only by the sequence's steps. Each sequence uses account and token ids of its
//! own, so one meter (one database schema, one Redis prefix) serves every case.

// Test code: every index is the model's own (an account 0 or 1, a token below `TOKENS`),
// and a disagreement panics, failing the test.
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use time::{Duration, OffsetDateTime};

use crate::key::RateLimit;
use crate::meter::CreditSeed;
use crate::meter::{
    Charge, CreditAccount, CreditDebit, Limit, MAX_CREDITS, MeterAccount, MeterDecision,
    MeterRequest, OneTimeUse, Settlement, WindowLimit,
};
use crate::{Clock, ManualClock, Meter};

/// Sequences per run, unless `PROPTEST_CASES` says otherwise.
pub const CASES: u32 = 48;
/// Steps per sequence, at most.
pub const MAX_STEPS: usize = 40;
/// The rate limit of every rate-limited request: `RATE_LIMIT` per `RATE_WINDOW` seconds.
pub const RATE_LIMIT: u32 = 3;
/// See [`RATE_LIMIT`].
pub const RATE_WINDOW: u32 = 10;
/// The daily quota of every quota-counted request.
pub const QUOTA: u32 = 4;
/// The allowances of the two credit accounts (a key lineage, an owner account).
pub const ALLOWANCES: [u64; 2] = [4, 1];
/// One-time token ids a sequence draws from.
pub const TOKENS: usize = 3;

/// Where every sequence starts: a minute before midnight UTC, so quotas cross a day.
pub const START: OffsetDateTime = time::macros::datetime!(2029-12-31 23:59 UTC);

/// One step of a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A request: counted against the rate limit and/or the quota, paying `cost` from
    /// credit account `account` (0 or 1), consuming token `token`.
    Request {
        /// Take a slot of the rate limit.
        rate: bool,
        /// Take one of the day's quota.
        quota: bool,
        /// `(account, cost)` to pay.
        credits: Option<(usize, u64)>,
        /// The one-time token to use.
        token: Option<usize>,
    },
    /// Settle an allowed request not settled yet (the `n`th, modulo how many there are):
    /// give back its credits (`refund`, as for a 5xx) and/or its token (`release`, as for a
    /// 4xx).
    Settle {
        /// Which open admission.
        n: usize,
        /// Give back the credits.
        refund: bool,
        /// Give back the token.
        release: bool,
    },
    /// Add `amount` credits to `account`.
    TopUp {
        /// 0 or 1.
        account: usize,
        /// Credits to add.
        amount: u64,
    },
    /// Read the balance of `account`.
    Read {
        /// 0 or 1.
        account: usize,
    },
    /// Move the clock forward.
    Advance {
        /// By this many milliseconds.
        millis: u32,
    },
}

/// A step, weighted towards requests.
pub fn step() -> impl Strategy<Value = Step> {
    let request = (
        any::<bool>(),
        any::<bool>(),
        proptest::option::of((0..2usize, 0..4u64)),
        proptest::option::weighted(0.4, 0..TOKENS),
    )
        .prop_map(|(rate, quota, credits, token)| Step::Request {
            rate,
            quota,
            credits,
            token,
        });
    prop_oneof![
        6 => request,
        2 => (0..8usize, any::<bool>(), any::<bool>())
            .prop_map(|(n, refund, release)| Step::Settle { n, refund, release }),
        1 => (0..2usize, 0..6u64).prop_map(|(account, amount)| Step::TopUp { account, amount }),
        1 => (0..2usize).prop_map(|account| Step::Read { account }),
        2 => prop_oneof![0..4_000u32, 0..20_000u32].prop_map(|millis| Step::Advance { millis }),
    ]
}

/// A sequence of up to [`MAX_STEPS`] steps.
pub fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(step(), 1..=MAX_STEPS)
}

/// An allowed request, until it is settled.
#[derive(Debug, Clone, Copy)]
struct Admission {
    credits: Option<(usize, u64)>,
    token: Option<usize>,
}

/// What the meter must hold, as the model sees it.
#[derive(Debug)]
struct Model {
    balances: [u64; 2],
    /// Credits the account was given (allowance, top-ups, refunds) and spent.
    given: [u128; 2],
    spent: [u128; 2],
    used: BTreeSet<usize>,
    /// Quota-counted requests allowed, per UTC date.
    quota: BTreeMap<time::Date, u32>,
    /// When each rate-limited request was allowed.
    rate_times: Vec<OffsetDateTime>,
    open: Vec<Admission>,
}

impl Model {
    fn new() -> Self {
        Self {
            balances: ALLOWANCES,
            given: ALLOWANCES.map(u128::from),
            spent: [0; 2],
            used: BTreeSet::new(),
            quota: BTreeMap::new(),
            rate_times: Vec::new(),
            open: Vec::new(),
        }
    }

    fn add(&mut self, account: usize, amount: u64) {
        let balance = &mut self.balances[account];
        *balance = balance.saturating_add(amount).min(MAX_CREDITS);
        self.given[account] += u128::from(amount);
    }
}

/// The ids one sequence uses, apart from every other sequence's.
struct Ids {
    lineage: String,
    owner: String,
    user: String,
    tokens: Vec<String>,
}

impl Ids {
    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let case = NEXT.fetch_add(1, Ordering::Relaxed);
        let run = std::process::id();
        Self {
            lineage: format!("key_model{run}x{case}"),
            owner: format!("model{run}/owner{case}"),
            user: format!("model{run}:user{case}"),
            tokens: (0..TOKENS)
                .map(|t| format!("jti-model-{run}-{case}-{t}"))
                .collect(),
        }
    }

    fn account(&self, index: usize) -> CreditAccount<'_> {
        if index == 0 {
            CreditAccount::KeyLineage(&self.lineage)
        } else {
            CreditAccount::Owner(&self.owner)
        }
    }

    fn debit(&self, (account, cost): (usize, u64)) -> CreditDebit<'_> {
        CreditDebit {
            account: self.account(account),
            cost,
            allowance: ALLOWANCES[account],
            refill: None,
        }
    }

    fn token(&self, token: usize) -> OneTimeUse<'_> {
        OneTimeUse {
            token_id: &self.tokens[token],
            issued_at: START,
            expires_at: START + Duration::days(1),
        }
    }
}

/// Runs `steps` on `meter` from a fresh model; the first step where the meter and the
/// model disagree is the error, naming the step.
pub async fn check(meter: &impl Meter, steps: &[Step]) -> Result<(), String> {
    let clock = ManualClock::new(START);
    let ids = Ids::new();
    let mut model = Model::new();
    let rate = RateLimit::new(RATE_LIMIT, RATE_WINDOW).map_err(|e| e.to_string())?;
    let quota = WindowLimit::per_day(QUOTA).map_err(|e| e.to_string())?;
    // An owner account is metered once it has a balance: give it its allowance first (a
    // key lineage is seeded by its first request).
    meter
        .add_credits(ids.account(1), ALLOWANCES[1], CreditSeed::NONE, START)
        .await
        .map_err(|e| format!("seeding the owner account: {e}"))?;
    for (at, step) in steps.iter().enumerate() {
        let now = clock.now();
        let fail = |what: String| format!("step {at} ({step:?}) at {now}: {what}");
        match *step {
            Step::Request {
                rate: with_rate,
                quota: with_quota,
                credits,
                token,
            } => {
                let mut charges = Vec::new();
                if with_rate {
                    charges.push(Charge {
                        account: MeterAccount::key_lineage(&ids.lineage),
                        limit: Limit::Rate(rate),
                    });
                }
                if with_quota {
                    charges.push(Charge {
                        account: MeterAccount::user(&ids.user),
                        limit: Limit::Window(quota),
                    });
                }
                let request = MeterRequest {
                    now,
                    charges: &charges,
                    credits: credits.map(|c| ids.debit(c)),
                    one_time: token.map(|t| ids.token(t)),
                };
                let decision = meter
                    .meter(&request)
                    .await
                    .map_err(|e| fail(format!("meter error: {e}")))?;
                let day_count = model.quota.get(&now.date()).copied().unwrap_or(0);
                let quota_ok = !with_quota || day_count < QUOTA;
                let credits_ok =
                    credits.is_none_or(|(account, cost)| model.balances[account] >= cost);
                let token_ok = token.is_none_or(|t| !model.used.contains(&t));
                let rate_must_allow = !with_rate
                    || model.rate_times.last().is_none_or(|last| {
                        now - *last >= Duration::seconds(i64::from(RATE_WINDOW))
                    });
                match decision {
                    MeterDecision::Allowed {
                        tightest,
                        credits_remaining,
                    } => {
                        if !(quota_ok && credits_ok && token_ok) {
                            return Err(fail(format!(
                                "allowed, but quota ok: {quota_ok}, credits ok: {credits_ok}, token unused: {token_ok}"
                            )));
                        }
                        if let Some((account, cost)) = credits {
                            model.balances[account] -= cost;
                            model.spent[account] += u128::from(cost);
                            let want = model.balances[account];
                            if credits_remaining != Some(want) {
                                return Err(fail(format!(
                                    "credits remaining {credits_remaining:?}, the model has {want}"
                                )));
                            }
                        } else if credits_remaining.is_some() {
                            return Err(fail(
                                "credits remaining for a request without credits".into(),
                            ));
                        }
                        if let Some(t) = token {
                            model.used.insert(t);
                        }
                        if with_quota {
                            model.quota.insert(now.date(), day_count + 1);
                            if !with_rate {
                                let left = tightest.map(|t| (t.charge, t.status.remaining));
                                if left != Some((0, QUOTA - day_count - 1)) {
                                    return Err(fail(format!(
                                        "quota remaining {left:?}, the model has {}",
                                        QUOTA - day_count - 1
                                    )));
                                }
                            }
                        }
                        if charges.is_empty() != tightest.is_none() {
                            return Err(fail(format!(
                                "tightest {tightest:?} for {} charges",
                                charges.len()
                            )));
                        }
                        if with_rate {
                            model.rate_times.push(now);
                            rate_bound_holds(&model.rate_times).map_err(fail)?;
                        }
                        model.open.push(Admission { credits, token });
                    }
                    MeterDecision::Limited { charge, status } => {
                        let which = charges.get(charge).map(|c| c.limit);
                        let justified = match which {
                            Some(Limit::Rate(_)) => !rate_must_allow,
                            Some(Limit::Window(_)) => !quota_ok,
                            None => false,
                        };
                        if !justified || status.retry_after < 1 {
                            return Err(fail(format!(
                                "limited by charge {charge} ({which:?}, retry after {} s), but rate must allow: {rate_must_allow}, quota ok: {quota_ok}",
                                status.retry_after
                            )));
                        }
                    }
                    MeterDecision::InsufficientCredits { remaining, .. } => {
                        let want = credits.map(|(account, _)| model.balances[account]);
                        if credits_ok || Some(remaining) != want {
                            return Err(fail(format!(
                                "insufficient credits ({remaining} left), the model has {want:?}"
                            )));
                        }
                    }
                    MeterDecision::AlreadyUsed => {
                        if token_ok {
                            return Err(fail("token refused as used, but it is unused".into()));
                        }
                    }
                }
                if quota_ok
                    && credits_ok
                    && token_ok
                    && rate_must_allow
                    && !matches!(decision, MeterDecision::Allowed { .. })
                {
                    return Err(fail(format!(
                        "refused with {decision:?}, the model allows it"
                    )));
                }
            }
            Step::Settle { n, refund, release } => {
                if model.open.is_empty() {
                    continue;
                }
                let admission = model.open.remove(n % model.open.len());
                let credits = admission.credits.filter(|_| refund);
                let token = admission.token.filter(|_| release);
                let token_id = token.map(|t| ids.tokens[t].as_str());
                meter
                    .settle(&Settlement {
                        credits: credits.map(|c| ids.debit(c)),
                        one_time: token_id,
                    })
                    .await
                    .map_err(|e| fail(format!("settle error: {e}")))?;
                if let Some((account, cost)) = credits {
                    model.add(account, cost);
                }
                if let Some(t) = token {
                    model.used.remove(&t);
                }
            }
            Step::TopUp { account, amount } => {
                let got = meter
                    .add_credits(
                        ids.account(account),
                        amount,
                        CreditSeed::credits(ALLOWANCES[account]),
                        now,
                    )
                    .await
                    .map_err(|e| fail(format!("add_credits error: {e}")))?;
                model.add(account, amount);
                if got != model.balances[account] {
                    return Err(fail(format!(
                        "top-up left {got}, the model has {}",
                        model.balances[account]
                    )));
                }
            }
            Step::Read { account } => {
                let got = meter
                    .credits(
                        ids.account(account),
                        CreditSeed::credits(ALLOWANCES[account]),
                        now,
                    )
                    .await
                    .map_err(|e| fail(format!("credits error: {e}")))?
                    .map_or(0, |balance| balance.credits);
                if got != model.balances[account] {
                    return Err(fail(format!(
                        "balance {got}, the model has {}",
                        model.balances[account]
                    )));
                }
            }
            Step::Advance { millis } => clock.advance(Duration::milliseconds(i64::from(millis))),
        }
        for account in 0..2 {
            if model.spent[account] > model.given[account] {
                return Err(fail(format!(
                    "account {account} spent {} of {} given",
                    model.spent[account], model.given[account]
                )));
            }
        }
    }
    // Every balance as the meter has it, at the end.
    for (account, allowance) in ALLOWANCES.into_iter().enumerate() {
        let got = meter
            .credits(
                ids.account(account),
                CreditSeed::credits(allowance),
                clock.now(),
            )
            .await
            .map_err(|e| format!("credits error at the end: {e}"))?
            .map_or(0, |balance| balance.credits);
        if got != model.balances[account] {
            return Err(format!(
                "at the end, account {account} holds {got}, the model has {}",
                model.balances[account]
            ));
        }
    }
    Ok(())
}

/// GCRA's bound: between the `i`th and `j`th allowed request, `d` seconds apart, at most
/// `limit + d·limit/window` requests passed.
fn rate_bound_holds(times: &[OffsetDateTime]) -> Result<(), String> {
    let window_nanos = i128::from(RATE_WINDOW) * 1_000_000_000;
    for (i, first) in times.iter().enumerate() {
        for (j, last) in times.iter().enumerate().skip(i) {
            let passed = i128::try_from(j - i + 1).unwrap_or(i128::MAX);
            let span = (*last - *first).whole_nanoseconds();
            let bound = i128::from(RATE_LIMIT) + span * i128::from(RATE_LIMIT) / window_nanos;
            if passed > bound {
                return Err(format!(
                    "{passed} rate-limited requests passed within {span} ns, at most {bound} may"
                ));
            }
        }
    }
    Ok(())
}

/// Runs `cases` random sequences on `meter` ([`check`]); on a failure, shrinks the
/// sequence and panics with the smallest failing one and what went wrong.
pub async fn run(meter: impl Meter, cases: u32) {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    let strategy = steps();
    for _ in 0..cases {
        let mut tree = strategy
            .new_tree(&mut runner)
            .unwrap_or_else(|reason| panic!("no sequence generated: {reason}"));
        let Err(first) = check(&meter, &tree.current()).await else {
            continue;
        };
        // Shrink: simplify while it fails, step back when it passes.
        let mut smallest = (tree.current(), first);
        let mut failing = true;
        for _ in 0..1024 {
            let moved = if failing {
                tree.simplify()
            } else {
                tree.complicate()
            };
            if !moved {
                break;
            }
            match check(&meter, &tree.current()).await {
                Err(error) => {
                    smallest = (tree.current(), error);
                    failing = true;
                }
                Ok(()) => failing = false,
            }
        }
        let (steps, error) = smallest;
        panic!(
            "the meter disagrees with the model: {error}\nsmallest failing sequence ({} steps):\n{steps:#?}",
            steps.len()
        );
    }
}

/// A module `$name` with one `#[tokio::test]`, `meter_matches_the_model`, that runs the model ([`run`], [`CASES`]
/// sequences) on the meter `$make` yields (a [`MeterUnderTest`](super::MeterUnderTest):
/// `None` skips).
///
/// ```ignore
/// keygate_core::meter_model!(postgres_model, async {
///     let schema = TestSchema::new().await?; // None: not configured, skip
///     Some(Guarded::new(schema.store().await.meter(), schema))
/// });
/// ```
#[macro_export]
macro_rules! meter_model {
    ($name:ident, $make:expr $(,)?) => {
        #[allow(unused_imports)]
        mod $name {
            use super::*;
            use $crate::testing::__private::tokio;

            #[tokio::test]
            async fn meter_matches_the_model() {
                let fresh = $make.await;
                let meter = $crate::testing::meter::MeterUnderTest::into_meter(fresh);
                // `None`: the meter's backend is not here (it said so); skip.
                if let Some(meter) = meter {
                    $crate::testing::meter::model::run(meter, $crate::testing::meter::model::CASES)
                        .await;
                }
            }
        }
    };
}
