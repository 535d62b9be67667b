//! [`JwtVerifier`]: one user JWT in, a [`UserJwt`] or an [`AuthError`] out.

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use super::UserJwt;
use super::cache::{self, Lookup, Verified, VerifiedCache};
use super::claims;
use super::compact;
use super::config::{JwtVerifierBuilder, Settings};
use super::keyset::{KeySet, VerifyingKey};
use crate::error::AuthError;

/// Verifies user JWTs from one issuer. Cheap to clone: clones share the keys, the
/// verified-token cache and (with a JWKS URL) the refresh task.
///
/// Build it with [`JwtVerifier::builder`]; see the [module documentation](super) for
/// what is checked.
///
/// # Keys from a JWKS URL
///
/// With [`jwks_url`](JwtVerifierBuilder::jwks_url) or
/// [`firebase`](JwtVerifierBuilder::firebase) (feature `jwks`), the key set is fetched
/// over HTTPS (rustls) and kept for its `Cache-Control: max-age`, bounded to 60 s to
/// 24 h (5 minutes without one). A background Tokio task refetches it when that runs out
/// (and retries a failed fetch after 30 s, then up to 5 minutes apart); the task lives
/// as long as any clone of the verifier and stops when the last one is dropped.
///
/// A token whose `kid` is not in the set makes the verifier fetch it again at once, at
/// most once every 30 s (measured with the `now` given to [`verify`](Self::verify)), and
/// concurrent verifications wait for one shared fetch: made-up `kid`s cannot make the
/// verifier flood the issuer. Until a first set has been loaded (the JWKS unreachable at
/// start-up), [`verify`](Self::verify) answers [`AuthError::AuthUnavailable`] (503
/// `auth_unavailable`), and recovers by itself once the JWKS answers. A failed refetch
/// keeps the last good keys.
#[derive(Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) settings: Settings,
    pub(crate) source: KeySource,
    cache: VerifiedCache,
}

/// Where the keys come from.
pub(crate) enum KeySource {
    /// Given at build time, never refreshed.
    Static(Arc<KeySet>),
    /// Fetched from a JWKS URL.
    #[cfg(feature = "jwks")]
    Remote(Box<super::remote::Remote>),
}

impl JwtVerifier {
    /// A builder; issuer, audience and a key source are required.
    pub fn builder() -> JwtVerifierBuilder {
        JwtVerifierBuilder::default()
    }

    pub(crate) fn new(settings: Settings, source: KeySource, cache_capacity: usize) -> Self {
        let inner = Arc::new(Inner {
            settings,
            source,
            cache: VerifiedCache::new(cache_capacity),
        });
        #[cfg(feature = "jwks")]
        if let KeySource::Remote(remote) = &inner.source {
            remote.start(&inner);
        }
        Self { inner }
    }

    /// Verifies a user JWT at `now` (the engine's injected clock).
    ///
    /// # Errors
    ///
    /// - [`AuthError::InvalidToken`]: anything malformed or forged, a wrong issuer,
    ///   audience, algorithm, `typ` or `kid`, a future `iat`, `auth_time` or `nbf`,
    ///   missing or mistyped claims, an invalid tenant or scope;
    /// - [`AuthError::TokenExpired`]: past `exp` plus the leeway;
    /// - [`AuthError::AuthUnavailable`]: no key set could be loaded yet (the JWKS is
    ///   unreachable), or the token names a key the set does not have and refetching the
    ///   set just failed. The request must be refused (503), never let through.
    pub async fn verify(&self, token: &str, now: OffsetDateTime) -> Result<UserJwt, AuthError> {
        let inner = &self.inner;
        let settings = &inner.settings;
        let parts = compact::split(token)?;
        let digest = cache::digest(token);
        let current = inner.current_keys();
        if let Lookup::Hit(result) =
            inner
                .cache
                .lookup(&digest, token, current.as_deref(), now, settings.leeway)
        {
            return result;
        }

        let header = compact::parse_header(parts.header, &settings.algorithms)?;
        let (keys, key) = inner.key_for(&header.kid, current, now).await?;
        // The key decides which algorithms it verifies, never the token.
        if !key.algorithms.contains(&header.alg) {
            return Err(AuthError::InvalidToken);
        }
        let signature = compact::decode(parts.signature)?;
        // ring, called directly (no process-wide provider that another crate could
        // install or make ambiguous), with the key decoded when the set was loaded.
        if !key
            .key
            .verify(header.alg, parts.signed.as_bytes(), &signature)
        {
            return Err(AuthError::InvalidToken);
        }

        let payload = compact::decode(parts.payload)?;
        let checked = claims::parse(&payload, &settings.tenant_claim)?.check(settings, now)?;
        inner.cache.insert(
            digest,
            Verified {
                token: token.into(),
                user: checked.user.clone(),
                not_before: checked.not_before,
                kid: header.kid.into_boxed_str(),
                key_digest: key.digest,
                generation: keys.generation(),
            },
        );
        Ok(checked.user)
    }
}

impl Inner {
    /// The key set in use, if one has been loaded.
    fn current_keys(&self) -> Option<Arc<KeySet>> {
        match &self.source {
            KeySource::Static(keys) => Some(Arc::clone(keys)),
            #[cfg(feature = "jwks")]
            KeySource::Remote(remote) => remote.current(),
        }
    }

    /// The key named `kid`, and the set it was found in; with a JWKS URL, the set may be
    /// (re)fetched first.
    #[cfg_attr(not(feature = "jwks"), allow(unused_variables))]
    async fn key_for(
        self: &Arc<Self>,
        kid: &str,
        current: Option<Arc<KeySet>>,
        now: OffsetDateTime,
    ) -> Result<(Arc<KeySet>, Arc<VerifyingKey>), AuthError> {
        // Every uncached verification makes sure the refresh task runs: one built outside
        // a runtime starts here, one whose runtime has shut down starts again.
        #[cfg(feature = "jwks")]
        if let KeySource::Remote(remote) = &self.source {
            remote.start(self);
        }
        if let Some(keys) = current
            && let Some(key) = keys.get(kid)
        {
            let key = Arc::clone(key);
            return Ok((keys, key));
        }
        match &self.source {
            KeySource::Static(_) => Err(AuthError::InvalidToken),
            #[cfg(feature = "jwks")]
            KeySource::Remote(remote) => remote.key_for(self, kid, now).await,
        }
    }
}

impl fmt::Debug for JwtVerifier {
    /// Configuration and key ids only: no key material, no token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        let mut out = f.debug_struct("JwtVerifier");
        out.field("issuer", &inner.settings.issuer)
            .field("audience", &inner.settings.audience)
            .field("tenant_claim", &inner.settings.tenant_claim)
            .field("algorithms", &inner.settings.algorithms)
            .field("leeway", &inner.settings.leeway);
        match &inner.source {
            KeySource::Static(keys) => out.field("static_keys", keys),
            #[cfg(feature = "jwks")]
            KeySource::Remote(remote) => out.field("jwks", remote),
        };
        out.field("cached_tokens", &inner.cache.len()).finish()
    }
}
