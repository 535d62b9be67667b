//! [`AuthorizationServer`]: the configuration, the store and the clock, shared by every
//! endpoint. Cheap to clone.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use keygate_core::store::StoreError;
use keygate_core::{Clock, ScopeSet, SystemClock};
use secrecy::SecretString;
use time::{Duration, OffsetDateTime};
use tokio::sync::Semaphore;

use crate::access::AccessTokens;
use crate::client::{
    CLIENT_ID_PREFIX, CLIENT_SECRET_PREFIX, ClientError, ClientRecord, CreatedClient, NewClient,
};
use crate::secret::{SecretHashError, fresh_secret, hash_client_secret, random_base62};
use crate::store::{MemoryOAuthStore, OAuthStore};
use crate::throttle::Throttle;

/// How long an access token lives.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::hours(1);
/// How long a refresh token lives (each rotation issues a new one with a fresh life).
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::days(30);
/// How long an authorization code may be exchanged.
pub const CODE_LIFETIME: Duration = Duration::seconds(60);
/// Default cap on concurrent argon2 verifications.
pub const DEFAULT_CONCURRENT_VERIFICATIONS: usize = 2;
/// How many verifications may be under way (hashing or waiting for a slot), per slot;
/// beyond that the endpoint answers `temporarily_unavailable` without hashing.
pub const WAITING_PER_VERIFICATION: usize = 8;
/// How often (in codes and tokens issued) the server purges expired ones.
const PURGE_EVERY: u64 = 4096;

/// An OAuth 2.0 authorization server: client registry, authorization and token
/// endpoints, revocation, metadata, and the [`AccessTokens`] the engine verifies with.
///
/// ```
/// use keygate_oauth::AuthorizationServer;
///
/// let server = AuthorizationServer::builder("https://auth.example").build()?;
/// assert_eq!(server.metadata()["issuer"], "https://auth.example");
/// assert_eq!(server.metadata()["code_challenge_methods_supported"][0], "S256");
/// # Ok::<(), keygate_oauth::server::IssuerError>(())
/// ```
#[derive(Clone)]
pub struct AuthorizationServer {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) issuer: String,
    pub(crate) store: Arc<dyn OAuthStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) offered: Option<ScopeSet>,
    pub(crate) access: AccessTokens,
    pub(crate) throttle: Throttle,
    pub(crate) verifying: Semaphore,
    pub(crate) waiting: Semaphore,
    pub(crate) issued: AtomicU64,
}

/// Configures an [`AuthorizationServer`].
pub struct AuthorizationServerBuilder {
    issuer: String,
    store: Option<Arc<dyn OAuthStore>>,
    clock: Option<Arc<dyn Clock>>,
    offered: Option<ScopeSet>,
    concurrent: usize,
}

/// The issuer URL is not an `https://` or `http://` URL without query or fragment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the issuer must be an http:// or https:// URL without query or fragment, such as https://auth.example"
)]
pub struct IssuerError;

impl AuthorizationServer {
    /// Starts configuring a server whose `iss` is `issuer` (RFC 8414 §2, RFC 9207).
    pub fn builder(issuer: impl Into<String>) -> AuthorizationServerBuilder {
        AuthorizationServerBuilder {
            issuer: issuer.into(),
            store: None,
            clock: None,
            offered: None,
            concurrent: DEFAULT_CONCURRENT_VERIFICATIONS,
        }
    }

    /// The issuer identifier (`iss`).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The store.
    pub fn store(&self) -> &dyn OAuthStore {
        &*self.inner.store
    }

    /// The access-token verifier to give the engine
    /// ([`KeygateBuilder::oauth_tokens`](keygate_core::KeygateBuilder::oauth_tokens)).
    /// It shares this server's cache: a revocation here is seen there at once.
    pub fn access_tokens(&self) -> Arc<AccessTokens> {
        Arc::new(self.inner.access.clone())
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        keygate_core::clock::to_micros(self.inner.clock.now())
    }

    /// Registers a client. A confidential client's secret is in the answer, this once;
    /// only its argon2id hash is kept.
    pub async fn register_client(&self, new: NewClient) -> Result<CreatedClient, RegisterError> {
        new.validate(self.inner.offered.as_ref())?;
        let id = format!(
            "{CLIENT_ID_PREFIX}{}",
            random_base62(24).map_err(|_| RegisterError::Random)?
        );
        let (secret, secret_hash) = if new.confidential {
            let secret = fresh_secret(CLIENT_SECRET_PREFIX).map_err(|_| RegisterError::Random)?;
            // Hashing costs ~16 ms of CPU: off the async threads.
            let hashed = secret.clone();
            let hash = tokio::task::spawn_blocking(move || hash_client_secret(&hashed))
                .await
                .map_err(|_| RegisterError::Hash(SecretHashError))??;
            (Some(secret), Some(hash))
        } else {
            (None, None)
        };
        let record = ClientRecord::new(
            id,
            new.name,
            new.tenant.map(Arc::from),
            new.redirect_uris,
            new.scopes,
            secret_hash,
            self.now(),
        );
        self.inner.store.insert_client(&record).await?;
        Ok(CreatedClient { record, secret })
    }

    /// The client with `id`.
    pub async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.inner.store.client(id).await
    }

    /// Removes a client and revokes every grant it holds: its tokens stop working at
    /// once here and within [`ACCESS_CACHE_TTL`](crate::access::ACCESS_CACHE_TTL)
    /// elsewhere. `false` if there was no such client.
    pub async fn remove_client(&self, id: &str) -> Result<bool, StoreError> {
        let removed = self.inner.store.remove_client(id, self.now()).await?;
        self.inner.access.forget();
        Ok(removed)
    }

    /// Revokes a grant and forgets this instance's cached answers.
    pub(crate) async fn revoke_grant(&self, grant_id: &str) -> Result<(), StoreError> {
        let revoked = self.inner.store.revoke_grant(grant_id, self.now()).await;
        self.inner.access.forget();
        revoked
    }

    /// Counts issued codes and tokens, and purges expired ones every so often (in the
    /// background, so the request that crosses the mark does not wait for it).
    pub(crate) fn count_issued(&self) {
        let issued = self.inner.issued.fetch_add(1, Ordering::Relaxed) + 1;
        if issued.is_multiple_of(PURGE_EVERY)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let store = Arc::clone(&self.inner.store);
            let now = self.now();
            runtime.spawn(async move {
                if let Err(error) = store.purge_expired(now).await {
                    tracing::warn!(%error, "purging expired OAuth codes and tokens failed");
                }
            });
        }
    }

    /// RFC 8414 metadata for `GET /.well-known/oauth-authorization-server`.
    pub fn metadata(&self) -> serde_json::Value {
        let issuer = &self.inner.issuer;
        let mut doc = serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/oauth/authorize"),
            "token_endpoint": format!("{issuer}/oauth/token"),
            "revocation_endpoint": format!("{issuer}/oauth/revoke"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
        });
        if let (Some(offered), Some(map)) = (&self.inner.offered, doc.as_object_mut()) {
            let scopes: Vec<&str> = offered.iter().map(|s| s.as_str()).collect();
            map.insert("scopes_supported".to_owned(), serde_json::json!(scopes));
        }
        doc
    }
}

impl fmt::Debug for AuthorizationServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationServer")
            .field("issuer", &self.inner.issuer)
            .field("store", &self.inner.store)
            .field("clock", &self.inner.clock)
            .field("offered", &self.inner.offered)
            .finish_non_exhaustive()
    }
}

impl AuthorizationServerBuilder {
    /// Keeps state in `store` (default: [`MemoryOAuthStore`]).
    pub fn store(mut self, store: Arc<dyn OAuthStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Reads the time from `clock` (a `ManualClock` in tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The scopes clients may register (and `scopes_supported` in the metadata); by
    /// default any valid scope.
    pub fn offered_scopes(mut self, scopes: ScopeSet) -> Self {
        self.offered = Some(scopes);
        self
    }

    /// At most `n` argon2 verifications at once (at least 1; default 2), and `8 × n` under
    /// way (hashing or waiting): beyond that the token and revocation endpoints answer
    /// 503 `temporarily_unavailable` with `Retry-After: 1`, without hashing.
    pub fn concurrent_verifications(mut self, n: usize) -> Self {
        self.concurrent = n.max(1);
        self
    }

    /// Builds the server.
    pub fn build(self) -> Result<AuthorizationServer, IssuerError> {
        let issuer = self.issuer.trim_end_matches('/').to_owned();
        let scheme_ok = issuer
            .strip_prefix("https://")
            .or_else(|| issuer.strip_prefix("http://"))
            .is_some_and(|rest| !rest.is_empty());
        if !scheme_ok
            || issuer.contains(['?', '#'])
            || !issuer.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(IssuerError);
        }
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryOAuthStore::new()));
        Ok(AuthorizationServer {
            inner: Arc::new(Inner {
                issuer,
                access: AccessTokens::new(Arc::clone(&store)),
                store,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                offered: self.offered,
                throttle: Throttle::new(),
                verifying: Semaphore::new(self.concurrent),
                waiting: Semaphore::new(self.concurrent * WAITING_PER_VERIFICATION),
                issued: AtomicU64::new(0),
            }),
        })
    }
}

impl fmt::Debug for AuthorizationServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationServerBuilder")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Why a client could not be registered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// A field is invalid (400).
    #[error(transparent)]
    Invalid(#[from] ClientError),
    /// The store failed (503).
    #[error("the OAuth store failed: {0}")]
    Store(#[from] StoreError),
    /// The random source failed.
    #[error("the operating system's random source failed")]
    Random,
    /// The secret could not be hashed.
    #[error(transparent)]
    Hash(#[from] SecretHashError),
}

/// A fresh secret text (codes, tokens) with `prefix`.
pub(crate) fn fresh(prefix: &str) -> Result<SecretString, StoreError> {
    fresh_secret(prefix).map_err(|e| StoreError::unavailable("random source failed", e))
}
