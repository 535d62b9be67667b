//! Redis losing its data, or not answering: never an admission.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration as StdDuration, Instant};

use keygate_core::key::RateLimit;
use keygate_core::meter::{Charge, Limit, MeterAccount, MeterDecision, MeterRequest, OneTimeUse};
use keygate_core::store::StoreErrorKind;
use keygate_core::testing::T0;
use keygate_core::{MemoryMeter, Meter};
use keygate_redis::{ConnectError, LEDGER_SKEW, RedisConfig, RedisConnection};
use time::Duration;

/// A dedicated logical database, so the test can `FLUSHDB` it.
const FLUSHED_DB: u32 = 9;

fn use_token(
    token_id: &str,
    issued_at: time::OffsetDateTime,
    now: time::OffsetDateTime,
) -> MeterRequest<'_> {
    MeterRequest {
        now,
        charges: &[],
        credits: None,
        one_time: Some(OneTimeUse {
            token_id,
            issued_at,
            expires_at: issued_at + Duration::minutes(5),
        }),
    }
}

fn db_url(base: &str, db: u32) -> String {
    // The test URL names a server; swap its database for ours.
    let server = match base.rsplit_once('/') {
        Some((server, db)) if !db.is_empty() && db.chars().all(|c| c.is_ascii_digit()) => server,
        _ => base.trim_end_matches('/'),
    };
    format!("{server}/{db}")
}

#[tokio::test]
async fn a_token_used_before_a_flush_is_refused_after_it() {
    let Some(base) = common::redis_url(module_path!()) else {
        return;
    };
    let redis = common::TestRedis::on(&db_url(&base, FLUSHED_DB), module_path!()).await;
    let meter = redis.meter(MemoryMeter::new()).await;
    let used = use_token("jti-before", T0, T0 + Duration::seconds(10));
    assert!(matches!(
        meter.meter(&used).await.unwrap(),
        MeterDecision::Allowed { .. }
    ));
    assert_eq!(
        meter.meter(&used).await.unwrap(),
        MeterDecision::AlreadyUsed
    );

    // Redis loses everything (FLUSHALL, or a restart without persistence).
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut conn = client.get_connection().unwrap();
    redis::cmd("FLUSHDB").query::<()>(&mut conn).unwrap();

    // The used token stays refused; so does one issued before the flush and never used
    // (the ledger cannot tell them apart).
    let flushed_at = T0 + Duration::minutes(1);
    let replay = use_token("jti-before", T0, flushed_at);
    assert_eq!(
        meter.meter(&replay).await.unwrap(),
        MeterDecision::AlreadyUsed
    );
    let unused = use_token("jti-unused", T0 + Duration::seconds(30), flushed_at);
    assert_eq!(
        meter.meter(&unused).await.unwrap(),
        MeterDecision::AlreadyUsed
    );
    // A token issued up to the skew margin after the new epoch is refused too; one
    // issued later is used once, as always.
    let skew = Duration::try_from(LEDGER_SKEW).unwrap();
    let edge = flushed_at + skew - Duration::seconds(1);
    assert_eq!(
        meter
            .meter(&use_token("jti-edge", edge, edge))
            .await
            .unwrap(),
        MeterDecision::AlreadyUsed
    );
    let fresh_at = flushed_at + skew;
    let fresh = use_token("jti-after", fresh_at, fresh_at);
    assert!(matches!(
        meter.meter(&fresh).await.unwrap(),
        MeterDecision::Allowed { .. }
    ));
    assert_eq!(
        meter.meter(&fresh).await.unwrap(),
        MeterDecision::AlreadyUsed
    );
}

static LIMIT: std::sync::LazyLock<Charge<'static>> = std::sync::LazyLock::new(|| Charge {
    account: MeterAccount::key_lineage("key_down"),
    limit: Limit::Rate(RateLimit::new(100, 60).unwrap()),
});

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn an_unreachable_redis_is_a_quick_store_error_never_an_admission() {
    let url = format!("redis://:hunter2@127.0.0.1:{}/0", closed_port());
    let config = RedisConfig::new(&url).timeout(StdDuration::from_millis(200));
    // Connecting says so, without the password.
    let err = RedisConnection::connect(config.clone()).await.unwrap_err();
    assert!(matches!(err, ConnectError::Unreachable { .. }), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(err.to_string().contains("KEYGATE_REDIS_URL"), "{err}");

    // A lazily connected meter answers every request with an error, within the timeout.
    let meter = RedisConnection::connect_lazy(config)
        .unwrap()
        .meter(MemoryMeter::new());
    let requests = [
        MeterRequest {
            now: T0,
            charges: std::slice::from_ref(&*LIMIT),
            credits: None,
            one_time: None,
        },
        use_token("jti-down", T0, T0),
    ];
    for request in &requests {
        for _ in 0..3 {
            let started = Instant::now();
            let err = meter.meter(request).await.unwrap_err();
            assert!(
                started.elapsed() < StdDuration::from_millis(1000),
                "{:?}",
                started.elapsed()
            );
            assert_eq!(err.kind(), StoreErrorKind::Unavailable);
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }
    assert!(meter.connection().ping().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meter_refuses_while_redis_is_away_and_serves_again_when_it_is_back() {
    let Some(redis) = common::TestRedis::new(module_path!()).await else {
        return;
    };
    let proxy = common::Proxy::start(common::redis_address(&redis.url)).await;
    let connection = RedisConnection::connect(
        RedisConfig::new(format!("redis://127.0.0.1:{}", proxy.port))
            .prefix(&redis.prefix)
            .unwrap()
            .timeout(StdDuration::from_millis(300)),
    )
    .await
    .unwrap();
    let meter = connection.meter(MemoryMeter::new());
    meter
        .declare_ledger_complete_since(time::OffsetDateTime::UNIX_EPOCH)
        .await
        .unwrap();
    let charge = Charge {
        account: MeterAccount::key_lineage("key_away"),
        limit: Limit::Rate(RateLimit::new(3, 60).unwrap()),
    };
    let request = MeterRequest {
        now: T0,
        charges: std::slice::from_ref(&charge),
        credits: None,
        one_time: None,
    };
    let remaining = |decision| match decision {
        MeterDecision::Allowed { tightest, .. } => tightest.unwrap().status.remaining,
        other => panic!("{other:?}"),
    };
    assert_eq!(remaining(meter.meter(&request).await.unwrap()), 2);

    proxy.set_cut(true);
    // The proxy closes its connections within 10 ms.
    tokio::time::sleep(StdDuration::from_millis(50)).await;
    for _ in 0..5 {
        let started = Instant::now();
        meter.meter(&request).await.unwrap_err();
        assert!(started.elapsed() < StdDuration::from_secs(1));
    }

    // Back, without a new connection or meter: the requests refused meanwhile took
    // nothing.
    proxy.set_cut(false);
    let started = Instant::now();
    let decision = loop {
        match meter.meter(&request).await {
            Ok(decision) => break decision,
            Err(_) if started.elapsed() < StdDuration::from_secs(10) => {
                tokio::time::sleep(StdDuration::from_millis(20)).await;
            }
            Err(err) => panic!("not back after 10 s: {err}"),
        }
    };
    assert_eq!(remaining(decision), 1);
}
