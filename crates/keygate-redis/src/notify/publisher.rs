//! [`KeyChangePublisher`]: a key store that tells other instances what changed.

use std::sync::Arc;

use async_trait::async_trait;
use keygate_core::StoreError;
use keygate_core::account::{Account, TenantSummary};
use keygate_core::key::{KeyDigest, KeyId, KeyRecord};
use keygate_core::store::{KeyChange, KeyListing, KeyStore, Rotation};
use time::OffsetDateTime;

use crate::connection::RedisConnection;

/// A [`KeyStore`] that publishes a [`KeyChange`] (its text form, as Postgres `NOTIFY`
/// sends it) on the prefix's Redis channel after every revocation and rotation of `S`,
/// for the other instances' caches ([`RedisConnection::cached`]).
///
/// The store's change and the notice are not one transaction:
///
/// - a **revocation** whose notice cannot be sent returns an error that says so; the key
///   *is* revoked in the store, and revoking again (which keeps the first revocation
///   time) sends the notice again;
/// - a **rotation** whose notice cannot be sent is logged and reported as done: the old
///   key stays valid until its `valid_until` anyway, and other caches pick up the new
///   limit when their entries age out.
///
/// ```no_run
/// # async fn run(redis: keygate_redis::RedisConnection) -> Result<(), Box<dyn std::error::Error>> {
/// use keygate_core::store::MemoryKeyStore;
///
/// // Changes through this store reach every instance's cache, this one's included.
/// let cache = redis.cached(redis.publisher(MemoryKeyStore::new()))?;
/// # let _ = cache;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct KeyChangePublisher<S> {
    store: S,
    redis: RedisConnection,
    channel: Arc<str>,
}

impl RedisConnection {
    /// `store`, publishing its changes on this connection (see [`KeyChangePublisher`]).
    pub fn publisher<S: KeyStore>(&self, store: S) -> KeyChangePublisher<S> {
        KeyChangePublisher {
            store,
            redis: self.clone(),
            channel: Arc::from(super::channel(self.key_prefix())),
        }
    }
}

impl<S> KeyChangePublisher<S> {
    /// The store changes go to.
    pub fn inner(&self) -> &S {
        &self.store
    }

    /// Publishes `change`; the number of instances that received it.
    pub async fn publish(&self, change: &KeyChange) -> Result<u64, StoreError> {
        let channel = Arc::clone(&self.channel);
        let message = change.to_message();
        self.redis
            .call(|mut conn| async move {
                redis::cmd("PUBLISH")
                    .arg(&*channel)
                    .arg(message)
                    .query_async::<u64>(&mut conn)
                    .await
            })
            .await
    }
}

#[async_trait]
impl<S: KeyStore> KeyStore for KeyChangePublisher<S> {
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
        let revoked = self.store.revoke(id, at).await?;
        if let Some(record) = &revoked
            && let Err(err) = self.publish(&KeyChange::of(record)).await
        {
            return Err(StoreError::unavailable(
                "the key is revoked, but other instances could not be told over Redis \
                 (their caches may accept it until their entries age out): revoke it again \
                 once Redis answers",
                err,
            ));
        }
        Ok(revoked)
    }

    async fn rotate(
        &self,
        id: &KeyId,
        successor: &KeyRecord,
        valid_until: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        let rotation = self.store.rotate(id, successor, valid_until).await?;
        if let Rotation::Rotated(old) = &rotation
            && let Err(err) = self.publish(&KeyChange::of(old)).await
        {
            tracing::warn!(
                error = %err,
                key = %old.id,
                "rotated, but other instances could not be told over Redis; their caches \
                 pick up the old key's new expiry when their entries age out"
            );
        }
        Ok(rotation)
    }

    // Creations and reads change nothing other instances cache: passed through.
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
