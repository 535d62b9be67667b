//! The engine: [`Keygate`], built once by a [`KeygateBuilder`] and cloned into every
//! adapter and handler.

mod authenticate;
mod charge;
mod grant;
mod keys;
mod settle;
mod tokens;
mod verify;

pub use authenticate::IMPERSONATE_SCOPE;
pub use grant::Grant;
pub use keys::{AdminError, CreatedKey, KeyAdmin, KeyPage, MAX_LIST_LIMIT};
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
use crate::meter::{MemoryMeter, Meter};
use crate::oauth::AccessTokenVerifier;
use crate::secret::{Pepper, PlatformSecret};
use crate::store::{KeyStore, MemoryKeyStore};
use crate::token::{TokenIssuer, TokenSecret};
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
            .finish()
    }
}

/// Configures a [`Keygate`]. Only the pepper is required; the defaults are in-memory
/// stores, the system clock, no platform secret, and HS256 tokens under a secret derived
/// from the pepper.
#[derive(Default)]
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
            }),
        })
    }
}

impl fmt::Debug for KeygateBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeygateBuilder").finish_non_exhaustive()
    }
}
