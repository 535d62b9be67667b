//! A bounded cache of key records in front of any [`KeyStore`], so a hot key costs no
//! store round trip.
//!
//! [`CachedKeyStore`] keeps records found by digest ([`KeyStore::find_by_hash`], the hot
//! path of every API-key request) and by id ([`KeyStore::get`]), and remembers briefly that
//! a digest or id is unknown, so a flood of well-formed garbage keys does not reach the
//! database once per request. Both caches are bounded ([quick_cache], an S3-FIFO-style
//! cache that resists scans), and unknown lookups live in a cache of their own, so random
//! keys can neither grow memory nor evict the hot keys.
//!
//! # Invalidation
//!
//! Revocation must not be outrun by the cache:
//!
//! - the cache's own [`create`](KeyStore::create), [`revoke`](KeyStore::revoke) and
//!   [`rotate`](KeyStore::rotate) drop what they change, after the store has committed;
//! - another instance's changes arrive through a [`CacheInvalidator`] (from
//!   [`CachedKeyStore::invalidator`]): a listener (Postgres `LISTEN/NOTIFY`, Redis
//!   pub/sub) calls [`CacheInvalidator::apply`] with the [`KeyChange`] it received;
//! - while such a listener is disconnected it calls [`CacheInvalidator::suspend`]: the
//!   cache then serves nothing and stores nothing, since notices may be lost; once it
//!   listens again it calls [`CacheInvalidator::resume`], which empties the cache first;
//! - every entry also has a maximum age ([`KeyCacheConfig::max_age`]), a backstop for
//!   changes made where no notice is sent (another process on the same SQLite file).
//!
//! A lookup that races an invalidation never leaves a stale record behind: every
//! invalidation advances an epoch, and a lookup that saw the epoch move while it asked the
//! store takes back what it cached.
//!
//! Ages are read from the injected [`Clock`], so tests move a
//! [`ManualClock`](crate::ManualClock) instead of sleeping.
//!
//! ```
//! use keygate_core::key::{KeyKind, NewKey};
//! use keygate_core::store::CachedKeyStore;
//! use keygate_core::{Environment, Keygate, MemoryKeyStore, Pepper};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cache = CachedKeyStore::new(MemoryKeyStore::new());
//! let invalidator = cache.invalidator(); // hand this to a listener
//! let keygate = Keygate::builder()
//!     .pepper(Pepper::generate()?)
//!     .key_store(cache.clone())
//!     .build()?;
//! let created = keygate.create_key(NewKey::new(KeyKind::Secret, Environment::Live)).await?;
//! # let _ = (invalidator, created);
//! # Ok(())
//! # }
//! ```

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use async_trait::async_trait;
use quick_cache::sync::Cache;
use time::{Duration, OffsetDateTime};

use super::{KeyListing, KeyStore, Rotation, StoreError};
use crate::clock::{Clock, SystemClock};
use crate::key::{KeyDigest, KeyId, KeyRecord};
use crate::secret::PepperId;

/// How big the cache is and how long entries live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyCacheConfig {
    /// Records kept, per index (by digest and by id), counted in units of one KiB: a
    /// record weighs one unit per KiB it takes in memory, and most (without large
    /// metadata) weigh one. So the cache holds 10 000 ordinary records by default, or
    /// about 600 whose metadata is at the 4 KiB limit; either way about 10 MiB per index.
    pub capacity: usize,
    /// Unknown digests and ids remembered. Default 10 000.
    pub negative_capacity: usize,
    /// The longest a record is served from the cache, whatever notices arrive.
    /// Default 60 s.
    pub max_age: Duration,
    /// How long an unknown digest or id is remembered. Default 5 s.
    pub negative_ttl: Duration,
}

impl Default for KeyCacheConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            negative_capacity: 10_000,
            max_age: Duration::seconds(60),
            negative_ttl: Duration::seconds(5),
        }
    }
}

impl KeyCacheConfig {
    /// The defaults with `capacity` records (of up to 1 KiB each) per index.
    pub fn with_capacity(self, capacity: usize) -> Self {
        Self { capacity, ..self }
    }

    /// With `negative_capacity` unknown lookups remembered.
    pub fn with_negative_capacity(self, negative_capacity: usize) -> Self {
        Self {
            negative_capacity,
            ..self
        }
    }

    /// With records served for at most `max_age`.
    pub fn with_max_age(self, max_age: Duration) -> Self {
        Self { max_age, ..self }
    }

    /// With unknown lookups remembered for `negative_ttl` (zero: not at all).
    pub fn with_negative_ttl(self, negative_ttl: Duration) -> Self {
        Self {
            negative_ttl,
            ..self
        }
    }
}

/// A [`KeyStore`] that answers hot lookups from memory. Clones share one cache.
///
/// See the [module docs](self) for what is cached and how it is invalidated.
pub struct CachedKeyStore<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Clone> Clone for CachedKeyStore<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

struct Shared {
    by_digest: Cache<KeyDigest, Cached, RecordWeight>,
    by_id: Cache<KeyId, Cached, RecordWeight>,
    unknown: Cache<Lookup, OffsetDateTime>,
    /// Advanced by every invalidation; see [`CachedKeyStore::remember`].
    epoch: AtomicU64,
    /// False while a listener is disconnected: serve and store nothing.
    serving: AtomicBool,
    /// Lookups passed on to the store (counted on the slow path only).
    store_lookups: AtomicU64,
    config: KeyCacheConfig,
    clock: Arc<dyn Clock>,
    /// Things that live exactly as long as the cache (a listener's stop signal).
    attached: Mutex<Vec<Box<dyn Any + Send + Sync>>>,
}

#[derive(Clone)]
struct Cached {
    record: Arc<KeyRecord>,
    at: OffsetDateTime,
    /// The record's weight, computed once (quick_cache asks for it during eviction).
    weight: u32,
}

/// The unit of [`KeyCacheConfig::capacity`].
const WEIGHT_UNIT: usize = 1024;

/// How many [`WEIGHT_UNIT`]s a record takes in memory, roughly: the struct, its strings
/// and scopes, and its metadata (parsed JSON takes several times its text).
fn weight_of(record: &KeyRecord) -> u32 {
    let metadata = serde_json::to_vec(&*record.metadata)
        .map_or(crate::key::MAX_METADATA_BYTES, |json| json.len());
    let strings = record.id.as_str().len()
        + record.lineage.as_str().len()
        + record.prefix.len()
        + record.start.len()
        + record.tenant.as_deref().map_or(0, str::len)
        + record.name.as_deref().map_or(0, str::len);
    let scopes: usize = record
        .scopes
        .iter()
        .map(|scope| scope.as_str().len() + 32)
        .sum();
    let bytes = std::mem::size_of::<KeyRecord>() + strings + scopes + metadata * 4;
    u32::try_from(bytes.div_ceil(WEIGHT_UNIT).max(1)).unwrap_or(u32::MAX)
}

/// Weighs cached records by [`weight_of`], so the capacity bounds memory, not entries.
#[derive(Clone, Copy)]
struct RecordWeight;

impl<K> quick_cache::Weighter<K, Cached> for RecordWeight {
    fn weight(&self, _key: &K, cached: &Cached) -> u64 {
        u64::from(cached.weight)
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Lookup {
    Digest(KeyDigest),
    Id(KeyId),
}

fn weighted<K: Eq + std::hash::Hash>(capacity: usize) -> Cache<K, Cached, RecordWeight> {
    let capacity = capacity.max(1);
    Cache::with_weighter(capacity, capacity as u64, RecordWeight)
}

fn fresh(at: OffsetDateTime, now: OffsetDateTime, ttl: Duration) -> bool {
    let age = now - at;
    !age.is_negative() && age < ttl
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
                serving: AtomicBool::new(true),
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

    /// A handle for listeners of other instances' changes. It does not keep the cache
    /// alive: once every clone of the cache is dropped, its methods return `false`.
    pub fn invalidator(&self) -> CacheInvalidator {
        CacheInvalidator {
            shared: Arc::downgrade(&self.shared),
        }
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
            serving: self.shared.serving.load(Ordering::SeqCst),
            store_lookups: self.shared.store_lookups.load(Ordering::Relaxed),
        }
    }

    /// Caches the outcome of a lookup unless an invalidation ran while the store was
    /// asked. The epoch is read before asking (`epoch`); it is read again after the
    /// insert, and if it moved, the insert is taken back. Invalidations advance the epoch
    /// before removing, so either the lookup sees the move, or the removal comes after the
    /// insert: a stale record cannot stay behind either way.
    fn remember(&self, epoch: u64, lookup: Lookup, found: Option<&Arc<KeyRecord>>) {
        let shared = &*self.shared;
        if !shared.serving.load(Ordering::SeqCst) {
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
        if shared.epoch.load(Ordering::SeqCst) != epoch || !shared.serving.load(Ordering::SeqCst) {
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
    /// Whether the cache serves entries (false while a listener is disconnected).
    pub serving: bool,
    /// Lookups ([`find_by_hash`](KeyStore::find_by_hash), [`get`](KeyStore::get)) the
    /// cache could not answer and passed on to the store, since it was built. A lookup
    /// answered from memory leaves it unchanged.
    pub store_lookups: u64,
}

impl Shared {
    /// Is there a fresh answer for `lookup`? `Some(None)`: known to be unknown.
    fn lookup(&self, lookup: &Lookup) -> Option<Option<Arc<KeyRecord>>> {
        if !self.serving.load(Ordering::SeqCst) {
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

    fn invalidate(&self, id: &KeyId, digest: Option<&KeyDigest>) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Some((_, cached)) = self.by_id.remove(id) {
            self.by_digest.remove(&cached.record.digest);
        }
        self.unknown.remove(&Lookup::Id(id.clone()));
        if let Some(digest) = digest {
            if let Some((_, cached)) = self.by_digest.remove(digest) {
                self.by_id.remove(&cached.record.id);
            }
            self.unknown.remove(&Lookup::Digest(*digest));
        }
    }

    fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.by_digest.clear();
        self.by_id.clear();
        self.unknown.clear();
    }
}

impl<S: fmt::Debug> fmt::Debug for CachedKeyStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedKeyStore")
            .field("inner", &self.inner)
            .field("records", &self.shared.by_id.len())
            .field("unknown", &self.shared.unknown.len())
            .field("serving", &self.shared.serving.load(Ordering::SeqCst))
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
}

/// Drops entries of a [`CachedKeyStore`] on behalf of a listener. Cheap to clone; does
/// not keep the cache alive (every method returns `false` once the cache is gone, the
/// listener's cue to stop).
#[derive(Clone)]
pub struct CacheInvalidator {
    shared: Weak<Shared>,
}

impl CacheInvalidator {
    /// Drops what the cache holds about the key `change` names.
    pub fn apply(&self, change: &KeyChange) -> bool {
        self.with(|shared| shared.invalidate(&change.id, change.digest.as_ref()))
    }

    /// Drops everything (a listener that reconnected may have missed notices).
    pub fn clear(&self) -> bool {
        self.with(Shared::clear)
    }

    /// Stops serving and storing entries: the listener lost its connection, so notices
    /// may be lost until it is back. Lookups go to the store meanwhile.
    pub fn suspend(&self) -> bool {
        self.with(|shared| {
            shared.serving.store(false, Ordering::SeqCst);
            shared.clear();
        })
    }

    /// Empties the cache and serves again: the listener listens once more.
    pub fn resume(&self) -> bool {
        self.with(|shared| {
            shared.clear();
            shared.serving.store(true, Ordering::SeqCst);
        })
    }

    /// Whether the cache is gone (every clone dropped).
    pub fn is_closed(&self) -> bool {
        self.shared.strong_count() == 0
    }

    /// Whether the cache is serving entries (not suspended); `false` once it is gone.
    pub fn is_serving(&self) -> bool {
        self.shared
            .upgrade()
            .is_some_and(|shared| shared.serving.load(Ordering::SeqCst))
    }

    fn with(&self, f: impl FnOnce(&Shared)) -> bool {
        match self.shared.upgrade() {
            Some(shared) => {
                f(&shared);
                true
            }
            None => false,
        }
    }
}

impl fmt::Debug for CacheInvalidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheInvalidator")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A notice that a key changed (revoked, rotated), as sent between instances.
///
/// Its text form is `v1 <key id>` or `v1 <key id> <pepper id>:<64 hex digits>`: the id and
/// the digest under which caches index the key. A digest is an HMAC of the key, not the
/// key, and cannot be turned back into it without the pepper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    /// The key that changed.
    pub id: KeyId,
    /// Its digest, when known.
    pub digest: Option<KeyDigest>,
}

/// The longest [`KeyChange`] text accepted.
const MAX_CHANGE_LEN: usize = 512;

impl KeyChange {
    /// The notice for `record`.
    pub fn of(record: &KeyRecord) -> Self {
        Self {
            id: record.id.clone(),
            digest: Some(record.digest),
        }
    }

    /// The text form, to publish.
    pub fn to_message(&self) -> String {
        let mut text = format!("v1 {}", self.id);
        if let Some(digest) = &self.digest {
            text.push(' ');
            text.push_str(digest.pepper.as_str());
            text.push(':');
            for byte in digest.bytes {
                text.push_str(&format!("{byte:02x}"));
            }
        }
        text
    }

    /// Reads a text form; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() > MAX_CHANGE_LEN {
            return None;
        }
        let mut parts = text.split(' ');
        if parts.next()? != "v1" {
            return None;
        }
        let id = parts.next().filter(|id| !id.is_empty())?;
        let digest = match parts.next() {
            None => None,
            Some(digest) => {
                let (pepper, hex) = digest.split_once(':')?;
                Some(KeyDigest {
                    pepper: PepperId::parse(pepper)?,
                    bytes: parse_hex32(hex)?,
                })
            }
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            id: KeyId::new(id),
            digest,
        })
    }
}

fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (slot, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *slot = u8::from_str_radix(text, 16).ok()?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use crate::key::{Environment, KeyHasher, KeyKind};
    use crate::scope::ScopeSet;
    use crate::secret::Pepper;
    use crate::store::MemoryKeyStore;
    use std::sync::atomic::AtomicUsize;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

    /// A memory store that counts the lookups reaching it.
    #[derive(Debug, Clone, Default)]
    struct Counting {
        inner: MemoryKeyStore,
        lookups: Arc<AtomicUsize>,
    }

    impl Counting {
        fn lookups(&self) -> usize {
            self.lookups.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl KeyStore for Counting {
        async fn create(&self, record: &KeyRecord) -> Result<(), StoreError> {
            self.inner.create(record).await
        }
        async fn find_by_hash(
            &self,
            digest: &KeyDigest,
        ) -> Result<Option<Arc<KeyRecord>>, StoreError> {
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

    fn record(text: &str) -> KeyRecord {
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
            metadata: crate::key::empty_metadata(),
            created_at: T0,
            expires_at: None,
            revoked_at: None,
            valid_until: None,
        }
    }

    fn cache(config: KeyCacheConfig) -> (CachedKeyStore<Counting>, Counting, ManualClock) {
        let store = Counting::default();
        let clock = ManualClock::new(T0);
        (
            CachedKeyStore::with_config(store.clone(), config, clock.clone()),
            store,
            clock,
        )
    }

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

    #[tokio::test]
    async fn remote_changes_arrive_through_the_invalidator() {
        let (cache, store, _clock) = cache(KeyCacheConfig::default());
        let key = record("f");
        cache.create(&key).await.unwrap();
        cache.find_by_hash(&key.digest).await.unwrap();
        // Another instance revokes it straight in the store, then sends a notice.
        store.revoke(&key.id, T0).await.unwrap();
        let stale = cache.find_by_hash(&key.digest).await.unwrap().unwrap();
        assert_eq!(stale.revoked_at, None, "no notice yet");
        let message = KeyChange::of(&key).to_message();
        assert!(
            cache
                .invalidator()
                .apply(&KeyChange::parse(&message).unwrap())
        );
        let seen = cache.find_by_hash(&key.digest).await.unwrap().unwrap();
        assert_eq!(seen.revoked_at, Some(T0));
        // A notice with the id alone also drops the digest index.
        store
            .revoke(&key.id, T0 - Duration::hours(1))
            .await
            .unwrap();
        cache.invalidator().apply(&KeyChange {
            id: key.id.clone(),
            digest: None,
        });
        let seen = cache.find_by_hash(&key.digest).await.unwrap().unwrap();
        assert_eq!(seen.revoked_at, Some(T0 - Duration::hours(1)));
    }

    #[tokio::test]
    async fn a_suspended_cache_serves_nothing_and_resumes_empty() {
        let (cache, store, _clock) = cache(KeyCacheConfig::default());
        let key = record("g");
        cache.create(&key).await.unwrap();
        cache.find_by_hash(&key.digest).await.unwrap();
        let invalidator = cache.invalidator();
        assert!(invalidator.suspend());
        assert!(!invalidator.is_serving());
        let before = store.lookups();
        for _ in 0..3 {
            cache.find_by_hash(&key.digest).await.unwrap();
        }
        assert_eq!(
            store.lookups(),
            before + 3,
            "every lookup reaches the store"
        );
        assert_eq!(cache.stats().by_digest, 0, "and nothing is stored");
        assert!(invalidator.resume());
        cache.find_by_hash(&key.digest).await.unwrap();
        cache.find_by_hash(&key.digest).await.unwrap();
        assert_eq!(store.lookups(), before + 4);
    }

    #[tokio::test]
    async fn the_invalidator_does_not_keep_the_cache_alive() {
        let (cache, _store, _clock) = cache(KeyCacheConfig::default());
        let invalidator = cache.invalidator();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        cache.attach(tx);
        let clone = cache.clone();
        drop(cache);
        assert!(!invalidator.is_closed(), "a clone still holds it");
        assert!(rx.try_recv().is_err());
        drop(clone);
        assert!(invalidator.is_closed());
        assert!(!invalidator.clear());
        assert_eq!(
            rx.recv(),
            Err(std::sync::mpsc::RecvError),
            "attached values drop with the cache"
        );
    }

    /// A lookup that read the old record before a revocation, and caches it after the
    /// invalidation ran, takes it back.
    #[tokio::test]
    async fn a_lookup_racing_an_invalidation_leaves_nothing_stale() {
        let (cache, store, _clock) = cache(KeyCacheConfig::default());
        let key = record("h");
        store.create(&key).await.unwrap();
        let epoch = cache.shared.epoch.load(Ordering::SeqCst);
        let old = store.find_by_hash(&key.digest).await.unwrap();
        // Meanwhile: revoked, and the notice applied.
        store.revoke(&key.id, T0).await.unwrap();
        cache.invalidator().apply(&KeyChange::of(&key));
        cache.remember(epoch, Lookup::Digest(key.digest), old.as_ref());
        let seen = cache.find_by_hash(&key.digest).await.unwrap().unwrap();
        assert_eq!(seen.revoked_at, Some(T0));
    }

    #[test]
    fn key_change_messages_round_trip_and_reject_garbage() {
        let key = record("i");
        let change = KeyChange::of(&key);
        let text = change.to_message();
        assert!(text.starts_with(&format!("v1 {} ", key.id)));
        assert_eq!(KeyChange::parse(&text), Some(change));
        let bare = KeyChange {
            id: key.id.clone(),
            digest: None,
        };
        assert_eq!(KeyChange::parse(&bare.to_message()), Some(bare));
        for bad in [
            "",
            "v1",
            "v1 ",
            "v2 key_x",
            "v1 key_x 0011:ff",
            "v1 key_x zzzzzzzz:00",
            &format!("{text} extra"),
            &"v1 ".repeat(300),
        ] {
            assert_eq!(KeyChange::parse(bad), None, "{bad:?}");
        }
    }
}
