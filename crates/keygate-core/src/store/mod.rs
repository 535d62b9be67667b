//! Persistent key records: the [`KeyStore`] trait, the in-memory [`MemoryKeyStore`], and
//! [`CachedKeyStore`], a bounded cache in front of any store.
//!
//! Store authors implement [`KeyStore`] and run the shared suite against it
//! (`keygate_core::testing::key_store`, feature `testing`; see `docs/stores.md`). keygate
//! fails closed: any [`StoreError`] becomes a 503 `auth_unavailable`, never an admission.

pub mod cache;
mod error;
mod memory;

pub use cache::{CacheInvalidator, CachedKeyStore, KeyCacheConfig, KeyCacheStats, KeyChange};
pub use error::{StoreError, StoreErrorKind};
pub use memory::MemoryKeyStore;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{Account, TenantSummary};
use crate::key::{KeyDigest, KeyId, KeyRecord};

/// Where key records live. Implementations must be safe to share between tasks and
/// instances; every method is one atomic operation.
///
/// Credit balances, rate-limit state and one-time-token use are not here: they are
/// counters, kept by the [`Meter`](crate::Meter).
#[async_trait]
pub trait KeyStore: Send + Sync + fmt::Debug + 'static {
    /// Stores a new record. Fails with [`StoreErrorKind::Conflict`] when its id or digest
    /// is already present.
    async fn create(&self, record: &KeyRecord) -> Result<(), StoreError>;

    /// The record whose digest equals `digest` (same pepper and bytes), if any.
    async fn find_by_hash(&self, digest: &KeyDigest) -> Result<Option<Arc<KeyRecord>>, StoreError>;

    /// The record with id `id`, if any.
    async fn get(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, StoreError>;

    /// One page of records, as [`KeyListing`] describes: oldest first, after its cursor,
    /// at most its limit.
    async fn list(&self, listing: &KeyListing<'_>) -> Result<Vec<Arc<KeyRecord>>, StoreError>;

    /// Marks the key revoked at `at` (keeping an earlier revocation time) and returns the
    /// updated record; `None` when there is no such key.
    async fn revoke(
        &self,
        id: &KeyId,
        at: OffsetDateTime,
    ) -> Result<Option<Arc<KeyRecord>>, StoreError>;

    /// In one atomic step, if the key `id` is neither revoked nor already rotated: stores
    /// `successor` and limits the old key to `valid_until`. Otherwise stores nothing and
    /// says why, so two rotations racing leave exactly one successor.
    async fn rotate(
        &self,
        id: &KeyId,
        successor: &KeyRecord,
        valid_until: OffsetDateTime,
    ) -> Result<Rotation, StoreError>;

    /// In one atomic step: stores `record` (a key with a tenant and an owner) if its
    /// account holds fewer than `limit` keys active at `now`, and returns whether it did.
    /// Two creations racing for the last slot store one key. Fails with
    /// [`StoreErrorKind::Conflict`] as [`create`](Self::create) does.
    ///
    /// The default answers [`StoreErrorKind::Unsupported`] (a 503): a store written
    /// before accounts existed refuses self-service keys rather than exceed the limit.
    async fn create_within_limit(
        &self,
        record: &KeyRecord,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let _ = (record, limit, now);
        Err(unsupported("create_within_limit"))
    }

    /// The keys of `account` active at `now` (neither revoked nor expired nor past their
    /// grace), oldest first (as [`list`](Self::list) orders), at most `limit`.
    ///
    /// The default answers [`StoreErrorKind::Unsupported`].
    async fn account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        let _ = (account, now, limit);
        Err(unsupported("account_keys"))
    }

    /// How many keys of `account` are active at `now`.
    ///
    /// The default answers [`StoreErrorKind::Unsupported`].
    async fn count_account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let _ = (account, now);
        Err(unsupported("count_account_keys"))
    }

    /// The tenants that have keys (any, revoked included), by name compared bytewise,
    /// those after `after` only, at most `limit`; each with its keys active at `now` and
    /// its accounts (distinct owners of its keys).
    ///
    /// The default answers [`StoreErrorKind::Unsupported`].
    async fn list_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<TenantSummary>, StoreError> {
        let _ = (after, limit, now);
        Err(unsupported("list_tenants"))
    }

    /// The accounts that own keys (any, revoked included), of `tenant` (every tenant's for
    /// `None`), ordered by tenant then owner (bytewise), those after `after` only, at most
    /// `limit`; each with its keys active at `now`.
    ///
    /// The default answers [`StoreErrorKind::Unsupported`].
    async fn list_accounts(
        &self,
        tenant: Option<&str>,
        after: Option<&Account>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<(Account, u64)>, StoreError> {
        let _ = (tenant, after, limit, now);
        Err(unsupported("list_accounts"))
    }
}

fn unsupported(method: &str) -> StoreError {
    StoreError::unsupported(format!(
        "this key store does not keep accounts: implement KeyStore::{method}"
    ))
}

/// Which records [`KeyStore::list`] returns: those of `tenant` (every tenant's for
/// `None`), ordered by `created_at` then id (compared bytewise), only those after `after`,
/// and at most `limit` of them.
///
/// ```
/// use keygate_core::store::KeyListing;
///
/// let first_page = KeyListing::new(Some("acme"), 100);
/// assert_eq!((first_page.tenant, first_page.limit), (Some("acme"), 100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct KeyListing<'a> {
    /// Only this tenant's records; `None` for every record.
    pub tenant: Option<&'a str>,
    /// Only records after this one (its `created_at` and id) in the listing's order.
    pub after: Option<(OffsetDateTime, &'a KeyId)>,
    /// At most this many records.
    pub limit: usize,
}

impl<'a> KeyListing<'a> {
    /// The first `limit` records of `tenant`.
    pub fn new(tenant: Option<&'a str>, limit: usize) -> Self {
        Self {
            tenant,
            after: None,
            limit,
        }
    }

    /// The records after `record`.
    pub fn after(mut self, record: &'a KeyRecord) -> Self {
        self.after = Some((record.created_at, &record.id));
        self
    }

    /// Whether `record` belongs in this listing's range (tenant and cursor; not the limit).
    pub fn admits(&self, record: &KeyRecord) -> bool {
        let tenant = self.tenant.is_none() || record.tenant.as_deref() == self.tenant;
        let after = self.after.is_none_or(|(created_at, id)| {
            (record.created_at, record.id.as_str()) > (created_at, id.as_str())
        });
        tenant && after
    }
}

/// What [`KeyStore::rotate`] did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Rotation {
    /// The successor was stored; this is the old key's updated record.
    Rotated(Arc<KeyRecord>),
    /// No key has this id.
    NotFound,
    /// The key is revoked.
    Revoked,
    /// The key was already rotated (it has a `valid_until`).
    AlreadyRotated,
}

#[async_trait]
impl<S: KeyStore + ?Sized> KeyStore for Arc<S> {
    async fn create(&self, record: &KeyRecord) -> Result<(), StoreError> {
        (**self).create(record).await
    }
    async fn find_by_hash(&self, digest: &KeyDigest) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        (**self).find_by_hash(digest).await
    }
    async fn get(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        (**self).get(id).await
    }
    async fn list(&self, listing: &KeyListing<'_>) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        (**self).list(listing).await
    }
    async fn revoke(
        &self,
        id: &KeyId,
        at: OffsetDateTime,
    ) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        (**self).revoke(id, at).await
    }
    async fn rotate(
        &self,
        id: &KeyId,
        successor: &KeyRecord,
        valid_until: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        (**self).rotate(id, successor, valid_until).await
    }
    async fn create_within_limit(
        &self,
        record: &KeyRecord,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        (**self).create_within_limit(record, limit, now).await
    }
    async fn account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        (**self).account_keys(account, now, limit).await
    }
    async fn count_account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        (**self).count_account_keys(account, now).await
    }
    async fn list_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<TenantSummary>, StoreError> {
        (**self).list_tenants(after, limit, now).await
    }
    async fn list_accounts(
        &self,
        tenant: Option<&str>,
        after: Option<&Account>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<(Account, u64)>, StoreError> {
        (**self).list_accounts(tenant, after, limit, now).await
    }
}
