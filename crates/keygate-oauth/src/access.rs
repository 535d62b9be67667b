//! The engine's view of access tokens: [`AccessTokens`], a keygate-core
//! [`AccessTokenVerifier`] over the OAuth store with a short cache.
//!
//! Why a store look-up with a one-second cache, rather than self-contained signed tokens
//! and revocation notices: a grant can be revoked at any moment (a replayed code, a
//! reused refresh token, `/oauth/revoke`, a removed client), and the contract wants that
//! to end its access tokens within a second everywhere. A cache entry lives at most
//! [`ACCESS_CACHE_TTL`], so an instance that did not revoke learns of it by its next look-up,
//! whatever store or transport is deployed (no notice channel to keep alive, nothing lost
//! when one drops); the instance that revoked clears its cache at once. The cost is one
//! indexed look-up per token per second per instance.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use keygate_core::oauth::{AccessTokenStatus, AccessTokenVerifier, OAuthAccess};
use keygate_core::store::StoreError;
use quick_cache::sync::Cache;
use time::{Duration, OffsetDateTime};

use crate::secret::TokenDigest;
use crate::store::OAuthStore;

/// How long a verified answer is reused: the bound on how late another instance's
/// revocation takes effect here.
pub const ACCESS_CACHE_TTL: Duration = Duration::seconds(1);
/// Most answers cached.
pub const ACCESS_CACHE_CAPACITY: usize = 16_384;

/// Verifies OAuth access tokens for the engine: give it to
/// [`KeygateBuilder::oauth_tokens`](keygate_core::KeygateBuilder::oauth_tokens). Get it from
/// [`AuthorizationServer::access_tokens`](crate::AuthorizationServer::access_tokens), so
/// the server's own revocations clear its cache at once.
#[derive(Debug, Clone)]
pub struct AccessTokens {
    store: Arc<dyn OAuthStore>,
    cache: Arc<Cache<TokenDigest, (AccessTokenStatus, OffsetDateTime)>>,
    /// Bumped by every [`forget`](Self::forget): a look-up that was in flight across one
    /// must not leave what it read (from before the revocation) in the cache.
    generation: Arc<AtomicU64>,
}

impl AccessTokens {
    pub(crate) fn new(store: Arc<dyn OAuthStore>) -> Self {
        Self {
            store,
            cache: Arc::new(Cache::new(ACCESS_CACHE_CAPACITY)),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Forgets every cached answer (after a revocation on this instance).
    pub(crate) fn forget(&self) {
        // The generation first, then the clear: a look-up that inserts before the clear is
        // cleared; one that inserts after it sees the new generation and takes its own
        // entry back out (see `verify`).
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cache.clear();
    }

    async fn look_up(
        &self,
        digest: &TokenDigest,
        now: OffsetDateTime,
    ) -> Result<AccessTokenStatus, StoreError> {
        let Some((token, grant)) = self.store.access_token(digest).await? else {
            return Ok(AccessTokenStatus::Invalid);
        };
        if grant.revoked_at.is_some() {
            return Ok(AccessTokenStatus::Invalid);
        }
        if now >= token.expires_at {
            return Ok(AccessTokenStatus::Expired);
        }
        Ok(AccessTokenStatus::Active(OAuthAccess::new(
            grant.client_id,
            grant.subject,
            grant.tenant,
            token.scopes,
            token.expires_at,
        )))
    }
}

#[async_trait]
impl AccessTokenVerifier for AccessTokens {
    async fn verify(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<AccessTokenStatus, StoreError> {
        let digest = TokenDigest::of(token);
        if let Some((status, fetched)) = self.cache.get(&digest)
            && now >= fetched
            && now < fetched + ACCESS_CACHE_TTL
        {
            return Ok(match status {
                AccessTokenStatus::Active(access) if now >= access.expires_at => {
                    AccessTokenStatus::Expired
                }
                other => other,
            });
        }
        // A revocation on this instance (`forget`) while the store answers would otherwise
        // let this look-up write the grant's old `Active` back after the clear, for up to
        // ACCESS_CACHE_TTL. The answer itself stands: the look-up began before the
        // revocation.
        let generation = self.generation.load(Ordering::SeqCst);
        let status = self.look_up(&digest, now).await?;
        if self.generation.load(Ordering::SeqCst) == generation {
            self.cache.insert(digest, (status.clone(), now));
            if self.generation.load(Ordering::SeqCst) != generation {
                // A `forget` came between the check and the insert, and its clear may
                // have run before the insert.
                self.cache.remove(&digest);
            }
        }
        Ok(status)
    }
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
