//! The tenant rules, enforced by `Keygate::admin` (`KeyAdmin`) whatever the application's
//! handler does; impersonation granted by name only; operator-only routes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{Fixture, bearer, code};
use keygate_core::key::{KeyId, KeyKind, NewKey};
use keygate_core::token::TokenKind;
use keygate_core::{Access, AdminError, Clock, CreatedKey, Environment, Principal};
use time::Duration;

/// The code of a `KeyAdmin` refusal.
fn refusal<T: std::fmt::Debug>(result: Result<T, AdminError>) -> &'static str {
    match result {
        Err(AdminError::Refused(error)) => error.code(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn not_found<T: std::fmt::Debug>(result: Result<T, AdminError>) {
    assert!(
        matches!(result, Err(AdminError::NotFound)),
        "expected NotFound, got {result:?}"
    );
}

fn new_key(tenant: Option<&str>, environment: Environment) -> NewKey {
    NewKey {
        tenant: tenant.map(str::to_owned),
        ..NewKey::new(KeyKind::Secret, environment)
    }
}

/// What a user's app gets from `Access::admin()` for `key` in `x-client-secret`.
async fn admin_principal(f: &Fixture, key: &CreatedKey) -> Principal {
    f.principal(&[("x-client-secret", key.key.expose())], &Access::admin())
        .await
}

/// The user's scenario from issue 17: an app built from the docs (`Access::admin()` +
/// `KeyAdmin`, no checks of its own) lets tenant acme's sk_ key ask for a key of globex.
#[tokio::test]
async fn a_tenant_key_cannot_create_a_key_for_another_tenant_through_key_admin() {
    let f = Fixture::new();
    let acme = f.secret_key("acme").await;
    let principal = admin_principal(&f, &acme).await;
    let admin = f.keygate.admin(&principal);
    assert_eq!(
        refusal(
            admin
                .create_key(new_key(Some("globex"), Environment::Live))
                .await
        ),
        "tenant_forbidden"
    );
    let globex = f.keygate.list_keys(Some("globex"), None, 10).await.unwrap();
    assert!(globex.keys.is_empty(), "no key was made for globex");
    // Without a tenant, the key is acme's; naming acme works too.
    for asked in [None, Some("acme")] {
        let made = admin
            .create_key(new_key(asked, Environment::Live))
            .await
            .unwrap();
        assert_eq!(made.record.tenant.as_deref(), Some("acme"));
    }
    // The operator names any tenant.
    let operator = f.operator().await;
    let made = f
        .keygate
        .admin(&operator)
        .create_key(new_key(Some("globex"), Environment::Live))
        .await
        .unwrap();
    assert_eq!(made.record.tenant.as_deref(), Some("globex"));
}

#[tokio::test]
async fn a_tenant_key_sees_and_changes_only_its_tenant() {
    let f = Fixture::new();
    let acme = f.secret_key("acme").await;
    let globex = f.secret_key("globex").await;
    let no_tenant = f.key(new_key(None, Environment::Live)).await;
    let principal = admin_principal(&f, &acme).await;
    let admin = f.keygate.admin(&principal);
    for other in [&globex, &no_tenant] {
        let id = &other.record.id;
        not_found(admin.get_key(id).await);
        not_found(admin.revoke_key(id).await);
        not_found(admin.rotate_key(id, Duration::ZERO).await);
    }
    not_found(admin.get_key(&KeyId::new("key_doesnotexist")).await);
    assert!(
        f.keygate
            .get_key(&globex.record.id)
            .await
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert_eq!(
        refusal(admin.list_keys(Some("globex"), None, 10).await),
        "tenant_forbidden"
    );
    let listed = admin.list_keys(None, None, 10).await.unwrap();
    assert_eq!(listed.keys.len(), 1);
    assert_eq!(listed.keys[0].id, acme.record.id);
    assert_eq!(
        admin.get_key(&acme.record.id).await.unwrap().id,
        acme.record.id
    );

    // A secret key of no tenant manages nothing.
    let platform_key = admin_principal(&f, &no_tenant).await;
    let admin = f.keygate.admin(&platform_key);
    assert_eq!(
        refusal(admin.create_key(new_key(None, Environment::Live)).await),
        "tenant_forbidden"
    );
    assert_eq!(
        refusal(admin.list_keys(None, None, 10).await),
        "tenant_forbidden"
    );
    not_found(admin.get_key(&no_tenant.record.id).await);
}

#[tokio::test]
async fn a_test_key_cannot_touch_live_keys() {
    let f = Fixture::new();
    let test = f.key(new_key(Some("acme"), Environment::Test)).await;
    let live = f.secret_key("acme").await;
    let principal = admin_principal(&f, &test).await;
    let admin = f.keygate.admin(&principal);
    assert_eq!(
        refusal(admin.create_key(new_key(None, Environment::Live)).await),
        "environment_forbidden"
    );
    assert_eq!(
        refusal(admin.revoke_key(&live.record.id).await),
        "environment_forbidden"
    );
    assert_eq!(
        refusal(admin.rotate_key(&live.record.id, Duration::ZERO).await),
        "environment_forbidden"
    );
    // It reads live keys, and manages test keys.
    admin.get_key(&live.record.id).await.unwrap();
    let made = admin
        .create_key(new_key(None, Environment::Test))
        .await
        .unwrap();
    admin.revoke_key(&made.record.id).await.unwrap();
}

/// A leaked key that was rotated cannot lock out its successor, nor give itself more.
#[tokio::test]
async fn a_key_in_its_rotation_grace_makes_no_admin_change() {
    let f = Fixture::new();
    let old = f.secret_key("acme").await;
    let other = f.secret_key("acme").await;
    // Authenticated before the rotation: the rule holds for a principal held across it.
    let before = admin_principal(&f, &old).await;
    let successor = f
        .keygate
        .rotate_key(&old.record.id, Duration::hours(1))
        .await
        .unwrap();
    let after = admin_principal(&f, &old).await;
    for principal in [&before, &after] {
        let admin = f.keygate.admin(principal);
        assert_eq!(
            refusal(admin.revoke_key(&successor.record.id).await),
            "expiring_credential"
        );
        assert_eq!(
            refusal(admin.revoke_key(&other.record.id).await),
            "expiring_credential"
        );
        assert_eq!(
            refusal(admin.create_key(new_key(None, Environment::Live)).await),
            "expiring_credential"
        );
        assert_eq!(
            refusal(admin.rotate_key(&successor.record.id, Duration::ZERO).await),
            "expiring_credential"
        );
        // Credits take the platform secret, checked first.
        assert_eq!(
            refusal(admin.add_credits(&successor.record.id, 5).await),
            "operator_required"
        );
        assert_eq!(
            refusal(
                admin
                    .create_key(NewKey {
                        credits: Some(5),
                        ..new_key(None, Environment::Live)
                    })
                    .await
            ),
            "operator_required"
        );
        // Reading is allowed.
        admin.get_key(&successor.record.id).await.unwrap();
        admin.list_keys(None, None, 10).await.unwrap();
    }
    let successor_now = f.keygate.get_key(&successor.record.id).await.unwrap();
    assert!(
        successor_now.revoked_at.is_none(),
        "the successor still works"
    );
    // The successor itself manages keys.
    let fresh = admin_principal(&f, &successor).await;
    f.keygate
        .admin(&fresh)
        .revoke_key(&old.record.id)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_key_with_an_expiry_cannot_rotate_nor_make_a_key_that_outlives_it() {
    let f = Fixture::new();
    let ends = f.clock.now() + Duration::days(30);
    let expiring = f
        .key(NewKey {
            expires_at: Some(ends),
            ..new_key(Some("acme"), Environment::Live)
        })
        .await;
    let other = f.secret_key("acme").await;
    let principal = admin_principal(&f, &expiring).await;
    let admin = f.keygate.admin(&principal);
    assert_eq!(
        refusal(admin.rotate_key(&other.record.id, Duration::ZERO).await),
        "expiring_credential"
    );
    assert_eq!(
        refusal(admin.rotate_key(&expiring.record.id, Duration::ZERO).await),
        "expiring_credential"
    );
    let sooner = f.clock.now() + Duration::days(1);
    for (asked, made) in [
        (None, ends),
        (Some(ends + Duration::days(365)), ends),
        (Some(sooner), sooner),
    ] {
        let created = admin
            .create_key(NewKey {
                expires_at: asked,
                ..new_key(None, Environment::Live)
            })
            .await
            .unwrap();
        assert_eq!(created.record.expires_at, Some(made), "asked {asked:?}");
    }
    // It can still revoke its tenant's keys.
    admin.revoke_key(&other.record.id).await.unwrap();
}

#[tokio::test]
async fn only_the_platform_secret_creates_credits() {
    let f = Fixture::new();
    let acme = f.secret_key("acme").await;
    let metered = f
        .key(NewKey {
            credits: Some(3),
            ..new_key(Some("acme"), Environment::Live)
        })
        .await;
    let principal = admin_principal(&f, &acme).await;
    let admin = f.keygate.admin(&principal);
    assert_eq!(
        refusal(admin.add_credits(&metered.record.id, 1_000_000_000).await),
        "operator_required"
    );
    assert_eq!(
        refusal(
            admin
                .create_key(NewKey {
                    credits: Some(1_000_000_000),
                    ..new_key(None, Environment::Live)
                })
                .await
        ),
        "operator_required"
    );
    // Before the tenant check too: credits are never the tenant's to make.
    assert_eq!(
        refusal(
            admin
                .create_key(NewKey {
                    credits: Some(1),
                    ..new_key(Some("globex"), Environment::Live)
                })
                .await
        ),
        "operator_required"
    );
    assert_eq!(
        f.keygate.credits(&metered.record).await.unwrap(),
        Some(3),
        "no credit was added"
    );
    let operator = f.operator().await;
    let admin = f.keygate.admin(&operator);
    assert_eq!(admin.add_credits(&metered.record.id, 2).await.unwrap(), 5);
    let made = admin
        .create_key(NewKey {
            credits: Some(10),
            ..new_key(Some("acme"), Environment::Live)
        })
        .await
        .unwrap();
    assert_eq!(made.record.credits, Some(10));
}

/// Only the operator and a tenant's sk_ key administer keys, whatever route the app put
/// `KeyAdmin` behind; the acting key is judged as the store has it now.
#[tokio::test]
async fn other_principals_are_refused() {
    let f = Fixture::new();
    let acme = f.secret_key("acme").await;
    let restricted = f
        .key(NewKey {
            tenant: Some("acme".into()),
            scopes: vec!["*".into()],
            ..NewKey::new(KeyKind::Restricted, Environment::Live)
        })
        .await;
    let any = Access::authenticated();
    let rk = f
        .principal(&[("x-api-key", restricted.key.expose())], &any)
        .await;
    let token = f.token(TokenKind::Session, "*").await;
    let by_token = f
        .principal(&[("authorization", &bearer(token.expose()))], &any)
        .await;
    for principal in [&rk, &by_token] {
        let admin = f.keygate.admin(principal);
        assert_eq!(
            refusal(admin.create_key(new_key(None, Environment::Live)).await),
            "secret_key_required"
        );
        assert_eq!(
            refusal(admin.list_keys(None, None, 10).await),
            "secret_key_required"
        );
    }
    // An sk_ key on another route is still an sk_ key, unless it acts for a user.
    let sk = f.principal(&[("x-api-key", acme.key.expose())], &any).await;
    f.keygate
        .admin(&sk)
        .list_keys(None, None, 10)
        .await
        .unwrap();
    let acting = f
        .principal(
            &[
                ("x-api-key", acme.key.expose()),
                ("x-on-behalf-of", "user_1"),
            ],
            &any,
        )
        .await;
    assert_eq!(
        refusal(f.keygate.admin(&acting).list_keys(None, None, 10).await),
        "impersonation_forbidden"
    );
    // Revoked since the request was authenticated.
    let principal = admin_principal(&f, &acme).await;
    f.keygate.revoke_key(&acme.record.id).await.unwrap();
    assert_eq!(
        refusal(
            f.keygate
                .admin(&principal)
                .create_key(new_key(None, Environment::Live))
                .await
        ),
        "key_revoked"
    );
}

/// `users:impersonate` must be granted by name: `*`, `users:*` and `*:*` do not grant it.
#[tokio::test]
async fn wildcard_scopes_do_not_grant_impersonation() {
    let f = Fixture::new();
    let any = Access::authenticated();
    let on_behalf = ("x-on-behalf-of", "user_123");
    for (kind, scopes) in [
        (KeyKind::Restricted, vec!["*"]),
        (KeyKind::Restricted, vec!["users:*"]),
        (KeyKind::Restricted, vec!["*:*"]),
        (KeyKind::Restricted, vec!["*:impersonate", "read:users"]),
        (KeyKind::Custom, vec!["*"]),
    ] {
        let key = f
            .key(NewKey {
                tenant: Some("acme".into()),
                prefix: (kind == KeyKind::Custom).then(|| "bijou_".to_owned()),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                ..NewKey::new(kind, Environment::Live)
            })
            .await;
        // Custom keys travel in X-API-Key only.
        let headers: &[&str] = match kind {
            KeyKind::Custom => &["x-api-key"],
            _ => &["x-api-key", "authorization"],
        };
        for &header in headers {
            let value = match header {
                "authorization" => bearer(key.key.expose()),
                _ => key.key.expose().to_owned(),
            };
            assert_eq!(
                code(f.call(&[(header, &value), on_behalf], &any).await),
                "impersonation_forbidden",
                "{kind:?} with {scopes:?} in {header}"
            );
        }
        // Without X-On-Behalf-Of the key works.
        assert!(
            f.call(&[("x-api-key", key.key.expose())], &any)
                .await
                .is_ok()
        );
    }
    // By name it works, for restricted and custom keys alike; sk_ keys always may.
    for kind in [KeyKind::Restricted, KeyKind::Custom] {
        let key = f
            .key(NewKey {
                tenant: Some("acme".into()),
                prefix: (kind == KeyKind::Custom).then(|| "bijou_".to_owned()),
                scopes: vec!["users:impersonate".into()],
                ..NewKey::new(kind, Environment::Live)
            })
            .await;
        let principal = f
            .principal(&[("x-api-key", key.key.expose()), on_behalf], &any)
            .await;
        assert_eq!(principal.subject.as_deref(), Some("user_123"));
    }
    let sk = f.secret_key("acme").await;
    let principal = f
        .principal(&[("x-api-key", sk.key.expose()), on_behalf], &any)
        .await;
    assert_eq!(principal.actor.as_deref(), Some(sk.record.id.as_str()));
}

#[tokio::test]
async fn operator_only_routes_take_the_platform_secret_alone() {
    let f = Fixture::new();
    let route = Access::operator();
    let operator = f
        .principal(&[("x-client-secret", f.secret.expose())], &route)
        .await;
    assert!(operator.is_operator());
    let acme = f.secret_key("acme").await;
    let err = f
        .call(&[("x-client-secret", acme.key.expose())], &route)
        .await
        .unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (403, "operator_required")
    );
    assert_eq!(err.www_authenticate(), None);
    // Anything else is refused unverified, unconsumed, as on every admin route.
    let token = f.token(TokenKind::OneTime, "lens:create").await;
    for headers in [
        vec![("x-api-key", acme.key.expose().to_owned())],
        vec![("authorization", bearer(token.expose()))],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(code(f.call(&headers, &route).await), "secret_key_required");
    }
    let lens = Access::scoped("lens:create").unwrap();
    assert!(
        f.call(&[("authorization", &bearer(token.expose()))], &lens)
            .await
            .is_ok(),
        "the one-time token was not consumed"
    );
    // A wrong secret is still a wrong secret.
    assert_eq!(
        code(
            f.call(
                &[("x-client-secret", "not-the-platform-secret-at-all")],
                &route
            )
            .await
        ),
        "invalid_secret_key"
    );
}

/// An application's own admin resources follow the same rules through
/// `KeyAdmin::authorize_change`.
#[tokio::test]
async fn authorize_change_applies_the_rules_to_an_apps_own_resources() {
    let f = Fixture::new();
    let acme = f.secret_key("acme").await;
    let principal = admin_principal(&f, &acme).await;
    let admin = f.keygate.admin(&principal);
    assert_eq!(
        admin.authorize_change(None).await.unwrap().as_deref(),
        Some("acme")
    );
    assert_eq!(
        refusal(admin.authorize_change(Some("globex")).await),
        "tenant_forbidden"
    );
    f.keygate
        .rotate_key(&acme.record.id, Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        refusal(admin.authorize_change(Some("acme")).await),
        "expiring_credential"
    );
    let operator = f.operator().await;
    assert_eq!(
        f.keygate
            .admin(&operator)
            .authorize_change(Some("globex"))
            .await
            .unwrap()
            .as_deref(),
        Some("globex")
    );
}
