//! # keygate-oauth
//!
//! An OAuth 2.0 authorization server for keygate platforms: third-party apps act for a
//! platform's users with scoped access tokens. It follows RFC 6749 (the framework), RFC
//! 7636 (PKCE, S256 only, always required), RFC 9700 (the security BCP: exact redirect
//! URIs, no implicit grant, refresh rotation with reuse detection), RFC 9207 (`iss` in
//! authorization responses), RFC 7009 (revocation) and RFC 8414 (metadata).
//!
//! - [`client`]: the registry. Confidential clients' secrets are shown once and kept as
//!   argon2id (m=19456, t=2, p=1); public clients have none and rely on PKCE.
//! - [`AuthorizationServer::authorization_request`] validates `GET /oauth/authorize`; the
//!   application signs its user in and asks for consent however it likes, then calls
//!   [`approve`](AuthorizationServer::approve) (or [`deny`](AuthorizationServer::deny)).
//! - [`AuthorizationServer::token`] and [`AuthorizationServer::revoke`] answer
//!   `POST /oauth/token` and `POST /oauth/revoke` from a framework-neutral
//!   [`EndpointRequest`].
//! - [`AuthorizationServer::access_tokens`] is what the keygate engine verifies access
//!   tokens with: an `oat_…` bearer token becomes a principal of method `oauth`.
//!
//! Codes live 60 s and work once; a replayed code revokes what it issued. Access tokens
//! live 1 h, refresh tokens 30 days and rotate on every use; a reused one revokes its
//! whole grant. Revocation ends access tokens at once on the instance that revoked and
//! within [`ACCESS_CACHE_TTL`](access::ACCESS_CACHE_TTL) (1 s) on the others.
//!
//! ```
//! use std::sync::Arc;
//! use keygate_core::{Access, Keygate, Pepper, ScopeSet};
//! use keygate_oauth::client::NewClient;
//! use keygate_oauth::{AuthorizationServer, EndpointRequest, ResourceOwner};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 1)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = AuthorizationServer::builder("https://auth.example").build()?;
//! let keygate = Keygate::builder()
//!     .pepper(Pepper::generate()?)
//!     .oauth_tokens(server.access_tokens())
//!     .build()?;
//!
//! // A public app registers, and a user approves it.
//! let app = server.register_client(NewClient {
//!     name: "Example app".into(),
//!     tenant: None,
//!     redirect_uris: vec!["https://app.example/cb".into()],
//!     scopes: ScopeSet::parse(["read:users"])?,
//!     confidential: false,
//! }).await?;
//! let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"; // RFC 7636, appendix B
//! let query = format!(
//!     "response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb\
//!      &scope=read%3Ausers&state=xyz&code_challenge={challenge}&code_challenge_method=S256",
//!     app.record.id,
//! );
//! let request = server.authorization_request(&query).await.map_err(|_| "refused")?;
//! let owner = ResourceOwner { subject: "user_42".into(), tenant: None };
//! let redirect = server.approve(&request, &owner).await;
//! let location = redirect.headers["location"].to_str()?;
//! let code = location.split("code=").nth(1).and_then(|s| s.split('&').next()).ok_or("no code")?;
//!
//! // The app exchanges the code, with its verifier, for tokens.
//! let body = format!(
//!     "grant_type=authorization_code&code={code}&client_id={}\
//!      &redirect_uri=https%3A%2F%2Fapp.example%2Fcb\
//!      &code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
//!     app.record.id,
//! );
//! let answer = server.token(EndpointRequest {
//!     authorization: &[],
//!     content_type: Some(b"application/x-www-form-urlencoded"),
//!     body: body.as_bytes(),
//!     client_address: None,
//! }).await;
//! assert_eq!(answer.status, 200);
//! assert_eq!(answer.headers["cache-control"], "no-store");
//! let tokens: serde_json::Value = serde_json::from_slice(&answer.body)?;
//!
//! // The access token opens the user's routes through the engine.
//! let call = http::Request::builder()
//!     .header("authorization", format!("Bearer {}", tokens["access_token"].as_str().unwrap_or("")))
//!     .body(())?;
//! let grant = keygate.authenticate(&call, &Access::scoped("read:users")?).await?;
//! assert_eq!(grant.principal().subject.as_deref(), Some("user_42"));
//! # Ok(())
//! # }
//! ```
//!
//! See `docs/oauth.md` for the flows, the errors and operations.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod access;
pub mod client;
pub mod endpoint;
pub mod error;
pub mod form;
pub mod pkce;
pub mod response;
pub mod secret;
pub mod server;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod throttle;

pub use access::AccessTokens;
pub use endpoint::authorize::{AuthorizationRequest, AuthorizeRefusal, ResourceOwner};
pub use endpoint::client_auth::EndpointRequest;
pub use endpoint::token::REFRESH_TOKEN_PREFIX;
pub use error::{ErrorCode, OAuthError};
pub use response::OAuthResponse;
pub use server::{AuthorizationServer, AuthorizationServerBuilder, RegisterError};
pub use store::{MemoryOAuthStore, OAuthStore};
pub use throttle::{FAILURE_LIMIT, FAILURE_WINDOW, TRACKED_PAIRS};
