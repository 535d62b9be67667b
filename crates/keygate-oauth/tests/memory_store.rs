//! The OAuth scenarios on the memory store.

use std::sync::Arc;

use keygate_oauth::MemoryOAuthStore;

keygate_oauth::oauth_store_suite!(memory, async {
    Some(Arc::new(MemoryOAuthStore::new()) as Arc<dyn keygate_oauth::OAuthStore>)
});
