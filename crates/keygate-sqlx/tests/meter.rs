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

// The published Meter suite, from its one definition in keygate-core: SQLite on a fresh
// temp file per test, and the Postgres of `KEYGATE_TEST_POSTGRES_URL` in a fresh schema
// per test that is dropped with the meter (skipped, with a note, when the URL is unset).
keygate_core::meter_suite!(sqlite, async {
    let db = common::sqlite().await;
    keygate_core::testing::meter::Guarded::new(db.store.meter(), db)
});
keygate_core::meter_suite!(postgres, async {
    let schema = common::PgSchema::new(module_path!()).await?;
    let store = schema.store().await;
    Some(keygate_core::testing::meter::Guarded::new(
        store.meter(),
        (store, schema),
    ))
});

// The shared-meter suite: two instances (each its own store, pool and in-process rate
// table) on one database share every quota.
keygate_core::shared_meter_suite!(sqlite_pair, async {
    let db = common::sqlite().await;
    let url = format!("sqlite://{}", db.dir.path().join("keygate.db").display());
    let other = keygate_sqlx::SqlStore::connect(&url).await.unwrap();
    let a = keygate_core::testing::meter::Guarded::new(db.store.meter(), db);
    (a, other.meter())
});
keygate_core::shared_meter_suite!(postgres_pair, async {
    let schema = common::PgSchema::new(module_path!()).await?;
    let one = schema.store().await;
    let two = schema.store().await;
    let a = keygate_core::testing::meter::Guarded::new(one.meter(), schema);
    Some((a, two.meter()))
});

// The meter model: random sequences of requests, settlements, top-ups and clock moves
// against a model of the meter, on one database per run (each sequence has ids of its
// own).
keygate_core::meter_model!(sqlite_model, async {
    let db = common::sqlite().await;
    keygate_core::testing::meter::Guarded::new(db.store.meter(), db)
});
keygate_core::meter_model!(postgres_model, async {
    let schema = common::PgSchema::new(module_path!()).await?;
    let store = schema.store().await;
    Some(keygate_core::testing::meter::Guarded::new(
        store.meter(),
        (store, schema),
    ))
});

use common::T0;
use keygate_core::Meter;
use keygate_core::meter::{
    Charge, CreditAccount, CreditDebit, Limit, MeterAccount, MeterDecision, MeterRequest,
    OneTimeUse,
};
use time::Duration;

/// Used tokens are purged once well past their expiry, and not before.
#[tokio::test]
async fn used_tokens_are_purged_after_their_expiry_and_a_margin() {
    let db = common::sqlite().await;
    let meter = db.store.meter();
    let expires_at = T0 + Duration::minutes(5);
    let req = MeterRequest {
        now: T0,
        charges: &[],
        credits: None,
        one_time: Some(OneTimeUse {
            token_id: "jti",
            issued_at: T0,
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
    let charge = Charge {
        account: MeterAccount::key_lineage("k"),
        limit: Limit::Rate(limit),
    };
    let req = MeterRequest {
        now: T0,
        charges: std::slice::from_ref(&charge),
        credits: Some(CreditDebit {
            account: CreditAccount::KeyLineage("k"),
            cost: 1,
            allowance: 5,
            refill: None,
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
    use sqlx::Connection as _;
    use std::time::{Duration as StdDuration, Instant};

    let db = common::sqlite().await;
    let meter = db.store.meter();
    let limit = RateLimit::new(1, 10).unwrap();
    let charge = Charge {
        account: MeterAccount::key_lineage("k"),
        limit: Limit::Rate(limit),
    };
    let mut lock = db.store.sqlite_pool().unwrap().acquire().await.unwrap();
    let tx = lock.begin_with("BEGIN IMMEDIATE").await.unwrap();
    let a = tokio::spawn({
        let meter = meter.clone();
        async move {
            let req = MeterRequest {
                now: T0,
                charges: std::slice::from_ref(&charge),
                credits: Some(CreditDebit {
                    account: CreditAccount::KeyLineage("k"),
                    cost: 1,
                    allowance: 0,
                    refill: None,
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
        charges: std::slice::from_ref(&charge),
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
        matches!(c, MeterDecision::Limited { charge: 0, .. }),
        "a second request in B's window was admitted: {c:?}"
    );
}

/// Balances written before owner accounts existed are rows keyed by the bare lineage id:
/// a key lineage still reads (and debits) them; an owner account has a row of its own,
/// `owner:<tenant>/<owner>`, which no lineage id can be.
#[tokio::test]
async fn lineage_balances_keep_their_rows_and_owners_get_their_own() {
    let db = common::sqlite().await;
    let pool = db.store.sqlite_pool().unwrap();
    sqlx::query("INSERT INTO kg_credits (account, balance) VALUES ('key_old', 42)")
        .execute(pool)
        .await
        .unwrap();
    let meter = db.store.meter();
    let lineage = CreditAccount::KeyLineage("key_old");
    assert_eq!(
        keygate_core::testing::meter::credits_of(&meter, lineage, 100).await,
        42
    );
    let req = MeterRequest {
        now: T0,
        charges: &[],
        credits: Some(CreditDebit {
            account: lineage,
            cost: 2,
            allowance: 100,
            refill: None,
        }),
        one_time: None,
    };
    assert!(matches!(
        meter.meter(&req).await.unwrap(),
        MeterDecision::Allowed {
            credits_remaining: Some(40),
            ..
        }
    ));
    let owner = CreditAccount::Owner("acme/ada");
    assert_eq!(
        meter
            .add_credits(owner, 5, keygate_core::meter::CreditSeed::credits(10), T0)
            .await
            .unwrap(),
        15
    );
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT account, balance FROM kg_credits ORDER BY account")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            ("key_old".to_owned(), 40),
            ("owner:acme/ada".to_owned(), 15)
        ]
    );
}
