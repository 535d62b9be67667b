//! Every route of the platform, as data: method, path pattern, what keygate requires and
//! which handler answers. Each adapter turns this one table into its framework's routes,
//! so the three binaries cannot drift apart.

use keygate_core::access::{Quota, QuotaSubject};
use keygate_core::meter::WindowLimit;
use keygate_core::{Access, AuthMethod, Methods};

/// Where the admin routes are mounted (one nested router or scope, `Access::admin()`).
pub const ADMIN_PREFIX: &str = "/api/v1/admin";

/// The signed-in user's keys.
pub const ME_KEYS: &str = "/api/v1/me/keys";

/// Where an account's routes start: `/api/v1/admin/accounts/{tenant}/{owner}…`.
const ACCOUNT_PATHS: &str = "/api/v1/admin/accounts/";

/// Where the proxy is mounted: `ANY /api/proxy/{*path}` goes to the upstream's `/{path}`
/// (see [`keygate_tower::proxy`]). Its body streams, so it is not in the route table,
/// whose handlers read bounded bodies: each adapter mounts the proxy service for the
/// paths of [`is_proxied`], behind keygate with [`proxy_access`].
pub const PROXY_PREFIX: &str = "/api/proxy";

/// Whether `path` is the proxy's: below `/api/proxy/`.
pub fn is_proxied(path: &str) -> bool {
    path.strip_prefix(PROXY_PREFIX)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Who may use the proxy: a client token, or a user JWT (alone or with a publishable
/// key), and `x-client-secret`, which opens every route. API keys stay on servers, which
/// call the upstream themselves.
pub fn proxy_access() -> Access {
    Access::authenticated()
        .accept(Methods::from([
            AuthMethod::ClientToken,
            AuthMethod::Jwt,
            AuthMethod::PublishableKeyJwt,
        ]))
        // The upstream key is the operator's: nobody acts as a user behind it.
        .forbid_impersonation()
}

/// The resources with a token route (`POST /api/v1/{resource}`, scope `<resource>:create`).
pub const TOKEN_RESOURCES: [&str; 9] = [
    "lens",
    "object-detection",
    "2d-to-3d",
    "fill",
    "swap",
    "room-visualize",
    "property-visualize",
    "magic-background",
    "upload",
];

/// Which handler answers a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// `GET /healthz`.
    Health,
    /// `GET /readyz`.
    Ready,
    /// `GET /openapi.json`: the platform's HTTP API as an OpenAPI 3.1 document.
    OpenApi,
    /// `POST /api/v1/admin/keys`.
    CreateKey,
    /// `GET /api/v1/admin/keys`.
    ListKeys,
    /// `GET /api/v1/admin/keys/{id}`.
    ShowKey,
    /// `DELETE /api/v1/admin/keys/{id}`.
    RevokeKey,
    /// `POST /api/v1/admin/keys/{id}/rotate`.
    RotateKey,
    /// `POST /api/v1/admin/keys/{id}/credits`.
    AddCredits,
    /// `GET /api/v1/admin/catalogues`.
    ListCatalogues,
    /// `POST /api/v1/admin/catalogues`.
    CreateCatalogue,
    /// `GET /api/v1/admin/catalogues/{id}`.
    ShowCatalogue,
    /// `PUT /api/v1/admin/catalogues/{id}`.
    UpdateCatalogue,
    /// `DELETE /api/v1/admin/catalogues/{id}`.
    DeleteCatalogue,
    /// `POST /api/v1/token`.
    IssueToken,
    /// `POST /api/tokens`: an `ek_` client token.
    IssueClientToken,
    /// `POST /api/v1/{resource}`: the token routes.
    Resource(&'static str),
    /// `GET /api/v1/catalogues/{id}`.
    ReadCatalogue,
    /// `POST /api/detect`: one credit.
    Detect,
    /// `POST /detect`: the web app's route, a user JWT only, 5 per user per UTC day.
    UserDetect,
    /// `POST /api/detector/upload`: free.
    Upload,
    /// `GET /v1/users/me`.
    Me,
    /// `POST /api/v1/llm/gateway/{method}`: a tenant's user, key or client token.
    Gateway,
    /// `POST /api/v1/orgs/create`: a signed-in user, with or without a tenant.
    CreateOrg,
    /// `POST /api/v1/admin/oauth/clients`: registers an OAuth client.
    RegisterOAuthClient,
    /// `GET /api/v1/admin/tenants`: the tenants with keys or accounts (operator only).
    ListTenants,
    /// `GET /api/v1/admin/accounts`: a page of a tenant's accounts.
    ListAccounts,
    /// `GET /api/v1/admin/accounts/{tenant}/{owner}`.
    ShowAccount,
    /// `POST /api/v1/admin/accounts/{tenant}/{owner}/credits`: a top-up (operator only).
    AddAccountCredits,
    /// `POST /api/v1/admin/accounts/{tenant}/{owner}/refill`: set or clear the refill
    /// rule (operator only).
    SetAccountRefill,
    /// `POST /api/v1/me/keys`: a signed-in user creates a key of their own.
    CreateMyKey,
    /// `GET /api/v1/me/keys`: the signed-in user's active keys.
    ListMyKeys,
    /// `DELETE /api/v1/me/keys/{id}`: the signed-in user revokes one of their keys.
    RevokeMyKey,
    /// `GET /api/v1/me/account`: the signed-in user's account.
    MyAccount,
    /// `GET /oauth/authorize`: the authorization endpoint (RFC 6749 §4.1.1).
    OAuthAuthorize,
    /// `POST /oauth/token`: the token endpoint.
    OAuthToken,
    /// `POST /oauth/revoke`: revocation (RFC 7009).
    OAuthRevoke,
    /// `GET /.well-known/oauth-authorization-server`: metadata (RFC 8414).
    OAuthMetadata,
    /// `GET /api/realtime`: the echo WebSocket (see [`crate::realtime`]). Each adapter
    /// answers its upgrades itself; the handler answers the rest 426.
    Realtime,
}

/// What stands in front of a handler.
#[derive(Debug, Clone)]
pub enum Guard {
    /// Nobody is authenticated (health checks).
    Public,
    /// Every request must satisfy this access.
    Required(Access),
}

/// One route.
#[derive(Debug, Clone)]
pub struct Route {
    /// The method.
    pub method: http::Method,
    /// The path, with `{name}` parameters (the syntax of axum 0.8 and actix-web alike);
    /// for admin routes, the part below [`ADMIN_PREFIX`].
    pub path: String,
    /// The handler.
    pub endpoint: Endpoint,
    /// keygate's requirement.
    pub guard: Guard,
}

impl Route {
    /// The full path pattern.
    pub fn full_path(&self, admin: bool) -> String {
        if admin {
            format!("{ADMIN_PREFIX}{}", self.path)
        } else {
            self.path.clone()
        }
    }
}

fn route(method: http::Method, path: impl Into<String>, endpoint: Endpoint, guard: Guard) -> Route {
    Route {
        method,
        path: path.into(),
        endpoint,
        guard,
    }
}

fn scoped(scope: &str) -> Access {
    match Access::scoped(scope) {
        Ok(access) => access,
        // The scopes below are literals of valid syntax; a typo fails the test suite.
        Err(error) => unreachable!("route scope {scope:?} is invalid: {error}"),
    }
}

/// Issued tokens (and the platform secret, which every route accepts).
fn tokens() -> Methods {
    Methods::from([AuthMethod::Token])
}

/// Free detections per user per UTC day on `POST /detect`.
pub const FREE_DETECTIONS_PER_DAY: u32 = 5;

/// `POST /detect`: user JWTs only, [`FREE_DETECTIONS_PER_DAY`] per user per UTC day.
fn user_detect() -> Access {
    let quota = match WindowLimit::per_day(FREE_DETECTIONS_PER_DAY) {
        Ok(limit) => Quota::new(limit, QuotaSubject::User),
        // A constant count of at least 1; a 0 would fail the test suite.
        Err(error) => unreachable!("the free allowance is invalid: {error}"),
    };
    Access::authenticated()
        .accept(Methods::from([AuthMethod::Jwt]))
        .quota(quota)
        .named("detect.user")
}

/// API keys.
fn api_keys() -> Methods {
    Methods::from([AuthMethod::ApiKey])
}

/// What a tenant's users and servers call with: a user JWT (alone, or with the
/// tenant's publishable key), an API key, or a client token.
fn tenant_callers() -> Methods {
    Methods::from([
        AuthMethod::Jwt,
        AuthMethod::PublishableKeyJwt,
        AuthMethod::ApiKey,
        AuthMethod::ClientToken,
    ])
}

/// User JWTs.
fn users() -> Methods {
    Methods::from([AuthMethod::Jwt])
}

/// The self-service routes: a signed-in user (a user JWT with a tenant) acting on their
/// own account. Any other credential is 403 `credential_not_accepted` (the platform
/// secret, which opens every route, is refused by keygate-core's `SelfService`).
fn self_service() -> Guard {
    Guard::Required(
        Access::authenticated()
            .accept(users())
            .require_tenant()
            .forbid_impersonation(),
    )
}

/// API keys and the `ek_` client tokens they mint (charged to the minting key).
fn api_keys_and_client_tokens() -> Methods {
    Methods::from([AuthMethod::ApiKey, AuthMethod::ClientToken])
}

/// The admin routes: below [`ADMIN_PREFIX`], all behind `Access::admin()`.
pub fn admin_routes() -> Vec<Route> {
    use Endpoint::*;
    use http::Method;
    let admin = || Guard::Required(Access::admin());
    vec![
        route(Method::POST, "/keys", CreateKey, admin()),
        route(Method::GET, "/keys", ListKeys, admin()),
        route(Method::GET, "/keys/{id}", ShowKey, admin()),
        route(Method::DELETE, "/keys/{id}", RevokeKey, admin()),
        route(Method::POST, "/keys/{id}/rotate", RotateKey, admin()),
        route(Method::POST, "/keys/{id}/credits", AddCredits, admin()),
        route(Method::GET, "/catalogues", ListCatalogues, admin()),
        route(Method::POST, "/catalogues", CreateCatalogue, admin()),
        route(Method::GET, "/catalogues/{id}", ShowCatalogue, admin()),
        route(Method::PUT, "/catalogues/{id}", UpdateCatalogue, admin()),
        route(Method::DELETE, "/catalogues/{id}", DeleteCatalogue, admin()),
        route(Method::POST, "/oauth/clients", RegisterOAuthClient, admin()),
        route(Method::GET, "/tenants", ListTenants, admin()),
        route(Method::GET, "/accounts", ListAccounts, admin()),
        route(
            Method::GET,
            "/accounts/{tenant}/{owner}",
            ShowAccount,
            admin(),
        ),
        route(
            Method::POST,
            "/accounts/{tenant}/{owner}/credits",
            AddAccountCredits,
            admin(),
        ),
        route(
            Method::POST,
            "/accounts/{tenant}/{owner}/refill",
            SetAccountRefill,
            admin(),
        ),
    ]
}

/// Every route outside the admin group.
pub fn routes() -> Vec<Route> {
    use Endpoint::*;
    use http::Method;
    let mut routes = vec![
        route(Method::GET, "/healthz", Health, Guard::Public),
        route(Method::GET, "/readyz", Ready, Guard::Public),
        route(Method::GET, "/openapi.json", OpenApi, Guard::Public),
        // The platform secret (or a tenant's sk_ key) in x-client-secret, or a token that
        // may mint tokens; the engine checks that the new token is no broader.
        route(
            Method::POST,
            "/api/v1/token",
            IssueToken,
            Guard::Required(
                scoped("token:create")
                    .accept(tokens())
                    .forbid_impersonation(),
            ),
        ),
        route(
            Method::GET,
            "/api/v1/catalogues/{id}",
            ReadCatalogue,
            Guard::Required(scoped("catalogue:read").accept(tokens())),
        ),
        // The platform secret (or a tenant's sk_ key) in x-client-secret, or an API key;
        // the engine lets only the secret and sk_ keys mint (an rk_ or custom key is 403,
        // a client token cannot mint another).
        route(
            Method::POST,
            "/api/tokens",
            IssueClientToken,
            Guard::Required(
                Access::authenticated()
                    .accept(api_keys())
                    .secret_keys_only()
                    .forbid_impersonation(),
            ),
        ),
        // Metered: an API key, or a client token charged to the key that minted it.
        route(
            Method::POST,
            "/api/detect",
            Detect,
            Guard::Required(
                Access::authenticated()
                    .accept(api_keys_and_client_tokens())
                    .cost(1),
            ),
        ),
        // The web app's free allowance: a user JWT only, 5 per user (`<tenant>/<sub>`)
        // per UTC day, one count for every instance.
        route(
            Method::POST,
            "/detect",
            UserDetect,
            Guard::Required(user_detect()),
        ),
        route(
            Method::POST,
            "/api/detector/upload",
            Upload,
            Guard::Required(Access::authenticated().accept(api_keys_and_client_tokens())),
        ),
        route(
            Method::GET,
            "/v1/users/me",
            Me,
            Guard::Required(scoped("read:users").accept(api_keys().with(AuthMethod::OAuth))),
        ),
        // The OAuth endpoints answer as RFC 6749 says, not as keygate's middleware would:
        // clients authenticate to them with their own credentials, and the authorization
        // endpoint verifies the user's JWT itself, after the client and redirect URI.
        route(
            Method::GET,
            "/oauth/authorize",
            OAuthAuthorize,
            Guard::Public,
        ),
        route(Method::POST, "/oauth/token", OAuthToken, Guard::Public),
        route(Method::POST, "/oauth/revoke", OAuthRevoke, Guard::Public),
        route(
            Method::GET,
            "/.well-known/oauth-authorization-server",
            OAuthMetadata,
            Guard::Public,
        ),
        route(
            Method::POST,
            "/api/v1/llm/gateway/{method}",
            Gateway,
            Guard::Required(
                Access::authenticated()
                    .accept(tenant_callers())
                    .require_tenant(),
            ),
        ),
        route(
            Method::POST,
            "/api/v1/orgs/create",
            CreateOrg,
            Guard::Required(Access::authenticated().accept(users()).tenant_optional()),
        ),
        route(Method::POST, ME_KEYS, CreateMyKey, self_service()),
        route(Method::GET, ME_KEYS, ListMyKeys, self_service()),
        route(
            Method::DELETE,
            format!("{ME_KEYS}/{{id}}"),
            RevokeMyKey,
            self_service(),
        ),
        route(Method::GET, "/api/v1/me/account", MyAccount, self_service()),
        route(
            Method::GET,
            crate::realtime::PATH,
            Realtime,
            Guard::Required(crate::realtime::access()),
        ),
    ];
    routes.extend(TOKEN_RESOURCES.iter().map(|resource| {
        route(
            Method::POST,
            format!("/api/v1/{resource}"),
            Resource(resource),
            Guard::Required(scoped(&format!("{resource}:create")).accept(tokens())),
        )
    }));
    routes
}

/// The path segment after `collection` (`/keys/`): the id in
/// `/api/v1/admin/keys/{id}/rotate`. `None` when there is none.
pub fn id_after<'p>(path: &'p str, collection: &str) -> Option<&'p str> {
    let (_, rest) = path.split_once(collection)?;
    rest.split('/').next().filter(|id| !id.is_empty())
}

/// Whether `path` matches `pattern`, where a `{name}` segment matches any non-empty
/// segment (the plain-tower router's matching; axum and actix-web match the same way).
pub fn matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') => {
                if g.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

/// 404 for a path no route has.
pub fn not_found() -> crate::reply::Reply {
    crate::reply::problem(
        http::StatusCode::NOT_FOUND,
        "not_found",
        "Not found",
        "no route matches this path",
    )
}

/// 405 for a path whose routes take other methods; `allow` lists them.
pub fn method_not_allowed(allow: &[http::Method]) -> crate::reply::Reply {
    let mut reply = crate::reply::problem(
        http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed",
        "this path takes other methods (see the Allow header)",
    );
    let list: Vec<&str> = allow.iter().map(http::Method::as_str).collect();
    if let Ok(value) = http::HeaderValue::from_str(&list.join(", ")) {
        reply.headers_mut().insert(http::header::ALLOW, value);
    }
    reply
}

/// Every path pattern with the methods its routes take, built once: a `HEAD` or a wrong
/// method, which anyone can send, reads it instead of rebuilding the route table.
static METHODS_BY_PATH: std::sync::LazyLock<Vec<(String, Vec<http::Method>)>> =
    std::sync::LazyLock::new(|| {
        by_path()
            .into_iter()
            .map(|(path, group)| {
                (
                    path,
                    group.into_iter().map(|(route, _)| route.method).collect(),
                )
            })
            .collect()
    });

/// The methods the routes of `path` take, in table order.
pub fn allowed(path: &str) -> Vec<http::Method> {
    METHODS_BY_PATH
        .iter()
        .filter(|(pattern, _)| matches(pattern, path))
        .flat_map(|(_, methods)| methods.iter().cloned())
        .collect()
}

/// The answer to a request the three frameworks would route differently, before any of
/// them routes it; `None` for every other request.
///
/// - A percent-encoded path is 404: actix-web decodes a path before matching it, axum and
///   hyper do not. The one exception is the tenant and owner of an account's path
///   (`/api/v1/admin/accounts/acme/auth0%7Cabc`): owners are user ids, which may hold a
///   `|`. Decoding those two segments moves no `/` (actix-web keeps `%2F` encoded), so
///   every framework routes such a path alike, and the handler decodes them
///   ([`account_segments`]).
/// - `HEAD` is 405 (404 on an unknown path): axum would serve it from a `GET` handler,
///   through keygate, spending a one-time token on a request that returns no body.
///
/// The proxy's paths ([`is_proxied`]) are exempt from both: the proxy forwards every
/// method, and encoded characters are the upstream's to read (the proxy itself refuses
/// the encoded slashes and dot segments that could climb out of the upstream's base).
pub fn before_routing(method: &http::Method, path: &str) -> Option<crate::reply::Reply> {
    if is_proxied(path) {
        return None;
    }
    if path.contains('%') && !only_ids_encoded(path) {
        return Some(not_found());
    }
    if method == http::Method::HEAD {
        let allow = allowed(path);
        return Some(if allow.is_empty() {
            not_found()
        } else {
            method_not_allowed(&allow)
        });
    }
    None
}

/// Whether every `%` of `path` is in the tenant or owner segment of an account's path.
fn only_ids_encoded(path: &str) -> bool {
    let Some(rest) = path.strip_prefix(ACCOUNT_PATHS) else {
        return false;
    };
    rest.split('/')
        .skip(2)
        .all(|segment| !segment.contains('%'))
}

/// The tenant and owner an account's path names, percent-decoded:
/// `/api/v1/admin/accounts/acme/auth0%7Cabc/credits` → `("acme", "auth0|abc")`. `None`
/// when the path has no such segments or one does not decode to UTF-8.
pub fn account_segments(path: &str) -> Option<(String, String)> {
    // axum's nested admin router sees the path below the admin prefix; the others the
    // whole path.
    let (_, rest) = path.split_once("/accounts/")?;
    let mut segments = rest.split('/');
    let tenant = percent_decode(segments.next()?)?;
    let owner = percent_decode(segments.next()?)?;
    Some((tenant, owner))
}

/// `segment` with each `%XX` decoded; `None` for a malformed escape or bytes that are not
/// UTF-8. Bounded by the path, which the server has already bounded.
fn percent_decode(segment: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(segment.len());
    let mut rest = segment.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = tail.get(..2)?;
            let hex = std::str::from_utf8(hex).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = tail.get(2..)?;
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// Every route with its full path and whether it is an admin route, grouped by path in
/// table order (the methods of one path together).
pub fn by_path() -> Vec<(String, Vec<(Route, bool)>)> {
    let mut groups: Vec<(String, Vec<(Route, bool)>)> = Vec::new();
    let all = admin_routes()
        .into_iter()
        .map(|route| (route, true))
        .chain(routes().into_iter().map(|route| (route, false)));
    for (route, admin) in all {
        let path = route.full_path(admin);
        match groups.iter_mut().find(|(p, _)| *p == path) {
            Some((_, group)) => group.push((route, admin)),
            None => groups.push((path, vec![(route, admin)])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    #[test]
    fn patterns_match_whole_segments() {
        assert!(matches("/api/v1/admin/keys/{id}", "/api/v1/admin/keys/k1"));
        assert!(!matches("/api/v1/admin/keys/{id}", "/api/v1/admin/keys/"));
        assert!(!matches(
            "/api/v1/admin/keys/{id}",
            "/api/v1/admin/keys/k1/rotate"
        ));
        assert!(matches("/healthz", "/healthz"));
        assert!(!matches("/healthz", "/healthz/"));
    }

    use super::*;

    #[test]
    fn the_proxy_owns_its_prefix_and_skips_the_early_answers() {
        assert!(is_proxied("/api/proxy/v1/things"));
        assert!(is_proxied("/api/proxy/"));
        assert!(!is_proxied("/api/proxy"));
        assert!(!is_proxied("/api/proxyx/a"));
        assert!(before_routing(&http::Method::HEAD, "/api/proxy/a%20b").is_none());
        assert!(before_routing(&http::Method::HEAD, "/api/proxyx").is_some());
        assert!(allowed("/api/proxy/a").is_empty());
    }

    #[test]
    fn ids_are_read_after_their_collection() {
        assert_eq!(id_after("/api/v1/admin/keys/k1", "/keys/"), Some("k1"));
        assert_eq!(
            id_after("/api/v1/admin/keys/k2/rotate", "/keys/"),
            Some("k2")
        );
        assert_eq!(
            id_after("/api/v1/admin/keys/k3/credits", "/keys/"),
            Some("k3")
        );
        assert_eq!(id_after("/api/v1/admin/keys", "/keys/"), None);
        assert_eq!(id_after("/api/v1/admin/keys/", "/keys/"), None);
    }

    #[test]
    fn account_paths_may_encode_their_tenant_and_owner_only() {
        assert_eq!(
            account_segments("/api/v1/admin/accounts/acme/auth0%7Cabc/credits"),
            Some(("acme".to_owned(), "auth0|abc".to_owned()))
        );
        assert_eq!(
            account_segments("/api/v1/admin/accounts/ac%6De/u1"),
            Some(("acme".to_owned(), "u1".to_owned()))
        );
        assert_eq!(
            account_segments("/accounts/acme/u1/refill"),
            Some(("acme".to_owned(), "u1".to_owned()))
        );
        assert_eq!(account_segments("/api/v1/admin/accounts/acme"), None);
        assert_eq!(account_segments("/api/v1/admin/accounts/acme/u%7"), None);
        assert_eq!(account_segments("/api/v1/admin/accounts/acme/u%zz"), None);
        assert_eq!(account_segments("/api/v1/admin/accounts/acme/%FF"), None);
        assert!(before_routing(&http::Method::GET, "/api/v1/admin/accounts/acme/a%7Cb").is_none());
        assert!(
            before_routing(
                &http::Method::POST,
                "/api/v1/admin/accounts/acme/a%7Cb/refill"
            )
            .is_none()
        );
        // Any other encoded segment is still refused before routing.
        for path in [
            "/api/v1/admin/accounts/acme/a/cr%65dits",
            "/api/v1/admin/account%73/acme/a",
            "/api/v1/admin/keys/a%7Cb",
            "/api/v1/me/keys/a%7Cb",
        ] {
            assert!(before_routing(&http::Method::GET, path).is_some(), "{path}");
        }
    }

    #[test]
    fn every_method_is_one_every_framework_routes() {
        use http::Method;
        for route in admin_routes().into_iter().chain(routes()) {
            assert!(
                [Method::GET, Method::POST, Method::PUT, Method::DELETE].contains(&route.method),
                "{route:?}"
            );
        }
    }

    /// The OpenAPI document and the route table name the same paths with the same
    /// methods (the proxy's prefix: the methods the document lists for it).
    #[test]
    fn the_openapi_document_matches_the_route_table() {
        use std::collections::BTreeSet;
        let doc: serde_json::Value = serde_json::from_str(crate::OPENAPI_JSON).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((path.clone(), method.to_uppercase()));
            }
        }
        let mut served: BTreeSet<(String, String)> = by_path()
            .into_iter()
            .flat_map(|(path, group)| {
                group
                    .into_iter()
                    .map(move |(route, _)| (path.clone(), route.method.to_string()))
            })
            .collect();
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            served.insert((format!("{PROXY_PREFIX}/{{path}}"), method.to_owned()));
        }
        let missing: Vec<_> = served.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&served).collect();
        assert!(missing.is_empty(), "routes the document lacks: {missing:?}");
        assert!(
            extra.is_empty(),
            "documented routes nobody serves: {extra:?}"
        );
    }

    #[test]
    fn every_route_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for route in admin_routes() {
            assert!(seen.insert((route.method.clone(), route.full_path(true))));
        }
        for route in routes() {
            assert!(seen.insert((route.method.clone(), route.full_path(false))));
        }
        assert_eq!(seen.len(), 18 + 20 + TOKEN_RESOURCES.len());
    }
}
