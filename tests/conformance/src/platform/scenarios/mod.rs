//! contract.md's rules for the reference platform, one function per rule, each run
//! against every column (see [`platform_suite!`](crate::platform_suite)). None knows
//! which adapter or database it talks to.

mod accounts;
mod catalogues;
mod client_tokens;
mod credentials;
mod keys;
mod metered;
mod oauth;
mod oauth_transport;
mod proxy;
mod quotas;
mod realtime;
mod running;
mod self_service;
mod tenants;
mod token_routes;
mod tokens;
mod users;

pub use accounts::*;
pub use catalogues::*;
pub use client_tokens::*;
pub use credentials::*;
pub use keys::*;
pub use metered::*;
pub use oauth::*;
pub use oauth_transport::*;
pub use proxy::*;
pub use quotas::*;
pub use realtime::*;
pub use running::*;
pub use self_service::*;
pub use tenants::*;
pub use token_routes::*;
pub use tokens::*;
pub use users::*;

/// The files holding the scenarios, for the completeness test.
pub const FILES: [&str; 17] = [
    include_str!("accounts.rs"),
    include_str!("catalogues.rs"),
    include_str!("client_tokens.rs"),
    include_str!("credentials.rs"),
    include_str!("keys.rs"),
    include_str!("metered.rs"),
    include_str!("oauth.rs"),
    include_str!("oauth_transport.rs"),
    include_str!("proxy.rs"),
    include_str!("quotas.rs"),
    include_str!("realtime.rs"),
    include_str!("running.rs"),
    include_str!("self_service.rs"),
    include_str!("tenants.rs"),
    include_str!("token_routes.rs"),
    include_str!("tokens.rs"),
    include_str!("users.rs"),
];

/// The challenge of every 401 that rejected a presented credential.
const REJECTED: &str = r#"Bearer realm="keygate", error="invalid_token""#;

/// The challenge of a 401 with nothing presented.
const BARE: &str = r#"Bearer realm="keygate""#;

/// The challenge of a 403 for a missing `scope`.
fn insufficient(scope: &str) -> String {
    format!(r#"Bearer error="insufficient_scope", scope="{scope}""#)
}

/// The `detail` of a problem document.
fn detail(reply: &crate::harness::Reply) -> String {
    reply.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Asserts a 400 `invalid_request` whose `detail` starts with `field`.
fn assert_invalid(reply: &crate::harness::Reply, field: &str, what: &str) {
    reply.assert_problem(400, "invalid_request");
    let detail = detail(reply);
    // keygate's own refusals say "invalid request: " first.
    let named = detail.strip_prefix("invalid request: ").unwrap_or(&detail);
    assert!(
        named.starts_with(&format!("{field}:")),
        "{what}: the detail names `{field}`: {detail}"
    );
    // A body the handler refuses is not a credential refused: no challenge.
    assert_eq!(
        reply.header("www-authenticate"),
        None,
        "{what}: a refused body carries no WWW-Authenticate"
    );
}
