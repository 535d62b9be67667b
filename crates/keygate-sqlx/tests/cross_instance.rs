//! What a deployment of several instances on one database relies on: credits never
//! oversold, one-time tokens used once (and free everywhere once given back),
//! revocations seen by every instance's cache within a second, and migrations safe to
//! run twice or at once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

mod common;

use std::time::{Duration as StdDuration, Instant};

use common::{PgSchema, T0};
use keygate_core::key::{KeyKind, NewKey};
use keygate_core::meter::{
    CreditAccount, CreditDebit, MeterDecision, MeterRequest, OneTimeUse, Settlement,
};
use keygate_core::store::{CachedKeyStore, KeyCacheConfig};
use keygate_core::{Access, Environment, KeyStore, Keygate, Meter, Pepper, SystemClock};
use keygate_sqlx::SqlStore;
use sqlx::Connection as _;
use time::Duration;

fn pepper() -> Pepper {
    Pepper::from_bytes(vec![42; 32]).unwrap()
}

fn debit_request(account: &str) -> MeterRequest<'_> {
    MeterRequest {
        now: T0,
        charges: &[],
        credits: Some(CreditDebit {
            account: CreditAccount::KeyLineage(account),
            cost: 1,
            allowance: 50,
            refill: None,
        }),
        one_time: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_pools_200_deductions_50_credits_exactly_50_succeed() {
    let Some(schema) = PgSchema::new("two_pools_deductions").await else {
        return;
    };
    let (a, b) = (schema.store().await, schema.store().await);
    let meters = [a.meter(), b.meter()];
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let meter = meters[i % 2].clone();
            tokio::spawn(async move { meter.meter(&debit_request("lineage_1")).await.unwrap() })
        })
        .collect();
    let mut allowed = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            MeterDecision::Allowed { .. } => allowed += 1,
            MeterDecision::InsufficientCredits { remaining: 0, .. } => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((allowed, refused), (50, 150));
    assert_eq!(
        keygate_core::testing::meter::credits_of(
            &a.meter(),
            CreditAccount::KeyLineage("lineage_1"),
            50
        )
        .await,
        0
    );
    assert_eq!(
        keygate_core::testing::meter::credits_of(
            &b.meter(),
            CreditAccount::KeyLineage("lineage_1"),
            50
        )
        .await,
        0
    );
    a.close().await;
    b.close().await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_one_time_token_raced_from_two_pools_is_used_once() {
    let Some(schema) = PgSchema::new("two_pools_one_time").await else {
        return;
    };
    let (a, b) = (schema.store().await, schema.store().await);
    let meters = [a.meter(), b.meter()];
    // Twenty tokens, each presented four times at once through both pools; with credits
    // too, so a replay that got through would also show as a wrong balance.
    for round in 0..20 {
        let token = format!("jti-{round}");
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let meter = meters[i % 2].clone();
                let token = token.clone();
                tokio::spawn(async move {
                    let req = MeterRequest {
                        one_time: Some(OneTimeUse {
                            token_id: &token,
                            issued_at: T0,
                            expires_at: T0 + Duration::minutes(5),
                        }),
                        ..debit_request("tokens")
                    };
                    meter.meter(&req).await.unwrap()
                })
            })
            .collect();
        let mut used = 0;
        for task in tasks {
            match task.await.unwrap() {
                MeterDecision::Allowed { .. } => used += 1,
                MeterDecision::AlreadyUsed => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(used, 1, "token {round}");
    }
    assert_eq!(
        keygate_core::testing::meter::credits_of(
            &a.meter(),
            CreditAccount::KeyLineage("tokens"),
            50
        )
        .await,
        30
    );
    a.close().await;
    b.close().await;
    schema.drop_schema().await;
}

/// A one-time use given back by one instance (its handler answered 4xx) is free on every
/// instance, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_one_time_token_released_through_one_pool_is_usable_through_the_other() {
    let Some(schema) = PgSchema::new("two_pools_release").await else {
        return;
    };
    let (a, b) = (schema.store().await, schema.store().await);
    let (a_meter, b_meter) = (a.meter(), b.meter());
    let req = MeterRequest {
        now: T0,
        charges: &[],
        credits: None,
        one_time: Some(OneTimeUse {
            token_id: "jti-released",
            issued_at: T0,
            expires_at: T0 + Duration::minutes(5),
        }),
    };
    assert!(matches!(
        a_meter.meter(&req).await.unwrap(),
        MeterDecision::Allowed { .. }
    ));
    assert_eq!(
        b_meter.meter(&req).await.unwrap(),
        MeterDecision::AlreadyUsed
    );
    a_meter
        .settle(&Settlement {
            credits: None,
            one_time: Some("jti-released"),
        })
        .await
        .unwrap();
    assert!(matches!(
        b_meter.meter(&req).await.unwrap(),
        MeterDecision::Allowed { .. }
    ));
    assert_eq!(
        a_meter.meter(&req).await.unwrap(),
        MeterDecision::AlreadyUsed
    );
    a.close().await;
    b.close().await;
    schema.drop_schema().await;
}

/// Polls `check` until it is true, for at most `limit`; returns how long it took.
async fn within(limit: StdDuration, mut check: impl AsyncFnMut() -> bool) -> Option<StdDuration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }
    None
}

async fn serving(cache: &CachedKeyStore<SqlStore>) {
    let ready = within(StdDuration::from_secs(5), async || cache.stats().serving).await;
    assert!(ready.is_some(), "the cache's listener never started");
}

/// Two instances, each its own engine, pool and cache. A key revoked through A is refused
/// by B, whose cache held it, within 1 s.
async fn revocation_reaches_the_other_instance(a: SqlStore, b: SqlStore, limit: StdDuration) {
    let cache_a = a.cached().unwrap();
    // B's cache would hold the key for a minute without a notice.
    let cache_b = b
        .cached_with(
            KeyCacheConfig::default().with_max_age(Duration::minutes(10)),
            SystemClock,
        )
        .unwrap();
    serving(&cache_a).await;
    serving(&cache_b).await;
    let instance_a = Keygate::builder()
        .pepper(pepper())
        .key_store(cache_a.clone())
        .meter(a.meter())
        .build()
        .unwrap();
    let instance_b = Keygate::builder()
        .pepper(pepper())
        .key_store(cache_b.clone())
        .meter(b.meter())
        .build()
        .unwrap();
    let created = instance_a
        .create_key(NewKey {
            tenant: Some("acme".into()),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await
        .unwrap();
    let request = http::Request::builder()
        .header("x-api-key", created.key.expose())
        .body(())
        .unwrap();
    let route = Access::scoped("read:users").unwrap();
    // B knows the key, and answers it from its cache: no lookup reaches its database.
    instance_b.authenticate(&request, &route).await.unwrap();
    assert!(cache_b.stats().by_digest >= 1, "{:?}", cache_b.stats());
    let before = cache_b.stats().store_lookups;
    assert!(before >= 1, "the first request read the store");
    for _ in 0..3 {
        instance_b.authenticate(&request, &route).await.unwrap();
    }
    assert_eq!(
        cache_b.stats().store_lookups,
        before,
        "B asked its database for a cached key"
    );

    let started = Instant::now();
    instance_a.revoke_key(&created.record.id).await.unwrap();
    let revoke_took = started.elapsed();
    let latency = within(limit, async || {
        matches!(
            instance_b.authenticate(&request, &route).await,
            Err(err) if err.code() == "key_revoked"
        )
    })
    .await;
    let Some(latency) = latency else {
        panic!("B still accepts the revoked key after {limit:?}");
    };
    eprintln!(
        "revocation refused through the other instance's cache {latency:?} after the revoke \
         returned (the revoke itself took {revoke_took:?})"
    );
    drop((cache_a, cache_b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_key_revoked_through_pool_a_is_refused_through_the_cache_on_pool_b_within_1s() {
    let Some(schema) = PgSchema::new("revocation_notify").await else {
        return;
    };
    let (a, b) = (schema.store().await, schema.store().await);
    revocation_reaches_the_other_instance(a.clone(), b.clone(), StdDuration::from_secs(1)).await;
    a.close().await;
    b.close().await;
    schema.drop_schema().await;
}

/// Two processes on one SQLite file (the platform and the CLI): the cache polls the
/// change log every second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_key_revoked_by_another_process_is_refused_within_the_poll_interval() {
    let db = common::sqlite().await;
    let url = format!("sqlite://{}", db.dir.path().join("keygate.db").display());
    let other = SqlStore::connect(&url).await.unwrap();
    revocation_reaches_the_other_instance(
        db.store.clone(),
        other,
        keygate_sqlx::SQLITE_POLL_INTERVAL + StdDuration::from_millis(500),
    )
    .await;
}

/// While the LISTEN connection is down the cache serves nothing; once back, it starts
/// empty, so a revocation sent while it was down is not missed. Every answer after the
/// revoke is checked, not only the last: no stale record is served at any point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_lost_listen_connection_suspends_the_cache_until_it_is_back() {
    let Some(schema) = PgSchema::new("listener_lost").await else {
        return;
    };
    let proxy = common::Proxy::start(&schema.base).await;
    // B's lookups go straight to the database; only its listener goes through the proxy.
    let b = schema
        .store()
        .await
        .listen_through(proxy.options(schema.options()));
    let a = schema.store().await;
    let cache = b.cached().unwrap();
    serving(&cache).await;
    let key = common::record("lost", None, 0);
    a.create(&key).await.unwrap();
    cache.find_by_hash(&key.digest).await.unwrap().unwrap();
    assert_eq!(cache.stats().by_digest, 1);

    // Cut B's listening connection, and keep it from coming back for now.
    proxy.cut();
    let suspended = within(StdDuration::from_secs(1), async || !cache.stats().serving).await;
    assert!(
        suspended.is_some(),
        "a closed LISTEN connection went unnoticed"
    );
    // The revocation's notice goes nowhere while B is not listening.
    a.revoke(&key.id, T0).await.unwrap();
    let fresh = async || {
        let record = cache.find_by_hash(&key.digest).await.unwrap().unwrap();
        assert_eq!(
            record.revoked_at,
            Some(T0),
            "a stale record was served after the revoke (serving: {})",
            cache.stats().serving
        );
    };
    for _ in 0..20 {
        fresh().await;
    }
    assert!(
        !cache.stats().serving,
        "the proxy still refuses: no listener"
    );
    proxy.restore();
    let back = Instant::now();
    while !cache.stats().serving {
        assert!(
            back.elapsed() < StdDuration::from_secs(10),
            "never listened again"
        );
        fresh().await;
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }
    // Serving again, from an emptied cache.
    for _ in 0..20 {
        fresh().await;
    }
    drop(cache);
    a.close().await;
    b.close().await;
}

/// A listening connection that goes silent without closing (the whole path to the
/// database black-holed, as a NAT that forgot the flow does) is noticed by the heartbeat:
/// the cache stops serving within the bound, instead of serving what it holds for its
/// whole max age.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_silent_listen_connection_suspends_the_cache_within_1s() {
    let Some(schema) = PgSchema::new("listener_silent").await else {
        return;
    };
    let proxy = common::Proxy::start(&schema.base).await;
    let b = SqlStore::connect_postgres(proxy.options(schema.options()))
        .await
        .unwrap();
    let a = schema.store().await;
    let cache = b.cached().unwrap();
    serving(&cache).await;
    let key = common::record("silent", None, 0);
    a.create(&key).await.unwrap();
    cache.find_by_hash(&key.digest).await.unwrap().unwrap();

    proxy.freeze();
    let frozen = Instant::now();
    let bound = keygate_sqlx::LISTEN_HEARTBEAT_INTERVAL + keygate_sqlx::LISTEN_HEARTBEAT_TIMEOUT;
    let noticed = within(StdDuration::from_secs(1), async || !cache.stats().serving).await;
    let Some(noticed) = noticed else {
        panic!("the cache still serves 1 s after its connection went silent");
    };
    eprintln!(
        "a silent LISTEN connection suspended the cache {noticed:?} after it went silent \
         (bound {bound:?})"
    );
    assert!(frozen.elapsed() >= noticed);
    // B's pool is behind the frozen proxy too: not closed, only dropped.
    drop(cache);
    a.close().await;
}

/// Instance B's lookups reach the database, but its listening connection goes silent
/// (the listener goes through a proxy that freezes): a key revoked through A is still
/// refused by B within 1 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_key_revoked_while_the_listener_is_silent_is_refused_within_1s() {
    let Some(schema) = PgSchema::new("listener_silent_revoke").await else {
        return;
    };
    let proxy = common::Proxy::start(&schema.base).await;
    let a = schema.store().await;
    let b = schema
        .store()
        .await
        .listen_through(proxy.options(schema.options()));
    let cache_b = b
        .cached_with(
            KeyCacheConfig::default().with_max_age(Duration::minutes(10)),
            SystemClock,
        )
        .unwrap();
    serving(&cache_b).await;
    assert_eq!(
        proxy.connections(),
        1,
        "the listener goes through the proxy"
    );
    let instance_a = Keygate::builder()
        .pepper(pepper())
        .key_store(a.clone())
        .meter(a.meter())
        .build()
        .unwrap();
    let instance_b = Keygate::builder()
        .pepper(pepper())
        .key_store(cache_b.clone())
        .meter(b.meter())
        .build()
        .unwrap();
    let created = instance_a
        .create_key(NewKey::new(KeyKind::Secret, Environment::Live))
        .await
        .unwrap();
    let request = http::Request::builder()
        .header("x-api-key", created.key.expose())
        .body(())
        .unwrap();
    let route = Access::scoped("read:users").unwrap();
    instance_b.authenticate(&request, &route).await.unwrap();
    assert_eq!(cache_b.stats().by_digest, 1);

    proxy.freeze();
    instance_a.revoke_key(&created.record.id).await.unwrap();
    let revoked = Instant::now();
    let refused = within(StdDuration::from_secs(1), async || {
        matches!(
            instance_b.authenticate(&request, &route).await,
            Err(err) if err.code() == "key_revoked"
        )
    })
    .await;
    let Some(refused) = refused else {
        panic!("B still accepts the revoked key 1 s after its listener went silent");
    };
    eprintln!(
        "with B's listener silent, B refused the revoked key {refused:?} after the revoke \
         (measured {:?})",
        revoked.elapsed()
    );
    drop(cache_b);
    a.close().await;
    b.close().await;
}

/// The listener's connections from `application_name` `app` (running `LISTEN` or the
/// heartbeat), seen from a connection of its own.
async fn listening(schema: &PgSchema, app: &str) -> i64 {
    let mut admin = sqlx::PgConnection::connect_with(&schema.base)
        .await
        .unwrap();
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 \
         AND (query ILIKE 'LISTEN%' OR query = 'SELECT 1')",
    )
    .bind(app)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    count
}

/// The listener ends when the last clone of the cache is dropped, and not before; it
/// holds a connection of its own, none of the store's pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_listener_lives_exactly_as_long_as_the_cache() {
    let Some(schema) = PgSchema::new("listener_lifetime").await else {
        return;
    };
    let app = schema.name.clone();
    let store = SqlStore::connect_postgres(schema.options().application_name(&app))
        .await
        .unwrap();
    let pool = store.pg_pool().unwrap().clone();
    let cache = store.cached().unwrap();
    serving(&cache).await;
    let in_use = || pool.size() as usize - pool.num_idle();
    assert_eq!(
        in_use(),
        0,
        "the listener holds none of the pool's connections"
    );
    assert_eq!(listening(&schema, &app).await, 1, "it holds one of its own");
    let clone = cache.clone();
    drop(cache);
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    assert_eq!(
        listening(&schema, &app).await,
        1,
        "a clone is alive: still listening"
    );
    assert!(clone.stats().serving);
    drop(clone);
    let mut released = None;
    let start = Instant::now();
    while start.elapsed() < StdDuration::from_secs(5) {
        if listening(&schema, &app).await == 0 {
            released = Some(start.elapsed());
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    assert!(released.is_some(), "the listener outlived the cache");
    store.close().await;
}

/// A pool of one connection, held by the application: the cache still listens, and
/// after its connection is lost it reconnects without waiting for the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_listener_needs_no_connection_of_the_pool() {
    let Some(schema) = PgSchema::new("listener_own_connection").await else {
        return;
    };
    let proxy = common::Proxy::start(&schema.base).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(StdDuration::from_secs(1))
        .connect_with(schema.options())
        .await
        .unwrap();
    let store = SqlStore::from_pg_pool(pool.clone())
        .await
        .unwrap()
        .listen_through(proxy.options(schema.options()));
    let cache = store.cached().unwrap();
    serving(&cache).await;
    let key = common::record("own", None, 0);
    cache.create(&key).await.unwrap();
    cache.find_by_hash(&key.digest).await.unwrap().unwrap();

    let held = pool.acquire().await.unwrap();
    proxy.cut();
    let suspended = within(StdDuration::from_secs(1), async || !cache.stats().serving).await;
    assert!(suspended.is_some());
    proxy.restore();
    let back = within(StdDuration::from_secs(3), async || cache.stats().serving).await;
    assert!(
        back.is_some(),
        "the listener waited for the store's exhausted pool to reconnect"
    );
    drop(held);
    drop(cache);
    store.close().await;
}

async fn pg_schema_is_whole(store: &SqlStore) {
    let pool = store.pg_pool().unwrap();
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(pool)
            .await
            .unwrap();
    // 3: the OAuth tables (keygate-oauth's store, feature `oauth`); 4: accounts and refills.
    assert_eq!(versions, vec![1, 2, 3, 4, 5]);
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() ORDER BY table_name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        tables,
        [
            "_sqlx_migrations",
            "kg_credits",
            "kg_keys",
            "kg_oauth_clients",
            "kg_oauth_codes",
            "kg_oauth_grants",
            "kg_oauth_tokens",
            "kg_settings",
            "kg_used_tokens",
            "kg_windows"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrations_applied_twice_or_at_once_leave_one_schema() {
    let Some(schema) = PgSchema::new("migrations").await else {
        return;
    };
    // Two "processes" (independent pools) start at once on an empty schema.
    let (a, b) = tokio::join!(
        SqlStore::connect_postgres(schema.options()),
        SqlStore::connect_postgres(schema.options())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    pg_schema_is_whole(&a).await;
    // And again, on a schema already up to date.
    a.migrate().await.unwrap();
    b.migrate().await.unwrap();
    pg_schema_is_whole(&b).await;
    a.close().await;
    b.close().await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrations_applied_twice_or_at_once_leave_one_schema() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("fresh.db").display());
        let (a, b) = tokio::join!(SqlStore::connect(&url), SqlStore::connect(&url));
        let (a, b) = (a.unwrap(), b.unwrap());
        a.migrate().await.unwrap();
        let pool = b.sqlite_pool().unwrap();
        let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
            .fetch_all(pool)
            .await
            .unwrap();
        // Postgres has a second migration (listing indexes in its "C" collation); SQLite
        // compares text bytewise already. 3: the OAuth tables; 4: accounts and refills; 5: windows.
        assert_eq!(versions, vec![1, 3, 4, 5]);
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'kg_%' ORDER BY name",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        assert_eq!(
            tables,
            [
                "kg_credits",
                "kg_key_changes",
                "kg_keys",
                "kg_oauth_clients",
                "kg_oauth_codes",
                "kg_oauth_grants",
                "kg_oauth_tokens",
                "kg_settings",
                "kg_used_tokens",
                "kg_windows"
            ]
        );
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }
}

#[tokio::test]
async fn urls_dispatch_on_their_scheme_and_errors_never_repeat_them() {
    let memory = SqlStore::connect("sqlite::memory:").await.unwrap();
    assert_eq!(memory.backend(), keygate_sqlx::Backend::Sqlite);
    memory.ping().await.unwrap();
    let err = SqlStore::connect("mysql://root:hunter2@db/keygate")
        .await
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"));
    let err = SqlStore::connect("postgres://user:hunter2@127.0.0.1:1/none")
        .await
        .unwrap_err();
    assert!(!format!("{err}").contains("hunter2"), "{err}");
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    assert!(!format!("{store:?}").contains("memory"), "{store:?}");
}

/// A rotation of a key whose stored record does not parse is refused before anything
/// commits: no half-done rotation (old key limited, successor stored) with no notice
/// sent and an error returned.
#[tokio::test]
async fn a_rotation_of_a_corrupt_record_commits_nothing() {
    let db = common::sqlite().await;
    let store = db.store.clone();
    let old = common::record("corrupt-old", None, 0);
    store.create(&old).await.unwrap();
    let pool = store.sqlite_pool().unwrap();
    sqlx::query("UPDATE kg_keys SET pepper = 'not a pepper id!' WHERE id = $1")
        .bind(old.id.as_str())
        .execute(pool)
        .await
        .unwrap();
    let successor = common::record("corrupt-successor", None, 1);
    let err = store
        .rotate(&old.id, &successor, T0 + Duration::hours(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), keygate_core::store::StoreErrorKind::Corrupt);
    let (valid_until, keys, changes): (Option<i64>, i64, i64) = sqlx::query_as(
        "SELECT (SELECT valid_until FROM kg_keys WHERE id = $1), \
         (SELECT count(*) FROM kg_keys), (SELECT count(*) FROM kg_key_changes)",
    )
    .bind(old.id.as_str())
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        (valid_until, keys, changes),
        (None, 1, 0),
        "the rotation committed although it reported an error"
    );
}
