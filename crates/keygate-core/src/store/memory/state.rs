//! The memory store's maps: one record per key, found by digest or by id, with the
//! strings many keys share stored once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::StoreError;
use super::digest_hash::{BuildDigestHasher, DigestKey};
use crate::account::Account;
use crate::key::{KeyId, KeyRecord, empty_metadata};
use crate::scope::ScopeSet;

/// Every key once, behind an `Arc` both maps share.
#[derive(Default)]
pub(super) struct State {
    /// The request path's map. Keyed by digest, hashed by the digest's own bytes.
    pub(super) by_digest: HashMap<DigestKey, Arc<KeyRecord>, BuildDigestHasher>,
    /// The admin path's map. Ids come from URLs, so they get a seeded hash.
    pub(super) by_id: HashMap<KeyId, Arc<KeyRecord>, foldhash::fast::RandomState>,
    /// Tenants, owners and prefixes, one copy each however many keys name them.
    strings: HashSet<Arc<str>, foldhash::fast::RandomState>,
}

impl State {
    pub(super) fn insert(&mut self, record: &KeyRecord) -> Result<(), StoreError> {
        let digest = DigestKey(record.digest);
        if self.by_id.contains_key(&record.id) || self.by_digest.contains_key(&digest) {
            return Err(StoreError::conflict("a key with this id or digest exists"));
        }
        let record = Arc::new(self.compact(record.clone()));
        self.by_id.insert(record.id.clone(), Arc::clone(&record));
        self.by_digest.insert(digest, record);
        Ok(())
    }

    /// `record` with its shared parts shared: the tenant, owner and prefix interned, the
    /// lineage the id's own allocation when it names itself, and empty scopes and
    /// metadata the process-wide empty ones. A million keys of one tenant then hold one
    /// copy of `acme` and `sk_live_`.
    fn compact(&mut self, mut record: KeyRecord) -> KeyRecord {
        record.tenant = record.tenant.map(|tenant| self.intern(tenant));
        record.owner = record.owner.map(|owner| self.intern(owner));
        record.prefix = self.intern(record.prefix);
        if record.lineage == record.id {
            record.lineage = record.id.clone();
        }
        if record.scopes.is_empty() {
            record.scopes = ScopeSet::none();
        }
        if record.metadata.is_empty() {
            record.metadata = empty_metadata();
        }
        record
    }

    fn intern(&mut self, text: Arc<str>) -> Arc<str> {
        if let Some(known) = self.strings.get(&text) {
            return Arc::clone(known);
        }
        self.strings.insert(Arc::clone(&text));
        text
    }

    /// The records of `account`, oldest first (the listing order).
    pub(super) fn of_account<'s>(
        &'s self,
        account: &'s Account,
    ) -> impl Iterator<Item = &'s Arc<KeyRecord>> {
        self.by_id.values().filter(move |record| {
            record.tenant.as_deref() == Some(&*account.tenant)
                && record.owner.as_deref() == Some(&*account.owner)
        })
    }

    /// Replaces the record `id` names with `change` applied to a copy, in both maps.
    pub(super) fn update(
        &mut self,
        id: &KeyId,
        change: impl FnOnce(&mut KeyRecord),
    ) -> Option<Arc<KeyRecord>> {
        let slot = self.by_id.get_mut(id)?;
        let mut record = KeyRecord::clone(slot);
        change(&mut record);
        let record = Arc::new(record);
        *slot = Arc::clone(&record);
        self.by_digest
            .insert(DigestKey(record.digest), Arc::clone(&record));
        Some(record)
    }
}
