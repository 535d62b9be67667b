//! [`MemoryOAuthStore`]: one process, one mutex.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use keygate_core::store::StoreError;
use time::OffsetDateTime;

use super::{CodeRecord, GrantRecord, IssuedPair, OAuthStore, TokenRecord};
use crate::client::ClientRecord;
use crate::secret::TokenDigest;

/// OAuth state in process memory: for tests and single-process apps. Expired codes and
/// tokens are dropped by [`purge_expired`](OAuthStore::purge_expired), which the server
/// also runs every few thousand issues, so memory stays bounded by what is live.
#[derive(Debug, Default, Clone)]
pub struct MemoryOAuthStore {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    clients: Vec<ClientRecord>,
    grants: HashMap<Arc<str>, GrantRecord>,
    codes: HashMap<TokenDigest, CodeRecord>,
    access: HashMap<TokenDigest, TokenRecord>,
    refresh: HashMap<TokenDigest, TokenRecord>,
}

impl MemoryOAuthStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::corrupt("the memory OAuth store's lock was poisoned"))
    }
}

impl State {
    fn keep(&mut self, tokens: &IssuedPair) {
        self.access
            .insert(tokens.access.digest, tokens.access.clone());
        self.refresh
            .insert(tokens.refresh.digest, tokens.refresh.clone());
    }

    fn with_grant(&self, token: Option<&TokenRecord>) -> Option<(TokenRecord, GrantRecord)> {
        let token = token?;
        let grant = self.grants.get(&token.grant_id)?;
        Some((token.clone(), grant.clone()))
    }
}

#[async_trait]
impl OAuthStore for MemoryOAuthStore {
    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        let mut state = self.lock()?;
        if state.clients.iter().any(|c| c.id == client.id) {
            return Err(StoreError::conflict("a client with this id exists"));
        }
        state.clients.push(client.clone());
        Ok(())
    }

    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        Ok(self.lock()?.clients.iter().find(|c| &*c.id == id).cloned())
    }

    async fn clients(
        &self,
        tenant: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ClientRecord>, StoreError> {
        Ok(self
            .lock()?
            .clients
            .iter()
            .filter(|c| tenant.is_none() || c.tenant.as_deref() == tenant)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn remove_client(&self, id: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        let mut state = self.lock()?;
        let before = state.clients.len();
        state.clients.retain(|c| &*c.id != id);
        let removed = state.clients.len() != before;
        for grant in state.grants.values_mut() {
            if &*grant.client_id == id && grant.revoked_at.is_none() {
                grant.revoked_at = Some(now);
            }
        }
        state.codes.retain(|_, code| &*code.client_id != id);
        Ok(removed)
    }

    async fn insert_code(&self, code: &CodeRecord) -> Result<(), StoreError> {
        self.lock()?.codes.insert(code.digest, code.clone());
        Ok(())
    }

    async fn code(&self, digest: &TokenDigest) -> Result<Option<CodeRecord>, StoreError> {
        Ok(self.lock()?.codes.get(digest).cloned())
    }

    async fn redeem_code(
        &self,
        digest: &TokenDigest,
        grant: &GrantRecord,
        tokens: &IssuedPair,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock()?;
        match state.codes.get_mut(digest) {
            Some(code) if !code.used => code.used = true,
            _ => return Ok(false),
        }
        state.grants.insert(grant.id.clone(), grant.clone());
        state.keep(tokens);
        Ok(true)
    }

    async fn refresh_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<(TokenRecord, GrantRecord)>, StoreError> {
        let state = self.lock()?;
        Ok(state.with_grant(state.refresh.get(digest)))
    }

    async fn rotate_refresh_token(
        &self,
        digest: &TokenDigest,
        tokens: &IssuedPair,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock()?;
        let Some(old) = state.refresh.get(digest) else {
            return Ok(false);
        };
        let live = !old.used
            && state
                .grants
                .get(&old.grant_id)
                .is_some_and(|g| g.revoked_at.is_none());
        if !live {
            return Ok(false);
        }
        if let Some(old) = state.refresh.get_mut(digest) {
            old.used = true;
        }
        state.keep(tokens);
        Ok(true)
    }

    async fn access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<(TokenRecord, GrantRecord)>, StoreError> {
        let state = self.lock()?;
        Ok(state.with_grant(state.access.get(digest)))
    }

    async fn revoke_grant(&self, grant_id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        if let Some(grant) = self.lock()?.grants.get_mut(grant_id)
            && grant.revoked_at.is_none()
        {
            grant.revoked_at = Some(now);
        }
        Ok(())
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut state = self.lock()?;
        let before = state.codes.len() + state.access.len() + state.refresh.len();
        state.codes.retain(|_, c| c.expires_at > now);
        state.access.retain(|_, t| t.expires_at > now);
        state.refresh.retain(|_, t| t.expires_at > now);
        let after = state.codes.len() + state.access.len() + state.refresh.len();
        let State {
            grants,
            access,
            refresh,
            ..
        } = &mut *state;
        let live: HashSet<&Arc<str>> = access
            .values()
            .chain(refresh.values())
            .map(|t| &t.grant_id)
            .collect();
        let grants_before = grants.len();
        grants.retain(|id, _| live.contains(id));
        let grants_gone = grants_before - grants.len();
        Ok(u64::try_from(before - after + grants_gone).unwrap_or(u64::MAX))
    }
}
