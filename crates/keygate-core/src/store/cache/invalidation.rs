//! Dropping what the cache holds when keys change elsewhere: [`CacheInvalidator`], the
//! epoch every invalidation advances, and suspending the cache while notices may be lost
//! (per listener: the cache serves only while none of its listeners is down).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use super::cached_key_store::Shared;
use super::entry::Lookup;
use super::key_change::KeyChange;
use crate::key::{KeyDigest, KeyId};

/// Drops entries of a [`CachedKeyStore`](super::CachedKeyStore) on behalf of one
/// listener. Cheap to clone (clones are the same listener); does not keep the cache alive
/// (every method returns `false` once the cache is gone, the listener's cue to stop).
///
/// Each [`CachedKeyStore::invalidator`](super::CachedKeyStore::invalidator) call makes
/// the handle of a new listener, with its own "down" flag: the cache serves only while no
/// listener is [suspended](Self::suspend). A listener that ends while suspended leaves
/// the cache suspended (every lookup goes to the store), the safe direction.
///
/// ```
/// use keygate_core::MemoryKeyStore;
/// use keygate_core::store::CachedKeyStore;
///
/// let cache = CachedKeyStore::new(MemoryKeyStore::new());
/// let (postgres, redis) = (cache.invalidator(), cache.invalidator());
/// postgres.suspend();
/// redis.suspend();
/// postgres.resume();
/// assert!(!cache.stats().serving, "Redis is still down");
/// redis.resume();
/// assert!(cache.stats().serving);
/// ```
#[derive(Clone)]
pub struct CacheInvalidator {
    shared: Weak<Shared>,
    /// Whether this listener is down (counted once in `Shared::down`).
    down: Arc<AtomicBool>,
}

impl CacheInvalidator {
    /// A new listener's invalidator of the cache `shared`, holding it weakly.
    pub(super) fn new(shared: &Arc<Shared>) -> Self {
        Self {
            shared: Arc::downgrade(shared),
            down: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Drops what the cache holds about the key `change` names.
    pub fn apply(&self, change: &KeyChange) -> bool {
        self.with(|shared| shared.invalidate(&change.id, change.digest.as_ref()))
    }

    /// Drops everything (a listener that reconnected may have missed notices).
    pub fn clear(&self) -> bool {
        self.with(Shared::clear)
    }

    /// Stops serving and storing entries: the listener lost its connection, so notices
    /// may be lost until it is back. Lookups go to the store meanwhile. Suspending a
    /// listener that is down already changes nothing.
    pub fn suspend(&self) -> bool {
        self.with(|shared| {
            if !self.down.swap(true, Ordering::SeqCst) {
                shared.down.fetch_add(1, Ordering::SeqCst);
            }
            shared.clear();
        })
    }

    /// Empties the cache and counts this listener up again: the cache serves once no
    /// other listener is down.
    pub fn resume(&self) -> bool {
        self.with(|shared| {
            shared.clear();
            if self.down.swap(false, Ordering::SeqCst) {
                shared.down.fetch_sub(1, Ordering::SeqCst);
            }
        })
    }

    /// Whether the cache is gone (every clone dropped).
    pub fn is_closed(&self) -> bool {
        self.shared.strong_count() == 0
    }

    /// Whether the cache is serving entries (no listener suspended); `false` once it is
    /// gone.
    pub fn is_serving(&self) -> bool {
        self.shared
            .upgrade()
            .is_some_and(|shared| shared.is_serving())
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
            .field("down", &self.down.load(Ordering::SeqCst))
            .finish()
    }
}

/// Invalidation advances the epoch before it removes anything, so a lookup racing it
/// takes back what it cached (see `CachedKeyStore::remember`).
impl Shared {
    /// Drops what the cache holds about the key `id` (and `digest`), advancing the
    /// epoch first.
    pub(super) fn invalidate(&self, id: &KeyId, digest: Option<&KeyDigest>) {
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

    /// Drops everything, advancing the epoch first.
    pub(super) fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.by_digest.clear();
        self.by_id.clear();
        self.unknown.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use time::Duration;

    use super::*;
    use crate::store::KeyStore;
    use crate::store::cache::KeyCacheConfig;
    use crate::store::cache::entry::Lookup;
    use crate::store::cache::fixtures::{T0, cache, record};

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

    /// Two listeners (Postgres and Redis, say): the cache serves nothing while either is
    /// down, and serves again, empty, once both are up.
    #[tokio::test]
    async fn a_cache_with_two_listeners_serves_only_while_both_are_up() {
        let (cache, store, _clock) = cache(KeyCacheConfig::default());
        let key = record("two");
        cache.create(&key).await.unwrap();
        let (sql, redis) = (cache.invalidator(), cache.invalidator());
        let lookups = |n| {
            let cache = cache.clone();
            let digest = key.digest;
            async move {
                for _ in 0..n {
                    cache.find_by_hash(&digest).await.unwrap().unwrap();
                }
            }
        };
        lookups(2).await;
        assert_eq!(store.lookups(), 1, "both up: cached");

        for (first, second) in [(&sql, &redis), (&redis, &sql)] {
            let before = store.lookups();
            assert!(first.suspend());
            assert!(!cache.stats().serving);
            assert_eq!(cache.stats().by_digest, 0, "suspending empties the cache");
            lookups(2).await;
            assert_eq!(
                store.lookups(),
                before + 2,
                "one down: every lookup reaches the store"
            );
            // The other one goes down and comes back: still one down.
            assert!(second.suspend());
            assert!(second.suspend(), "twice is still once");
            assert!(second.resume());
            assert!(!cache.stats().serving, "the first is still down");
            assert!(!second.is_serving());
            lookups(2).await;
            assert_eq!(store.lookups(), before + 4);
            assert_eq!(cache.stats().by_digest, 0, "and nothing is stored");
            // A clone is the same listener: resuming through it counts it up.
            assert!(first.clone().resume());
            assert!(cache.stats().serving, "both up again");
            assert_eq!(
                cache.stats().by_digest,
                0,
                "serving again from an empty cache"
            );
            lookups(3).await;
            assert_eq!(store.lookups(), before + 5, "cached again");
        }

        // Resuming a listener that was never down neither counts nor unblocks another.
        assert!(sql.suspend());
        assert!(cache.invalidator().resume());
        assert!(!cache.stats().serving);
        // A listener that ends while down leaves the cache suspended.
        drop(sql);
        assert!(!redis.is_serving());
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
}
