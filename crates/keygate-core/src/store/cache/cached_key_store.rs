//! [`CachedKeyStore`]: the cache itself, what it holds, and its [`KeyStore`] impl.

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use quick_cache::sync::Cache;
use time::OffsetDateTime;

use super::entry::{Cached, Lookup, RecordWeight, fresh, weight_of, weighted};
use super::{CacheInvalidator, KeyCacheConfig};
use crate::account::{Account, TenantSummary};
use crate::clock::{Clock, SystemClock};
use crate::key::{KeyDigest, KeyId, KeyRecord};
use crate::store::{KeyListing, KeyStore, Rotation, StoreError};

/// A [`KeyStore`] that answers hot lookups from memory. Clones share one cache.
///
/// See the [module docs](super) for what is cached and how it is invalidated.
pub struct CachedKeyStore<S> {
    inner: S,
    pub(super) shared: Arc<Shared>,
}

impl<S: Clone> Clone for CachedKeyStore<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

/// What the clones of one cache share.
pub(super) struct Shared {
    pub(super) by_digest: Cache<KeyDigest, Cached, RecordWeight>,
    pub(super) by_id: Cache<KeyId, Cached, RecordWeight>,
    pub(super) unknown: Cache<Lookup, OffsetDateTime>,
    /// Advanced by every invalidation; see [`CachedKeyStore::remember`].
    pub(super) epoch: AtomicU64,
    /// How many listeners are disconnected (suspended through their
    /// [`CacheInvalidator`]): while any is, serve and store nothing.
    pub(super) down: AtomicUsize,
    /// Lookups passed on to the store (counted on the slow path only).
    pub(super) store_lookups: AtomicU64,
    pub(super) config: KeyCacheConfig,
    pub(super) clock: Arc<dyn Clock>,
    /// Things that live exactly as long as the cache (a listener's stop signal).
    pub(super) attached: Mutex<Vec<Box<dyn Any + Send + Sync>>>,
}

impl<S: KeyStore> CachedKeyStore<S> {
    /// A cache with the default [`KeyCacheConfig`] on the system clock.
    pub fn new(inner: S) -> Self {
        Self::with_config(inner, KeyCacheConfig::default(), SystemClock)
    }

    /// A cache of the given size and ages, reading the time from `clock`.
    pub fn with_config(inner: S, config: KeyCacheConfig, clock: impl Clock) -> Self {
        Self {
            inner,
            shared: Arc::new(Shared {
                by_digest: weighted(config.capacity),
                by_id: weighted(config.capacity),
                unknown: Cache::new(config.negative_capacity.max(1)),
                epoch: AtomicU64::new(0),
                down: AtomicUsize::new(0),
                store_lookups: AtomicU64::new(0),
                config,
                clock: Arc::new(clock),
                attached: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// A handle for one listener of other instances' changes. It does not keep the cache
    /// alive: once every clone of the cache is dropped, its methods return `false`.
    ///
    /// Each call makes a new listener's handle, with its own "down" flag (clones of the
    /// handle share it): a cache with several listeners (Postgres `LISTEN` and Redis
    /// pub/sub, say) serves only while none of them is suspended. Give each listener its
    /// own, and resume through the handle that suspended.
    pub fn invalidator(&self) -> CacheInvalidator {
        CacheInvalidator::new(&self.shared)
    }

    /// Keeps `value` until the last clone of the cache is dropped, then drops it: a
    /// listener task's stop signal, so the task ends with the cache and not before.
    pub fn attach(&self, value: impl Any + Send + Sync) {
        self.shared
            .attached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Box::new(value));
    }

    /// What the cache holds now.
    pub fn stats(&self) -> KeyCacheStats {
        KeyCacheStats {
            by_digest: self.shared.by_digest.len(),
            by_id: self.shared.by_id.len(),
            unknown: self.shared.unknown.len(),
            serving: self.shared.is_serving(),
            store_lookups: self.shared.store_lookups.load(Ordering::Relaxed),
        }
    }

    /// Caches the outcome of a lookup unless an invalidation ran while the store was
    /// asked. The epoch is read before asking (`epoch`); it is read again after the
    /// insert, and if it moved, the insert is taken back. Invalidations advance the epoch
    /// before removing, so either the lookup sees the move, or the removal comes after the
    /// insert: a stale record cannot stay behind either way.
    pub(super) fn remember(&self, epoch: u64, lookup: Lookup, found: Option<&Arc<KeyRecord>>) {
        let shared = &*self.shared;
        if !shared.is_serving() {
            return;
        }
        let at = shared.clock.now();
        match found {
            Some(record) => {
                let cached = Cached {
                    record: Arc::clone(record),
                    at,
                    weight: weight_of(record),
                };
                shared.by_digest.insert(record.digest, cached.clone());
                shared.by_id.insert(record.id.clone(), cached);
            }
            None if shared.config.negative_ttl.is_positive() => {
                shared.unknown.insert(lookup.clone(), at);
            }
            None => return,
        }
        if shared.epoch.load(Ordering::SeqCst) != epoch || !shared.is_serving() {
            match found {
                Some(record) => {
                    shared.by_digest.remove(&record.digest);
                    shared.by_id.remove(&record.id);
                }
                None => {
                    shared.unknown.remove(&lookup);
                }
            }
        }
    }
}

/// A snapshot of a [`CachedKeyStore`]'s contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyCacheStats {
    /// Records indexed by digest.
    pub by_digest: usize,
    /// Records indexed by id.
    pub by_id: usize,
    /// Unknown digests and ids remembered.
    pub unknown: usize,
    /// Whether the cache serves entries (false while any of its listeners is
    /// disconnected).
    pub serving: bool,
    /// Lookups ([`find_by_hash`](KeyStore::find_by_hash), [`get`](KeyStore::get)) the
    /// cache could not answer and passed on to the store, since it was built. A lookup
    /// answered from memory leaves it unchanged.
    pub store_lookups: u64,
}

impl Shared {
    /// Whether no listener is down.
    pub(super) fn is_serving(&self) -> bool {
        self.down.load(Ordering::SeqCst) == 0
    }

    /// Is there a fresh answer for `lookup`? `Some(None)`: known to be unknown.
    pub(super) fn lookup(&self, lookup: &Lookup) -> Option<Option<Arc<KeyRecord>>> {
        if !self.is_serving() {
            return None;
        }
        let now = self.clock.now();
        let hit = match lookup {
            Lookup::Digest(digest) => self
                .by_digest
                .get(digest)
                .filter(|c| c.record.digest == *digest),
            Lookup::Id(id) => self.by_id.get(id).filter(|c| c.record.id == *id),
        };
        if let Some(cached) = hit {
            if fresh(cached.at, now, self.config.max_age) {
                return Some(Some(cached.record));
            }
            self.by_digest.remove(&cached.record.digest);
            self.by_id.remove(&cached.record.id);
        }
        let at = self.unknown.get(lookup)?;
        if fresh(at, now, self.config.negative_ttl) {
            return Some(None);
        }
        self.unknown.remove(lookup);
        None
    }
}

impl<S: fmt::Debug> fmt::Debug for CachedKeyStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedKeyStore")
            .field("inner", &self.inner)
            .field("records", &self.shared.by_id.len())
            .field("unknown", &self.shared.unknown.len())
            .field("serving", &self.shared.is_serving())
            .finish()
    }
}

#[async_trait]
impl<S: KeyStore> KeyStore for CachedKeyStore<S> {
    async fn create(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let result = self.inner.create(record).await;
        // Forget that this id or digest was unknown.
        self.shared.invalidate(&record.id, Some(&record.digest));
        result
    }

    async fn find_by_hash(&self, digest: &KeyDigest) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let lookup = Lookup::Digest(*digest);
        if let Some(answer) = self.shared.lookup(&lookup) {
            return Ok(answer);
        }
        let epoch = self.shared.epoch.load(Ordering::SeqCst);
        self.shared.store_lookups.fetch_add(1, Ordering::Relaxed);
        let found = self.inner.find_by_hash(digest).await?;
        // Only a record that really has this digest is cached under it.
        let found = found.filter(|record| record.digest == *digest);
        self.remember(epoch, lookup, found.as_ref());
        Ok(found)
    }

    async fn get(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let lookup = Lookup::Id(id.clone());
        if let Some(answer) = self.shared.lookup(&lookup) {
            return Ok(answer);
        }
        let epoch = self.shared.epoch.load(Ordering::SeqCst);
        self.shared.store_lookups.fetch_add(1, Ordering::Relaxed);
        let found = self.inner.get(id).await?;
        let found = found.filter(|record| record.id == *id);
        self.remember(epoch, lookup, found.as_ref());
        Ok(found)
    }

    async fn list(&self, listing: &KeyListing<'_>) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        self.inner.list(listing).await
    }

    async fn revoke(
        &self,
        id: &KeyId,
        at: OffsetDateTime,
    ) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let result = self.inner.revoke(id, at).await;
        // Even after an error: the store may have committed before it failed to answer.
        let digest = match &result {
            Ok(Some(record)) => Some(record.digest),
            _ => None,
        };
        self.shared.invalidate(id, digest.as_ref());
        result
    }

    async fn rotate(
        &self,
        id: &KeyId,
        successor: &KeyRecord,
        valid_until: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        let result = self.inner.rotate(id, successor, valid_until).await;
        let digest = match &result {
            Ok(Rotation::Rotated(old)) => Some(old.digest),
            _ => None,
        };
        self.shared.invalidate(id, digest.as_ref());
        self.shared
            .invalidate(&successor.id, Some(&successor.digest));
        result
    }

    async fn create_within_limit(
        &self,
        record: &KeyRecord,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = self.inner.create_within_limit(record, limit, now).await;
        self.shared.invalidate(&record.id, Some(&record.digest));
        result
    }

    async fn account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        self.inner.account_keys(account, now, limit).await
    }

    async fn count_account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.inner.count_account_keys(account, now).await
    }

    async fn list_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<TenantSummary>, StoreError> {
        self.inner.list_tenants(after, limit, now).await
    }

    async fn list_accounts(
        &self,
        tenant: Option<&str>,
        after: Option<&Account>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<(Account, u64)>, StoreError> {
        self.inner.list_accounts(tenant, after, limit, now).await
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;
    use crate::store::cache::fixtures::{T0, cache, record};

    #[tokio::test]
    async fn a_hot_key_is_read_once_until_its_max_age() {
        let (cache, store, clock) = cache(KeyCacheConfig::default());
        let key = record("a");
        cache.create(&key).await.unwrap();
        for _ in 0..5 {
            let found = cache.find_by_hash(&key.digest).await.unwrap().unwrap();
            assert_eq!(found.id, key.id);
        }
        assert_eq!(store.lookups(), 1);
        assert_eq!(
            cache.stats().store_lookups,
            1,
            "the stats count what reached the store"
        );
        // The same record is indexed by id too.
        assert_eq!(cache.get(&key.id).await.unwrap().unwrap().id, key.id);
        assert_eq!(store.lookups(), 1);
        clock.advance(Duration::seconds(59));
        cache.find_by_hash(&key.digest).await.unwrap();
        assert_eq!(store.lookups(), 1);
        clock.advance(Duration::seconds(1));
        cache.find_by_hash(&key.digest).await.unwrap();
        assert_eq!(store.lookups(), 2, "past max age the store is asked again");
    }

    #[tokio::test]
    async fn unknown_keys_are_remembered_briefly_and_forgotten_on_create() {
        let (cache, store, clock) = cache(KeyCacheConfig::default());
        let key = record("b");
        for _ in 0..3 {
            assert!(cache.find_by_hash(&key.digest).await.unwrap().is_none());
            assert!(cache.get(&key.id).await.unwrap().is_none());
        }
        assert_eq!(store.lookups(), 2);
        clock.advance(Duration::seconds(5));
        assert!(cache.find_by_hash(&key.digest).await.unwrap().is_none());
        assert_eq!(store.lookups(), 3, "negative entries expire");
        cache.create(&key).await.unwrap();
        assert!(cache.find_by_hash(&key.digest).await.unwrap().is_some());
        assert!(cache.get(&key.id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn capacity_bounds_memory_not_entries() {
        let (cache, _store, _clock) = cache(KeyCacheConfig::default().with_capacity(200));
        assert_eq!(weight_of(&record("ordinary")), 1);
        // Ordinary records weigh one unit: 150 fit in 200 units (quick_cache's shards may
        // evict a few early).
        for i in 0..150 {
            let key = record(&format!("small-{i}"));
            cache.create(&key).await.unwrap();
            cache.find_by_hash(&key.digest).await.unwrap();
        }
        let small = cache.stats().by_digest;
        assert!(
            small >= 130,
            "{small} of 150 ordinary records kept in 200 units"
        );

        // Records with metadata at the 4 KiB limit weigh about 17 units each: 150 of them
        // cannot all stay in 200 units.
        let (cache, _store, _clock) = self::cache(KeyCacheConfig::default().with_capacity(200));
        let mut big = crate::key::Metadata::new();
        big.insert(
            "blob".into(),
            "x".repeat(crate::key::MAX_METADATA_BYTES - 16).into(),
        );
        let big = Arc::new(big);
        for i in 0..150 {
            let mut key = record(&format!("big-{i}"));
            key.metadata = Arc::clone(&big);
            if i == 0 {
                assert!(weight_of(&key) >= 16, "weight {}", weight_of(&key));
            }
            cache.create(&key).await.unwrap();
            cache.find_by_hash(&key.digest).await.unwrap();
        }
        let kept = cache.stats().by_digest;
        assert!(kept <= 200 / 16, "{kept} large records kept in 200 units");
    }

    #[tokio::test]
    async fn random_keys_cannot_grow_the_cache_nor_evict_hot_keys() {
        let config = KeyCacheConfig::default()
            .with_capacity(100)
            .with_negative_capacity(100);
        let (cache, store, _clock) = cache(config);
        let hot = record("hot");
        cache.create(&hot).await.unwrap();
        cache.find_by_hash(&hot.digest).await.unwrap();
        for i in 0..5000 {
            let garbage = record(&format!("garbage{i}"));
            assert!(cache.find_by_hash(&garbage.digest).await.unwrap().is_none());
        }
        let stats = cache.stats();
        assert!(stats.unknown <= 110, "{stats:?}");
        assert!(stats.by_digest <= 1);
        let before = store.lookups();
        assert!(cache.find_by_hash(&hot.digest).await.unwrap().is_some());
        assert_eq!(store.lookups(), before, "the hot key is still cached");
    }

    #[tokio::test]
    async fn revoke_and_rotate_through_the_cache_drop_the_old_record() {
        let (cache, _store, _clock) = cache(KeyCacheConfig::default());
        let key = record("c");
        cache.create(&key).await.unwrap();
        cache.find_by_hash(&key.digest).await.unwrap();
        cache.revoke(&key.id, T0).await.unwrap();
        let seen = cache.find_by_hash(&key.digest).await.unwrap().unwrap();
        assert_eq!(seen.revoked_at, Some(T0));
        assert_eq!(
            cache.get(&key.id).await.unwrap().unwrap().revoked_at,
            Some(T0)
        );

        let other = record("d");
        cache.create(&other).await.unwrap();
        let successor = record("e");
        assert!(
            cache
                .find_by_hash(&successor.digest)
                .await
                .unwrap()
                .is_none()
        );
        cache.find_by_hash(&other.digest).await.unwrap();
        let until = T0 + Duration::hours(1);
        let rotated = cache.rotate(&other.id, &successor, until).await.unwrap();
        assert!(matches!(rotated, Rotation::Rotated(_)));
        let old = cache.find_by_hash(&other.digest).await.unwrap().unwrap();
        assert_eq!(old.valid_until, Some(until));
        assert!(
            cache
                .find_by_hash(&successor.digest)
                .await
                .unwrap()
                .is_some()
        );
    }
}
