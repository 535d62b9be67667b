//! `KEYGATE_REDIS_URL`: a key the CLI revokes is dropped at once by a cache that hears of
//! it over Redis only (no SQL listener, entries that would live a minute), so nothing but
//! the CLI's notice can explain the drop.

use std::time::{Duration, Instant};

use keygate_core::key::KeyId;
use keygate_core::store::{CachedKeyStore, KeyStore as _};
use keygate_redis::{RedisConfig, RedisConnection};
use keygate_sqlx::setup::{Setup, Start};

use crate::common::{Deployment, on_every_store, ran};

on_every_store!(a_cli_revoke_reaches_a_cache_listening_on_redis);

async fn a_cli_revoke_reaches_a_cache_listening_on_redis(d: &Deployment) {
    let Ok(redis_url) = std::env::var("KEYGATE_TEST_REDIS_URL") else {
        eprintln!("skipping: set KEYGATE_TEST_REDIS_URL to run the CLI's Redis test");
        return;
    };
    d.init();
    let (id_text, _key) = d.create(&["--kind", "secret", "--tenant", "acme"]);
    let id = KeyId::new(id_text.as_str());

    // A platform's cache, listening on Redis alone (the default prefix, as the CLI's).
    let opened = Setup::new(&d.url)
        .pepper_file(d.pepper_file())
        .open(Start::OpenExisting)
        .await
        .unwrap();
    let cache = CachedKeyStore::new(opened.store().clone());
    let redis = RedisConnection::connect(RedisConfig::new(&redis_url))
        .await
        .unwrap();
    redis.listen(&cache).unwrap();
    let listening = Instant::now();
    while !cache.stats().serving {
        assert!(
            listening.elapsed() < Duration::from_secs(5),
            "not subscribed"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(cache.get(&id).await.unwrap().unwrap().revoked_at.is_none());
    let lookups = cache.stats().store_lookups;
    assert!(cache.get(&id).await.unwrap().unwrap().revoked_at.is_none());
    assert_eq!(
        cache.stats().store_lookups,
        lookups,
        "served from the cache"
    );

    let started = Instant::now();
    let revoke = ran(d.keygate().env("KEYGATE_REDIS_URL", &redis_url).args([
        "keys",
        "revoke",
        id_text.as_str(),
    ]));
    let exited = Instant::now();
    revoke.ok();
    loop {
        let seen = cache.get(&id).await.unwrap().unwrap();
        if seen.revoked_at.is_some() {
            break;
        }
        assert!(
            exited.elapsed() < Duration::from_secs(1),
            "the cache still holds a key the CLI revoked 1 s after it exited"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    eprintln!(
        "CLI revoke over Redis: dropped {:?} after the CLI exited ({:?} after it started)",
        exited.elapsed(),
        started.elapsed()
    );
    opened.store().close().await;
}
