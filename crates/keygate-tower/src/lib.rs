//! # keygate-tower
//!
//! keygate as a tower [`Layer`](tower_layer::Layer): authentication, metering and the
//! contract's error responses for any service over `http::Request`, with or without a
//! framework. keygate-axum reuses it.
//!
//! A [`KeygateLayer`] carries one route's [`Access`](keygate_core::Access). Its
//! [`KeygateService`] authenticates each request (steps 2 to 7 of keygate's design run in
//! `keygate-core`), inserts the principal into the request's extensions as an
//! [`Authentication`], calls the inner service, refunds credits when the answer is an
//! error (and gives a one-time token back when it is a 4xx), and adds the rate-limit and
//! credit headers. A refused request is answered by the layer's [`Rejection`] (by
//! default the contract's `application/problem+json`) and never reaches the inner
//! service.
//!
//! Handlers read what the layer established with [`from_extensions`] (the
//! [`Principal`](keygate_core::Principal), [`Admin`], [`Tenant`], [`Impersonation`]), the
//! tower counterpart of the axum and actix extractors. An admin route and a token route,
//! served by plain tower services:
//!
//! ```
//! use std::convert::Infallible;
//!
//! use http::{Request, Response, StatusCode};
//! use keygate_core::extract::from_extensions;
//! use keygate_core::token::{TokenKind, TokenRequest};
//! use keygate_core::{Access, Keygate, Pepper, PlatformSecret, Principal, ScopeSet};
//! use keygate_tower::KeygateLayer;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! /// The handler: reads the principal the layer established (a 500 naming the missing
//! /// layer if there is none, never an anonymous request).
//! async fn whoami(request: Request<String>) -> Result<Response<String>, Infallible> {
//!     Ok(match from_extensions::<Principal>(request.extensions()) {
//!         Ok(principal) => Response::new(principal.method.as_str().to_owned()),
//!         Err(rejection) => rejection.to_response(),
//!     })
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = PlatformSecret::generate()?;
//! let keygate = Keygate::builder()
//!     .pepper(Pepper::generate()?)
//!     .platform_secret(&secret)
//!     .build()?;
//!
//! // Admin route: only the platform secret (or a tenant's sk_ key) in x-client-secret.
//! let admin = KeygateLayer::new(&keygate, Access::admin()).layer(service_fn(whoami));
//! // Token route: any credential with the scope magic-background:create.
//! let create = KeygateLayer::new(&keygate, Access::scoped("magic-background:create")?)
//!     .layer(service_fn(whoami));
//!
//! let ok = admin
//!     .clone()
//!     .oneshot(Request::post("/api/v1/admin/keys")
//!         .header("x-client-secret", secret.expose())
//!         .body(String::new())?)
//!     .await?;
//! assert_eq!((ok.status(), ok.body().as_str()), (StatusCode::OK, "secret_key"));
//!
//! // The operator mints a one-time token for the token route (a browser would get it).
//! let operator = keygate
//!     .authenticate(&Request::get("/").header("x-client-secret", secret.expose()).body(())?, &Access::admin())
//!     .await?
//!     .into_principal();
//! let token = keygate.issue_token(&operator, TokenRequest {
//!     scopes: Some(ScopeSet::parse(["magic-background:create"])?),
//!     ..TokenRequest::new(TokenKind::OneTime)
//! })?;
//! let bearer = format!("Bearer {}", token.expose());
//!
//! // The token is refused on the admin route (403) and not spent there...
//! let refused = admin.clone().oneshot(Request::get("/api/v1/admin/keys")
//!     .header("authorization", &bearer)
//!     .body(String::new())?).await?;
//! assert_eq!(refused.status(), StatusCode::FORBIDDEN);
//! assert!(refused.body().contains("secret_key_required"));
//!
//! // ...so it opens the token route once; a replay is 401 token_used.
//! let first = create.clone().oneshot(Request::post("/api/v1/magic-background")
//!     .header("authorization", &bearer)
//!     .body(String::new())?).await?;
//! assert_eq!((first.status(), first.body().as_str()), (StatusCode::OK, "token"));
//! let replay = create.oneshot(Request::post("/api/v1/magic-background")
//!     .header("authorization", &bearer)
//!     .body(String::new())?).await?;
//! assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
//! assert!(replay.body().contains("token_used"));
//! # Ok(())
//! # }
//! ```
//!
//! With the `proxy` feature (on by default), [`proxy::Proxy`] is a service that forwards
//! requests to an upstream API with its key injected: put it behind a `KeygateLayer` that
//! accepts client tokens, and browsers call the upstream without ever holding its key.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod connection;
mod layer;
#[cfg(feature = "proxy")]
pub mod proxy;
mod rejection;
mod service;

pub use connection::{ConnectionLayer, ConnectionService};
pub use keygate_core::extract::{
    Admin, Authentication, ExtractRejection, Impersonation, Operator, Tenant, from_extensions,
    optional_from_extensions,
};
pub use layer::KeygateLayer;
pub use rejection::{ProblemJson, Rejection};
pub use service::{KeygateService, ResponseFuture};
