//! How a [`JwtVerifier`] is configured: [`JwtVerifierBuilder`] and what it refuses,
//! [`JwtConfigError`].

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;
use time::Duration;

use super::keyset::KeySet;
use super::verifier::{JwtVerifier, KeySource};

/// The algorithms accepted when none are configured: RS256 (Firebase, most providers),
/// ES256 and EdDSA.
pub const DEFAULT_ALGORITHMS: [Algorithm; 3] =
    [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
/// The clock skew allowed when none is configured.
pub const DEFAULT_LEEWAY: Duration = Duration::seconds(30);
/// The largest clock skew that may be configured.
pub const MAX_LEEWAY: Duration = Duration::seconds(60);
/// The claim read for the tenant when none is configured.
pub const DEFAULT_TENANT_CLAIM: &str = "tenant_id";
/// Verified tokens cached when no capacity is configured.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// Firebase's issuer prefix; the project id follows.
pub(crate) const FIREBASE_ISSUER_PREFIX: &str = "https://securetoken.google.com/";
/// Where Google publishes the keys of Firebase ID tokens.
pub const FIREBASE_JWKS_URL: &str =
    "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com";

/// Claims keygate reads itself: none of them can be the tenant claim.
const RESERVED_CLAIMS: [&str; 12] = [
    "iss",
    "aud",
    "sub",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "scope",
    "scp",
    "firebase",
    "user_id",
];
/// The longest tenant claim name.
const MAX_CLAIM_NAME_LEN: usize = 64;

/// Builds a [`JwtVerifier`]. Issuer, audience and one key source are required.
///
/// ```
/// use jsonwebtoken::Algorithm;
/// use keygate_core::jwt::{JwtConfigError, JwtVerifier};
///
/// // Firebase: issuer, audience and Google's key URL from the project id.
/// # #[cfg(feature = "jwks")]
/// # {
/// let firebase = JwtVerifier::builder().firebase("my-project").build()?;
/// # let _ = firebase;
/// # }
///
/// // What is missing is named.
/// let err = JwtVerifier::builder().issuer("https://issuer.example").build().unwrap_err();
/// assert!(matches!(err, JwtConfigError::MissingAudience));
///
/// // Shared-secret algorithms are never accepted for user JWTs.
/// let err = JwtVerifier::builder()
///     .issuer("https://issuer.example")
///     .audience("api")
///     .algorithms([Algorithm::HS256])
///     .static_keys(jsonwebtoken::jwk::JwkSet { keys: vec![] })
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, JwtConfigError::SymmetricAlgorithm(Algorithm::HS256)));
/// # Ok::<(), JwtConfigError>(())
/// ```
#[derive(Default)]
#[must_use]
pub struct JwtVerifierBuilder {
    issuer: Option<String>,
    audience: Option<String>,
    static_keys: Option<JwkSet>,
    jwks_url: Option<String>,
    firebase: Option<String>,
    tenant_claim: Option<String>,
    algorithms: Option<Vec<Algorithm>>,
    leeway: Option<Duration>,
    cache_capacity: Option<usize>,
}

impl fmt::Debug for JwtVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifierBuilder")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field(
                "static_keys",
                &self.static_keys.as_ref().map(|set| set.keys.len()),
            )
            .field("jwks_url", &self.jwks_url)
            .field("firebase", &self.firebase)
            .field("tenant_claim", &self.tenant_claim)
            .field("algorithms", &self.algorithms)
            .field("leeway", &self.leeway)
            .field("cache_capacity", &self.cache_capacity)
            .finish()
    }
}

impl JwtVerifierBuilder {
    /// The exact `iss` tokens must carry (required, unless [`firebase`](Self::firebase)
    /// sets it). `keygate` is refused: it is the issuer of keygate's own tokens.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The exact `aud` tokens must carry, as a single string (required, unless
    /// [`firebase`](Self::firebase) sets it).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Verifies with these public keys, never fetched. Each usable key needs a `kid`;
    /// keys of other types, private or shared-secret keys, and keys marked for
    /// encryption are ignored. Works without the `jwks` feature.
    pub fn static_keys(mut self, keys: JwkSet) -> Self {
        self.static_keys = Some(keys);
        self
    }

    /// Fetches the keys from this JWKS URL (`https://`, or `http://` to a loopback
    /// address only), and keeps them fresh: see [`JwtVerifier`]. Overrides the URL
    /// [`firebase`](Self::firebase) sets, whatever the order of the calls. Needs the
    /// `jwks` feature ([`build`](Self::build) says so otherwise).
    pub fn jwks_url(mut self, url: &str) -> Self {
        self.jwks_url = Some(url.to_owned());
        self
    }

    /// Firebase ID tokens of `project_id`: issuer
    /// `https://securetoken.google.com/<project_id>`, audience `<project_id>`, and Google's
    /// JWKS ([`FIREBASE_JWKS_URL`]). An explicit [`issuer`](Self::issuer),
    /// [`audience`](Self::audience) or [`jwks_url`](Self::jwks_url) wins over these,
    /// whatever the order of the calls.
    pub fn firebase(mut self, project_id: impl Into<String>) -> Self {
        self.firebase = Some(project_id.into());
        self
    }

    /// The claim that carries the tenant (default [`DEFAULT_TENANT_CLAIM`]). When it is
    /// absent, Firebase's `firebase.tenant` is read instead.
    pub fn tenant_claim(mut self, claim: impl Into<String>) -> Self {
        self.tenant_claim = Some(claim.into());
        self
    }

    /// The algorithms accepted (default [`DEFAULT_ALGORITHMS`]). Asymmetric ones only:
    /// `HS256`, `HS384` and `HS512` are refused by [`build`](Self::build).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// The clock skew allowed on `exp`, `nbf`, `iat` and `auth_time`: 0 to [`MAX_LEEWAY`]
    /// (default [`DEFAULT_LEEWAY`]).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }

    /// How many verified tokens are cached (default [`DEFAULT_CACHE_CAPACITY`]); 0 turns
    /// the cache off.
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = Some(capacity);
        self
    }

    /// Checks the configuration and builds the verifier.
    ///
    /// With a JWKS URL, the first fetch starts at once when called inside a Tokio
    /// runtime, else at the first [`verify`](JwtVerifier::verify); no network is needed
    /// to build.
    pub fn build(self) -> Result<JwtVerifier, JwtConfigError> {
        let firebase = match &self.firebase {
            Some(project) if !is_firebase_project(project) => {
                return Err(JwtConfigError::InvalidFirebaseProject);
            }
            other => other.as_deref(),
        };
        let issuer = self
            .issuer
            .or_else(|| firebase.map(|p| format!("{FIREBASE_ISSUER_PREFIX}{p}")))
            .ok_or(JwtConfigError::MissingIssuer)?;
        if !is_plain_text(&issuer) {
            return Err(JwtConfigError::InvalidIssuer);
        }
        if issuer == crate::token::KEYGATE_ISSUER {
            return Err(JwtConfigError::ReservedIssuer);
        }
        let audience = self
            .audience
            .or_else(|| firebase.map(str::to_owned))
            .ok_or(JwtConfigError::MissingAudience)?;
        if !is_plain_text(&audience) {
            return Err(JwtConfigError::InvalidAudience);
        }

        let algorithms = self
            .algorithms
            .unwrap_or_else(|| DEFAULT_ALGORITHMS.to_vec());
        if algorithms.is_empty() {
            return Err(JwtConfigError::NoAlgorithms);
        }
        if let Some(&symmetric) = algorithms.iter().find(|alg| is_symmetric(**alg)) {
            return Err(JwtConfigError::SymmetricAlgorithm(symmetric));
        }

        let leeway = self.leeway.unwrap_or(DEFAULT_LEEWAY);
        if leeway.is_negative() || leeway > MAX_LEEWAY {
            return Err(JwtConfigError::LeewayOutOfRange);
        }
        let tenant_claim = self
            .tenant_claim
            .unwrap_or_else(|| DEFAULT_TENANT_CLAIM.to_owned());
        if tenant_claim.is_empty()
            || tenant_claim.len() > MAX_CLAIM_NAME_LEN
            || !is_plain_text(&tenant_claim)
            || RESERVED_CLAIMS.contains(&tenant_claim.as_str())
        {
            return Err(JwtConfigError::InvalidTenantClaim);
        }

        let url = self
            .jwks_url
            .or_else(|| firebase.map(|_| FIREBASE_JWKS_URL.to_owned()));
        let source = match (self.static_keys, url) {
            (Some(_), Some(_)) => return Err(JwtConfigError::TwoKeySources),
            (None, None) => return Err(JwtConfigError::MissingKeySource),
            (Some(keys), None) => {
                let set = KeySet::from_jwks(&keys.keys, &algorithms, 0);
                if set.is_empty() {
                    return Err(JwtConfigError::NoUsableKeys);
                }
                KeySource::Static(Arc::new(set))
            }
            (None, Some(url)) => remote_source(&url)?,
        };

        let settings = Settings {
            issuer: Arc::from(issuer),
            audience: audience.into_boxed_str(),
            tenant_claim: tenant_claim.into_boxed_str(),
            algorithms,
            leeway,
        };
        Ok(JwtVerifier::new(
            settings,
            source,
            self.cache_capacity.unwrap_or(DEFAULT_CACHE_CAPACITY),
        ))
    }
}

#[cfg(feature = "jwks")]
fn remote_source(url: &str) -> Result<KeySource, JwtConfigError> {
    let url = super::remote::jwks_url(url)?;
    let client = super::remote::jwks_client()?;
    Ok(KeySource::Remote(Box::new(super::remote::Remote::new(
        url, client,
    ))))
}

#[cfg(not(feature = "jwks"))]
fn remote_source(_url: &str) -> Result<KeySource, JwtConfigError> {
    Err(JwtConfigError::JwksFeatureDisabled)
}

/// What a built verifier checks, apart from its keys.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) issuer: Arc<str>,
    pub(crate) audience: Box<str>,
    pub(crate) tenant_claim: Box<str>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) leeway: Duration,
}

fn is_symmetric(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// Non-empty, at most 1 KiB, no control characters.
fn is_plain_text(text: &str) -> bool {
    !text.is_empty() && text.len() <= 1024 && !text.chars().any(char::is_control)
}

/// Firebase project ids: 6 to 30 of `[a-z0-9-]`. Checked loosely (1 to 64) so a new
/// naming rule at Google does not lock anyone out, but never anything that could change
/// the issuer URL's meaning.
fn is_firebase_project(project: &str) -> bool {
    (1..=64).contains(&project.len())
        && project
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Why a [`JwtVerifierBuilder`] could not build a verifier. Each message says what to
/// change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtConfigError {
    /// No issuer.
    #[error(
        "no issuer: call JwtVerifierBuilder::issuer with the exact `iss` your identity provider writes, or ::firebase"
    )]
    MissingIssuer,
    /// No audience.
    #[error(
        "no audience: call JwtVerifierBuilder::audience with the exact `aud` your identity provider writes (often your client or project id), or ::firebase"
    )]
    MissingAudience,
    /// No key source.
    #[error("no keys: call JwtVerifierBuilder::static_keys, ::jwks_url or ::firebase")]
    MissingKeySource,
    /// Static keys and a JWKS URL together.
    #[error("both static keys and a JWKS URL were given: choose one")]
    TwoKeySources,
    /// The issuer is empty, longer than 1 KiB, or has control characters.
    #[error("the issuer must be 1 to 1024 characters without control characters")]
    InvalidIssuer,
    /// The audience is empty, longer than 1 KiB, or has control characters.
    #[error("the audience must be 1 to 1024 characters without control characters")]
    InvalidAudience,
    /// The issuer is `keygate`.
    #[error(
        "the issuer `keygate` is reserved for keygate's own tokens, which are never user JWTs: configure your identity provider's issuer"
    )]
    ReservedIssuer,
    /// The Firebase project id is not one.
    #[error("a Firebase project id is 1 to 64 characters of a-z, 0-9 and '-'")]
    InvalidFirebaseProject,
    /// An empty algorithm list.
    #[error("no algorithms: allow at least one of RS256, ES256 or EdDSA (the default)")]
    NoAlgorithms,
    /// A shared-secret algorithm.
    #[error(
        "{0:?} is a shared-secret algorithm; user JWTs are verified with public keys only: use RS256, PS256, ES256, ES384 or EdDSA"
    )]
    SymmetricAlgorithm(Algorithm),
    /// A negative leeway or one over [`MAX_LEEWAY`].
    #[error("the leeway must be between 0 and 60 seconds")]
    LeewayOutOfRange,
    /// A tenant claim that is empty, too long, or one keygate reads for another purpose.
    #[error(
        "the tenant claim must be a claim name of 1 to 64 characters other than iss, aud, sub, exp, iat, nbf, jti, auth_time, scope, scp, firebase and user_id"
    )]
    InvalidTenantClaim,
    /// None of the static keys can verify a token.
    #[error(
        "none of the static keys can verify tokens: each needs a `kid`, no `use` other than `sig`, and a public key for an allowed algorithm (RSA of 2048 to 8192 bits, EC P-256 or P-384, Ed25519)"
    )]
    NoUsableKeys,
    /// The JWKS URL is not an `https://` URL (or `http://` to a loopback address).
    #[error(
        "the JWKS URL must be an absolute https:// URL (http:// only to a loopback address, for tests): {0}"
    )]
    InvalidJwksUrl(String),
    /// A JWKS URL without the `jwks` feature.
    #[error(
        "fetching keys from a JWKS URL needs keygate-core's `jwks` feature: enable it, or give static keys"
    )]
    JwksFeatureDisabled,
    /// The HTTP client could not be set up.
    #[error("the HTTPS client for the JWKS could not be set up: {0}")]
    HttpClient(#[source] Box<dyn std::error::Error + Send + Sync>),
}
