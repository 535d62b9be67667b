//! The engine's seam for OAuth access tokens: a bearer value starting with `oat_` goes to
//! the configured verifier and becomes an `oauth` principal.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::sync::Arc;

use async_trait::async_trait;
use keygate_core::oauth::{AccessTokenStatus, AccessTokenVerifier, OAuthAccess};
use keygate_core::store::StoreError;
use keygate_core::{Access, AuthMethod, Keygate, ManualClock, Pepper, ScopeSet};
use time::OffsetDateTime;
use time::macros::datetime;

/// A verifier answering from a fixed table: the seam's contract, not a store.
#[derive(Debug)]
struct Table;

#[async_trait]
impl AccessTokenVerifier for Table {
    async fn verify(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<AccessTokenStatus, StoreError> {
        Ok(match token {
            "oat_active" => AccessTokenStatus::Active(OAuthAccess::new(
                "cl_app",
                "user_1",
                Some(Arc::from("acme")),
                ScopeSet::parse(["read:users"]).map_err(|_| StoreError::corrupt("scope"))?,
                now + time::Duration::hours(1),
            )),
            "oat_expired" => AccessTokenStatus::Expired,
            "oat_down" => {
                return Err(StoreError::unavailable(
                    "down",
                    std::io::Error::other("down"),
                ));
            }
            _ => AccessTokenStatus::Invalid,
        })
    }
}

fn engine(with_verifier: bool) -> Keygate {
    let mut builder = Keygate::builder()
        .pepper(Pepper::generate().unwrap())
        .clock(ManualClock::new(datetime!(2030-01-01 0:00 UTC)));
    if with_verifier {
        builder = builder.oauth_tokens(Arc::new(Table));
    }
    builder.build().unwrap()
}

fn bearer(token: &str) -> http::Request<()> {
    http::Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
}

#[tokio::test]
async fn an_active_access_token_is_an_oauth_principal_for_its_user() {
    let route = Access::scoped("read:users").unwrap();
    let grant = engine(true)
        .authenticate(&bearer("oat_active"), &route)
        .await
        .unwrap();
    let principal = grant.principal();
    assert_eq!(principal.method, AuthMethod::OAuth);
    assert_eq!(principal.subject.as_deref(), Some("user_1"));
    assert_eq!(principal.tenant.as_deref(), Some("acme"));
    assert_eq!(principal.metadata["client_id"], "cl_app");
    let json = serde_json::to_value(principal).unwrap();
    assert_eq!(json["method"], "oauth");
    assert_eq!(json["environment"], "live");
    assert_eq!(json["actor"], serde_json::Value::Null);

    let write = Access::scoped("write:users").unwrap();
    let err = engine(true)
        .authenticate(&bearer("oat_active"), &write)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "insufficient_scope");
}

#[tokio::test]
async fn refused_access_tokens_say_why_and_a_store_failure_denies() {
    let route = Access::scoped("read:users").unwrap();
    for (token, code) in [
        ("oat_expired", "token_expired"),
        ("oat_unknown", "invalid_token"),
        ("oat_down", "auth_unavailable"),
    ] {
        let err = engine(true)
            .authenticate(&bearer(token), &route)
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{token}");
    }
    // Without an authorization server, the token is nothing the engine knows.
    let err = engine(false)
        .authenticate(&bearer("oat_active"), &route)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_token");
}

#[tokio::test]
async fn routes_that_do_not_accept_oauth_refuse_it_unverified() {
    let route = Access::scoped("read:users")
        .unwrap()
        .accept(keygate_core::Methods::from([AuthMethod::ApiKey]));
    let err = engine(true)
        .authenticate(&bearer("oat_down"), &route)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "credential_not_accepted");
}

#[test]
fn the_access_token_prefix_is_reserved_from_custom_keys() {
    assert!(keygate_core::key::KeyPrefix::custom("oat_").is_err());
    assert!(keygate_core::key::KeyPrefix::custom("oak_").is_ok());
}
