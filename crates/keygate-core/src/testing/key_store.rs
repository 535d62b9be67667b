//! The [`KeyStore`] suite: what every key store must do, written once and run against
//! keygate's own stores (memory, SQLite, Postgres, each bare and behind the cache) and
//! yours.
//!
//! Each scenario is a function taking a fresh, empty store. Run them all with
//! [`key_store_suite!`](crate::key_store_suite), which writes one `#[tokio::test]` per
//! scenario (so a failure names the scenario) from an expression that builds a fresh
//! store:
//!
//! ```
//! use keygate_core::MemoryKeyStore;
//!
//! keygate_core::key_store_suite!(memory, async { MemoryKeyStore::new() });
//! # fn main() {}
//! ```
//!
//! or call one yourself:
//!
//! ```
//! use keygate_core::MemoryKeyStore;
//! use keygate_core::testing::key_store;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! key_store::duplicates_are_conflicts(MemoryKeyStore::new()).await;
//! # }
//! ```
//!
//! A store on a server needs a fresh database (or schema) per scenario, and may need to
//! skip when there is none: the expression may give an `Option` (`None` skips the
//! scenario; say why on stderr), and [`Guarded`] keeps what must outlive the store (a
//! temporary directory, a schema dropped on `Drop`) as long as the store lives. See
//! [`StoreUnderTest`].
//!
//! Every time the suite uses is fixed ([`T0`] plus offsets): no scenario reads a clock or
//! sleeps. `racing_rotations_leave_exactly_one_successor` spawns Tokio tasks.

// Test code: a store that fails the suite panics, with a message saying what it got
// wrong, as assertions in tests do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod accounts;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use super::{T0, hasher, record};
use crate::account::{Account, TenantSummary};
use crate::key::{Environment, KeyDigest, KeyId, KeyKind, KeyRecord, Metadata, RateLimit};
use crate::meter::MAX_CREDITS;
use crate::scope::ScopeSet;
use crate::secret::Pepper;
use crate::store::{KeyListing, KeyStore, Rotation, StoreError, StoreErrorKind};
pub use accounts::*;

/// Writes the [`KeyStore`] suite as tests: a module `$name` with one `#[tokio::test]` per
/// scenario of [`keygate_core::testing::key_store`](crate::testing::key_store), each
/// running it against a fresh store from `$fresh`.
///
/// `$fresh` is an expression (evaluated once per test, inside the module, which sees the
/// enclosing module's names) whose `.await` gives a [`KeyStore`], or an `Option` of one
/// where `None` skips the test (see [`StoreUnderTest`]). Only keygate-core (with the
/// `testing` feature) is needed; the tests run on a current-thread Tokio runtime.
///
/// ```
/// use keygate_core::MemoryKeyStore;
/// use keygate_core::store::CachedKeyStore;
///
/// keygate_core::key_store_suite!(memory, async { MemoryKeyStore::new() });
/// keygate_core::key_store_suite!(cached, async {
///     CachedKeyStore::new(MemoryKeyStore::new())
/// });
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! key_store_suite {
    ($name:ident, $fresh:expr $(,)?) => {
        $crate::key_store_suite!(@module $name, $fresh;
            a_record_round_trips_through_every_lookup,
            unknown_digests_and_ids_find_nothing,
            duplicates_are_conflicts,
            list_filters_by_tenant_oldest_first,
            revoke_keeps_the_earliest_time,
            rotation_stores_one_successor_and_says_why_not,
            racing_rotations_leave_exactly_one_successor,
            owner_and_refill_round_trip,
            account_keys_are_the_active_keys_of_one_account,
            create_within_limit_counts_the_accounts_active_keys,
            racing_creations_never_exceed_the_limit,
            tenants_and_accounts_come_in_ordered_pages,
        );
    };
    (@module $name:ident, $fresh:expr; $($scenario:ident),+ $(,)?) => {
        #[allow(unused_imports)]
        mod $name {
            use super::*;
            use $crate::testing::__private::tokio;

            $(
                #[tokio::test]
                async fn $scenario() {
                    let fresh = $fresh.await;
                    let store = $crate::testing::key_store::StoreUnderTest::into_store(fresh);
                    // `None`: the store's backend is not here (it said so); skip.
                    if let Some(store) = store {
                        $crate::testing::key_store::$scenario(store).await;
                    }
                }
            )+
        }
    };
}

/// What the expression given to [`key_store_suite!`](crate::key_store_suite) may build:
/// a [`KeyStore`], or an `Option` of one, `None` skipping the test (when the database
/// the store needs is not configured; print why, so the skip is seen).
pub trait StoreUnderTest {
    /// The store the suite runs against.
    type Store: KeyStore;

    /// The store; `None` to skip.
    fn into_store(self) -> Option<Self::Store>;
}

impl<S: KeyStore> StoreUnderTest for S {
    type Store = S;

    fn into_store(self) -> Option<S> {
        Some(self)
    }
}

impl<S: KeyStore> StoreUnderTest for Option<S> {
    type Store = S;

    fn into_store(self) -> Option<S> {
        self
    }
}

/// A store and something that must live as long as it does (a temporary directory, a
/// test schema that its `Drop` removes), dropped after the store. It is the store
/// otherwise.
///
/// ```
/// use keygate_core::MemoryKeyStore;
/// use keygate_core::testing::key_store::Guarded;
///
/// struct Cleanup;
/// impl Drop for Cleanup {
///     fn drop(&mut self) { /* remove the test database */ }
/// }
///
/// keygate_core::key_store_suite!(memory, async { Guarded::new(MemoryKeyStore::new(), Cleanup) });
/// # fn main() {}
/// ```
pub struct Guarded<S, G> {
    store: S,
    guard: G,
}

impl<S, G> Guarded<S, G> {
    /// `store`, keeping `guard` until it is dropped.
    pub fn new(store: S, guard: G) -> Self {
        Self { store, guard }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The guard.
    pub fn guard(&self) -> &G {
        &self.guard
    }
}

impl<S: fmt::Debug, G> fmt::Debug for Guarded<S, G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guarded")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<S: KeyStore, G: Send + Sync + 'static> KeyStore for Guarded<S, G> {
    async fn create(&self, record: &KeyRecord) -> Result<(), StoreError> {
        self.store.create(record).await
    }
    async fn find_by_hash(&self, digest: &KeyDigest) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.store.find_by_hash(digest).await
    }
    async fn get(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.store.get(id).await
    }
    async fn list(&self, listing: &KeyListing<'_>) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        self.store.list(listing).await
    }
    async fn revoke(
        &self,
        id: &KeyId,
        at: OffsetDateTime,
    ) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.store.revoke(id, at).await
    }
    async fn rotate(
        &self,
        id: &KeyId,
        successor: &KeyRecord,
        valid_until: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        self.store.rotate(id, successor, valid_until).await
    }
    async fn create_within_limit(
        &self,
        record: &KeyRecord,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.store.create_within_limit(record, limit, now).await
    }
    async fn account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        self.store.account_keys(account, now, limit).await
    }
    async fn count_account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.store.count_account_keys(account, now).await
    }
    async fn list_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<TenantSummary>, StoreError> {
        self.store.list_tenants(after, limit, now).await
    }
    async fn list_accounts(
        &self,
        tenant: Option<&str>,
        after: Option<&Account>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<(Account, u64)>, StoreError> {
        self.store.list_accounts(tenant, after, limit, now).await
    }
}

/// Every field of a record (custom kind, Unicode name, scopes, limits, the largest credit
/// balance, metadata, microsecond and far-future and pre-1970 times) comes back unchanged
/// from `find_by_hash`, `get` and `list`.
pub async fn a_record_round_trips_through_every_lookup(store: impl KeyStore) {
    let mut metadata = Metadata::new();
    metadata.insert(
        "plan".into(),
        serde_json::json!({"tier": "pro", "seats": 3}),
    );
    let full = KeyRecord {
        kind: KeyKind::Custom,
        prefix: "bijou_".into(),
        start: "bijou_AbC1".into(),
        environment: Environment::Test,
        name: Some("Ünïcode name".into()),
        scopes: ScopeSet::parse(["read:users", "magic-background:*"]).unwrap(),
        rate_limit: Some(RateLimit::new(7, 10).unwrap()),
        credits: Some(MAX_CREDITS),
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
    let all = KeyRecord {
        scopes: ScopeSet::all(),
        created_at: T0 - Duration::days(365 * 100),
        ..record("all", None, 0)
    };
    store.create(&all).await.unwrap();
    assert_eq!(*store.get(&all.id).await.unwrap().unwrap(), all);
}

/// Lookups of an unknown id or digest find nothing, and a digest is its pepper and bytes
/// together: the same bytes under another pepper are another digest.
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
    let other_pepper = Pepper::from_bytes(vec![9; 32]).unwrap();
    let moved = KeyDigest {
        pepper: other_pepper.id(),
        bytes: key.digest.bytes,
    };
    assert!(store.find_by_hash(&moved).await.unwrap().is_none());
}

/// A second record with the same id, or the same digest, is a
/// [`Conflict`](StoreErrorKind::Conflict) and stores nothing.
pub async fn duplicates_are_conflicts(store: impl KeyStore) {
    let key = record("dup", None, 0);
    store.create(&key).await.unwrap();
    let same_id = record("other text", None, 0);
    let same_id = KeyRecord {
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

/// Listings are per tenant (or of every tenant), oldest first, ties broken by id compared
/// bytewise, and pages of every size walk the same order.
pub async fn list_filters_by_tenant_oldest_first(store: impl KeyStore) {
    let c = record("c", Some("acme"), 30);
    let a = record("a", Some("acme"), 10);
    let b = record("b", Some("globex"), 20);
    // Two at the same instant are ordered by id, bytewise ("Z" before "a").
    let tie1 = KeyRecord {
        id: KeyId::new("key_Zzz"),
        ..record("t1", Some("acme"), 40)
    };
    let tie2 = KeyRecord {
        id: KeyId::new("key_aaa"),
        ..record("t2", Some("acme"), 40)
    };
    for r in [&c, &tie2, &a, &b, &tie1] {
        store.create(r).await.unwrap();
    }
    let ids = |list: Vec<Arc<KeyRecord>>| list.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
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
            let mut last: Option<Arc<KeyRecord>> = None;
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

/// Revoking returns the updated record and keeps the earliest revocation time; revoking an
/// unknown key is `None`.
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

/// A rotation stores the successor and limits the old key; a second rotation, an unknown
/// key, a revoked key and a colliding successor store nothing and say why.
pub async fn rotation_stores_one_successor_and_says_why_not(store: impl KeyStore) {
    let old = record("old", Some("acme"), 0);
    store.create(&old).await.unwrap();
    let successor = KeyRecord {
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

/// Eight rotations of one key at once: exactly one succeeds, the others are
/// [`Rotation::AlreadyRotated`], and one successor is stored.
pub async fn racing_rotations_leave_exactly_one_successor(store: impl KeyStore) {
    let store = Arc::new(store);
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
