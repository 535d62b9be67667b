//! actix-web [`Guard`]s that route on what a [`KeygateMiddleware`](crate::KeygateMiddleware)
//! established, for example an admin-only scope beside a public one:
//!
//! ```
//! use actix_web::{web, App, HttpResponse};
//! use keygate_actix::{guard, KeygateMiddleware};
//! use keygate_core::{Access, AuthMethod, Keygate};
//!
//! fn app(keygate: &Keygate) -> App<
//!     impl actix_web::dev::ServiceFactory<
//!         actix_web::dev::ServiceRequest,
//!         Config = (),
//!         Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
//!         Error = actix_web::Error,
//!         InitError = (),
//!     >,
//! > {
//!     App::new().service(
//!         web::scope("/reports")
//!             .wrap(KeygateMiddleware::optional(keygate, Access::authenticated()))
//!             // The operator sees every tenant's report, everyone else their own.
//!             .route("", web::get().guard(guard::operator()).to(|| async { HttpResponse::Ok().body("all") }))
//!             .route("", web::get().guard(guard::method(AuthMethod::ApiKey)).to(|| async { HttpResponse::Ok().body("mine") }))
//!             .route("", web::get().to(|| async { HttpResponse::Ok().body("public") })),
//!     )
//! }
//! ```
//!
//! Guards run during routing inside what the middleware wraps, so put the middleware on
//! the app or an enclosing scope. A guard set on a scope itself (`scope.guard(..)`) runs
//! in the parent's routing, before that scope's own middleware: it sees only what a
//! middleware further out established. A guard never authenticates: with no middleware
//! before it, every keygate guard is false. Guards route; they do not replace a route's
//! `Access` (a route reached through a guard still needs its own scope checked), and they do
//! not refuse: to answer a refusal (403 problem+json) rather than fall through, use the
//! middleware's access (`KeygateMiddleware::operator`, `Access::scoped`) or an extractor
//! (`Operator`, `Admin`).

use actix_web::guard::{Guard, GuardContext};
use keygate_core::extract::Authentication;
use keygate_core::{AuthMethod, Principal, Scope};

/// A guard that passes when the request's principal satisfies a predicate.
pub struct PrincipalGuard<F>(F);

impl<F: Fn(&Principal) -> bool> Guard for PrincipalGuard<F> {
    fn check(&self, ctx: &GuardContext<'_>) -> bool {
        ctx.req_data()
            .get::<Authentication>()
            .and_then(Authentication::principal)
            .is_some_and(|principal| (self.0)(principal))
    }
}

impl<F> std::fmt::Debug for PrincipalGuard<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrincipalGuard")
    }
}

/// Passes for any authenticated request.
pub fn authenticated() -> PrincipalGuard<impl Fn(&Principal) -> bool> {
    PrincipalGuard(|_: &Principal| true)
}

/// Passes for what an admin route accepts: `x-client-secret` alone, with the platform
/// secret or a tenant's `sk_` key. (An optional middleware that saw a bearer token with
/// the secret yields the token's principal, which does not pass.)
pub fn admin() -> PrincipalGuard<impl Fn(&Principal) -> bool> {
    PrincipalGuard(|principal: &Principal| principal.method == AuthMethod::SecretKey)
}

/// Passes for the platform operator (the platform secret in `x-client-secret`).
///
/// This routes; it does not refuse. A request it does not pass goes on to the next
/// matching route, or to actix's bare 404. For an operator-only route that answers
/// everyone else with the usual 403 problem+json (`operator_required` for a tenant's key,
/// `secret_key_required` for anything else), wrap it in
/// [`KeygateMiddleware::operator`](crate::KeygateMiddleware::operator) or take the
/// [`Operator`](crate::Operator) extractor.
pub fn operator() -> PrincipalGuard<impl Fn(&Principal) -> bool> {
    PrincipalGuard(Principal::is_operator)
}

/// Passes when the principal authenticated with `method`.
pub fn method(method: AuthMethod) -> PrincipalGuard<impl Fn(&Principal) -> bool> {
    PrincipalGuard(move |principal: &Principal| principal.method == method)
}

/// Passes when the principal's scopes allow `scope`.
pub fn scope(scope: Scope) -> PrincipalGuard<impl Fn(&Principal) -> bool> {
    PrincipalGuard(move |principal: &Principal| principal.allows(&scope))
}

/// Passes when the principal belongs to a tenant.
pub fn tenant() -> PrincipalGuard<impl Fn(&Principal) -> bool> {
    PrincipalGuard(|principal: &Principal| principal.tenant.is_some())
}

/// Passes when the principal satisfies `predicate`.
pub fn principal<F: Fn(&Principal) -> bool>(predicate: F) -> PrincipalGuard<F> {
    PrincipalGuard(predicate)
}
