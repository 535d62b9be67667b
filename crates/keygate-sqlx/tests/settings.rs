//! Persisted settings: written once, read by every instance, agreed on when two start at
//! once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use keygate_core::token::{Ed25519Seed, TokenIssuer};
use keygate_core::{Keygate, Pepper, PlatformSecret};
use keygate_sqlx::SqlStore;

async fn two_instances_agree(a: SqlStore, b: SqlStore) {
    assert!(a.platform_secret_digest().await.unwrap().is_none());
    let pepper = || Pepper::from_bytes(vec![3; 32]).unwrap();
    let hasher = keygate_core::key::KeyHasher::new(&pepper());
    let (secret_a, secret_b) = (
        PlatformSecret::generate().unwrap(),
        PlatformSecret::generate().unwrap(),
    );
    let (da, db) = (
        hasher.digest(secret_a.expose()),
        hasher.digest(secret_b.expose()),
    );
    let (sa, sb) = tokio::join!(
        a.init_platform_secret_digest(da),
        b.init_platform_secret_digest(db)
    );
    let (sa, sb) = (sa.unwrap(), sb.unwrap());
    assert_eq!(sa.value, sb.value, "both instances use the same digest");
    assert!(sa.inserted ^ sb.inserted, "exactly one proposal was stored");
    let winner = if sa.inserted { &secret_a } else { &secret_b };
    assert_eq!(a.platform_secret_digest().await.unwrap(), Some(sa.value));

    // An engine built from the stored digest opens admin routes with the winning secret.
    let engine = Keygate::builder()
        .pepper(pepper())
        .platform_secret_digest(sb.value)
        .key_store(b.clone())
        .meter(b.meter())
        .build()
        .unwrap();
    let request = http::Request::builder()
        .header("x-client-secret", winner.expose())
        .body(())
        .unwrap();
    engine
        .authenticate(&request, &keygate_core::Access::admin())
        .await
        .unwrap();

    let (ta, tb) = tokio::join!(
        a.init_token_seed(Ed25519Seed::generate().unwrap()),
        b.init_token_seed(Ed25519Seed::generate().unwrap())
    );
    let (ta, tb) = (ta.unwrap(), tb.unwrap());
    assert!(ta.inserted ^ tb.inserted);
    let (ia, ib) = (
        TokenIssuer::ed25519_seed(&ta.value).unwrap(),
        TokenIssuer::ed25519_seed(&tb.value).unwrap(),
    );
    assert_eq!(ia.kid(), ib.kid(), "both instances sign with the same key");
    // Later starts read what is there.
    let again = a
        .init_token_seed(Ed25519Seed::generate().unwrap())
        .await
        .unwrap();
    assert!(!again.inserted);
    assert_eq!(
        TokenIssuer::ed25519_seed(&again.value).unwrap().kid(),
        ia.kid()
    );
}

#[tokio::test]
async fn sqlite_instances_agree_on_settings() {
    let db = common::sqlite().await;
    let url = format!("sqlite://{}", db.dir.path().join("keygate.db").display());
    let other = SqlStore::connect(&url).await.unwrap();
    two_instances_agree(db.store.clone(), other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_agree_on_settings() {
    let Some(schema) = common::PgSchema::new("settings").await else {
        return;
    };
    let (a, b) = (schema.store().await, schema.store().await);
    two_instances_agree(a.clone(), b.clone()).await;
    a.close().await;
    b.close().await;
    schema.drop_schema().await;
}
