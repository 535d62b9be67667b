//! # keygate-core
//!
//! The engine of keygate: the authentication of an API platform for Rust web services.
//! A platform secret for admin routes; prefixed, checksummed, hashed API keys with
//! scopes, rate limits and credits; short-lived scoped tokens (one-time, session, client);
//! user JWTs from Firebase or any JWKS issuer ([`jwt`]); one behaviour for every adapter
//! (axum, actix-web, tower) and every store.
//!
//! Adapters turn a request into a [`RequestHead`], declare each route's [`Access`], and
//! call [`Keygate::authenticate`]. The engine parses the [`Credentials`], verifies each
//! one, builds the [`Principal`], authorizes it, and asks the [`Meter`] once. The answer
//! is a [`Grant`] (principal plus response headers) or an [`AuthError`] that renders itself
//! as `application/problem+json` with RFC 6750 challenges.
//!
//! ```
//! use keygate_core::key::{KeyKind, NewKey, RateLimit};
//! use keygate_core::token::{TokenKind, TokenRequest};
//! use keygate_core::{Access, Environment, Keygate, Pepper, PlatformSecret, ScopeSet};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = PlatformSecret::generate()?;
//! let keygate = Keygate::builder()
//!     .pepper(Pepper::generate()?)
//!     .platform_secret(&secret)
//!     .build()?;
//!
//! // An operator creates a rate-limited key for a tenant.
//! let created = keygate
//!     .create_key(NewKey {
//!         tenant: Some("acme".into()),
//!         rate_limit: Some(RateLimit::new(100, 60)?),
//!         ..NewKey::new(KeyKind::Secret, Environment::Live)
//!     })
//!     .await?;
//!
//! // The tenant calls a scoped route with it.
//! let route = Access::scoped("magic-background:create")?;
//! let request = http::Request::builder()
//!     .header("authorization", format!("Bearer {}", created.key.expose()))
//!     .body(())?;
//! let grant = keygate.authenticate(&request, &route).await?;
//! assert_eq!(grant.principal().tenant.as_deref(), Some("acme"));
//! assert_eq!(grant.rate_limit().map(|r| r.remaining), Some(99));
//!
//! // It mints a one-time token for a browser; the token works once.
//! let token = keygate.issue_token(grant.principal(), TokenRequest {
//!     scopes: Some(ScopeSet::parse(["magic-background:create"])?),
//!     ..TokenRequest::new(TokenKind::OneTime)
//! })?;
//! let with_token = http::Request::builder()
//!     .header("authorization", format!("Bearer {}", token.expose()))
//!     .body(())?;
//! assert!(keygate.authenticate(&with_token, &route).await.is_ok());
//! let again = keygate.authenticate(&with_token, &route).await.unwrap_err();
//! assert_eq!((again.status().as_u16(), again.code()), (401, "token_used"));
//!
//! // Admin routes open only to the platform secret; the token is refused there.
//! let err = keygate.authenticate(&with_token, &Access::admin()).await.unwrap_err();
//! assert_eq!(err.code(), "secret_key_required");
//! # Ok(())
//! # }
//! ```
//!
//! See the guides in `docs/` for the concepts, the security model and the error table.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod access;
pub mod account;
pub mod audit;
pub mod body;
pub mod clock;
pub mod credentials;
mod engine;
pub mod error;
pub mod extract;
mod gate;
#[cfg(feature = "https")]
pub mod http;
pub mod jwt;
pub mod key;
pub mod lockout;
pub mod meter;
pub mod oauth;
pub mod principal;
mod random;
pub mod scope;
pub mod secret;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;
pub mod transport;
pub mod usage;

pub use access::{Access, AuthMethod, Methods};
pub use clock::{Clock, ManualClock, SystemClock};
pub use credentials::{CredentialSources, Credentials, HeaderValues, RequestHead};
pub use engine::{IMPERSONATE_SCOPE, TOKEN_CREATE_SCOPE};

pub use engine::{
    AdminError, BuildError, CreatedKey, Grant, KeyAdmin, KeyPage, Keygate, KeygateBuilder,
    MAX_LIST_LIMIT, SelfService,
};
pub use error::{AuthError, HeaderText};
pub use gate::{Admission, Gate, Lifetime, ResponseHeaders};
pub use jwt::{JwtConfigError, JwtVerifier, JwtVerifierBuilder, UserJwt};
pub use key::{Environment, KeyKind, KeyRecord};
pub use meter::{MemoryMeter, Meter};
pub use principal::Principal;
pub use random::RandomError;
pub use scope::{Scope, ScopeError, ScopeSet};
pub use secret::{Pepper, PepperError, PlatformSecret};
pub use store::{KeyListing, KeyStore, MemoryKeyStore, Rotation, StoreError};
