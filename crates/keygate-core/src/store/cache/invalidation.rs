//! Dropping what the cache holds when keys change elsewhere: [`CacheInvalidator`], the
//! epoch every invalidation advances, and suspending the cache while notices may be lost.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use super::cached_key_store::Shared;
use super::entry::Lookup;
use super::key_change::KeyChange;
use crate::key::{KeyDigest, KeyId};

/// Drops entries of a [`CachedKeyStore`](super::CachedKeyStore) on behalf of a listener.
/// Cheap to clone; does not keep the cache alive (every method returns `false` once the
/// cache is gone, the listener's cue to stop).
#[derive(Clone)]
pub struct CacheInvalidator {
    shared: Weak<Shared>,
}

impl CacheInvalidator {
    /// The invalidator of the cache `shared`, holding it weakly.
    pub(super) fn new(shared: &Arc<Shared>) -> Self {
        Self {
            shared: Arc::downgrade(shared),
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
