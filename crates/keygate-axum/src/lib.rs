//! # keygate-axum
//!
//! keygate for axum. Routes declare their [`Access`] with keygate-tower's
//! [`KeygateLayer`] (through `route_layer`, on a route or on a nested router), and
//! handlers take what the layer established as extractors whose types document the route:
//!
//! | extractor | gives | refuses with |
//! |---|---|---|
//! | [`Principal`] | who acts | 401 `missing_credentials` under an optional layer |
//! | `Option<Principal>` | `None` when an optional route got no credential | — |
//! | [`Admin`] | the principal of an admin-only route | 500 if the route is not `Access::admin()` |
//! | [`Tenant`] / `Option<Tenant>` | the caller's tenant | 403 `tenant_required` (`None` for the `Option`) |
//! | [`Impersonation`] / `Option<Impersonation>` | the user acted as, and the acting key | 400 without `X-On-Behalf-Of` |
//!
//! Every extractor on a route without the layer answers 500 with a problem document that
//! names the missing layer; it never lets a request through as anonymous. [`AuthError`]
//! is `IntoResponse` (the contract's problem+json), so handlers can return it.
//!
//! An admin router and a token route:
//!
//! ```
//! use axum::routing::{get, post};
//! use axum::{Json, Router};
//! use http::{Request, StatusCode};
//! use keygate_axum::{Admin, KeygateLayer, Principal};
//! use keygate_core::token::{TokenKind, TokenRequest};
//! use keygate_core::{Access, Keygate, Pepper, PlatformSecret, ScopeSet};
//! use serde_json::{Value, json};
//! use tower::ServiceExt;
//!
//! async fn list_keys(Admin(admin): Admin) -> Json<Value> {
//!     Json(json!({ "keys": [], "operator": admin.is_operator() }))
//! }
//!
//! async fn magic_background(principal: Principal) -> Json<Value> {
//!     Json(json!({ "resource": "magic-background", "principal": principal }))
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
//! // Every route of the admin router opens only to x-client-secret.
//! let admin = Router::new()
//!     .route("/keys", get(list_keys))
//!     .route_layer(KeygateLayer::admin(&keygate));
//! let app = Router::new()
//!     .nest("/api/v1/admin", admin)
//!     .route(
//!         "/api/v1/magic-background",
//!         post(magic_background)
//!             .route_layer(KeygateLayer::new(&keygate, Access::scoped("magic-background:create")?)),
//!     );
//!
//! let response = app.clone().oneshot(Request::get("/api/v1/admin/keys")
//!     .header("x-client-secret", secret.expose())
//!     .body(axum::body::Body::empty())?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! // A session token with the route's scope opens the token route, and only it.
//! let operator = keygate
//!     .authenticate(&Request::get("/").header("x-client-secret", secret.expose()).body(())?, &Access::admin())
//!     .await?
//!     .into_principal();
//! let token = keygate.issue_token(&operator, TokenRequest {
//!     scopes: Some(ScopeSet::parse(["magic-background:create"])?),
//!     ..TokenRequest::new(TokenKind::Session)
//! })?;
//! let bearer = format!("Bearer {}", token.expose());
//! let created = app.clone().oneshot(Request::post("/api/v1/magic-background")
//!     .header("authorization", &bearer)
//!     .body(axum::body::Body::empty())?).await?;
//! assert_eq!(created.status(), StatusCode::OK);
//! let refused = app.oneshot(Request::get("/api/v1/admin/keys")
//!     .header("authorization", &bearer)
//!     .body(axum::body::Body::empty())?).await?;
//! assert_eq!(refused.status(), StatusCode::FORBIDDEN); // secret_key_required
//! # Ok(())
//! # }
//! ```
//!
//! One keygate layer per request path: a layered router nested inside another layered
//! router is a mistake, and the inner layer answers 500 `keygate_misconfigured` rather
//! than authenticate (and charge) the request twice.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The README's axum example, compiled with this crate's doctests so it cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

pub use keygate_core::extract::{
    Admin, Authentication, ExtractRejection, Impersonation, Operator, Tenant,
};
pub use keygate_core::{Access, AuthError, Keygate, Principal};
pub use keygate_tower::{
    ConnectionLayer, ConnectionService, KeygateLayer, KeygateService, ProblemJson, Rejection,
};

use keygate_core::credentials::Scheme;

/// Tells keygate each request's peer address, from axum's `ConnectInfo<SocketAddr>`, and
/// that the connection is plain HTTP (as `axum::serve` serves): for the HTTPS
/// requirement and the lock-out of addresses that guess the platform secret. Put it
/// outermost (`Router::layer`), and serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`. Behind a TLS server of your
/// own, use [`ConnectionLayer::new`] in its accept loop instead.
///
/// ```
/// use std::net::SocketAddr;
/// use axum::Router;
/// use axum::extract::ConnectInfo;
/// use keygate_core::RequestHead;
/// use keygate_core::credentials::Scheme;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let app = Router::new()
///     .route("/", axum::routing::get(|request: axum::extract::Request| async move {
///         format!("{:?} {:?}", request.peer_addr(), request.scheme())
///     }))
///     .layer(keygate_axum::connect_info());
/// // `axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())`
/// // inserts this for each connection:
/// let mut request = http::Request::new(axum::body::Body::empty());
/// request.extensions_mut().insert(ConnectInfo("203.0.113.9:4000".parse::<SocketAddr>()?));
/// let response = app.oneshot(request).await?;
/// let body = axum::body::to_bytes(response.into_body(), 1024).await?;
/// assert_eq!(body, "Some(203.0.113.9:4000) Some(Http)");
/// # Ok(())
/// # }
/// ```
pub fn connect_info() -> ConnectionLayer {
    ConnectionLayer::from_extensions(Scheme::Http, |extensions| {
        extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0)
    })
}
