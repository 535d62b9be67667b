//! The `KeyStore` suite: every store must pass it.

use std::sync::Arc;

use keygate_core::key::{KeyDigest, KeyId, RateLimit};
use keygate_core::store::{KeyListing, StoreErrorKind};
use keygate_core::{KeyKind, KeyStore, Rotation, ScopeSet};
use time::Duration;

use super::{T0, hasher, record};

pub async fn a_record_round_trips_through_every_lookup(store: impl KeyStore) {
    let mut metadata = keygate_core::key::Metadata::new();
    metadata.insert(
        "plan".into(),
        serde_json::json!({"tier": "pro", "seats": 3}),
    );
    let full = keygate_core::KeyRecord {
        kind: KeyKind::Custom,
        prefix: "bijou_".into(),
        start: "bijou_AbC1".into(),
        environment: keygate_core::Environment::Test,
        name: Some("Ünïcode name".into()),
        scopes: ScopeSet::parse(["read:users", "magic-background:*"]).unwrap(),
        rate_limit: Some(RateLimit::new(7, 10).unwrap()),
        credits: Some(keygate_core::meter::MAX_CREDITS),
        metadata: Arc::new(metadata),
        expires_at: Some(T0 + Duration::days(365 * 7000)),
        created_at: T0 + Duration::microseconds(123_456),
        ..record("full", Some("acme"), 0)
    };
    store.create(&full).await.unwrap();
    let by_hash = store.find_by_hash(&full.digest).await.unwrap().unwrap();
    assert_eq!(*by_hash, full);
    let by_id = store.get(&full.id).await.unwrap().unwrap();
    assert_eq!(*by_id, full);
    let listed = store
        .list(&KeyListing::new(Some("acme"), 100))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(*listed[0], full);
    // A secret key with every scope, and a key from before 1970, round-trip too.
    let all = keygate_core::KeyRecord {
        scopes: ScopeSet::all(),
        created_at: T0 - Duration::days(365 * 100),
        ..record("all", None, 0)
    };
    store.create(&all).await.unwrap();
    assert_eq!(*store.get(&all.id).await.unwrap().unwrap(), all);
}

pub async fn unknown_digests_and_ids_find_nothing(store: impl KeyStore) {
    let key = record("known", None, 0);
    store.create(&key).await.unwrap();
    assert!(store.get(&KeyId::new("key_nope")).await.unwrap().is_none());
    assert!(
        store
            .find_by_hash(&hasher().digest("unknown"))
            .await
            .unwrap()
            .is_none()
    );
    // Same bytes under another pepper is another digest.
    let other_pepper = keygate_core::Pepper::from_bytes(vec![9; 32]).unwrap();
    let moved = KeyDigest {
        pepper: other_pepper.id(),
        bytes: key.digest.bytes,
    };
    assert!(store.find_by_hash(&moved).await.unwrap().is_none());
}

pub async fn duplicates_are_conflicts(store: impl KeyStore) {
    let key = record("dup", None, 0);
    store.create(&key).await.unwrap();
    let same_id = record("other text", None, 0);
    let same_id = keygate_core::KeyRecord {
        id: key.id.clone(),
        ..same_id
    };
    let err = store.create(&same_id).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Conflict);
    let same_digest = record("dup", None, 0);
    let err = store.create(&same_digest).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Conflict);
    assert_eq!(
        store.list(&KeyListing::new(None, 100)).await.unwrap().len(),
        1
    );
}

pub async fn list_filters_by_tenant_oldest_first(store: impl KeyStore) {
    let c = record("c", Some("acme"), 30);
    let a = record("a", Some("acme"), 10);
    let b = record("b", Some("globex"), 20);
    // Two at the same instant are ordered by id, bytewise ("Z" before "a").
    let tie1 = keygate_core::KeyRecord {
        id: KeyId::new("key_Zzz"),
        ..record("t1", Some("acme"), 40)
    };
    let tie2 = keygate_core::KeyRecord {
        id: KeyId::new("key_aaa"),
        ..record("t2", Some("acme"), 40)
    };
    for r in [&c, &tie2, &a, &b, &tie1] {
        store.create(r).await.unwrap();
    }
    let ids = |list: Vec<Arc<keygate_core::KeyRecord>>| {
        list.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store
            .list(&KeyListing::new(Some("acme"), 100))
            .await
            .unwrap()),
        vec![a.id.clone(), c.id.clone(), tie1.id.clone(), tie2.id.clone()]
    );
    assert_eq!(
        ids(store.list(&KeyListing::new(None, 100)).await.unwrap()),
        vec![a.id, b.id, c.id, tie1.id, tie2.id]
    );
    assert!(
        store
            .list(&KeyListing::new(Some("initech"), 100))
            .await
            .unwrap()
            .is_empty()
    );

    // Pages of every size walk the same order, ties on created_at included, with and
    // without a tenant.
    for tenant in [None, Some("acme")] {
        let whole = ids(store.list(&KeyListing::new(tenant, 100)).await.unwrap());
        for size in 1..=3 {
            let mut walked = Vec::new();
            let mut last: Option<Arc<keygate_core::KeyRecord>> = None;
            loop {
                let listing = KeyListing::new(tenant, size);
                let listing = match &last {
                    Some(record) => listing.after(record),
                    None => listing,
                };
                let page = store.list(&listing).await.unwrap();
                assert!(page.len() <= size);
                if page.is_empty() {
                    break;
                }
                walked.extend(page.iter().map(|r| r.id.clone()));
                last = page.last().cloned();
            }
            assert_eq!(walked, whole, "pages of {size} for {tenant:?}");
        }
    }
}

pub async fn revoke_keeps_the_earliest_time(store: impl KeyStore) {
    let key = record("rev", None, 0);
    store.create(&key).await.unwrap();
    let at = T0 + Duration::hours(2);
    let revoked = store.revoke(&key.id, at).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    let later = store
        .revoke(&key.id, at + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(later.unwrap().revoked_at, Some(at));
    let earlier = store.revoke(&key.id, T0).await.unwrap();
    assert_eq!(earlier.unwrap().revoked_at, Some(T0));
    let seen = store.find_by_hash(&key.digest).await.unwrap().unwrap();
    assert_eq!(seen.revoked_at, Some(T0));
    assert!(
        store
            .revoke(&KeyId::new("key_nope"), T0)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn rotation_stores_one_successor_and_says_why_not(store: impl KeyStore) {
    let old = record("old", Some("acme"), 0);
    store.create(&old).await.unwrap();
    let successor = keygate_core::KeyRecord {
        lineage: old.lineage.clone(),
        ..record("new", Some("acme"), 60)
    };
    let until = T0 + Duration::hours(1);
    let Rotation::Rotated(limited) = store.rotate(&old.id, &successor, until).await.unwrap() else {
        panic!("should rotate");
    };
    assert_eq!(limited.valid_until, Some(until));
    assert_eq!(limited.id, old.id);
    let found = store
        .find_by_hash(&successor.digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*found, successor);
    assert_eq!(
        store.get(&old.id).await.unwrap().unwrap().valid_until,
        Some(until)
    );

    let third = record("third", Some("acme"), 0);
    assert_eq!(
        store.rotate(&old.id, &third, until).await.unwrap(),
        Rotation::AlreadyRotated
    );
    assert!(store.find_by_hash(&third.digest).await.unwrap().is_none());
    assert_eq!(
        store
            .rotate(&KeyId::new("key_nope"), &third, until)
            .await
            .unwrap(),
        Rotation::NotFound
    );
    let revoked = record("revoked", None, 0);
    store.create(&revoked).await.unwrap();
    store.revoke(&revoked.id, T0).await.unwrap();
    assert_eq!(
        store.rotate(&revoked.id, &third, until).await.unwrap(),
        Rotation::Revoked
    );
    // A successor that collides stores nothing and leaves the old key unlimited.
    let fresh = record("fresh", None, 0);
    store.create(&fresh).await.unwrap();
    let colliding = record("new", None, 0);
    let err = store
        .rotate(&fresh.id, &colliding, until)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Conflict);
    assert_eq!(
        store.get(&fresh.id).await.unwrap().unwrap().valid_until,
        None
    );
    assert_eq!(
        store.list(&KeyListing::new(None, 100)).await.unwrap().len(),
        4
    );
}

pub async fn racing_rotations_leave_exactly_one_successor(store: impl KeyStore + Clone) {
    let old = record("race", None, 0);
    store.create(&old).await.unwrap();
    let attempts: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let id = old.id.clone();
            let successor = record(&format!("successor{i}"), None, 1);
            tokio::spawn(async move {
                store
                    .rotate(&id, &successor, T0 + Duration::hours(1))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut rotated = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Rotation::Rotated(_) => rotated += 1,
            Rotation::AlreadyRotated => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(rotated, 1);
    assert_eq!(
        store.list(&KeyListing::new(None, 100)).await.unwrap().len(),
        2
    );
}
