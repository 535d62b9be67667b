//! Revocation notices over Redis pub/sub: two instances' caches on one Redis, and a
//! cache whose subscription goes down.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use keygate_core::store::{CachedKeyStore, KeyStore, MemoryKeyStore};
use keygate_core::testing::{T0, record};
use keygate_redis::{RedisConfig, RedisConnection};

/// Waits until `done` holds, for at most `limit`; how long it took.
async fn within(limit: Duration, mut done: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    started.elapsed()
}

fn serving<S: KeyStore>(cache: &CachedKeyStore<S>) -> bool {
    cache.invalidator().is_serving()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_on_one_instance_is_refused_by_the_other() {
    let Some(redis) = common::TestRedis::new(module_path!()).await else {
        return;
    };
    // One store (the shared database), two instances with a cache each.
    let store = Arc::new(MemoryKeyStore::new());
    let key = record("sk_live_revoked", Some("acme"), 0);
    store.create(&key).await.unwrap();
    let first = redis.connection.clone();
    let second = redis.second().await;
    let cache_a = first.cached(first.publisher(Arc::clone(&store))).unwrap();
    let cache_b = second.cached(second.publisher(Arc::clone(&store))).unwrap();
    within(Duration::from_secs(5), async || {
        serving(&cache_a) && serving(&cache_b)
    })
    .await;

    // B caches the live key: a change behind its back (straight in the store, no notice)
    // is not seen.
    let live = cache_b.find_by_hash(&key.digest).await.unwrap().unwrap();
    assert!(live.revoked_at.is_none());
    store.revoke(&key.id, T0).await.unwrap();
    let cached = cache_b.find_by_hash(&key.digest).await.unwrap().unwrap();
    assert!(cached.revoked_at.is_none(), "served from B's cache");

    // Revoked through A: B refuses it within a second.
    let revoked_at = Instant::now();
    cache_a.revoke(&key.id, T0).await.unwrap().unwrap();
    let took = within(Duration::from_secs(1), async || {
        let seen = cache_b.find_by_hash(&key.digest).await.unwrap().unwrap();
        seen.revoked_at.is_some()
    })
    .await;
    eprintln!(
        "revoked on A, refused by B after {took:?} ({:?} after the revoke started)",
        revoked_at.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_serves_nothing_while_its_subscription_is_down_and_starts_empty_after() {
    let Some(redis) = common::TestRedis::new(module_path!()).await else {
        return;
    };
    let proxy = common::Proxy::start(common::redis_address(&redis.url)).await;
    let through_proxy = RedisConnection::connect(
        RedisConfig::new(format!("redis://127.0.0.1:{}", proxy.port))
            .prefix(&redis.prefix)
            .unwrap()
            .timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    let store = Arc::new(MemoryKeyStore::new());
    let key = record("sk_live_cut", None, 0);
    store.create(&key).await.unwrap();
    let cache = through_proxy.cached(Arc::clone(&store)).unwrap();
    within(Duration::from_secs(5), async || serving(&cache)).await;
    cache.find_by_hash(&key.digest).await.unwrap().unwrap();

    // The subscription's connection goes down: the cache stops serving.
    proxy.set_cut(true);
    let took = within(Duration::from_secs(2), async || !serving(&cache)).await;
    eprintln!("suspended {took:?} after the subscription was cut");
    // A change made meanwhile (its notice, if any, would be lost) is seen at once.
    store.revoke(&key.id, T0).await.unwrap();
    let seen = cache.find_by_hash(&key.digest).await.unwrap().unwrap();
    assert!(
        seen.revoked_at.is_some(),
        "lookups go to the store while suspended"
    );

    // Back: serving again, from an empty cache.
    proxy.set_cut(false);
    within(Duration::from_secs(10), async || serving(&cache)).await;
    let seen = cache.find_by_hash(&key.digest).await.unwrap().unwrap();
    assert!(seen.revoked_at.is_some());
}

/// `listen` adds Redis to a cache that has a listener already (here a second Redis
/// subscription through a proxy that can be cut, standing in for the SQL store's): the
/// cache serves only while both are up, and a publisher in front of the cache reaches
/// another instance's cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_with_two_listeners_stops_serving_while_either_is_down() {
    let Some(redis) = common::TestRedis::new(module_path!()).await else {
        return;
    };
    let proxy = common::Proxy::start(common::redis_address(&redis.url)).await;
    let through_proxy = RedisConnection::connect(
        RedisConfig::new(format!("redis://127.0.0.1:{}", proxy.port))
            .prefix(&redis.prefix)
            .unwrap()
            .timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    let store = Arc::new(MemoryKeyStore::new());
    let key = record("sk_live_two_listeners", None, 0);
    store.create(&key).await.unwrap();
    let cache = CachedKeyStore::new(Arc::clone(&store));
    through_proxy.listen(&cache).unwrap();
    redis.connection.listen(&cache).unwrap();
    within(Duration::from_secs(5), async || serving(&cache)).await;
    // Another instance, whose changes go through a publisher in front of its cache.
    let other = redis.second().await;
    let other_cache = other.cached(Arc::clone(&store)).unwrap();
    let other_keys = other.publisher(other_cache.clone());
    within(Duration::from_secs(5), async || serving(&other_cache)).await;
    cache.find_by_hash(&key.digest).await.unwrap().unwrap();
    other_keys.find_by_hash(&key.digest).await.unwrap().unwrap();

    // One listener down: the cache stops serving, though the other is up.
    proxy.set_cut(true);
    let took = within(Duration::from_secs(2), async || !serving(&cache)).await;
    eprintln!("suspended {took:?} after one of two subscriptions was cut");
    let before = cache.stats().store_lookups;
    cache.find_by_hash(&key.digest).await.unwrap().unwrap();
    assert_eq!(cache.stats().store_lookups, before + 1, "to the store");

    // Back: serving again; a revoke through the other instance's publisher arrives.
    proxy.set_cut(false);
    within(Duration::from_secs(10), async || serving(&cache)).await;
    cache.find_by_hash(&key.digest).await.unwrap().unwrap();
    let revoked = Instant::now();
    other_keys.revoke(&key.id, T0).await.unwrap().unwrap();
    assert!(
        other_cache
            .find_by_hash(&key.digest)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some(),
        "the publisher's own cache dropped it at once"
    );
    let took = within(Duration::from_secs(1), async || {
        let seen = cache.find_by_hash(&key.digest).await.unwrap().unwrap();
        seen.revoked_at.is_some()
    })
    .await;
    eprintln!(
        "revoked through a publisher in front of a cache, refused by the other after {took:?} ({:?} from the revoke)",
        revoked.elapsed()
    );
}
