//! A request the credit ledger refuses after the script took its slots gets them back,
//! never more than it took, even when another instance took from the same counters in
//! between.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use async_trait::async_trait;
use keygate_core::account::Refill;
use keygate_core::key::RateLimit;
use keygate_core::meter::{
    Charge, CreditAccount, CreditBalance, CreditDebit, CreditSeed, Limit, MeterAccount,
    MeterDecision, MeterRequest, OneTimeUse, Settlement, WindowLimit,
};
use keygate_core::testing::T0;
use keygate_core::{MemoryMeter, Meter, StoreError};
use keygate_redis::RedisMeter;
use time::{Duration, OffsetDateTime};

fn charges() -> [Charge<'static>; 2] {
    [
        Charge {
            account: MeterAccount::key_lineage("key_gb"),
            limit: Limit::Rate(RateLimit::new(5, 60).unwrap()),
        },
        Charge {
            account: MeterAccount::user("user_gb"),
            limit: Limit::Window(WindowLimit::per_day(5).unwrap()),
        },
    ]
}

/// A credit ledger that, while it is asked, lets another instance's request take from
/// the same counters, then refuses for credits.
#[derive(Debug)]
struct Interleaving {
    other: RedisMeter<MemoryMeter>,
}

#[async_trait]
impl Meter for Interleaving {
    async fn meter(&self, _: &MeterRequest<'_>) -> Result<MeterDecision, StoreError> {
        let charges = charges();
        let between = MeterRequest {
            now: T0,
            charges: &charges,
            credits: None,
            one_time: None,
        };
        let taken = self.other.meter(&between).await?;
        assert!(matches!(taken, MeterDecision::Allowed { .. }), "{taken:?}");
        Ok(MeterDecision::InsufficientCredits {
            remaining: 0,
            tightest: None,
        })
    }
    async fn settle(&self, _: &Settlement<'_>) -> Result<(), StoreError> {
        Ok(())
    }
    async fn add_credits(
        &self,
        _: CreditAccount<'_>,
        _: u64,
        _: CreditSeed,
        _: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn credits(
        &self,
        _: CreditAccount<'_>,
        _: CreditSeed,
        _: OffsetDateTime,
    ) -> Result<Option<CreditBalance>, StoreError> {
        Ok(Some(CreditBalance {
            credits: 0,
            refill: None,
        }))
    }
    async fn set_refill(
        &self,
        _: CreditAccount<'_>,
        _: Option<Refill>,
        _: OffsetDateTime,
    ) -> Result<Option<CreditBalance>, StoreError> {
        Ok(None)
    }
}

fn remaining(decision: MeterDecision) -> (usize, u32) {
    match decision {
        MeterDecision::Allowed {
            tightest: Some(tightest),
            ..
        } => (tightest.charge, tightest.status.remaining),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_refusal_for_credits_gives_back_windows_and_the_token_and_never_a_slot_taken_since() {
    let Some(redis) = common::TestRedis::new(module_path!()).await else {
        return;
    };
    let other = redis.second().await.meter(MemoryMeter::new());
    let meter = redis.meter(Interleaving { other }).await;
    let charges = charges();
    let token = || {
        Some(OneTimeUse {
            token_id: "jti-gb",
            issued_at: T0,
            expires_at: T0 + Duration::minutes(5),
        })
    };
    let paid = MeterRequest {
        now: T0,
        charges: &charges,
        credits: Some(CreditDebit {
            account: CreditAccount::KeyLineage("key_gb"),
            cost: 1,
            allowance: 0,
            refill: None,
        }),
        one_time: token(),
    };
    assert!(matches!(
        meter.meter(&paid).await.unwrap(),
        MeterDecision::InsufficientCredits { remaining: 0, .. }
    ));
    // The rate limit changed since the take (the other request stepped it): this request
    // keeps its step rather than free one the other holds. 2 of 5 taken, so a third leaves
    // 2. The window is a count: its unit came back (1 of 5 used, a second leaves 3).
    let free = MeterRequest {
        credits: None,
        one_time: None,
        ..paid
    };
    assert_eq!(remaining(meter.meter(&free).await.unwrap()), (0, 2));
    let window_only = MeterRequest {
        charges: &charges[1..],
        ..free
    };
    assert_eq!(remaining(meter.meter(&window_only).await.unwrap()), (0, 2));
    // The token's use was given back: it is used now, once.
    let token_only = MeterRequest {
        charges: &[],
        one_time: token(),
        ..free
    };
    assert!(matches!(
        meter.meter(&token_only).await.unwrap(),
        MeterDecision::Allowed { .. }
    ));
    assert_eq!(
        meter.meter(&token_only).await.unwrap(),
        MeterDecision::AlreadyUsed
    );
}
