//! The [`Meter`] suite: the all-or-nothing semantics every meter must share, as async
//! scenarios taking a fresh meter. [`meter_suite!`](crate::meter_suite) runs all of them:
//!
//! ```
//! keygate_core::meter_suite!(memory, async { keygate_core::MemoryMeter::new() });
//! ```
//!
//! expands to a module `memory` with one `#[tokio::test]` per scenario, needing nothing
//! beyond keygate-core. The expression is evaluated once per test and may yield a meter,
//! an `Option` of one (`None` skips the test, when the meter's backend is not
//! configured), or a meter [`Guarded`] by what must outlive it (a database schema its
//! `Drop` removes).
//!
//! Every scenario starts at [`T0`], a fixed instant, and moves time by the request's
//! `now`: nothing sleeps.
// Test code: a failed expectation panics, failing the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

mod counters;
pub mod model;
mod refill;
pub mod shared;

pub use super::T0;
pub use super::key_store::Guarded;
pub use counters::*;
pub use refill::*;

use crate::Meter;
use crate::account::Refill;
use crate::key::RateLimit;
use crate::meter::{
    Charge, ChargeStatus, CreditAccount, CreditBalance, CreditDebit, CreditSeed, Limit,
    MAX_CREDITS, MeterAccount, MeterDecision, MeterRequest, OneTimeUse, Settlement,
};
use crate::store::StoreError;

/// What the expression given to [`meter_suite!`](crate::meter_suite) may build: a
/// [`Meter`], or an `Option` of one, `None` skipping the test (when the database the
/// meter needs is not configured; print why, so the skip is seen).
pub trait MeterUnderTest {
    /// The meter the suite runs against.
    type Meter: Meter;

    /// The meter; `None` to skip.
    fn into_meter(self) -> Option<Self::Meter>;
}

impl<M: Meter> MeterUnderTest for M {
    type Meter = M;

    fn into_meter(self) -> Option<M> {
        Some(self)
    }
}

impl<M: Meter> MeterUnderTest for Option<M> {
    type Meter = M;

    fn into_meter(self) -> Option<M> {
        self
    }
}

/// A guarded meter is the meter: `Guarded::new(store.meter(), schema)` keeps the schema
/// until the test ends.
#[async_trait]
impl<M: Meter, G: Send + Sync + 'static> Meter for Guarded<M, G> {
    async fn meter(&self, request: &MeterRequest<'_>) -> Result<MeterDecision, StoreError> {
        self.store().meter(request).await
    }
    async fn settle(&self, settlement: &Settlement<'_>) -> Result<(), StoreError> {
        self.store().settle(settlement).await
    }
    async fn add_credits(
        &self,
        account: CreditAccount<'_>,
        amount: u64,
        seed: CreditSeed,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.store().add_credits(account, amount, seed, now).await
    }
    async fn credits(
        &self,
        account: CreditAccount<'_>,
        seed: CreditSeed,
        now: OffsetDateTime,
    ) -> Result<Option<CreditBalance>, StoreError> {
        self.store().credits(account, seed, now).await
    }
    async fn set_refill(
        &self,
        account: CreditAccount<'_>,
        refill: Option<Refill>,
        now: OffsetDateTime,
    ) -> Result<Option<CreditBalance>, StoreError> {
        self.store().set_refill(account, refill, now).await
    }
}

/// The balance of `account` at [`T0`] as `meter` reads it (a key lineage not seen yet:
/// `allowance`); panics on an error or an owner account without a balance.
pub async fn credits_of<M: Meter + ?Sized>(
    meter: &M,
    account: CreditAccount<'_>,
    allowance: u64,
) -> u64 {
    meter
        .credits(account, CreditSeed::credits(allowance), T0)
        .await
        .unwrap()
        .expect("a metered account")
        .credits
}

/// Runs every scenario of this module, one `#[tokio::test]` each, in a module named
/// `$name`, on a fresh meter from `$make` (an expression of a future yielding a
/// [`MeterUnderTest`], evaluated once per test).
///
/// ```ignore
/// use keygate_core::testing::meter::Guarded;
///
/// keygate_core::meter_suite!(postgres, async {
///     let schema = TestSchema::new().await?; // None: not configured, skip
///     Some(Guarded::new(schema.store().await.meter(), schema))
/// });
/// ```
#[macro_export]
macro_rules! meter_suite {
    ($name:ident, $make:expr $(,)?) => {
        $crate::meter_suite!(@tests $name, $make;
            a_refused_request_commits_nothing,
            a_replayed_one_time_token_costs_no_credits,
            a_settled_one_time_token_can_be_used_again,
            rate_limits_burst_then_refuse_with_retry_after,
            two_rate_limits_refuse_on_the_tighter_and_name_it,
            a_daily_window_refuses_the_extra_request_until_utc_midnight,
            a_monthly_window_resets_on_the_first_of_the_month,
            settle_gives_back_credits_and_the_token_in_one_call,
            credits_seed_from_the_allowance_and_saturate,
            owner_and_lineage_balances_are_apart,
            a_free_request_reads_the_balance_and_takes_nothing,
            concurrent_debits_never_oversell,
            a_refill_sets_the_balance_back_at_the_boundary,
            a_read_after_the_boundary_applies_the_refill,
            a_balance_without_refill_is_untouched_at_the_boundary,
            a_refill_applies_once_when_tasks_race_across_the_boundary,
            a_monthly_refill_lands_on_the_first_after_every_month_length,
            an_owner_account_is_metered_once_it_has_a_balance,
            a_refused_first_debit_seeds_no_balance,
            top_ups_racing_debits_keep_every_credit,
        );
    };
    (@tests $name:ident, $make:expr; $($scenario:ident),+ $(,)?) => {
        #[allow(unused_imports)]
        mod $name {
            use super::*;
            use $crate::testing::__private::tokio;

            $(
                #[tokio::test]
                async fn $scenario() {
                    let fresh = $make.await;
                    let meter = $crate::testing::meter::MeterUnderTest::into_meter(fresh);
                    // `None`: the meter's backend is not here (it said so); skip.
                    if let Some(meter) = meter {
                        $crate::testing::meter::$scenario(meter).await;
                    }
                }
            )+
        }
    };
}

pub(super) fn request(now: OffsetDateTime) -> MeterRequest<'static> {
    MeterRequest {
        now,
        charges: &[],
        credits: None,
        one_time: None,
    }
}

pub(super) fn debit(lineage: &str, cost: u64, allowance: u64) -> CreditDebit<'_> {
    CreditDebit {
        account: CreditAccount::KeyLineage(lineage),
        cost,
        allowance,
        refill: None,
    }
}

pub(super) fn rate(account: MeterAccount<'_>, limit: u32, window: u32) -> Charge<'_> {
    Charge {
        account,
        limit: Limit::Rate(RateLimit::new(limit, window).unwrap()),
    }
}

pub(super) fn use_once(token_id: &str) -> Option<OneTimeUse<'_>> {
    Some(OneTimeUse {
        token_id,
        issued_at: T0,
        expires_at: T0 + Duration::minutes(5),
    })
}

pub(super) fn allowed(decision: MeterDecision) -> (Option<ChargeStatus>, Option<u64>) {
    match decision {
        MeterDecision::Allowed {
            tightest,
            credits_remaining,
        } => (tightest, credits_remaining),
        other => panic!("expected Allowed, got {other:?}"),
    }
}

pub(super) fn remaining(decision: MeterDecision) -> u32 {
    allowed(decision).0.expect("a charge").status.remaining
}

/// A request refused for credits or a used token takes no charge, no credit, no token.
pub async fn a_refused_request_commits_nothing(meter: impl Meter) {
    let charge = rate(MeterAccount::key_lineage("k"), 2, 60);
    let req = MeterRequest {
        charges: std::slice::from_ref(&charge),
        credits: Some(debit("k", 5, 4)),
        one_time: use_once("t"),
        ..request(T0)
    };
    let decision = meter.meter(&req).await.unwrap();
    let MeterDecision::InsufficientCredits {
        remaining: 4,
        tightest: Some(ChargeStatus { charge: 0, status }),
    } = decision
    else {
        panic!("{decision:?}");
    };
    assert_eq!(status.remaining, 2, "no rate-limit slot taken");
    let cheaper = MeterRequest {
        credits: Some(debit("k", 4, 4)),
        ..req
    };
    let (tightest, credits) = allowed(meter.meter(&cheaper).await.unwrap());
    assert_eq!(credits, Some(0));
    assert_eq!(tightest.unwrap().status.remaining, 1);
    // Credits are checked before the token.
    let MeterDecision::InsufficientCredits { remaining: 0, .. } =
        meter.meter(&cheaper).await.unwrap()
    else {
        panic!("balance is 0");
    };
    let replay = MeterRequest {
        credits: None,
        ..req
    };
    assert_eq!(
        meter.meter(&replay).await.unwrap(),
        MeterDecision::AlreadyUsed
    );
    // Neither refusal took a slot.
    let rate_only = MeterRequest {
        charges: req.charges,
        ..request(T0)
    };
    assert_eq!(remaining(meter.meter(&rate_only).await.unwrap()), 0);
}

/// A one-time token is used once; its replays cost nothing.
pub async fn a_replayed_one_time_token_costs_no_credits(meter: impl Meter) {
    let req = MeterRequest {
        credits: Some(debit("acct", 3, 10)),
        one_time: use_once("jti-1"),
        ..request(T0)
    };
    assert_eq!(allowed(meter.meter(&req).await.unwrap()), (None, Some(7)));
    for _ in 0..3 {
        assert_eq!(meter.meter(&req).await.unwrap(), MeterDecision::AlreadyUsed);
    }
    let lineage = CreditAccount::KeyLineage("acct");
    assert_eq!(credits_of(&meter, lineage, 10).await, 7);
    // Another token on its own (no credits) is used once too.
    let bare = MeterRequest {
        one_time: use_once("jti-2"),
        ..request(T0)
    };
    allowed(meter.meter(&bare).await.unwrap());
    assert_eq!(
        meter.meter(&bare).await.unwrap(),
        MeterDecision::AlreadyUsed
    );
}

fn release(token_id: &str) -> Settlement<'_> {
    Settlement {
        credits: None,
        one_time: Some(token_id),
    }
}

/// A token whose use was given back ([`Meter::settle`]) can be used again, once; a release touches nothing else.
pub async fn a_settled_one_time_token_can_be_used_again(meter: impl Meter) {
    let use_ = |token_id| MeterRequest {
        one_time: use_once(token_id),
        ..request(T0)
    };
    let (first, second) = (use_("jti-1"), use_("jti-2"));
    for req in [&first, &second] {
        allowed(meter.meter(req).await.unwrap());
    }
    meter.settle(&release("jti-1")).await.unwrap();
    allowed(meter.meter(&first).await.unwrap());
    assert_eq!(
        meter.meter(&first).await.unwrap(),
        MeterDecision::AlreadyUsed
    );
    assert_eq!(
        meter.meter(&second).await.unwrap(),
        MeterDecision::AlreadyUsed,
        "a release frees that token only"
    );
    // Releasing a token never used, or twice, does nothing (and is no error); nor does
    // an empty settlement.
    meter.settle(&release("never-used")).await.unwrap();
    meter.settle(&release("jti-2")).await.unwrap();
    meter.settle(&release("jti-2")).await.unwrap();
    meter.settle(&Settlement::default()).await.unwrap();
    allowed(meter.meter(&second).await.unwrap());
    // A release touches no balance.
    let paid = MeterRequest {
        credits: Some(debit("acct", 3, 10)),
        ..use_("jti-3")
    };
    assert_eq!(allowed(meter.meter(&paid).await.unwrap()).1, Some(7));
    meter.settle(&release("jti-3")).await.unwrap();
    let lineage = CreditAccount::KeyLineage("acct");
    assert_eq!(credits_of(&meter, lineage, 10).await, 7);
    assert_eq!(allowed(meter.meter(&paid).await.unwrap()).1, Some(4));
}

/// One settlement gives back the credits and the token together; credits alone leave the token used.
pub async fn settle_gives_back_credits_and_the_token_in_one_call(meter: impl Meter) {
    let req = MeterRequest {
        credits: Some(debit("s", 3, 10)),
        one_time: use_once("jti-s"),
        ..request(T0)
    };
    assert_eq!(allowed(meter.meter(&req).await.unwrap()).1, Some(7));
    meter
        .settle(&Settlement {
            credits: req.credits,
            one_time: Some("jti-s"),
        })
        .await
        .unwrap();
    let lineage = CreditAccount::KeyLineage("s");
    assert_eq!(credits_of(&meter, lineage, 10).await, 10);
    assert_eq!(
        allowed(meter.meter(&req).await.unwrap()).1,
        Some(7),
        "usable again"
    );
    assert_eq!(meter.meter(&req).await.unwrap(), MeterDecision::AlreadyUsed);
    // Credits alone leave the token used.
    meter
        .settle(&Settlement {
            credits: req.credits,
            one_time: None,
        })
        .await
        .unwrap();
    assert_eq!(credits_of(&meter, lineage, 10).await, 10);
    assert_eq!(meter.meter(&req).await.unwrap(), MeterDecision::AlreadyUsed);
}

/// Balances start from the allowance and saturate at [`MAX_CREDITS`].
pub async fn credits_seed_from_the_allowance_and_saturate(meter: impl Meter) {
    let k = CreditAccount::KeyLineage("k");
    assert_eq!(credits_of(&meter, k, 10).await, 10);
    assert_eq!(
        meter
            .add_credits(k, 5, CreditSeed::credits(10), T0)
            .await
            .unwrap(),
        15
    );
    assert_eq!(credits_of(&meter, k, 10).await, 15);
    assert_eq!(
        meter
            .add_credits(k, u64::MAX, CreditSeed::credits(0), T0)
            .await
            .unwrap(),
        MAX_CREDITS
    );
    let refund = |debit| Settlement {
        credits: Some(debit),
        one_time: None,
    };
    meter.settle(&refund(debit("k", 1, 0))).await.unwrap();
    assert_eq!(credits_of(&meter, k, 0).await, MAX_CREDITS);
    // A refund to an account not seen yet starts from its allowance.
    meter.settle(&refund(debit("fresh", 2, 10))).await.unwrap();
    let fresh = CreditAccount::KeyLineage("fresh");
    assert_eq!(credits_of(&meter, fresh, 10).await, 12);
}

/// An owner account's balance is its own, whatever the id text; a balance topped up
/// above its allowance pays a cost above the allowance.
pub async fn owner_and_lineage_balances_are_apart(meter: impl Meter) {
    // An owner account and a lineage with the same id text hold different balances.
    let owner = CreditAccount::Owner("acme/ada");
    let lineage = CreditAccount::KeyLineage("acme/ada");
    assert_eq!(
        meter
            .add_credits(owner, 5, CreditSeed::credits(10), T0)
            .await
            .unwrap(),
        15
    );
    assert_eq!(credits_of(&meter, lineage, 1).await, 1);
    let req = MeterRequest {
        credits: Some(CreditDebit {
            account: owner,
            cost: 15,
            allowance: 10,
            refill: None,
        }),
        ..request(T0)
    };
    assert_eq!(allowed(meter.meter(&req).await.unwrap()).1, Some(0));
    assert!(matches!(
        meter.meter(&req).await.unwrap(),
        MeterDecision::InsufficientCredits {
            remaining: 0,
            tightest: None
        }
    ));
    assert_eq!(credits_of(&meter, owner, 10).await, 0);
    assert_eq!(credits_of(&meter, lineage, 1).await, 1);
}

/// A request costing 0 credits reads the balance and passes even at zero.
pub async fn a_free_request_reads_the_balance_and_takes_nothing(meter: impl Meter) {
    let free = MeterRequest {
        credits: Some(debit("f", 0, 3)),
        ..request(T0)
    };
    for _ in 0..3 {
        assert_eq!(allowed(meter.meter(&free).await.unwrap()), (None, Some(3)));
    }
    let paid = MeterRequest {
        credits: Some(debit("f", 3, 3)),
        ..request(T0)
    };
    assert_eq!(allowed(meter.meter(&paid).await.unwrap()), (None, Some(0)));
    // At zero, a free route still passes; a paid one does not.
    assert_eq!(allowed(meter.meter(&free).await.unwrap()).1, Some(0));
    assert!(matches!(
        meter.meter(&paid).await.unwrap(),
        MeterDecision::InsufficientCredits { remaining: 0, .. }
    ));
}

/// Sixty concurrent debits of a balance of 25: exactly 25 pass.
pub async fn concurrent_debits_never_oversell(meter: impl Meter) {
    let meter = Arc::new(meter);
    let tasks: Vec<_> = (0..60)
        .map(|_| {
            let meter = Arc::clone(&meter);
            tokio::spawn(async move {
                let req = MeterRequest {
                    credits: Some(debit("shared", 1, 25)),
                    ..request(T0)
                };
                matches!(
                    meter.meter(&req).await.unwrap(),
                    MeterDecision::Allowed { .. }
                )
            })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        if task.await.unwrap() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 25);
    let shared = CreditAccount::KeyLineage("shared");
    assert_eq!(credits_of(&meter, shared, 25).await, 0);
}
