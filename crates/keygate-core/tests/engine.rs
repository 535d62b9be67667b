//! The engine's behaviour, rule by rule, on the in-memory stores and a manual clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{DownStore, Fixture, bearer, code, get, pepper, scoped};
use keygate_core::key::{KeyKind, NewKey, RateLimit};
use keygate_core::token::{TokenIssuer, TokenKind, TokenRequest, TokenSecret};
use keygate_core::{
    Access, AuthError, AuthMethod, Environment, Keygate, Methods, PlatformSecret, ScopeSet,
};
use time::Duration;

fn lens() -> Access {
    Access::scoped("lens:create").unwrap()
}

// --- admin routes ------------------------------------------------------------------

#[tokio::test]
async fn admin_route_opens_to_the_platform_secret_only() {
    let f = Fixture::new();
    let grant = f
        .call(&[("x-client-secret", f.secret.expose())], &Access::admin())
        .await
        .unwrap();
    assert!(grant.principal().is_operator());
    assert_eq!(grant.headers().count(), 0, "admin routes meter nothing");

    let wrong = PlatformSecret::generate().unwrap();
    let err = f
        .call(&[("x-client-secret", wrong.expose())], &Access::admin())
        .await
        .unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (401, "invalid_secret_key")
    );

    let nothing = f.call(&[], &Access::admin()).await.unwrap_err();
    assert_eq!(
        (nothing.status().as_u16(), nothing.code()),
        (401, "missing_credentials")
    );
    assert_eq!(
        nothing.www_authenticate().as_deref(),
        Some(r#"Bearer realm="keygate""#)
    );
}

#[tokio::test]
async fn admin_route_refuses_a_token_without_verifying_or_consuming_it() {
    let f = Fixture::new();
    let token = f.token(TokenKind::OneTime, "lens:create").await;
    let lookups = f.store.lookups();
    for _ in 0..3 {
        let err = f
            .call(
                &[("authorization", &bearer(token.expose()))],
                &Access::admin(),
            )
            .await
            .unwrap_err();
        assert_eq!(
            (err.status().as_u16(), err.code()),
            (403, "secret_key_required")
        );
    }
    // A garbage credential gets the same answer: it was not even verified.
    let err = f
        .call(&[("x-api-key", "sk_live_garbage")], &Access::admin())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "secret_key_required");
    assert_eq!(f.store.lookups(), lookups, "no store look-up on refusal");
    // The token is still unused.
    assert!(
        f.call(&[("authorization", &bearer(token.expose()))], &lens())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_tenant_sk_key_in_x_client_secret_opens_admin_routes_for_its_tenant() {
    let f = Fixture::new();
    let sk = f.secret_key("acme").await;
    let grant = f
        .call(&[("x-client-secret", sk.key.expose())], &Access::admin())
        .await
        .unwrap();
    let principal = grant.principal();
    assert_eq!(principal.method, AuthMethod::SecretKey);
    assert_eq!(principal.tenant.as_deref(), Some("acme"));
    assert_eq!(principal.key_id.as_ref(), Some(&sk.record.id));
    assert!(!principal.is_operator());
    assert!(principal.may_manage(Some("acme")));
    assert!(!principal.may_manage(Some("globex")));

    // Restricted keys (not secrets: refused unverified) and revoked sk_ keys do not.
    let rk = f
        .key(NewKey {
            tenant: Some("acme".into()),
            scopes: vec!["read:users".into()],
            ..NewKey::new(KeyKind::Restricted, Environment::Live)
        })
        .await;
    let err = f
        .call(&[("x-client-secret", rk.key.expose())], &Access::admin())
        .await;
    assert_eq!(code(err), "secret_key_required");
    f.keygate.revoke_key(&sk.record.id).await.unwrap();
    let err = f
        .call(&[("x-client-secret", sk.key.expose())], &Access::admin())
        .await;
    assert_eq!(code(err), "key_revoked");
}

// --- issued tokens -----------------------------------------------------------------

#[tokio::test]
async fn a_one_time_token_works_once() {
    let f = Fixture::new();
    let token = f.token(TokenKind::OneTime, "lens:create").await;
    let headers = [("authorization", bearer(token.expose()))];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let grant = f.call(&headers, &lens()).await.unwrap();
    assert_eq!(grant.principal().method, AuthMethod::Token);
    let err = f.call(&headers, &lens()).await.unwrap_err();
    assert_eq!((err.status().as_u16(), err.code()), (401, "token_used"));
    assert_eq!(
        err.www_authenticate().as_deref(),
        Some(r#"Bearer realm="keygate", error="invalid_token""#)
    );
}

#[tokio::test]
async fn a_one_time_token_refused_for_scope_or_kind_stays_unused() {
    let f = Fixture::new();
    let token = f.token(TokenKind::OneTime, "lens:create").await;
    let auth = bearer(token.expose());
    let headers = [("authorization", auth.as_str())];

    let err = f
        .call(&headers, &Access::scoped("fill:create").unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (403, "insufficient_scope")
    );
    assert_eq!(
        err.www_authenticate().as_deref(),
        Some(r#"Bearer error="insufficient_scope", scope="fill:create""#)
    );
    let keys_only = Access::authenticated().accept(Methods::from([AuthMethod::ApiKey]));
    assert_eq!(
        code(f.call(&headers, &keys_only).await),
        "credential_not_accepted"
    );

    assert!(f.call(&headers, &lens()).await.is_ok(), "still unused");
    assert_eq!(code(f.call(&headers, &lens()).await), "token_used");
}

#[tokio::test]
async fn a_one_time_token_expires_after_300_seconds() {
    let f = Fixture::new();
    let token = f.token(TokenKind::OneTime, "lens:create").await;
    assert_eq!(token.expires_in(), 300);
    let auth = bearer(token.expose());
    f.clock.advance(Duration::seconds(299));
    let probe = f
        .call(
            &[("authorization", &auth)],
            &Access::scoped("fill:create").unwrap(),
        )
        .await;
    assert_eq!(code(probe), "insufficient_scope", "valid at 299 s");
    f.clock.advance(Duration::seconds(1));
    let err = f
        .call(&[("authorization", &auth)], &lens())
        .await
        .unwrap_err();
    assert_eq!((err.status().as_u16(), err.code()), (401, "token_expired"));
}

#[tokio::test]
async fn a_session_token_is_reusable_until_it_expires() {
    let f = Fixture::new();
    let operator = f.operator().await;
    let token = f
        .keygate
        .issue_token(
            &operator,
            TokenRequest {
                scopes: Some(ScopeSet::parse(["lens:*"]).unwrap()),
                lifetime: Some(Duration::minutes(30)),
                ..TokenRequest::new(TokenKind::Session)
            },
        )
        .unwrap();
    assert_eq!(token.expires_in(), 1800);
    let auth = bearer(token.expose());
    for _ in 0..5 {
        f.call(&[("authorization", &auth)], &lens()).await.unwrap();
    }
    f.clock.advance(Duration::minutes(30));
    assert_eq!(
        code(f.call(&[("authorization", &auth)], &lens()).await),
        "token_expired"
    );
}

#[tokio::test]
async fn token_lifetimes_are_bounded_by_kind() {
    let f = Fixture::new();
    let operator = f.operator().await;
    let scopes = Some(ScopeSet::parse(["lens:create"]).unwrap());
    for (kind, lifetime) in [
        (TokenKind::Session, Duration::seconds(59)),
        (TokenKind::Session, Duration::minutes(1441)),
        (TokenKind::OneTime, Duration::seconds(60)),
        (TokenKind::Client, Duration::seconds(86_401)),
        (TokenKind::Client, Duration::ZERO),
    ] {
        let err = f
            .keygate
            .issue_token(
                &operator,
                TokenRequest {
                    scopes: scopes.clone(),
                    lifetime: Some(lifetime),
                    ..TokenRequest::new(kind)
                },
            )
            .unwrap_err();
        assert_eq!(err.code(), "invalid_request", "{kind:?} {lifetime}");
    }
}

#[tokio::test]
async fn minting_from_a_token_never_widens_scope_or_lifetime() {
    let f = Fixture::new();
    let operator = f.operator().await;
    let parent = f
        .keygate
        .issue_token(
            &operator,
            TokenRequest {
                scopes: Some(ScopeSet::parse(["*:create"]).unwrap()),
                lifetime: Some(Duration::minutes(10)),
                user_reference: Some("user_7".into()),
                ..TokenRequest::new(TokenKind::Session)
            },
        )
        .unwrap();
    let auth = bearer(parent.expose());
    let minter = f
        .principal(
            &[("authorization", &auth)],
            &Access::scoped("token:create").unwrap(),
        )
        .await;

    let child = |scope: &str, lifetime: i64| TokenRequest {
        scopes: Some(ScopeSet::parse([scope]).unwrap()),
        lifetime: Some(Duration::minutes(lifetime)),
        ..TokenRequest::new(TokenKind::Session)
    };
    // Narrower scope: fine, and the lifetime is cut to the parent's remaining 10 minutes.
    f.clock.advance(Duration::minutes(4));
    let narrower = f
        .keygate
        .issue_token(&minter, child("lens:create", 60))
        .unwrap();
    assert_eq!(narrower.expires_in(), 6 * 60);
    // The context carries over.
    let narrow_auth = bearer(narrower.expose());
    let grant = f
        .call(&[("authorization", &narrow_auth)], &lens())
        .await
        .unwrap();
    assert_eq!(grant.principal().user_reference.as_deref(), Some("user_7"));
    // Wider scopes are refused, naming the scope.
    for wider in ["lens:read", "*:*", "*"] {
        let err = f.keygate.issue_token(&minter, child(wider, 5)).unwrap_err();
        assert_eq!(err.code(), "insufficient_scope", "{wider}");
    }
    // The context cannot be changed.
    let err = f
        .keygate
        .issue_token(
            &minter,
            TokenRequest {
                user_reference: Some("user_8".into()),
                ..child("lens:create", 5)
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    // The child dies with the parent.
    f.clock.advance(Duration::minutes(6));
    assert_eq!(
        code(f.call(&[("authorization", &narrow_auth)], &lens()).await),
        "token_expired"
    );
}

#[tokio::test]
async fn a_token_without_token_create_cannot_mint() {
    let f = Fixture::new();
    let token = f.token(TokenKind::Session, "lens:create").await;
    let auth = bearer(token.expose());
    let principal = f.principal(&[("authorization", &auth)], &lens()).await;
    let err = f
        .keygate
        .issue_token(&principal, TokenRequest::new(TokenKind::Session))
        .unwrap_err();
    assert_eq!(err.to_string(), "this request needs the scope token:create");
}

#[tokio::test]
async fn tokens_from_other_keys_or_shapes_are_invalid() {
    let f = Fixture::new();
    // Another deployment: another pepper, so another derived signing key.
    let other = Fixture::with(|b| b.pepper(pepper(9)));
    let foreign = other.token(TokenKind::Session, "lens:create").await;
    assert_eq!(
        code(
            f.call(&[("authorization", &bearer(foreign.expose()))], &lens())
                .await
        ),
        "invalid_token"
    );
    // A user JWT (no JWT verifier configured) and bearer garbage.
    let user_jwt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1In0.c2ln";
    for token in [user_jwt, "abc", "a.b.c"] {
        assert_eq!(
            code(f.call(&[("authorization", &bearer(token))], &lens()).await),
            "invalid_token",
            "{token}"
        );
    }
    // A session token with its `ek_` prefix added is not a client token.
    let session = f.token(TokenKind::Session, "lens:create").await;
    let disguised = format!("ek_{}", session.expose());
    assert_eq!(
        code(f.call(&[("x-api-key", &disguised)], &lens()).await),
        "invalid_token"
    );
}

#[tokio::test]
async fn signing_keys_rotate_and_eddsa_tokens_verify() {
    let old = TokenIssuer::hs256(&TokenSecret::new(vec![3; 32]).unwrap());
    let f_old = Fixture::with(|b| b.token_issuer(old.clone()));
    let old_token = f_old.token(TokenKind::Session, "lens:create").await;

    let new = TokenIssuer::ed25519_generate().unwrap().with_previous(&old);
    let f_new = Fixture::with(|b| b.token_issuer(new));
    let new_token = f_new.token(TokenKind::Session, "lens:create").await;
    for token in [old_token.expose(), new_token.expose()] {
        f_new
            .call(&[("authorization", &bearer(token))], &lens())
            .await
            .unwrap();
    }
    // The old-only engine does not know the new key.
    assert_eq!(
        code(
            f_old
                .call(&[("authorization", &bearer(new_token.expose()))], &lens())
                .await
        ),
        "invalid_token"
    );
}

// --- API keys ----------------------------------------------------------------------

#[tokio::test]
async fn key_kinds_grant_what_their_kind_says() {
    let f = Fixture::new();
    let users = Access::scoped("read:users").unwrap();
    let sk = f.secret_key("acme").await;
    let rk = f
        .key(NewKey {
            tenant: Some("acme".into()),
            scopes: vec!["read:users".into()],
            ..NewKey::new(KeyKind::Restricted, Environment::Test)
        })
        .await;
    let custom = f
        .key(NewKey {
            prefix: Some("bijou_".into()),
            scopes: vec!["read:*".into()],
            ..NewKey::new(KeyKind::Custom, Environment::Live)
        })
        .await;
    let pk = f
        .key(NewKey {
            tenant: Some("acme".into()),
            ..NewKey::new(KeyKind::Publishable, Environment::Live)
        })
        .await;

    for key in [&sk, &rk, &custom] {
        for header in ["x-api-key", "authorization"] {
            let value = if header == "authorization" {
                bearer(key.key.expose())
            } else {
                key.key.expose().to_owned()
            };
            let grant = f.call(&[(header, &value)], &users).await.unwrap();
            assert_eq!(grant.principal().method, AuthMethod::ApiKey);
            assert_eq!(grant.principal().key_id.as_ref(), Some(&key.record.id));
        }
    }
    let rk_grant = f
        .call(&[("x-api-key", rk.key.expose())], &users)
        .await
        .unwrap();
    assert_eq!(rk_grant.principal().environment, Some(Environment::Test));
    // Restricted and custom keys act only with their scopes; sk_ with every one.
    let write = Access::scoped("write:users").unwrap();
    assert!(
        f.call(&[("x-api-key", sk.key.expose())], &write)
            .await
            .is_ok()
    );
    assert_eq!(
        code(f.call(&[("x-api-key", rk.key.expose())], &write).await),
        "insufficient_scope"
    );
    assert_eq!(
        code(f.call(&[("x-api-key", custom.key.expose())], &write).await),
        "insufficient_scope"
    );
    // A publishable key alone grants nothing.
    let err = f
        .call(&[("x-api-key", pk.key.expose())], &Access::authenticated())
        .await
        .unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (401, "user_token_required")
    );
    assert_eq!(
        code(
            f.call(&[("x-api-key", pk.key.expose())], &Access::admin())
                .await
        ),
        "secret_key_required"
    );
}

#[tokio::test]
async fn malformed_keys_are_refused_before_any_store_look_up() {
    let f = Fixture::new();
    let sk = f.secret_key("acme").await;
    let text = sk.key.expose();
    let before = f.store.lookups();
    let mut tampered = text.to_owned();
    tampered.replace_range(20..21, if &text[20..21] == "a" { "b" } else { "a" });
    for bad in [
        tampered.as_str(),
        &text[..text.len() - 1],
        "sk_live_short",
        "nounderscore",
    ] {
        let err = f
            .call(&[("x-api-key", bad)], &Access::authenticated())
            .await
            .unwrap_err();
        assert_eq!(
            (err.status().as_u16(), err.code()),
            (401, "invalid_api_key"),
            "{bad}"
        );
    }
    assert_eq!(f.store.lookups(), before);
    // A well-formed but unknown key is looked up, and refused the same way.
    let unknown = keygate_core::key::ApiKey::generate(
        &keygate_core::key::KeyPrefix::standard(KeyKind::Secret, Environment::Live).unwrap(),
    )
    .unwrap();
    assert_eq!(
        code(
            f.call(&[("x-api-key", unknown.expose())], &Access::authenticated())
                .await
        ),
        "invalid_api_key"
    );
    assert_eq!(f.store.lookups(), before + 1);
}

#[tokio::test]
async fn revoked_and_expired_keys_are_refused_with_their_reason() {
    let f = Fixture::new();
    let any = Access::authenticated();
    let sk = f.secret_key("acme").await;
    f.keygate.revoke_key(&sk.record.id).await.unwrap();
    let err = f
        .call(&[("x-api-key", sk.key.expose())], &any)
        .await
        .unwrap_err();
    assert_eq!((err.status().as_u16(), err.code()), (401, "key_revoked"));

    let expiring = f
        .key(NewKey {
            expires_at: Some(common::T0 + Duration::hours(1)),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    assert!(
        f.call(&[("x-api-key", expiring.key.expose())], &any)
            .await
            .is_ok()
    );
    f.clock.advance(Duration::hours(1));
    assert_eq!(
        code(f.call(&[("x-api-key", expiring.key.expose())], &any).await),
        "key_expired"
    );
}

#[tokio::test]
async fn a_rotated_key_works_until_its_grace_ends_and_shares_its_limit() {
    let f = Fixture::new();
    let any = Access::authenticated();
    let old = f
        .key(NewKey {
            tenant: Some("acme".into()),
            rate_limit: Some(RateLimit::new(3, 60).unwrap()),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    f.call(&[("x-api-key", old.key.expose())], &any)
        .await
        .unwrap();
    let new = f
        .keygate
        .rotate_key(&old.record.id, Duration::minutes(10))
        .await
        .unwrap();
    assert_ne!(new.key.expose(), old.key.expose());
    assert_eq!(new.record.lineage, old.record.id);
    assert_eq!(new.record.tenant.as_deref(), Some("acme"));
    assert_eq!(new.record.rate_limit, old.record.rate_limit);

    // Both work, and both draw on one limit of 3: one used before, two now.
    let grant = f
        .call(&[("x-api-key", new.key.expose())], &any)
        .await
        .unwrap();
    assert_eq!(grant.rate_limit().unwrap().remaining, 1);
    f.call(&[("x-api-key", old.key.expose())], &any)
        .await
        .unwrap();
    assert_eq!(
        code(f.call(&[("x-api-key", new.key.expose())], &any).await),
        "rate_limited"
    );

    f.clock.advance(Duration::minutes(10));
    assert_eq!(
        code(f.call(&[("x-api-key", old.key.expose())], &any).await),
        "key_expired"
    );
    assert!(
        f.call(&[("x-api-key", new.key.expose())], &any)
            .await
            .is_ok()
    );
    // A rotated-out or revoked key cannot be rotated again.
    assert!(
        f.keygate
            .rotate_key(&old.record.id, Duration::ZERO)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn key_creation_validates_every_field() {
    let f = Fixture::new();
    let base = || NewKey::new(KeyKind::Restricted, Environment::Live);
    let cases: Vec<(NewKey, &str)> = vec![
        (
            NewKey {
                prefix: Some("bijou_".into()),
                ..base()
            },
            "prefix",
        ),
        (NewKey::new(KeyKind::Custom, Environment::Live), "prefix"),
        (
            NewKey {
                prefix: Some("sk_".into()),
                ..NewKey::new(KeyKind::Custom, Environment::Live)
            },
            "prefix",
        ),
        (
            NewKey {
                tenant: Some("a b".into()),
                ..base()
            },
            "tenant",
        ),
        (
            NewKey {
                name: Some("n".repeat(129)),
                ..base()
            },
            "name",
        ),
        (
            NewKey {
                scopes: vec!["bad scope".into()],
                ..base()
            },
            "scopes",
        ),
        (
            NewKey {
                credits: Some(u64::MAX),
                ..base()
            },
            "credits",
        ),
        (
            NewKey {
                expires_at: Some(common::T0),
                ..base()
            },
            "expires_at",
        ),
    ];
    for (new, field) in cases {
        let err = f.keygate.create_key(new).await.unwrap_err();
        assert!(
            err.to_string().starts_with(field),
            "{err} should name {field}"
        );
    }
    let mut big = keygate_core::key::Metadata::new();
    big.insert("blob".into(), "x".repeat(5000).into());
    let err = f
        .keygate
        .create_key(NewKey {
            metadata: big,
            ..base()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("metadata"));
}

// --- metering ----------------------------------------------------------------------

#[tokio::test]
async fn rate_limit_headers_count_down_then_429_with_retry_after() {
    let f = Fixture::new();
    let any = Access::authenticated();
    let key = f
        .key(NewKey {
            rate_limit: Some(RateLimit::new(2, 60).unwrap()),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    let headers = [("x-api-key", key.key.expose())];
    let first = f.call(&headers, &any).await.unwrap();
    let shown: Vec<(&str, u64)> = first.headers().collect();
    let reset = u64::try_from(common::T0.unix_timestamp()).unwrap() + 30;
    assert_eq!(
        shown,
        vec![
            ("x-ratelimit-limit", 2),
            ("x-ratelimit-remaining", 1),
            ("x-ratelimit-reset", reset)
        ]
    );
    f.call(&headers, &any).await.unwrap();
    let err = f.call(&headers, &any).await.unwrap_err();
    assert_eq!((err.status().as_u16(), err.code()), (429, "rate_limited"));
    assert_eq!(err.retry_after_secs(), Some(30));
    let rendered = err
        .headers()
        .map(|(n, v)| (n, v.to_string()))
        .collect::<Vec<_>>();
    assert!(rendered.contains(&("retry-after", "30".to_owned())));
    assert!(rendered.contains(&("x-ratelimit-remaining", "0".to_owned())));

    f.clock.advance(Duration::seconds(30));
    assert!(f.call(&headers, &any).await.is_ok());
}

#[tokio::test]
async fn credits_are_spent_only_by_requests_that_pass() {
    let f = Fixture::new();
    let detect = Access::authenticated().cost(1);
    let scoped = Access::scoped("write:orders").unwrap().cost(1);
    let key = f
        .key(NewKey {
            scopes: vec!["read:*".into()],
            credits: Some(2),
            ..NewKey::new(KeyKind::Restricted, Environment::Live)
        })
        .await;
    let headers = [("x-api-key", key.key.expose())];

    // Refused for scope: no charge.
    assert_eq!(code(f.call(&headers, &scoped).await), "insufficient_scope");
    // Free routes cost nothing but still report the balance.
    let free = f.call(&headers, &Access::authenticated()).await.unwrap();
    assert_eq!(free.credits_remaining(), Some(2));
    assert!(!free.is_charged());

    let mut grant = f.call(&headers, &detect).await.unwrap();
    assert_eq!(grant.credits_remaining(), Some(1));
    assert!(grant.headers().any(|h| h == ("x-credits-remaining", 1)));
    // The handler failed: refund, once.
    f.keygate.refund(&mut grant).await.unwrap();
    f.keygate.refund(&mut grant).await.unwrap();
    assert_eq!(grant.credits_remaining(), Some(2));
    assert_eq!(f.keygate.credits(&key.record).await.unwrap(), Some(2));

    f.call(&headers, &detect).await.unwrap();
    f.call(&headers, &detect).await.unwrap();
    let err = f.call(&headers, &detect).await.unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (402, "insufficient_credits")
    );
    assert!(
        (err.headers()
            .map(|(n, v)| (n, v.to_string()))
            .collect::<Vec<_>>())
        .contains(&("x-credits-remaining", "0".to_owned()))
    );

    assert_eq!(f.keygate.add_credits(&key.record.id, 5).await.unwrap(), 5);
    assert!(f.call(&headers, &detect).await.is_ok());
    // Unlimited keys cannot be topped up.
    let unlimited = f.secret_key("acme").await;
    assert!(
        f.keygate
            .add_credits(&unlimited.record.id, 5)
            .await
            .is_err()
    );
    assert_eq!(f.keygate.credits(&unlimited.record).await.unwrap(), None);
}

// --- requests and combinations -----------------------------------------------------

#[tokio::test]
async fn repeated_or_conflicting_credential_headers_are_invalid_requests() {
    let f = Fixture::new();
    let a = f.secret_key("acme").await;
    let b = f.secret_key("acme").await;
    let mut request = get(&[]);
    for key in [&a, &b] {
        request
            .headers_mut()
            .append("authorization", bearer(key.key.expose()).parse().unwrap());
    }
    let err = f
        .keygate
        .authenticate(&request, &Access::authenticated())
        .await
        .unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (400, "invalid_request")
    );

    let both = f
        .call(
            &[
                ("authorization", &bearer(a.key.expose())),
                ("x-api-key", b.key.expose()),
            ],
            &Access::authenticated(),
        )
        .await;
    assert_eq!(code(both), "invalid_request");
    // The same key in both places is one credential.
    assert!(
        f.call(
            &[
                ("authorization", &bearer(a.key.expose())),
                ("x-api-key", a.key.expose()),
            ],
            &Access::authenticated(),
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn every_presented_credential_is_verified() {
    let f = Fixture::new();
    let token = f.token(TokenKind::Session, "lens:create").await;
    let wrong = PlatformSecret::generate().unwrap();
    // A valid token does not excuse a wrong secret beside it.
    let err = f
        .call(
            &[
                ("x-client-secret", wrong.expose()),
                ("authorization", &bearer(token.expose())),
            ],
            &lens(),
        )
        .await;
    assert_eq!(code(err), "invalid_secret_key");
}

#[tokio::test]
async fn the_secret_with_a_token_acts_with_the_token() {
    let f = Fixture::new();
    let operator = f.operator().await;
    let token = f
        .keygate
        .issue_token(
            &operator,
            TokenRequest {
                scopes: Some(ScopeSet::parse(["lens:create"]).unwrap()),
                catalogue_id: Some("cat_1".into()),
                ..TokenRequest::new(TokenKind::Session)
            },
        )
        .unwrap();
    let auth = bearer(token.expose());
    let grant = f
        .call(
            &[
                ("x-client-secret", f.secret.expose()),
                ("authorization", &auth),
            ],
            &lens(),
        )
        .await
        .unwrap();
    assert_eq!(grant.principal().method, AuthMethod::Token);
    assert_eq!(grant.principal().catalogue_id.as_deref(), Some("cat_1"));
    // …and so with the token's scope, not the operator's.
    let err = f
        .call(
            &[
                ("x-client-secret", f.secret.expose()),
                ("authorization", &auth),
            ],
            &Access::scoped("fill:create").unwrap(),
        )
        .await;
    assert_eq!(code(err), "insufficient_scope");

    // A tenant's key vouches only for its own tenant's tokens.
    let acme = f.secret_key("acme").await;
    let globex = f.secret_key("globex").await;
    let globex_principal = f
        .principal(
            &[("x-api-key", globex.key.expose())],
            &Access::authenticated(),
        )
        .await;
    let globex_token = f
        .keygate
        .issue_token(&globex_principal, scoped(TokenKind::Session, "lens:create"))
        .unwrap();
    let err = f
        .call(
            &[
                ("x-client-secret", acme.key.expose()),
                ("authorization", &bearer(globex_token.expose())),
            ],
            &lens(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (403, "tenant_mismatch")
    );
}

#[tokio::test]
async fn impersonation_is_for_keys_that_may_and_routes_that_allow_it() {
    let f = Fixture::new();
    let any = Access::authenticated();
    let sk = f.secret_key("acme").await;
    let grant = f
        .call(
            &[
                ("x-api-key", sk.key.expose()),
                ("x-on-behalf-of", "user_123"),
            ],
            &any,
        )
        .await
        .unwrap();
    let principal = grant.principal();
    assert_eq!(principal.subject.as_deref(), Some("user_123"));
    assert_eq!(principal.actor.as_deref(), Some(sk.record.id.as_str()));
    assert!(principal.is_impersonating());
    // …and a principal acting for a user may not mint.
    assert_eq!(
        f.keygate
            .issue_token(principal, TokenRequest::new(TokenKind::Session))
            .unwrap_err()
            .code(),
        "impersonation_forbidden"
    );

    let allowed_rk = f
        .key(NewKey {
            scopes: vec!["users:impersonate".into()],
            ..NewKey::new(KeyKind::Restricted, Environment::Live)
        })
        .await;
    let plain_rk = f
        .key(NewKey {
            scopes: vec!["read:users".into()],
            ..NewKey::new(KeyKind::Restricted, Environment::Live)
        })
        .await;
    let on_behalf = ("x-on-behalf-of", "user_123");
    assert!(
        f.call(&[("x-api-key", allowed_rk.key.expose()), on_behalf], &any)
            .await
            .is_ok()
    );
    let token = f.token(TokenKind::Session, "lens:create").await;
    for headers in [
        vec![("x-api-key", plain_rk.key.expose()), on_behalf],
        vec![("x-client-secret", f.secret.expose()), on_behalf],
    ] {
        let err = f.call(&headers, &any).await.unwrap_err();
        assert_eq!(
            (err.status().as_u16(), err.code()),
            (403, "impersonation_forbidden")
        );
    }
    let auth = bearer(token.expose());
    assert_eq!(
        code(
            f.call(&[("authorization", &auth), on_behalf], &lens())
                .await
        ),
        "impersonation_forbidden"
    );
    assert_eq!(
        code(
            f.call(
                &[("x-api-key", sk.key.expose()), on_behalf],
                &any.clone().forbid_impersonation()
            )
            .await
        ),
        "impersonation_forbidden"
    );
    assert_eq!(
        code(
            f.call(
                &[("x-client-secret", f.secret.expose()), on_behalf],
                &Access::admin()
            )
            .await
        ),
        "impersonation_forbidden"
    );
    assert_eq!(
        code(
            f.call(
                &[("x-api-key", sk.key.expose()), ("x-on-behalf-of", "a b")],
                &any
            )
            .await
        ),
        "invalid_request"
    );
    // A user id to act as is 1–128 of `[A-Za-z0-9._:@|-]`, so an Auth0 subject works.
    let grant = f
        .call(
            &[
                ("x-api-key", sk.key.expose()),
                ("x-on-behalf-of", "auth0|abc123"),
            ],
            &any,
        )
        .await
        .unwrap();
    assert_eq!(grant.principal().subject.as_deref(), Some("auth0|abc123"));
}

#[tokio::test]
async fn tenant_required_routes_refuse_credentials_without_a_tenant() {
    let f = Fixture::new();
    let route = Access::authenticated().require_tenant();
    let platform_key = f.key(NewKey::new(KeyKind::Secret, Environment::Live)).await;
    let err = f
        .call(&[("x-api-key", platform_key.key.expose())], &route)
        .await
        .unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (403, "tenant_required")
    );
    let acme = f.secret_key("acme").await;
    assert!(
        f.call(&[("x-api-key", acme.key.expose())], &route)
            .await
            .is_ok()
    );
    assert!(
        f.call(&[("x-client-secret", f.secret.expose())], &route)
            .await
            .is_ok(),
        "the operator acts for every tenant"
    );

    // An engine-wide requirement, with a per-route exemption.
    let g = Fixture::with(|b| b.require_tenant(true));
    let key = g.key(NewKey::new(KeyKind::Secret, Environment::Live)).await;
    let headers = [("x-api-key", key.key.expose())];
    assert_eq!(
        code(g.call(&headers, &Access::authenticated()).await),
        "tenant_required"
    );
    assert!(
        g.call(&headers, &Access::authenticated().tenant_optional())
            .await
            .is_ok()
    );
}

// --- client tokens -----------------------------------------------------------------

#[tokio::test]
async fn client_tokens_carry_their_parent_and_die_with_it() {
    let f = Fixture::new();
    let parent = f
        .key(NewKey {
            tenant: Some("acme".into()),
            rate_limit: Some(RateLimit::new(5, 60).unwrap()),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    let minter = f
        .principal(
            &[("x-api-key", parent.key.expose())],
            &Access::authenticated(),
        )
        .await;
    let mut metadata = keygate_core::key::Metadata::new();
    metadata.insert("origin".into(), "browser".into());
    let client = f
        .keygate
        .issue_token(
            &minter,
            TokenRequest {
                metadata,
                ..TokenRequest::new(TokenKind::Client)
            },
        )
        .unwrap();
    assert!(client.expose().starts_with("ek_"));
    assert_eq!(client.expires_in(), 600);

    let grant = f
        .call(
            &[("x-api-key", client.expose())],
            &Access::scoped("read:users").unwrap(),
        )
        .await
        .unwrap();
    let principal = grant.principal();
    assert_eq!(principal.method, AuthMethod::ClientToken);
    assert_eq!(principal.tenant.as_deref(), Some("acme"));
    assert_eq!(principal.metadata["origin"], "browser");
    // Charged to the parent's limit: 1 used by minting's authentication, 1 now.
    assert_eq!(grant.rate_limit().unwrap().remaining, 3);

    assert_eq!(
        code(
            f.call(
                &[("authorization", &bearer(client.expose()))],
                &Access::admin()
            )
            .await
        ),
        "secret_key_required"
    );
    f.keygate.revoke_key(&parent.record.id).await.unwrap();
    assert_eq!(
        code(
            f.call(&[("x-api-key", client.expose())], &Access::authenticated())
                .await
        ),
        "key_revoked"
    );
}

#[tokio::test]
async fn client_tokens_are_minted_only_by_secret_keys() {
    let f = Fixture::new();
    let token = f.token(TokenKind::Session, "*:*").await;
    let principal = f
        .call(
            &[("authorization", &bearer(token.expose()))],
            &Access::authenticated(),
        )
        .await
        .unwrap()
        .into_principal();
    let err = f
        .keygate
        .issue_token(&principal, TokenRequest::new(TokenKind::Client))
        .unwrap_err();
    assert_eq!(err.code(), "credential_not_accepted");
}

// --- peppers and failures ----------------------------------------------------------

#[tokio::test]
async fn keys_hashed_under_a_previous_pepper_still_work() {
    let f = Fixture::new();
    let key = f.secret_key("acme").await;
    let rotated = Keygate::builder()
        .pepper(pepper(2))
        .previous_pepper(pepper(1))
        .key_store(f.store.clone())
        .build()
        .unwrap();
    let request = get(&[("x-api-key", key.key.expose())]);
    assert!(
        rotated
            .authenticate(&request, &Access::authenticated())
            .await
            .is_ok()
    );
    let retired = Keygate::builder()
        .pepper(pepper(2))
        .key_store(f.store.clone())
        .build()
        .unwrap();
    assert_eq!(
        code(
            retired
                .authenticate(&request, &Access::authenticated())
                .await
        ),
        "invalid_api_key"
    );
}

#[tokio::test]
async fn a_store_that_is_down_fails_closed() {
    let f = Fixture::new();
    let key = f.secret_key("acme").await;
    let down = Keygate::builder()
        .pepper(pepper(1))
        .key_store(DownStore)
        .build()
        .unwrap();
    let err = down
        .authenticate(
            &get(&[("x-api-key", key.key.expose())]),
            &Access::authenticated(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (503, "auth_unavailable")
    );
    assert!(matches!(err, AuthError::AuthUnavailable(_)));
}

#[tokio::test]
async fn a_platform_secret_digest_must_name_a_known_pepper() {
    let secret = PlatformSecret::generate().unwrap();
    let digest = keygate_core::key::KeyHasher::new(&pepper(1)).digest(secret.expose());
    assert!(
        Keygate::builder()
            .pepper(pepper(2))
            .platform_secret_digest(digest)
            .build()
            .is_err()
    );
    let keygate = Keygate::builder()
        .pepper(pepper(2))
        .previous_pepper(pepper(1))
        .platform_secret_digest(digest)
        .build()
        .unwrap();
    let request = get(&[("x-client-secret", secret.expose())]);
    assert!(
        keygate
            .authenticate(&request, &Access::admin())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn principal_serializes_to_the_contract_shape() {
    let f = Fixture::new();
    let key = f
        .key(NewKey {
            tenant: Some("acme".into()),
            scopes: vec!["read:users".into()],
            ..NewKey::new(KeyKind::Restricted, Environment::Test)
        })
        .await;
    let grant = f
        .call(&[("x-api-key", key.key.expose())], &Access::authenticated())
        .await
        .unwrap();
    let json = serde_json::to_value(grant.principal()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "method": "api_key",
            "tenant": "acme",
            "subject": key.record.id.as_str(),
            "owner": null,
            "actor": null,
            "key_id": key.record.id.as_str(),
            "scopes": ["read:users"],
            "environment": "test",
            "user_reference": null,
            "catalogue_id": null,
            "metadata": {}
        })
    );
}

#[tokio::test]
async fn tampered_tokens_and_swapped_algorithms_are_invalid() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    let issuer = TokenIssuer::ed25519_generate().unwrap();
    let f = Fixture::with(|b| b.token_issuer(issuer.clone()));
    let token = f.token(TokenKind::Session, "lens:create").await;
    let text = token.expose();
    let parts: Vec<&str> = text.split('.').collect();
    let header: serde_json::Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    let kid = header["kid"].as_str().unwrap();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    payload["scope"] = "*".into();
    let wider = B64.encode(payload.to_string());

    // The payload changed under a valid signature.
    let tampered = format!("{}.{}.{}", parts[0], wider, parts[2]);
    // alg "none", with the genuine kid and typ.
    let none_header = B64.encode(format!(r#"{{"typ":"kg+jwt","alg":"none","kid":"{kid}"}}"#));
    let none = format!("{none_header}.{wider}.");
    // HS256 keyed with the public key: the classic algorithm confusion.
    let public_x = issuer.jwks().keys[0].clone();
    let x = match &public_x.algorithm {
        jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(p) => p.x.clone(),
        other => panic!("{other:?}"),
    };
    let hs_header = jsonwebtoken::Header {
        kid: Some(kid.to_owned()),
        typ: Some("kg+jwt".to_owned()),
        ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
    };
    let confused = jsonwebtoken::encode(
        &hs_header,
        &payload,
        &jsonwebtoken::EncodingKey::from_secret(x.as_bytes()),
    )
    .unwrap();
    // The same header, re-encoded with its fields in another order.
    let reordered = B64.encode(format!(r#"{{"kid":"{kid}","alg":"EdDSA","typ":"kg+jwt"}}"#));
    let reordered = format!("{reordered}.{}.{}", parts[1], parts[2]);

    for (name, forged) in [
        ("tampered", tampered),
        ("none", none),
        ("confused", confused),
        ("reordered", reordered),
        ("four segments", format!("{text}.x")),
    ] {
        assert!(issuer.verify(&forged, common::T0).is_err(), "{name}");
        let result = f
            .call(&[("authorization", &bearer(&forged))], &lens())
            .await;
        assert_eq!(code(result), "invalid_token", "{name}");
    }
    assert!(
        f.call(&[("authorization", &bearer(text))], &lens())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn settling_refunds_every_rejected_response_and_nothing_else() {
    let f = Fixture::new();
    let detect = Access::authenticated().cost(1);
    let key = f
        .key(NewKey {
            credits: Some(10),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    let headers = [("x-api-key", key.key.expose())];
    for (status, balance) in [
        (200, 9),
        (204, 8),
        (302, 7),
        (400, 7),
        (404, 7),
        (500, 7),
        (503, 7),
    ] {
        let mut grant = f.call(&headers, &detect).await.unwrap();
        f.keygate.settle(&mut grant, status).await.unwrap();
        assert_eq!(grant.credits_remaining(), Some(balance), "status {status}");
        assert_eq!(f.keygate.credits(&key.record).await.unwrap(), Some(balance));
    }
}

/// The HTTP contract: "a ONE_TIME token is consumed only by a request it is allowed to serve".
/// A request the handler refuses (any 4xx) did not spend it: settling gives the use back.
#[tokio::test]
async fn settling_a_4xx_gives_a_one_time_token_back() {
    let f = Fixture::new();
    let token = f.token(TokenKind::OneTime, "lens:create").await;
    let auth = bearer(token.expose());
    let headers = [("authorization", auth.as_str())];
    for status in [400, 401, 403, 404, 409, 413, 422, 429, 499] {
        let mut grant = f.call(&headers, &lens()).await.unwrap();
        assert!(grant.consumed_one_time_token());
        assert_eq!(
            code(f.call(&headers, &lens()).await),
            "token_used",
            "used while the handler runs"
        );
        f.keygate.settle(&mut grant, status).await.unwrap();
        assert!(!grant.consumed_one_time_token(), "status {status}");
    }
    // Served at last: used up.
    let mut grant = f.call(&headers, &lens()).await.unwrap();
    f.keygate.settle(&mut grant, 200).await.unwrap();
    assert!(grant.consumed_one_time_token());
    assert_eq!(code(f.call(&headers, &lens()).await), "token_used");
}

/// A 2xx or 3xx served the request; a 5xx may have acted before it failed. Either way a
/// one-time token stays used, so it can never be replayed after side effects.
#[tokio::test]
async fn a_one_time_token_stays_used_after_a_2xx_3xx_or_5xx() {
    let f = Fixture::new();
    for status in [100, 200, 201, 204, 302, 399, 500, 502, 503, 599] {
        let token = f.token(TokenKind::OneTime, "lens:create").await;
        let auth = bearer(token.expose());
        let headers = [("authorization", auth.as_str())];
        let mut grant = f.call(&headers, &lens()).await.unwrap();
        f.keygate.settle(&mut grant, status).await.unwrap();
        assert!(grant.consumed_one_time_token(), "status {status}");
        assert_eq!(
            code(f.call(&headers, &lens()).await),
            "token_used",
            "status {status}"
        );
    }
}

/// `finish` is `settle` for adapters: a 4xx answer gives the use back; a service that
/// failed without an answer (`None`) is a 5xx: it may have acted, the token stays used.
/// A refund alone never gives a token back.
#[tokio::test]
async fn finish_gives_a_one_time_token_back_only_for_a_4xx_answer() {
    let f = Fixture::new();
    let token = f.token(TokenKind::OneTime, "lens:create").await;
    let auth = bearer(token.expose());
    let headers = [("authorization", auth.as_str())];
    let mut grant = f.call(&headers, &lens()).await.unwrap();
    f.keygate.finish(&mut grant, Some(400)).await;
    assert!(!grant.consumed_one_time_token());

    let mut grant = f.call(&headers, &lens()).await.unwrap();
    f.keygate.refund(&mut grant).await.unwrap();
    assert!(grant.consumed_one_time_token(), "refund is credits only");
    assert_eq!(code(f.call(&headers, &lens()).await), "token_used");

    let other = f.token(TokenKind::OneTime, "lens:create").await;
    let auth = bearer(other.expose());
    let headers = [("authorization", auth.as_str())];
    let mut grant = f.call(&headers, &lens()).await.unwrap();
    f.keygate.finish(&mut grant, None).await;
    assert!(grant.consumed_one_time_token());
    assert_eq!(code(f.call(&headers, &lens()).await), "token_used");
    f.keygate.finish(&mut grant, Some(200)).await;
    assert_eq!(code(f.call(&headers, &lens()).await), "token_used");
}

/// A grant gives its token back at most once: settling it again after another request
/// has taken the token must not free that request's use.
#[tokio::test]
async fn a_grant_gives_a_one_time_token_back_once() {
    let f = Fixture::new();
    let token = f.token(TokenKind::OneTime, "lens:create").await;
    let auth = bearer(token.expose());
    let headers = [("authorization", auth.as_str())];
    let mut refused = f.call(&headers, &lens()).await.unwrap();
    f.keygate.settle(&mut refused, 422).await.unwrap();
    let mut served = f.call(&headers, &lens()).await.unwrap();
    f.keygate.settle(&mut refused, 422).await.unwrap();
    f.keygate.finish(&mut refused, Some(404)).await;
    assert_eq!(code(f.call(&headers, &lens()).await), "token_used");
    f.keygate.settle(&mut served, 200).await.unwrap();
    assert_eq!(code(f.call(&headers, &lens()).await), "token_used");
    // Session tokens and keys consume nothing, and settle nothing.
    let session = f.token(TokenKind::Session, "lens:create").await;
    let mut grant = f
        .call(&[("authorization", &bearer(session.expose()))], &lens())
        .await
        .unwrap();
    assert!(!grant.consumed_one_time_token());
    f.keygate.settle(&mut grant, 400).await.unwrap();
}

/// Two requests race with one token: one consumes it, the others get `token_used`. If
/// the winner's handler then answers 4xx, the token is usable again afterwards (once).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_requests_with_one_token_then_a_4xx_leave_it_usable() {
    let f = Fixture::new();
    let token = f.token(TokenKind::OneTime, "lens:create").await;
    let auth = bearer(token.expose());
    let race = || {
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let keygate = f.keygate.clone();
                let auth = auth.clone();
                tokio::spawn(async move {
                    keygate
                        .authenticate(&get(&[("authorization", &auth)]), &lens())
                        .await
                })
            })
            .collect();
        async move {
            let mut winners = Vec::new();
            for task in tasks {
                match task.await.unwrap() {
                    Ok(grant) => winners.push(grant),
                    Err(err) => assert_eq!(err.code(), "token_used"),
                }
            }
            assert_eq!(winners.len(), 1, "exactly one request consumes the token");
            winners.pop().unwrap()
        }
    };
    let mut first = race().await;
    f.keygate.settle(&mut first, 400).await.unwrap();
    let mut second = race().await;
    f.keygate.settle(&mut second, 201).await.unwrap();
    assert_eq!(
        code(f.call(&[("authorization", auth.as_str())], &lens()).await),
        "token_used"
    );
}

/// A failed release is like a failed refund: `settle` reports 503 and the grant keeps the
/// token for a retry; `finish` logs it and the answer stands. The token stays used
/// meanwhile (fail closed).
#[tokio::test]
async fn a_failed_release_leaves_the_token_used_and_can_be_retried() {
    let f = Fixture::with(|b| b.meter(GiveBacksFail::default()));
    let token = f.token(TokenKind::OneTime, "lens:create").await;
    let auth = bearer(token.expose());
    let headers = [("authorization", auth.as_str())];
    let mut grant = f.call(&headers, &lens()).await.unwrap();
    let err = f.keygate.settle(&mut grant, 400).await.unwrap_err();
    assert_eq!(err.code(), "auth_unavailable");
    assert!(grant.consumed_one_time_token(), "kept for a retry");
    f.keygate.finish(&mut grant, Some(400)).await;
    assert!(grant.consumed_one_time_token());
    assert_eq!(code(f.call(&headers, &lens()).await), "token_used");
}

#[tokio::test]
async fn racing_rotations_leave_one_successor() {
    let f = Fixture::new();
    let key = f.secret_key("acme").await;
    let (a, b) = tokio::join!(
        f.keygate.rotate_key(&key.record.id, Duration::minutes(5)),
        f.keygate.rotate_key(&key.record.id, Duration::minutes(5)),
    );
    assert_eq!(usize::from(a.is_ok()) + usize::from(b.is_ok()), 1);
    assert_eq!(
        f.keygate
            .list_keys(Some("acme"), None, 100)
            .await
            .unwrap()
            .keys
            .len(),
        2
    );

    let revoked = f.secret_key("acme").await;
    f.keygate.revoke_key(&revoked.record.id).await.unwrap();
    let err = f
        .keygate
        .rotate_key(&revoked.record.id, Duration::ZERO)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "a revoked key cannot be rotated");

    let expiring = f
        .key(NewKey {
            expires_at: Some(common::T0 + Duration::minutes(1)),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    f.clock.advance(Duration::minutes(1));
    let err = f
        .keygate
        .rotate_key(&expiring.record.id, Duration::ZERO)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("an expired key cannot be rotated")
    );
}

#[tokio::test]
async fn tokens_survive_a_pepper_rotation() {
    let f = Fixture::new();
    let token = f.token(TokenKind::Session, "lens:create").await;
    let rotated = Keygate::builder()
        .pepper(pepper(2))
        .previous_pepper(pepper(1))
        .clock(f.clock.clone())
        .build()
        .unwrap();
    let request = get(&[("authorization", &bearer(token.expose()))]);
    assert!(rotated.authenticate(&request, &lens()).await.is_ok());
}

#[tokio::test]
async fn a_token_never_outlives_the_key_that_mints_it() {
    let f = Fixture::new();
    let key = f
        .key(NewKey {
            expires_at: Some(common::T0 + Duration::minutes(2)),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    let minter = f
        .principal(&[("x-api-key", key.key.expose())], &Access::authenticated())
        .await;
    let token = f
        .keygate
        .issue_token(
            &minter,
            TokenRequest {
                scopes: Some(ScopeSet::parse(["lens:create"]).unwrap()),
                lifetime: Some(Duration::minutes(60)),
                ..TokenRequest::new(TokenKind::Session)
            },
        )
        .unwrap();
    assert_eq!(token.expires_in(), 120);

    // A key in its rotation grace mints tokens that end with the grace.
    let rotating = f.secret_key("acme").await;
    f.keygate
        .rotate_key(&rotating.record.id, Duration::minutes(3))
        .await
        .unwrap();
    let minter = f
        .principal(
            &[("x-api-key", rotating.key.expose())],
            &Access::authenticated(),
        )
        .await;
    let token = f
        .keygate
        .issue_token(&minter, TokenRequest::new(TokenKind::Client))
        .unwrap();
    assert_eq!(token.expires_in(), 180);
}

#[tokio::test]
async fn a_token_sent_in_both_headers_is_one_token() {
    let f = Fixture::new();
    let token = f.token(TokenKind::OneTime, "lens:create").await;
    let auth = bearer(token.expose());
    let headers = [
        ("authorization", auth.as_str()),
        ("x-api-key", token.expose()),
    ];
    assert!(f.call(&headers, &lens()).await.is_ok());
    assert_eq!(code(f.call(&headers, &lens()).await), "token_used");
}

#[tokio::test]
async fn a_wrong_secret_is_reported_before_a_refused_impersonation() {
    let f = Fixture::new();
    let wrong = PlatformSecret::generate().unwrap();
    let err = f
        .call(
            &[
                ("x-client-secret", wrong.expose()),
                ("x-on-behalf-of", "user_1"),
            ],
            &Access::admin(),
        )
        .await;
    assert_eq!(code(err), "invalid_secret_key");
}

#[tokio::test]
async fn a_credential_about_to_expire_cannot_mint() {
    let f = Fixture::new();
    // The key ends 300 ms from now: a token from it would be born expired.
    let key = f
        .key(NewKey {
            expires_at: Some(common::T0 + Duration::milliseconds(1300)),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    f.clock.advance(Duration::seconds(1));
    let minter = f
        .principal(&[("x-api-key", key.key.expose())], &Access::authenticated())
        .await;
    let err = f
        .keygate
        .issue_token(&minter, TokenRequest::new(TokenKind::Client))
        .unwrap_err();
    assert_eq!(err.code(), "invalid_request");
}

/// A meter whose give-backs (refunds, one-time releases) fail: the grant must keep what
/// it could not give back, for a retry.
#[derive(Debug, Default)]
struct GiveBacksFail(keygate_core::MemoryMeter);

#[async_trait::async_trait]
impl keygate_core::Meter for GiveBacksFail {
    async fn meter(
        &self,
        request: &keygate_core::meter::MeterRequest<'_>,
    ) -> Result<keygate_core::meter::MeterDecision, keygate_core::StoreError> {
        self.0.meter(request).await
    }
    async fn settle(
        &self,
        _: &keygate_core::meter::Settlement<'_>,
    ) -> Result<(), keygate_core::StoreError> {
        Err(keygate_core::StoreError::corrupt(
            "refunds and releases are down",
        ))
    }
    async fn add_credits(
        &self,
        account: keygate_core::meter::CreditAccount<'_>,
        amount: u64,
        seed: keygate_core::meter::CreditSeed,
        now: time::OffsetDateTime,
    ) -> Result<u64, keygate_core::StoreError> {
        self.0.add_credits(account, amount, seed, now).await
    }
    async fn credits(
        &self,
        account: keygate_core::meter::CreditAccount<'_>,
        seed: keygate_core::meter::CreditSeed,
        now: time::OffsetDateTime,
    ) -> Result<Option<keygate_core::meter::CreditBalance>, keygate_core::StoreError> {
        self.0.credits(account, seed, now).await
    }
    async fn set_refill(
        &self,
        account: keygate_core::meter::CreditAccount<'_>,
        refill: Option<keygate_core::account::Refill>,
        now: time::OffsetDateTime,
    ) -> Result<Option<keygate_core::meter::CreditBalance>, keygate_core::StoreError> {
        self.0.set_refill(account, refill, now).await
    }
}

#[tokio::test]
async fn a_failed_refund_can_be_retried() {
    let f = Fixture::with(|b| b.meter(GiveBacksFail::default()));
    let key = f
        .key(NewKey {
            credits: Some(3),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    let mut grant = f
        .call(
            &[("x-api-key", key.key.expose())],
            &Access::authenticated().cost(1),
        )
        .await
        .unwrap();
    let err = f.keygate.settle(&mut grant, 500).await.unwrap_err();
    assert_eq!(err.code(), "auth_unavailable");
    assert!(grant.is_charged(), "the debit stays for a retry");
    assert_eq!(grant.credits_remaining(), Some(2));
}

#[tokio::test]
async fn the_authenticate_future_is_send_for_any_request_type() {
    fn assert_send<T: Send>(_: &T) {}
    let f = Fixture::new();
    // A request whose body is not `Sync`, as axum's is not.
    let mut request = http::Request::new(std::cell::Cell::new(0u8));
    request
        .headers_mut()
        .insert("x-client-secret", f.secret.expose().parse().unwrap());
    let admin = Access::admin();
    let future = f.keygate.authenticate(&request, &admin);
    assert_send(&future);
    assert!(future.await.unwrap().principal().is_operator());
    let optional = f.keygate.authenticate_optional(&request, &admin);
    assert_send(&optional);
    assert!(optional.await.unwrap().is_some());
}

#[tokio::test]
async fn optional_authentication_passes_the_anonymous_but_not_the_invalid() {
    let f = Fixture::new();
    let any = Access::authenticated();
    let anonymous = get(&[]);
    assert!(
        f.keygate
            .authenticate_optional(&anonymous, &any)
            .await
            .unwrap()
            .is_none()
    );
    let only_on_behalf = get(&[("x-on-behalf-of", "user_1")]);
    assert!(
        f.keygate
            .authenticate_optional(&only_on_behalf, &any)
            .await
            .unwrap()
            .is_none()
    );
    let wrong = get(&[("x-api-key", "sk_live_wrong")]);
    let err = f
        .keygate
        .authenticate_optional(&wrong, &any)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_api_key");
    let twice = {
        let mut r = get(&[("x-api-key", "a")]);
        r.headers_mut().append("x-api-key", "b".parse().unwrap());
        r
    };
    assert_eq!(
        f.keygate
            .authenticate_optional(&twice, &any)
            .await
            .unwrap_err()
            .code(),
        "invalid_request"
    );
}

#[tokio::test]
async fn errors_and_grants_render_onto_http_responses() {
    let f = Fixture::new();
    let key = f
        .key(NewKey {
            rate_limit: Some(RateLimit::new(1, 60).unwrap()),
            credits: Some(5),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    let headers = [("x-api-key", key.key.expose())];
    let grant = f
        .call(&headers, &Access::authenticated().cost(2))
        .await
        .unwrap();
    let mut response = http::Response::new(());
    grant.apply_headers(response.headers_mut());
    let h = response.headers();
    assert_eq!(h["x-ratelimit-limit"], "1");
    assert_eq!(h["x-ratelimit-remaining"], "0");
    assert_eq!(h["x-credits-remaining"], "3");

    let err = f
        .call(&headers, &Access::authenticated())
        .await
        .unwrap_err();
    let response: http::Response<String> = err.to_response();
    assert_eq!(response.status(), 429);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(response.headers()["retry-after"], "60");
    assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
    let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["status"], 429);
}

#[test]
fn a_principal_built_outside_the_engine_holds_nothing_by_default() {
    let principal = keygate_core::Principal::new(AuthMethod::OAuth);
    assert!(principal.scopes.is_empty());
    assert!(!principal.is_operator());
    assert!(!principal.may_manage(Some("acme")));
    let json = serde_json::to_value(&principal).unwrap();
    assert_eq!(json["method"], "oauth");
    assert_eq!(json["tenant"], serde_json::Value::Null);
}

#[tokio::test]
async fn key_lists_come_in_bounded_pages_of_one_tenant() {
    let f = Fixture::new();
    let mut acme = Vec::new();
    for _ in 0..3 {
        acme.push(f.secret_key("acme").await.record.id.clone());
        f.clock.advance(time::Duration::seconds(1));
    }
    let globex = f.secret_key("globex").await.record.id.clone();

    let first = f.keygate.list_keys(Some("acme"), None, 2).await.unwrap();
    assert!(first.has_more);
    let rest = f
        .keygate
        .list_keys(Some("acme"), Some(&first.keys[1].id), 2)
        .await
        .unwrap();
    assert!(!rest.has_more);
    let walked: Vec<_> = first
        .keys
        .iter()
        .chain(&rest.keys)
        .map(|k| k.id.clone())
        .collect();
    assert_eq!(walked, acme);

    for limit in [0, keygate_core::MAX_LIST_LIMIT + 1] {
        let err = f.keygate.list_keys(None, None, limit).await.unwrap_err();
        assert!(err.to_string().starts_with("limit:"), "{err}");
    }
    // A cursor from another tenant's listing, or no key at all, is refused: it would
    // otherwise reveal where that key sits in time.
    for cursor in [globex, keygate_core::key::KeyId::new("key_nope")] {
        let err = f
            .keygate
            .list_keys(Some("acme"), Some(&cursor), 10)
            .await
            .unwrap_err();
        assert!(err.to_string().starts_with("starting_after:"), "{err}");
    }
}

#[tokio::test]
async fn a_one_time_token_mints_one_time_tokens_only() {
    let f = Fixture::new();
    let minter = f.token(TokenKind::OneTime, "*:*").await;
    let request = http::Request::post("/api/v1/token")
        .header("authorization", format!("Bearer {}", minter.expose()))
        .body(())
        .unwrap();
    let principal = f
        .keygate
        .authenticate(&request, &Access::scoped("token:create").unwrap())
        .await
        .unwrap()
        .into_principal();
    let session = f.keygate.issue_token(
        &principal,
        TokenRequest {
            scopes: Some(ScopeSet::parse(["lens:create"]).unwrap()),
            ..TokenRequest::new(TokenKind::Session)
        },
    );
    let err = session.unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    assert!(err.to_string().contains("one-time"), "{err}");
    let one_time = f.keygate.issue_token(
        &principal,
        TokenRequest {
            scopes: Some(ScopeSet::parse(["lens:create"]).unwrap()),
            ..TokenRequest::new(TokenKind::OneTime)
        },
    );
    assert!(one_time.is_ok());
}
