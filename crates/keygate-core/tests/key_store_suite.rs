//! The published `KeyStore` suite (`keygate_core::testing::key_store`) against the memory
//! store, bare and behind the cache.

use keygate_core::MemoryKeyStore;
use keygate_core::store::CachedKeyStore;

keygate_core::key_store_suite!(memory, async { MemoryKeyStore::new() });

keygate_core::key_store_suite!(cached_memory, async {
    CachedKeyStore::new(MemoryKeyStore::new())
});
