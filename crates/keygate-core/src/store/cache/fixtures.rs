//! What the cache's tests share: a store that counts the lookups reaching it, records, and
//! a cache on a manual clock.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{CachedKeyStore, KeyCacheConfig};
use crate::ManualClock;
use crate::key::{Environment, KeyHasher, KeyKind};
use crate::key::{KeyDigest, KeyId, KeyRecord};
use crate::scope::ScopeSet;
use crate::secret::Pepper;
use crate::store::MemoryKeyStore;
use crate::store::{KeyListing, KeyStore, Rotation, StoreError};
use std::sync::atomic::AtomicUsize;
use time::macros::datetime;

/// The time the tests start at.
pub(super) const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

/// A memory store that counts the lookups reaching it.
#[derive(Debug, Clone, Default)]
pub(super) struct Counting {
    inner: MemoryKeyStore,
    lookups: Arc<AtomicUsize>,
}

impl Counting {
    pub(super) fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl KeyStore for Counting {
    async fn create(&self, record: &KeyRecord) -> Result<(), StoreError> {
        self.inner.create(record).await
    }
    async fn find_by_hash(&self, digest: &KeyDigest) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.find_by_hash(digest).await
    }
    async fn get(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id).await
    }
    async fn list(&self, listing: &KeyListing<'_>) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        self.inner.list(listing).await
    }
    async fn revoke(
        &self,
        id: &KeyId,
        at: OffsetDateTime,
    ) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.inner.revoke(id, at).await
    }
    async fn rotate(
        &self,
        id: &KeyId,
        successor: &KeyRecord,
        valid_until: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        self.inner.rotate(id, successor, valid_until).await
    }
}

/// A secret live key record for key text `text`, created at [`T0`].
pub(super) fn record(text: &str) -> KeyRecord {
    let hasher = KeyHasher::new(&Pepper::from_bytes(vec![1; 32]).unwrap());
    let id = KeyId::generate().unwrap();
    KeyRecord {
        lineage: id.clone(),
        id,
        digest: hasher.digest(text),
        prefix: "sk_live_".into(),
        start: "sk_live_abcd".into(),
        kind: KeyKind::Secret,
        environment: Environment::Live,
        tenant: None,
        name: None,
        scopes: ScopeSet::none(),
        rate_limit: None,
        credits: None,
        owner: None,
        refill: None,
        metadata: crate::key::empty_metadata(),
        created_at: T0,
        expires_at: None,
        revoked_at: None,
        valid_until: None,
    }
}

/// A cache on a [`ManualClock`] at [`T0`], with the store behind it and the clock.
pub(super) fn cache(config: KeyCacheConfig) -> (CachedKeyStore<Counting>, Counting, ManualClock) {
    let store = Counting::default();
    let clock = ManualClock::new(T0);
    (
        CachedKeyStore::with_config(store.clone(), config, clock.clone()),
        store,
        clock,
    )
}
