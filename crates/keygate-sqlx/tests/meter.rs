//! The `Meter` suite against `MemoryMeter` and `SqlMeter` on SQLite and Postgres, plus what
//! only the SQL meter does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[macro_use]
mod common;

mod suite {
    use keygate_core::MemoryMeter;
    use keygate_sqlx::SqlStore;

    against_every_backend!(meters, MemoryMeter::new(), async |store: SqlStore| store.meter();
        a_refused_request_commits_nothing,
        a_replayed_one_time_token_costs_no_credits,
        a_released_one_time_token_can_be_used_again,
        rate_limits_burst_then_refuse_with_retry_after,
        credits_seed_from_the_allowance_and_saturate,
        a_free_request_reads_the_balance_and_takes_nothing,
        concurrent_debits_never_oversell,
    );
}

use common::T0;
use keygate_core::Meter;
use keygate_core::meter::{MeterDecision, MeterRequest, OneTimeUse};
use time::Duration;

/// Used tokens are purged once well past their expiry, and not before.
#[tokio::test]
async fn used_tokens_are_purged_after_their_expiry_and_a_margin() {
    let db = common::sqlite().await;
    let meter = db.store.meter();
    let expires_at = T0 + Duration::minutes(5);
    let req = MeterRequest {
        now: T0,
        rate_limit: None,
        credits: None,
        one_time: Some(OneTimeUse {
            token_id: "jti",
            expires_at,
        }),
    };
    assert!(matches!(
        meter.meter(&req).await.unwrap(),
        MeterDecision::Allowed { .. }
    ));
    assert_eq!(meter.purge_expired(expires_at).await.unwrap(), 0);
    assert_eq!(
        meter
            .purge_expired(expires_at + Duration::seconds(119))
            .await
            .unwrap(),
        0,
        "kept for a clock-skew margin"
    );
    assert_eq!(meter.meter(&req).await.unwrap(), MeterDecision::AlreadyUsed);
    assert_eq!(
        meter
            .purge_expired(expires_at + Duration::seconds(121))
            .await
            .unwrap(),
        1
    );
}

/// The database being gone is an error (503), never an admission, and takes no slot.
#[tokio::test]
async fn a_closed_database_fails_closed() {
    let db = common::sqlite().await;
    let meter = db.store.meter();
    db.store.close().await;
    let limit = keygate_core::key::RateLimit::new(1, 60).unwrap();
    let req = MeterRequest {
        now: T0,
        rate_limit: Some(keygate_core::meter::RateLimitCharge {
            account: "k",
            limit,
        }),
        credits: Some(keygate_core::meter::CreditDebit {
            account: "k",
            cost: 1,
            allowance: 5,
        }),
        one_time: None,
    };
    let err = meter.meter(&req).await.unwrap_err();
    assert_eq!(err.kind(), keygate_core::store::StoreErrorKind::Unavailable);
    // The slot was given back: a request without credits still fits the limit of 1.
    let rate_only = MeterRequest {
        credits: None,
        ..req
    };
    assert!(matches!(
        meter.meter(&rate_only).await.unwrap(),
        MeterDecision::Allowed { .. }
    ));
}

/// A give-back returns only what is left of the request's own slot. Here request A waits
/// on SQLite's write lock (another connection holds it) while the limit of 1 per 10 s
/// refills and B takes the fresh slot; A is then refused for credits and gives back. Its
/// slot expired long ago, so nothing is left to return: C, at B's time, is refused.
/// (Giving back a whole step would have erased B's slot and admitted C: 2 per window.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_give_back_after_a_slow_database_call_cannot_erase_another_slot() {
    use keygate_core::key::RateLimit;
    use keygate_core::meter::{CreditDebit, RateLimitCharge};
    use sqlx::Connection as _;
    use std::time::{Duration as StdDuration, Instant};

    let db = common::sqlite().await;
    let meter = db.store.meter();
    let limit = RateLimit::new(1, 10).unwrap();
    let charge = RateLimitCharge {
        account: "k",
        limit,
    };
    let mut lock = db.store.sqlite_pool().unwrap().acquire().await.unwrap();
    let tx = lock.begin_with("BEGIN IMMEDIATE").await.unwrap();
    let a = tokio::spawn({
        let meter = meter.clone();
        async move {
            let req = MeterRequest {
                now: T0,
                rate_limit: Some(charge),
                credits: Some(CreditDebit {
                    account: "k",
                    cost: 1,
                    allowance: 0,
                }),
                one_time: None,
            };
            meter.meter(&req).await.unwrap()
        }
    });
    // A has its slot once the meter holds an entry; it then waits for the lock.
    let deadline = Instant::now() + StdDuration::from_secs(5);
    while !format!("{meter:?}").contains("rate_limits: 1") {
        assert!(Instant::now() < deadline, "A never took its slot");
        tokio::task::yield_now().await;
        tokio::time::sleep(StdDuration::from_millis(1)).await;
    }
    let later = MeterRequest {
        now: T0 + Duration::seconds(20),
        rate_limit: Some(charge),
        credits: None,
        one_time: None,
    };
    let b = meter.meter(&later).await.unwrap();
    assert!(matches!(b, MeterDecision::Allowed { .. }), "{b:?}");
    tx.commit().await.unwrap();
    drop(lock);
    let a = a.await.unwrap();
    assert!(
        matches!(a, MeterDecision::InsufficientCredits { .. }),
        "{a:?}"
    );
    let c = meter.meter(&later).await.unwrap();
    assert!(
        matches!(c, MeterDecision::RateLimited(_)),
        "a second request in B's window was admitted: {c:?}"
    );
}
