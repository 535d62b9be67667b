//! The test app every adapter serves, as data: each route's method, path, keygate
//! access and answer. An adapter turns this table into its framework's routes, so every
//! adapter serves the same app and the scenarios can hold them to one behaviour.

use keygate_core::{Access, AuthMethod, Methods, Principal};
use serde_json::{Value, json};

/// How a route is guarded.
#[derive(Debug, Clone)]
pub enum Guard {
    /// Every request must satisfy the access.
    Required(Access),
    /// Authentication is optional: no credential reaches the handler without a principal.
    Optional(Access),
    /// No keygate middleware: the handler's extractor must fail loudly.
    Unwired,
}

/// What a route's handler extracts and answers.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// `Principal`: 200 `{"resource", "action", "principal"}` (the contract's token routes).
    Resource {
        /// The resource named in the body.
        resource: &'static str,
        /// The action named in the body.
        action: &'static str,
    },
    /// `Admin`: 200 `{"admin": principal}`.
    Admin,
    /// `Operator`: 200 `{"operator": principal}`.
    Operator,
    /// `Principal`, then answers this status with `{"principal"}` (a failing handler).
    Status(u16),
    /// `Option<Principal>`: 200 `{"principal": null | principal}`.
    Optional,
    /// `Tenant`: 200 `{"tenant"}`.
    Tenant,
    /// `Option<Impersonation>`: 200 `{"user", "actor"}` (nulls when nobody is impersonated).
    Acting,
}

/// One route of the test app.
#[derive(Debug, Clone)]
pub struct Route {
    /// `GET` or `POST`.
    pub method: http::Method,
    /// The path (no parameters).
    pub path: &'static str,
    /// The keygate middleware in front of the handler.
    pub guard: Guard,
    /// The handler.
    pub answer: Answer,
}

fn route(method: http::Method, path: &'static str, guard: Guard, answer: Answer) -> Route {
    Route {
        method,
        path,
        guard,
        answer,
    }
}

fn scoped(scope: &str) -> Access {
    match Access::scoped(scope) {
        Ok(access) => access,
        Err(error) => unreachable!("the test app's scopes are valid: {error}"),
    }
}

/// Routes mounted together under one prefix and one access, as an admin router is: a
/// nested `Router` with `route_layer` on axum, a wrapped `web::scope` on actix, each route
/// layered on plain tower.
#[derive(Debug, Clone)]
pub struct Group {
    /// Where the group is mounted.
    pub prefix: &'static str,
    /// The access of every route in it.
    pub access: Access,
    /// Method, path below the prefix, answer.
    pub routes: Vec<(http::Method, &'static str, Answer)>,
}

/// The admin group: `/api/v1/admin/*`, `Access::admin()`.
pub fn admin_group() -> Group {
    Group {
        prefix: "/api/v1/admin",
        access: Access::admin(),
        routes: vec![
            (http::Method::GET, "/keys", Answer::Admin),
            (http::Method::GET, "/tenants", Answer::Operator),
        ],
    }
}

/// The test app's routes outside the [admin group](admin_group).
pub fn routes() -> Vec<Route> {
    use http::Method;
    let api_keys = Methods::from([AuthMethod::ApiKey]);
    vec![
        route(
            Method::POST,
            "/api/v1/magic-background",
            Guard::Required(scoped("magic-background:create")),
            Answer::Resource {
                resource: "magic-background",
                action: "create",
            },
        ),
        route(
            Method::POST,
            "/api/v1/lens",
            Guard::Required(scoped("lens:create")),
            Answer::Resource {
                resource: "lens",
                action: "create",
            },
        ),
        route(
            Method::GET,
            "/v1/users/me",
            Guard::Required(scoped("read:users")),
            Answer::Resource {
                resource: "users",
                action: "read",
            },
        ),
        route(
            Method::POST,
            "/api/detect",
            Guard::Required(Access::authenticated().accept(api_keys).cost(1)),
            Answer::Resource {
                resource: "detect",
                action: "create",
            },
        ),
        route(
            Method::POST,
            "/api/detector/upload",
            Guard::Required(Access::authenticated().accept(api_keys)),
            Answer::Resource {
                resource: "upload",
                action: "create",
            },
        ),
        route(
            Method::POST,
            "/api/detect/scoped",
            Guard::Required(scoped("read:users").accept(api_keys).cost(1)),
            Answer::Resource {
                resource: "detect",
                action: "read",
            },
        ),
        route(
            Method::POST,
            "/api/fail",
            Guard::Required(Access::authenticated().accept(api_keys).cost(1)),
            Answer::Status(500),
        ),
        route(
            Method::POST,
            "/api/invalid-body",
            Guard::Required(Access::authenticated().accept(api_keys).cost(1)),
            Answer::Status(422),
        ),
        // Token routes whose handler refuses the request (4xx) or fails (5xx).
        route(
            Method::POST,
            "/api/v1/refused",
            Guard::Required(scoped("magic-background:create")),
            Answer::Status(422),
        ),
        route(
            Method::POST,
            "/api/v1/broken",
            Guard::Required(scoped("magic-background:create")),
            Answer::Status(500),
        ),
        route(
            Method::GET,
            "/optional",
            Guard::Optional(Access::authenticated()),
            Answer::Optional,
        ),
        route(
            Method::GET,
            "/tenant",
            Guard::Required(Access::authenticated()),
            Answer::Tenant,
        ),
        route(
            Method::GET,
            "/acting",
            Guard::Required(Access::authenticated()),
            Answer::Acting,
        ),
        // Operator-only: by the route's access, and by the extractor on a wider route.
        route(
            Method::GET,
            "/operator",
            Guard::Required(Access::operator()),
            Answer::Admin,
        ),
        route(
            Method::GET,
            "/operator/extractor",
            Guard::Required(Access::authenticated()),
            Answer::Operator,
        ),
        route(
            Method::GET,
            "/unwired",
            Guard::Unwired,
            Answer::Resource {
                resource: "unwired",
                action: "read",
            },
        ),
    ]
}

/// The body of [`Answer::Resource`].
pub fn resource_body(resource: &str, action: &str, principal: &Principal) -> Value {
    json!({ "resource": resource, "action": action, "principal": principal })
}

/// The body of [`Answer::Admin`].
pub fn admin_body(principal: &Principal) -> Value {
    json!({ "admin": principal })
}

/// The body of [`Answer::Operator`].
pub fn operator_body(principal: &Principal) -> Value {
    json!({ "operator": principal })
}

/// The body of [`Answer::Status`].
pub fn status_body(principal: &Principal) -> Value {
    json!({ "principal": principal })
}

/// The body of [`Answer::Optional`].
pub fn optional_body(principal: Option<&Principal>) -> Value {
    json!({ "principal": principal })
}

/// The body of [`Answer::Tenant`].
pub fn tenant_body(tenant: &str) -> Value {
    json!({ "tenant": tenant })
}

/// The body of [`Answer::Acting`].
pub fn acting_body(acting: Option<&keygate_core::extract::Impersonation>) -> Value {
    json!({
        "user": acting.map(|acting| &*acting.user),
        "actor": acting.map(|acting| &*acting.actor),
    })
}
