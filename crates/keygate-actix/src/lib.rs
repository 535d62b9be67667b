//! # keygate-actix
//!
//! keygate for actix-web: [`KeygateMiddleware`] declares the [`Access`] of an app, scope
//! or resource; handlers take extractors whose types document the route; [`guard`]s
//! route on what the middleware established.
//!
//! | extractor | gives | refuses with |
//! |---|---|---|
//! | [`Principal`] | who acts | 401 `missing_credentials` under an optional middleware |
//! | [`Maybe<Principal>`](Maybe) | `None` when an optional route got no credential | — |
//! | [`Admin`] | the principal of an admin-only route | 500 if the route is not `Access::admin()` |
//! | [`Tenant`] / `Maybe<Tenant>` | the caller's tenant | 403 `tenant_required` |
//! | [`Impersonation`] / `Maybe<Impersonation>` | the user acted as, and the acting key | 400 without `X-On-Behalf-Of` |
//!
//! Every extractor on a route without the middleware answers 500 with a problem document
//! that names the missing middleware; it never lets a request through as anonymous.
//! (actix-web's own `Option<T>` turns any extractor error into `None`, so take
//! [`Maybe<T>`](Maybe) rather than `Option<T>`.) [`AuthError`] is a
//! `ResponseError` rendering the contract's problem+json, so handlers can return it.
//!
//! With the `proxy` feature, [`proxy::forward`] serves keygate-tower's key-injecting
//! `Proxy` as a handler, streaming both ways.
//!
//! Wrap each route (`web::post().to(handler).wrap(..)`) or a scope of routes. A middleware
//! on a route runs only once the path and method matched; one on a scope or resource also
//! runs for the scope's unknown paths and the resource's other methods, so a one-time
//! token sent there is spent before actix answers 404 or 405. Put CORS outside keygate,
//! so that preflight `OPTIONS` requests never need a credential.
//!
//! An admin scope and a token route:
//!
//! ```
//! use actix_web::{test, web, App, HttpResponse};
//! use keygate_actix::{Admin, KeygateMiddleware, Principal};
//! use keygate_core::token::{TokenKind, TokenRequest};
//! use keygate_core::{Access, Keygate, Pepper, PlatformSecret, ScopeSet};
//!
//! async fn list_keys(Admin(admin): Admin) -> HttpResponse {
//!     HttpResponse::Ok().json(serde_json::json!({ "keys": [], "operator": admin.is_operator() }))
//! }
//!
//! async fn magic_background(principal: Principal) -> HttpResponse {
//!     HttpResponse::Ok().json(serde_json::json!({ "resource": "magic-background", "principal": principal }))
//! }
//!
//! # actix_web::rt::System::new().block_on(async {
//! let secret = PlatformSecret::generate()?;
//! let keygate = Keygate::builder()
//!     .pepper(Pepper::generate()?)
//!     .platform_secret(&secret)
//!     .build()?;
//!
//! let app = test::init_service(
//!     App::new()
//!         // Every route of the admin scope opens only to x-client-secret.
//!         .service(
//!             web::scope("/api/v1/admin")
//!                 .wrap(KeygateMiddleware::admin(&keygate))
//!                 .route("/keys", web::get().to(list_keys)),
//!         )
//!         .route(
//!             "/api/v1/magic-background",
//!             web::post()
//!                 .to(magic_background)
//!                 .wrap(KeygateMiddleware::new(&keygate, Access::scoped("magic-background:create")?)),
//!         ),
//! )
//! .await;
//!
//! let request = test::TestRequest::get()
//!     .uri("/api/v1/admin/keys")
//!     .insert_header(("x-client-secret", secret.expose()))
//!     .to_request();
//! assert_eq!(test::call_service(&app, request).await.status(), 200);
//!
//! // A session token with the route's scope opens the token route, and only it.
//! let operator = keygate
//!     .authenticate(&http::Request::get("/").header("x-client-secret", secret.expose()).body(())?, &Access::admin())
//!     .await?
//!     .into_principal();
//! let token = keygate.issue_token(&operator, TokenRequest {
//!     scopes: Some(ScopeSet::parse(["magic-background:create"])?),
//!     ..TokenRequest::new(TokenKind::Session)
//! })?;
//! let bearer = format!("Bearer {}", token.expose());
//! let request = test::TestRequest::post()
//!     .uri("/api/v1/magic-background")
//!     .insert_header(("authorization", bearer.as_str()))
//!     .to_request();
//! assert_eq!(test::call_service(&app, request).await.status(), 200);
//! let request = test::TestRequest::get()
//!     .uri("/api/v1/admin/keys")
//!     .insert_header(("authorization", bearer.as_str()))
//!     .to_request();
//! assert_eq!(test::call_service(&app, request).await.status(), 403); // secret_key_required
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod guard;
mod head;
mod middleware;
#[cfg(feature = "proxy")]
pub mod proxy;
mod rejection;

pub use head::connection;
pub use keygate_core::extract::{
    Admin, Authentication, ExtractRejection, Impersonation, Maybe, Operator, Tenant,
};
pub use keygate_core::{Access, AuthError, Keygate, Principal};
pub use middleware::{KeygateMiddleware, KeygateService};
pub use rejection::{ProblemJson, Rejection};
