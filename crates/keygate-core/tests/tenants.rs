//! User JWTs in requests: the principal they make, publishable-key pairs, tenants, and
//! impersonation, through `Keygate::authenticate`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;
mod jwt_support;

use common::{Fixture, bearer, code, get};
use jwt_support::{ISSUER, PROJECT, TestKey, firebase_claims, jwks, with};
use keygate_core::jwt::JwtVerifier;
use keygate_core::key::{KeyKind, NewKey};
use keygate_core::token::TokenKind;
use keygate_core::{Access, AuthMethod, Clock, Environment, PlatformSecret};
use serde_json::json;

fn verifier() -> JwtVerifier {
    JwtVerifier::builder()
        .issuer(ISSUER)
        .audience(PROJECT)
        .static_keys(jwks(&[&TestKey::rsa1()]))
        .build()
        .unwrap()
}

fn fixture() -> Fixture {
    Fixture::with(|builder| builder.jwt_verifier(verifier()))
}

/// A Firebase-shaped user JWT at the fixture's time, with `tenant_id` when given.
fn user_jwt(fixture: &Fixture, tenant: Option<&str>) -> String {
    let claims = firebase_claims(fixture.clock.now());
    let claims = match tenant {
        Some(tenant) => with(claims, "tenant_id", json!(tenant)),
        None => claims,
    };
    TestKey::rsa1().sign(&claims)
}

async fn publishable(fixture: &Fixture, tenant: &str) -> keygate_core::CreatedKey {
    fixture
        .key(NewKey {
            tenant: Some(tenant.into()),
            ..NewKey::new(KeyKind::Publishable, Environment::Live)
        })
        .await
}

#[tokio::test]
async fn a_user_jwt_makes_a_user_principal() {
    let fixture = fixture();
    let jwt = user_jwt(&fixture, Some("acme"));
    let principal = fixture
        .principal(
            &[("authorization", &bearer(&jwt))],
            &Access::authenticated(),
        )
        .await;
    assert_eq!(principal.method, AuthMethod::Jwt);
    assert_eq!(principal.subject.as_deref(), Some("user_1"));
    assert_eq!(principal.tenant.as_deref(), Some("acme"));
    assert_eq!(principal.key_id, None);
    assert!(principal.scopes.is_empty());
    assert!(principal.expires_at.is_some());
    // No key or store was looked at.
    assert_eq!(fixture.store.lookups(), 0);
}

#[tokio::test]
async fn without_a_verifier_user_jwts_are_invalid() {
    let fixture = Fixture::new();
    let jwt = user_jwt(&fixture, Some("acme"));
    let request = get(&[("authorization", &bearer(&jwt))]);
    let result = fixture
        .keygate
        .authenticate(&request, &Access::authenticated())
        .await;
    assert_eq!(code(result), "invalid_token");
}

#[tokio::test]
async fn tenant_required_routes_refuse_users_without_one() {
    let fixture = fixture();
    let route = Access::authenticated().require_tenant();
    let without = user_jwt(&fixture, None);
    let request = get(&[("authorization", &bearer(&without))]);
    assert_eq!(
        code(fixture.keygate.authenticate(&request, &route).await),
        "tenant_required"
    );
    // An engine-wide requirement, and a route exempt from it.
    let strict = Fixture::with(|b| b.jwt_verifier(verifier()).require_tenant(true));
    let jwt = user_jwt(&strict, None);
    let request = get(&[("authorization", &bearer(&jwt))]);
    let everywhere = Access::authenticated();
    assert_eq!(
        code(strict.keygate.authenticate(&request, &everywhere).await),
        "tenant_required"
    );
    let exempt = Access::authenticated().tenant_optional();
    assert!(strict.keygate.authenticate(&request, &exempt).await.is_ok());
}

#[tokio::test]
async fn a_publishable_key_pairs_with_a_user_of_its_tenant() {
    let fixture = fixture();
    let pk = publishable(&fixture, "acme").await;
    let route = Access::authenticated().require_tenant();
    for tenant in [None, Some("acme")] {
        let jwt = user_jwt(&fixture, tenant);
        let principal = fixture
            .principal(
                &[
                    ("x-api-key", pk.key.expose()),
                    ("authorization", &bearer(&jwt)),
                ],
                &route,
            )
            .await;
        assert_eq!(principal.method, AuthMethod::PublishableKeyJwt);
        assert_eq!(principal.tenant.as_deref(), Some("acme"));
        assert_eq!(principal.subject.as_deref(), Some("user_1"));
        assert_eq!(principal.key_id.as_ref(), Some(&pk.record.id));
        assert_eq!(principal.environment, Some(Environment::Live));
    }
    let other = user_jwt(&fixture, Some("globex"));
    let request = get(&[
        ("x-api-key", pk.key.expose()),
        ("authorization", &bearer(&other)),
    ]);
    assert_eq!(
        code(fixture.keygate.authenticate(&request, &route).await),
        "tenant_mismatch"
    );
    // Alone, the key is not enough.
    let request = get(&[("x-api-key", pk.key.expose())]);
    assert_eq!(
        code(fixture.keygate.authenticate(&request, &route).await),
        "user_token_required"
    );
    // A revoked key fails the pair.
    fixture.keygate.revoke_key(&pk.record.id).await.unwrap();
    let jwt = user_jwt(&fixture, None);
    let request = get(&[
        ("x-api-key", pk.key.expose()),
        ("authorization", &bearer(&jwt)),
    ]);
    assert_eq!(
        code(fixture.keygate.authenticate(&request, &route).await),
        "key_revoked"
    );
}

#[tokio::test]
async fn only_a_publishable_key_pairs_with_a_user_jwt() {
    let fixture = fixture();
    let sk = fixture.secret_key("acme").await;
    let jwt = user_jwt(&fixture, Some("acme"));
    let request = get(&[
        ("x-api-key", sk.key.expose()),
        ("authorization", &bearer(&jwt)),
    ]);
    assert_eq!(
        code(
            fixture
                .keygate
                .authenticate(&request, &Access::authenticated())
                .await
        ),
        "invalid_request"
    );
}

#[tokio::test]
async fn keys_that_are_not_secrets_are_refused_in_client_secret() {
    let fixture = fixture();
    let pk = publishable(&fixture, "acme").await;
    let rk = fixture
        .key(NewKey::new(KeyKind::Restricted, Environment::Live))
        .await;
    for key in [&pk, &rk] {
        for access in [Access::admin(), Access::authenticated()] {
            let request = get(&[("x-client-secret", key.key.expose())]);
            assert_eq!(
                code(fixture.keygate.authenticate(&request, &access).await),
                "secret_key_required"
            );
        }
    }
    assert_eq!(fixture.store.lookups(), 0, "refused unverified");
    // An operator's own secret may not look like such a key.
    assert!(PlatformSecret::new(pk.key.expose()).is_none());
    assert!(PlatformSecret::new("pk_live_but-otherwise-a-fine-secret").is_none());
    assert!(PlatformSecret::new("rk_test_but-otherwise-a-fine-secret").is_none());
}

#[tokio::test]
async fn users_cannot_impersonate_and_keys_can() {
    let fixture = fixture();
    let jwt = user_jwt(&fixture, Some("acme"));
    let request = get(&[
        ("authorization", &bearer(&jwt)),
        ("x-on-behalf-of", "user_2"),
    ]);
    assert_eq!(
        code(
            fixture
                .keygate
                .authenticate(&request, &Access::authenticated())
                .await
        ),
        "impersonation_forbidden"
    );
    let sk = fixture.secret_key("acme").await;
    let principal = fixture
        .principal(
            &[
                ("authorization", &bearer(sk.key.expose())),
                ("x-on-behalf-of", "user_2"),
            ],
            &Access::authenticated(),
        )
        .await;
    assert_eq!(principal.subject.as_deref(), Some("user_2"));
    assert_eq!(principal.actor.as_deref(), Some(sk.record.id.as_str()));
    // An impersonating principal mints nothing.
    let minted = fixture.keygate.issue_token(
        &principal,
        keygate_core::token::TokenRequest::new(TokenKind::Session),
    );
    assert_eq!(code(minted), "impersonation_forbidden");
}

#[tokio::test]
async fn a_tenant_key_vouches_only_for_users_of_its_tenant() {
    let fixture = fixture();
    let sk = fixture.secret_key("acme").await;
    let ours = user_jwt(&fixture, Some("acme"));
    let theirs = user_jwt(&fixture, Some("globex"));
    let route = Access::authenticated();
    let request = get(&[
        ("x-client-secret", sk.key.expose()),
        ("authorization", &bearer(&ours)),
    ]);
    let principal = fixture
        .keygate
        .authenticate(&request, &route)
        .await
        .unwrap()
        .into_principal();
    assert_eq!(principal.method, AuthMethod::Jwt);
    let request = get(&[
        ("x-client-secret", sk.key.expose()),
        ("authorization", &bearer(&theirs)),
    ]);
    assert_eq!(
        code(fixture.keygate.authenticate(&request, &route).await),
        "tenant_mismatch"
    );
}

#[tokio::test]
async fn keygate_tokens_are_never_user_jwts() {
    let fixture = fixture();
    let session = fixture.token(TokenKind::Session, "lens:create").await;
    let users_only = Access::authenticated().accept(keygate_core::Methods::from([AuthMethod::Jwt]));
    let request = get(&[("authorization", &bearer(session.expose()))]);
    assert_eq!(
        code(fixture.keygate.authenticate(&request, &users_only).await),
        "credential_not_accepted"
    );
    // A token of another deployment's issuer is not recognised as keygate's, goes to the
    // user-JWT verifier, and is refused there.
    let other = Fixture::with(|b| b.pepper(common::pepper(2)));
    let foreign = other.token(TokenKind::Session, "lens:create").await;
    let request = get(&[("authorization", &bearer(foreign.expose()))]);
    assert_eq!(
        code(
            fixture
                .keygate
                .authenticate(&request, &Access::authenticated())
                .await
        ),
        "invalid_token"
    );
}

#[tokio::test]
async fn routes_for_secret_keys_refuse_other_kinds_unverified() {
    let fixture = fixture();
    let route = Access::authenticated().secret_keys_only();
    let pk = publishable(&fixture, "acme").await;
    let rk = fixture
        .key(NewKey::new(KeyKind::Restricted, Environment::Live))
        .await;
    let jwt = user_jwt(&fixture, None);
    let lookups = fixture.store.lookups();
    for headers in [
        vec![("x-api-key", pk.key.expose().to_owned())],
        vec![("authorization", bearer(rk.key.expose()))],
        vec![
            ("x-api-key", pk.key.expose().to_owned()),
            ("authorization", bearer(&jwt)),
        ],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let request = get(&headers);
        assert_eq!(
            code(fixture.keygate.authenticate(&request, &route).await),
            "secret_key_required"
        );
    }
    assert_eq!(fixture.store.lookups(), lookups, "refused unverified");
    // An sk_ key, and a user JWT (not a key: the route's methods decide), pass.
    let sk = fixture.secret_key("acme").await;
    let request = get(&[("authorization", &bearer(sk.key.expose()))]);
    assert!(fixture.keygate.authenticate(&request, &route).await.is_ok());
    let request = get(&[("authorization", &bearer(&jwt))]);
    assert!(fixture.keygate.authenticate(&request, &route).await.is_ok());
}
