//! The platform's OAuth 2.0 authorization server (keygate-oauth) on its SQL store: the
//! scopes it offers, and its issuer (`KEYGATE_ISSUER_URL`).

use std::sync::Arc;

use keygate_core::{Clock, ScopeSet};
use keygate_oauth::server::IssuerError;
use keygate_oauth::{AuthorizationServer, MemoryOAuthStore};
use keygate_sqlx::SqlStore;

/// The scopes third-party apps may register and ask users for.
pub const OFFERED_SCOPES: [&str; 6] = [
    "read:users",
    "write:users",
    "read:products",
    "write:products",
    "read:orders",
    "write:orders",
];

/// The offered scopes as a set.
pub fn offered_scopes() -> ScopeSet {
    ScopeSet::parse(OFFERED_SCOPES).unwrap_or_default()
}

/// The authorization server with `issuer`, on `store`'s database (in memory without one,
/// to check the issuer before a deployment is opened), reading `clock` (the system's by
/// default; give it the engine's).
pub fn server(
    issuer: &str,
    store: Option<&SqlStore>,
    clock: Option<Arc<dyn Clock>>,
) -> Result<AuthorizationServer, IssuerError> {
    let mut builder = AuthorizationServer::builder(issuer).offered_scopes(offered_scopes());
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    match store {
        Some(store) => builder.store(Arc::new(store.oauth())),
        None => builder.store(Arc::new(MemoryOAuthStore::new())),
    }
    .build()
}
