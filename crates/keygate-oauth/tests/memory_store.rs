//! The OAuth scenarios on the memory store.

use keygate_oauth::MemoryOAuthStore;
use keygate_oauth::testing::StoreUnderTest;

keygate_oauth::oauth_store_suite!(memory, async {
    Some(StoreUnderTest::new(MemoryOAuthStore::new()))
});
