//! User JWTs: tokens an identity provider (Firebase, Auth0, Cognito, any JWKS issuer)
//! signed for a signed-in user, verified by [`JwtVerifier`].
//!
//! A verifier is configured once with the issuer (`iss`), audience (`aud`) and a key
//! source: static keys ([`JwtVerifierBuilder::static_keys`]) or a JWKS URL
//! ([`JwtVerifierBuilder::jwks_url`], [`JwtVerifierBuilder::firebase`]; needs the `jwks`
//! cargo feature, on by default). [`JwtVerifier::verify`] then turns a compact JWS into a
//! [`UserJwt`]: subject, tenant, scopes, issuer and expiry.
//!
//! ```
//! use jsonwebtoken::jwk::{Jwk, JwkSet};
//! use jsonwebtoken::{Algorithm, EncodingKey, Header};
//! use keygate_core::jwt::JwtVerifier;
//! use time::macros::datetime;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The issuer's key pair (a test key; an issuer publishes only the public half).
//! let pem = include_bytes!("../../tests/fixtures/jwt/ed25519.pem");
//! let signing = EncodingKey::from_ed_pem(pem)?;
//! let mut public = Jwk::from_encoding_key(&signing, Algorithm::EdDSA)?;
//! public.common.key_id = Some("key-1".into());
//!
//! let verifier = JwtVerifier::builder()
//!     .issuer("https://issuer.example")
//!     .audience("my-api")
//!     .static_keys(JwkSet { keys: vec![public] })
//!     .build()?;
//!
//! let now = datetime!(2030-01-01 0:00 UTC);
//! let mut header = Header::new(Algorithm::EdDSA);
//! header.kid = Some("key-1".into());
//! let claims = serde_json::json!({
//!     "iss": "https://issuer.example", "aud": "my-api", "sub": "user_42",
//!     "iat": now.unix_timestamp(), "exp": now.unix_timestamp() + 3600,
//!     "tenant_id": "acme", "scope": "read:users",
//! });
//! let token = jsonwebtoken::encode(&header, &claims, &signing)?;
//!
//! let user = verifier.verify(&token, now).await?;
//! assert_eq!(&*user.subject, "user_42");
//! assert_eq!(user.tenant.as_deref(), Some("acme"));
//!
//! // An hour later it has expired.
//! let later = now + time::Duration::hours(2);
//! assert_eq!(verifier.verify(&token, later).await.unwrap_err().code(), "token_expired");
//! # Ok(())
//! # }
//! ```
//!
//! # What is checked
//!
//! Before anything is decoded: the token is at most
//! [`MAX_TOKEN_LEN`](crate::credentials::MAX_TOKEN_LEN) bytes and exactly three non-empty
//! base64url segments (a five-segment JWE is refused). The header is parsed strictly:
//! `alg` must be one of the configured asymmetric algorithms (`none` and every `HS*` never
//! are), `kid` is required and is only a lookup key, `typ` may be absent, `JWT` or
//! `at+jwt` (keygate's own `kg+jwt` and other token types are refused), and `crit`,
//! `jku`, `jwk`, `x5u`, `x5c`, `cty`, `b64`, `enc` and `zip` are refused outright: keys
//! never come from the token. The key found by `kid` must be made for the header's `alg`
//! (key type, curve, and the JWK's own `alg` when it has one), so an `HS256` token "signed"
//! with an RSA public key fails. Only then is the signature checked, and only a token
//! with a good signature has its claims read, with strict types: `iss` and `aud` single
//! strings equal to the configured ones (an `aud` array is refused, even one holding only
//! the audience), `sub` a non-empty string, `exp` and `iat` required numbers, `nbf`
//! honoured, `iat` and `auth_time` not in the future, all with the configured leeway (at
//! most 60 s, 30 s by default).
//!
//! A verified token is cached by its SHA-256 digest until its `exp`; a cached token is
//! checked again against the clock on every use and dropped when the key that signed it
//! leaves the key set. See `docs/jwt.md` for the whole guide.

pub(crate) mod cache;
mod claims;
pub(crate) mod compact;
mod config;
mod keyset;
#[cfg(feature = "jwks")]
mod remote;
mod verifier;

pub use config::{
    DEFAULT_ALGORITHMS, DEFAULT_CACHE_CAPACITY, DEFAULT_LEEWAY, DEFAULT_TENANT_CLAIM,
    FIREBASE_JWKS_URL, JwtConfigError, JwtVerifierBuilder, MAX_LEEWAY,
};
#[cfg(feature = "jwks")]
pub use remote::{DEFAULT_KEYS_LIFETIME, MAX_KEYS_LIFETIME, MIN_KEYS_LIFETIME, REFETCH_INTERVAL};
pub use verifier::JwtVerifier;

use std::sync::Arc;

use time::OffsetDateTime;

use crate::scope::ScopeSet;

/// A verified user JWT: who the user is, their tenant and scopes.
///
/// Built only by [`JwtVerifier::verify`]. The subject and tenant are the token's claims
/// as the issuer signed them; the engine turns them into a
/// [`Principal`](crate::Principal).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UserJwt {
    /// `sub`: the user, non-empty.
    pub subject: Arc<str>,
    /// The tenant: the configured claim (default `tenant_id`), else `firebase.tenant`.
    /// When both are present they must agree. A valid id
    /// ([`credentials::is_valid_id`](crate::credentials::is_valid_id)).
    pub tenant: Option<Arc<str>>,
    /// The scopes of `scope` (space-separated) or `scp` (an array of strings, or one
    /// space-separated string), when the token has either.
    pub scopes: Option<ScopeSet>,
    /// `iss`, equal to the configured issuer.
    pub issuer: Arc<str>,
    /// `exp`.
    pub expires_at: OffsetDateTime,
}
