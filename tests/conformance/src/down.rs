//! A key store that is always down, for the fail-closed scenario.

use std::sync::Arc;

use keygate_core::key::{KeyDigest, KeyId, KeyRecord};
use keygate_core::store::{KeyListing, KeyStore, Rotation, StoreError};
use time::OffsetDateTime;

/// Every call fails with `Unavailable`.
#[derive(Debug, Clone, Copy)]
pub struct DownStore;

fn down() -> StoreError {
    StoreError::unavailable(
        "the test store is down",
        std::io::Error::other("connection refused"),
    )
}

#[async_trait::async_trait]
impl KeyStore for DownStore {
    async fn create(&self, _: &KeyRecord) -> Result<(), StoreError> {
        Err(down())
    }
    async fn find_by_hash(&self, _: &KeyDigest) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        Err(down())
    }
    async fn get(&self, _: &KeyId) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        Err(down())
    }
    async fn list(&self, _: &KeyListing<'_>) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        Err(down())
    }
    async fn revoke(
        &self,
        _: &KeyId,
        _: OffsetDateTime,
    ) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        Err(down())
    }
    async fn rotate(
        &self,
        _: &KeyId,
        _: &KeyRecord,
        _: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        Err(down())
    }
}
