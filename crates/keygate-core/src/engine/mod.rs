//! The engine: [`Keygate`], built once by a [`KeygateBuilder`] and cloned into every
//! adapter and handler.

mod accounts;
mod authenticate;
mod charge;
mod grant;
mod key_admin;
mod keys;
mod self_service;
mod settle;
mod tokens;
mod transport;
mod verify;

pub use authenticate::IMPERSONATE_SCOPE;
pub use grant::Grant;
pub use key_admin::KeyAdmin;
pub use keys::{AdminError, CreatedKey, KeyPage, MAX_LIST_LIMIT};
pub use self_service::SelfService;
pub use tokens::TOKEN_CREATE_SCOPE;

use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use crate::access::Access;
use crate::audit::{AuditEvent, AuditSink, TracingAudit};
use crate::clock::{Clock, SystemClock};
use crate::credentials::CredentialSources;
use crate::jwt::JwtVerifier;
use crate::key::{KeyDigest, KeyHasher};
use crate::lockout::{Lockouts, SecretLockout};
use crate::meter::{MemoryMeter, Meter};
use crate::oauth::AccessTokenVerifier;
use crate::secret::{Pepper, PlatformSecret};
use crate::store::{KeyStore, MemoryKeyStore};
use crate::token::{TokenIssuer, TokenSecret};
use crate::transport::TrustedProxies;
use crate::usage::{Outcome, UsageQueue, UsageRecord};

/// The authentication engine: configuration and stores. Cheap to clone (one `Arc`).
///
/// ```
/// use keygate_core::{Access, Keygate, Pepper, PlatformSecret};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = PlatformSecret::generate()?;
/// let keygate = Keygate::builder()
///     .pepper(Pepper::generate()?)
///     .platform_secret(&secret)
///     .build()?;
///
/// let request = http::Request::builder()
///     .header("x-client-secret", secret.expose())
///     .body(())?;
/// let grant = keygate.authenticate(&request, &Access::admin()).await?;
/// assert!(grant.principal().is_operator());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Keygate {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Arc<dyn Clock>,
    hasher: KeyHasher,
    platform_secret: Option<KeyDigest>,
    issuer: TokenIssuer,
    keys: Arc<dyn KeyStore>,
    meter: Arc<dyn Meter>,
    audit: Arc<dyn AuditSink>,
    jwt: Option<JwtVerifier>,
    oauth: Option<Arc<dyn AccessTokenVerifier>>,
    require_tenant: bool,
    usage: Option<UsageQueue>,
    sources: Arc<CredentialSources>,
    require_https: bool,
    proxies: TrustedProxies,
    lockouts: Option<Lockouts>,
}

impl Keygate {
    /// Starts configuring an engine.
    pub fn builder() -> KeygateBuilder {
        KeygateBuilder::default()
    }

    /// The engine's clock.
    pub fn clock(&self) -> &dyn Clock {
        &*self.inner.clock
    }

    /// The hasher for key material (current and previous peppers).
    pub fn hasher(&self) -> &KeyHasher {
        &self.inner.hasher
    }

    /// The token issuer (for its public [`jwks`](TokenIssuer::jwks)).
    pub fn token_issuer(&self) -> &TokenIssuer {
        &self.inner.issuer
    }

    /// The key store.
    pub fn key_store(&self) -> &dyn KeyStore {
        &*self.inner.keys
    }

    /// The meter.
    pub fn meter(&self) -> &dyn Meter {
        &*self.inner.meter
    }

    /// Offers a usage record for a request on `access` to the usage queue, if the engine
    /// has one: `grant` says who acted (none for a refusal or an anonymous request).
    pub(crate) fn report_usage(
        &self,
        access: &Access,
        grant: Option<&Grant>,
        outcome: impl FnOnce() -> Outcome,
    ) {
        let Some(queue) = &self.inner.usage else {
            return;
        };
        let principal = grant.map(Grant::principal);
        queue.offer(UsageRecord {
            at: self.inner.clock.now(),
            route: access.name().cloned(),
            method: principal.map(|p| p.method),
            tenant: principal.and_then(|p| p.tenant.clone()),
            subject: principal.and_then(|p| p.subject.clone()),
            key_id: principal.and_then(|p| p.key_id.clone()),
            account: grant.and_then(|g| g.account.clone()),
            outcome: outcome(),
            credits_spent: grant.and_then(|g| g.debit.as_ref()).map_or(0, |d| d.cost),
        });
    }

    /// Where the engine reads credentials: for code that forwards requests and must
    /// remove them first ([`CredentialSources::remove_from`]), or that answers a WebSocket
    /// handshake ([`CredentialSources::websocket_protocol`]).
    pub fn credential_sources(&self) -> &CredentialSources {
        &self.inner.sources
    }

    /// The sources, shared: a gate hands them to the request's
    /// [`Authentication`](crate::extract::Authentication), so code behind it (the proxy)
    /// removes exactly what this engine reads.
    pub(crate) fn shared_sources(&self) -> Arc<CredentialSources> {
        Arc::clone(&self.inner.sources)
    }

    /// Records `event` in the audit trail: for an application's own admin changes
    /// ([`AuditEvent::AdminChange`]); the engine records its own decisions.
    pub fn audit(&self, event: &AuditEvent<'_>) {
        self.inner.audit.record(event);
    }
}

impl fmt::Debug for Keygate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keygate")
            .field("hasher", &self.inner.hasher)
            .field("platform_secret", &self.inner.platform_secret.map(|_| ".."))
            .field("issuer", &self.inner.issuer)
            .field("keys", &self.inner.keys)
            .field("meter", &self.inner.meter)
            .field("clock", &self.inner.clock)
            .field("jwt", &self.inner.jwt)
            .field("oauth", &self.inner.oauth)
            .field("require_tenant", &self.inner.require_tenant)
            .field("usage", &self.inner.usage)
            .field("sources", &self.inner.sources)
            .field("require_https", &self.inner.require_https)
            .field("trusted_proxies", &self.inner.proxies)
            .field("secret_lockout", &self.inner.lockouts)
            .finish()
    }
}

/// Configures a [`Keygate`]. Only the pepper is required; the defaults are in-memory
/// stores, the system clock, no platform secret, HS256 tokens under a secret derived
/// from the pepper, plain HTTP allowed, no trusted proxy, and the default
/// [`SecretLockout`] (10 failed `x-client-secret` checks in 60 s lock an address).
pub struct KeygateBuilder {
    pepper: Option<Pepper>,
    previous_peppers: Vec<Pepper>,
    platform_secret: Option<PlatformSecretSource>,
    issuer: Option<TokenIssuer>,
    keys: Option<Arc<dyn KeyStore>>,
    meter: Option<Arc<dyn Meter>>,
    clock: Option<Arc<dyn Clock>>,
    audit: Option<Arc<dyn AuditSink>>,
    jwt: Option<JwtVerifier>,
    oauth: Option<Arc<dyn AccessTokenVerifier>>,
    require_tenant: bool,
    usage: Option<UsageQueue>,
    sources: CredentialSources,
    require_https: bool,
    proxies: TrustedProxies,
    lockout: Option<SecretLockout>,
}

impl Default for KeygateBuilder {
    fn default() -> Self {
        Self {
            pepper: None,
            previous_peppers: Vec::new(),
            platform_secret: None,
            issuer: None,
            keys: None,
            meter: None,
            clock: None,
            audit: None,
            jwt: None,
            require_tenant: false,
            usage: None,
            sources: CredentialSources::default(),
            oauth: None,
            require_https: false,
            proxies: TrustedProxies::none(),
            lockout: Some(SecretLockout::default()),
        }
    }
}

enum PlatformSecretSource {
    Plain(SecretString),
    Digest(KeyDigest),
}

/// Why an engine could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No pepper was given.
    #[error(
        "a pepper is required: call KeygateBuilder::pepper (generate one with Pepper::generate)"
    )]
    MissingPepper,
    /// The platform-secret digest was made with a pepper the engine does not know.
    #[error(
        "the platform secret digest was made with pepper {0}, which is neither the current nor a previous pepper"
    )]
    UnknownPepper(crate::secret::PepperId),
}

impl KeygateBuilder {
    /// The pepper API keys and the platform secret are hashed with (required).
    pub fn pepper(mut self, pepper: Pepper) -> Self {
        self.pepper = Some(pepper);
        self
    }

    /// A pepper being rotated out: digests made with it are still accepted.
    pub fn previous_pepper(mut self, pepper: Pepper) -> Self {
        self.previous_peppers.push(pepper);
        self
    }

    /// The platform secret; only its digest is kept.
    pub fn platform_secret(mut self, secret: &PlatformSecret) -> Self {
        self.platform_secret = Some(PlatformSecretSource::Plain(SecretString::from(
            secret.expose(),
        )));
        self
    }

    /// The stored digest of the platform secret (as [`KeyHasher::digest`] made it).
    pub fn platform_secret_digest(mut self, digest: KeyDigest) -> Self {
        self.platform_secret = Some(PlatformSecretSource::Digest(digest));
        self
    }

    /// Signs and verifies issued tokens with `issuer`.
    pub fn token_issuer(mut self, issuer: TokenIssuer) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// Keeps key records in `store`.
    pub fn key_store(mut self, store: impl KeyStore) -> Self {
        self.keys = Some(Arc::new(store));
        self
    }

    /// Keeps counters in `meter`.
    pub fn meter(mut self, meter: impl Meter) -> Self {
        self.meter = Some(Arc::new(meter));
        self
    }

    /// Reads the time from `clock` (a [`ManualClock`](crate::ManualClock) in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Verifies user JWTs (alone, or with a publishable key) with `verifier`. Without
    /// one, user JWTs are refused with `invalid_token`.
    pub fn jwt_verifier(mut self, verifier: JwtVerifier) -> Self {
        self.jwt = Some(verifier);
        self
    }

    /// Verifies OAuth 2.0 access tokens (bearer values starting with
    /// [`ACCESS_TOKEN_PREFIX`](crate::oauth::ACCESS_TOKEN_PREFIX)) with `verifier`, the
    /// authorization server's. Without one, such tokens are refused with `invalid_token`.
    pub fn oauth_tokens(mut self, verifier: Arc<dyn AccessTokenVerifier>) -> Self {
        self.oauth = Some(verifier);
        self
    }

    /// Sends audit events to `sink` instead of the default [`TracingAudit`].
    pub fn audit(mut self, sink: impl AuditSink) -> Self {
        self.audit = Some(Arc::new(sink));
        self
    }

    /// Requires a tenant on every route that does not opt out with
    /// [`Access::tenant_optional`](crate::Access::tenant_optional).
    pub fn require_tenant(mut self, required: bool) -> Self {
        self.require_tenant = required;
        self
    }

    /// Reports every settled request and every refusal to `queue` (see
    /// [`usage`](crate::usage)), without ever waiting on it.
    pub fn usage(mut self, queue: UsageQueue) -> Self {
        self.usage = Some(queue);
        self
    }

    /// Reads credentials from `sources` instead of the contract's headers (see
    /// [`CredentialSources`]: other header names, a cookie, a WebSocket subprotocol).
    ///
    /// ```
    /// use keygate_core::credentials::CredentialSources;
    /// use keygate_core::{Keygate, Pepper};
    ///
    /// let keygate = Keygate::builder()
    ///     .pepper(Pepper::generate()?)
    ///     .credential_sources(CredentialSources::builder().api_key_header("x-acme-key").build()?)
    ///     .build()?;
    /// assert_eq!(keygate.credential_sources().api_key_header().as_str(), "x-acme-key");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn credential_sources(mut self, sources: CredentialSources) -> Self {
        self.sources = sources;
        self
    }

    /// Refuses every request that presents a credential over plain HTTP with 403
    /// `https_required`, before the credential is verified (or consumed). The scheme is
    /// the connection's ([`RequestHead::scheme`](crate::RequestHead::scheme)), or
    /// `X-Forwarded-Proto`'s when the peer is one of the
    /// [`trusted_proxies`](Self::trusted_proxies). An unknown scheme counts as plain
    /// HTTP (fail closed): an `http::Request` without a
    /// [`Connection`](crate::credentials::Connection) in its extensions is refused, so
    /// make the server insert one (keygate-tower's `ConnectionLayer` in a hyper accept
    /// loop; on axum, `keygate_axum::connect_info()` with
    /// `into_make_service_with_connect_info::<SocketAddr>()`; actix-web's adapter reads its
    /// listener). The request URI's scheme is never read: the client chooses it. A
    /// request without any credential is not refused for its scheme (a public route
    /// stays public; a protected one answers 401 as usual). A handler that takes a
    /// credential keygate does not verify (an OAuth client secret, say) applies the same
    /// rule with [`Keygate::client`] and [`Keygate::check_https`].
    ///
    /// ```
    /// use keygate_core::credentials::{Connection, Scheme};
    /// use keygate_core::{Access, Keygate, Pepper, PlatformSecret};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = PlatformSecret::generate()?;
    /// let keygate = Keygate::builder()
    ///     .pepper(Pepper::generate()?)
    ///     .platform_secret(&secret)
    ///     .require_https(true)
    ///     .trusted_proxies("10.0.0.0/8".parse()?)
    ///     .build()?;
    /// let mut request = http::Request::builder()
    ///     .header("x-client-secret", secret.expose())
    ///     .header("x-forwarded-proto", "https")
    ///     .body(())?;
    /// let peer = |at: &str| at.parse::<std::net::SocketAddr>();
    /// request.extensions_mut().insert(Connection { peer: peer("198.51.100.7:5000")?, scheme: Scheme::Http });
    /// let refused = keygate.authenticate(&request, &Access::admin()).await.unwrap_err();
    /// assert_eq!((refused.status().as_u16(), refused.code()), (403, "https_required"));
    ///
    /// request.extensions_mut().insert(Connection { peer: peer("10.0.0.2:5000")?, scheme: Scheme::Http });
    /// assert!(keygate.authenticate(&request, &Access::admin()).await.is_ok(), "behind the proxy");
    /// # Ok(())
    /// # }
    /// ```
    pub fn require_https(mut self, required: bool) -> Self {
        self.require_https = required;
        self
    }

    /// The proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed (none by
    /// default, loopback included): for [`require_https`](Self::require_https) and for the
    /// client address of the [`secret_lockout`](Self::secret_lockout). See
    /// [`transport`](crate::transport).
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// How failed `x-client-secret` checks lock a client address out (429
    /// `rate_limited`): [`SecretLockout::default`] unless told otherwise; `None` turns it
    /// off (for an app that limits admin attempts in front of keygate). See
    /// [`lockout`](crate::lockout).
    pub fn secret_lockout(mut self, lockout: impl Into<Option<SecretLockout>>) -> Self {
        self.lockout = lockout.into();
        self
    }

    /// Builds the engine.
    pub fn build(self) -> Result<Keygate, BuildError> {
        let pepper = self.pepper.ok_or(BuildError::MissingPepper)?;
        let hasher = self
            .previous_peppers
            .iter()
            .fold(KeyHasher::new(&pepper), KeyHasher::with_previous);
        let platform_secret = match self.platform_secret {
            None => None,
            Some(PlatformSecretSource::Plain(text)) => Some(hasher.digest(text.expose_secret())),
            Some(PlatformSecretSource::Digest(digest)) => {
                let known = std::iter::once(&pepper)
                    .chain(&self.previous_peppers)
                    .any(|p| p.id() == digest.pepper);
                if !known {
                    return Err(BuildError::UnknownPepper(digest.pepper));
                }
                Some(digest)
            }
        };
        // The derived signing key follows the pepper ring, so rotating the pepper does not
        // invalidate tokens already handed out.
        let issuer = self.issuer.unwrap_or_else(|| {
            self.previous_peppers.iter().fold(
                TokenIssuer::hs256(&TokenSecret::derive(&pepper)),
                |issuer, previous| {
                    issuer.with_previous(&TokenIssuer::hs256(&TokenSecret::derive(previous)))
                },
            )
        });
        Ok(Keygate {
            inner: Arc::new(Inner {
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                hasher,
                platform_secret,
                issuer,
                keys: self.keys.unwrap_or_else(|| Arc::new(MemoryKeyStore::new())),
                meter: self.meter.unwrap_or_else(|| Arc::new(MemoryMeter::new())),
                audit: self.audit.unwrap_or_else(|| Arc::new(TracingAudit)),
                jwt: self.jwt,
                oauth: self.oauth,
                require_tenant: self.require_tenant,
                usage: self.usage,
                sources: Arc::new(self.sources),
                require_https: self.require_https,
                proxies: self.proxies,
                lockouts: self.lockout.map(Lockouts::new),
            }),
        })
    }
}

impl fmt::Debug for KeygateBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeygateBuilder").finish_non_exhaustive()
    }
}
