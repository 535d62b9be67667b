mod digest_hash;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{KeyListing, KeyStore, Rotation, StoreError};
use crate::account::{Account, TenantSummary};
use crate::key::{KeyDigest, KeyId, KeyRecord};
use digest_hash::DigestKey;
use state::State;

/// Key records in process memory: for tests, examples and single-process deployments
/// that can lose their keys on restart. Clones share the same records.
///
/// Each key is held once (about 600 bytes of memory with its map entries at a million
/// keys, see `docs/benchmarks.md`), and the request path's look-up by digest hashes no
/// bytes: the digest is already a keyed HMAC.
#[derive(Clone, Default)]
pub struct MemoryKeyStore {
    state: Arc<RwLock<State>>,
}

impl MemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // Every critical section leaves the maps consistent, so a panic elsewhere while
        // holding the lock cannot have left half an update behind.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for MemoryKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryKeyStore")
            .field("keys", &self.read().by_id.len())
            .finish()
    }
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn create(&self, record: &KeyRecord) -> Result<(), StoreError> {
        self.write().insert(record)
    }

    async fn find_by_hash(&self, digest: &KeyDigest) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        Ok(self.read().by_digest.get(&DigestKey(*digest)).cloned())
    }

    async fn get(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        Ok(self.read().by_id.get(id).cloned())
    }

    async fn list(&self, listing: &KeyListing<'_>) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        let mut records: Vec<Arc<KeyRecord>> = self
            .read()
            .by_id
            .values()
            .filter(|record| listing.admits(record))
            .cloned()
            .collect();
        records.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
        records.truncate(listing.limit);
        Ok(records)
    }

    async fn revoke(
        &self,
        id: &KeyId,
        at: OffsetDateTime,
    ) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        Ok(self.write().update(id, |record| {
            record.revoked_at = Some(record.revoked_at.map_or(at, |earlier| earlier.min(at)));
        }))
    }

    async fn rotate(
        &self,
        id: &KeyId,
        successor: &KeyRecord,
        valid_until: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        let mut state = self.write();
        match state.by_id.get(id) {
            None => return Ok(Rotation::NotFound),
            Some(old) if old.revoked_at.is_some() => return Ok(Rotation::Revoked),
            Some(old) if old.valid_until.is_some() => return Ok(Rotation::AlreadyRotated),
            Some(_) => {}
        }
        state.insert(successor)?;
        Ok(state
            .update(id, |record| record.valid_until = Some(valid_until))
            .map_or(Rotation::NotFound, Rotation::Rotated))
    }

    async fn create_within_limit(
        &self,
        record: &KeyRecord,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut state = self.write();
        let active = match record.account() {
            Some(account) => state
                .of_account(&account)
                .filter(|key| key.is_active(now))
                .count(),
            None => 0,
        };
        if active >= limit {
            return Ok(false);
        }
        state.insert(record)?;
        Ok(true)
    }

    async fn account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        let mut records: Vec<Arc<KeyRecord>> = self
            .read()
            .of_account(account)
            .filter(|record| record.is_active(now))
            .cloned()
            .collect();
        records.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
        records.truncate(limit);
        Ok(records)
    }

    async fn count_account_keys(
        &self,
        account: &Account,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let state = self.read();
        let count = state
            .of_account(account)
            .filter(|record| record.is_active(now))
            .count();
        Ok(u64::try_from(count).unwrap_or(u64::MAX))
    }

    async fn list_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<TenantSummary>, StoreError> {
        let state = self.read();
        // tenant → (active keys, owners)
        let mut tenants: BTreeMap<&str, (u64, BTreeSet<&str>)> = BTreeMap::new();
        for record in state.by_id.values() {
            let Some(tenant) = record.tenant.as_deref() else {
                continue;
            };
            if after.is_some_and(|after| tenant <= after) {
                continue;
            }
            let entry = tenants.entry(tenant).or_default();
            if record.is_active(now) {
                entry.0 += 1;
            }
            if let Some(owner) = record.owner.as_deref() {
                entry.1.insert(owner);
            }
        }
        Ok(tenants
            .into_iter()
            .take(limit)
            .map(|(tenant, (keys, owners))| {
                let accounts = u64::try_from(owners.len()).unwrap_or(u64::MAX);
                TenantSummary::new(Arc::from(tenant), keys, accounts)
            })
            .collect())
    }

    async fn list_accounts(
        &self,
        tenant: Option<&str>,
        after: Option<&Account>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Vec<(Account, u64)>, StoreError> {
        let state = self.read();
        let mut accounts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for record in state.by_id.values() {
            let (Some(of), Some(owner)) = (record.tenant.as_deref(), record.owner.as_deref())
            else {
                continue;
            };
            if tenant.is_some_and(|tenant| tenant != of)
                || after.is_some_and(|after| (of, owner) <= (&*after.tenant, &*after.owner))
            {
                continue;
            }
            let keys = accounts.entry((of, owner)).or_default();
            if record.is_active(now) {
                *keys += 1;
            }
        }
        Ok(accounts
            .into_iter()
            .take(limit)
            .map(|((tenant, owner), keys)| {
                let account = Account {
                    tenant: Arc::from(tenant),
                    owner: Arc::from(owner),
                };
                (account, keys)
            })
            .collect())
    }
}
