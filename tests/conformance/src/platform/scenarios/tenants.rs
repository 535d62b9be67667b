//! contract.md, "Tenants, user JWTs, publishable keys, impersonation": the LLM gateway
//! (a tenant required), organisation creation (a user, tenant or not), publishable keys
//! paired with user JWTs, and `X-On-Behalf-Of`.

use http::Method;
use serde_json::{Value, json};

use super::REJECTED;
use crate::platform::{ADMIN_KEYS, Database, Platform, PlatformAdapter, TOKEN, text};

const GATEWAY: &str = "/api/v1/llm/gateway/chat";
const ORGS: &str = "/api/v1/orgs/create";

/// Asserts a 200 from the gateway for `method` and returns its principal.
fn gateway_principal(reply: &crate::harness::Reply) -> Value {
    reply.assert_ok();
    let body = reply.json();
    assert_eq!(body["method"], "chat", "{body}");
    body["principal"].clone()
}

/// A user JWT whose tenant claim is set opens the gateway as that user of that tenant;
/// the tenant may also come from `firebase.tenant`.
pub async fn gateway_with_user_jwt<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let jwt = p.users.of_tenant("user_1", "acme");
    let reply = p.post(GATEWAY).bearer(&jwt).send().await;
    let principal = gateway_principal(&reply);
    assert_eq!(principal["method"], "jwt");
    assert_eq!(principal["tenant"], "acme");
    assert_eq!(principal["subject"], "user_1");
    assert_eq!(principal["actor"], Value::Null);
    assert_eq!(principal["key_id"], Value::Null);
    assert_eq!(principal["environment"], Value::Null);
    assert!(!reply.body.contains(&jwt));

    // Any gateway method is answered with its name.
    let reply = p
        .post("/api/v1/llm/gateway/embeddings")
        .bearer(&jwt)
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.json()["method"], "embeddings");

    let firebase = p.users.jwt(
        "user_2",
        json!({"firebase": {"tenant": "globex", "sign_in_provider": "password"}}),
    );
    let reply = p.post(GATEWAY).bearer(&firebase).send().await;
    assert_eq!(gateway_principal(&reply)["tenant"], "globex");

    // Scopes come from the token's `scope` claim.
    let scoped = p.users.jwt(
        "user_3",
        json!({"tenant_id": "acme", "scope": "read:users write:orders"}),
    );
    let reply = p.post(GATEWAY).bearer(&scoped).send().await;
    assert_eq!(
        gateway_principal(&reply)["scopes"],
        json!(["read:users", "write:orders"])
    );
}

/// A user JWT without a tenant: 403 `tenant_required` on the gateway.
pub async fn gateway_needs_a_tenant<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let jwt = p.users.jwt("user_1", json!({}));
    p.post(GATEWAY)
        .bearer(&jwt)
        .send()
        .await
        .assert_problem(403, "tenant_required");
    // A key of no tenant is refused alike; the operator acts for every tenant.
    let untenanted = p.create_key(json!({"kind": "secret"})).await;
    p.post(GATEWAY)
        .bearer(text(&untenanted, "key"))
        .send()
        .await
        .assert_problem(403, "tenant_required");
    let reply = p.admin(Method::POST, GATEWAY).send().await;
    assert_eq!(gateway_principal(&reply)["method"], "secret_key");
}

/// An `sk_` key opens the gateway with its tenant: as a bearer, in `X-API-Key`, or in
/// `x-client-secret`.
pub async fn gateway_with_secret_key<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let key = p.secret_key("acme").await;
    let secret = text(&key, "key");
    for (header, value, method) in [
        ("authorization", format!("Bearer {secret}"), "api_key"),
        ("x-api-key", secret.to_owned(), "api_key"),
        ("x-client-secret", secret.to_owned(), "secret_key"),
    ] {
        let reply = p.post(GATEWAY).header(header, &value).send().await;
        let principal = gateway_principal(&reply);
        assert_eq!(principal["method"], method, "{header}");
        assert_eq!(principal["tenant"], "acme");
        assert_eq!(principal["key_id"], key["id"]);
        assert!(!reply.body.contains(secret));
    }
}

/// A user JWT that is forged, expired, for another audience or issuer, or not a JWT
/// the platform trusts: 401, with the `invalid_token` challenge.
pub async fn gateway_refuses_bad_user_jwts<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let jwt = p.users.of_tenant("user_1", "acme");
    // Another key signed it (same kid).
    let forger = crate::platform::users::Users::new(9, p.clock.clone());
    let forged = forger.of_tenant("user_1", "acme");
    for (token, code) in [
        (forged, "invalid_token"),
        (
            p.users.jwt(
                "user_1",
                json!({"tenant_id": "acme", "aud": "someone-else"}),
            ),
            "invalid_token",
        ),
        (
            p.users.jwt(
                "user_1",
                json!({"tenant_id": "acme", "iss": "https://evil.test"}),
            ),
            "invalid_token",
        ),
        (
            p.users
                .jwt("user_1", json!({"tenant_id": "acme", "sub": ""})),
            "invalid_token",
        ),
        (
            p.users
                .jwt("user_1", json!({"tenant_id": "acme", "exp": null})),
            "invalid_token",
        ),
        ("aaa.bbb.ccc".to_owned(), "invalid_token"),
    ] {
        let reply = p.post(GATEWAY).bearer(&token).send().await;
        reply.assert_problem(401, code);
        assert_eq!(reply.header("www-authenticate"), Some(REJECTED), "{token}");
    }
    // Valid now; an hour and two minutes later (past the leeway) it has expired.
    p.post(GATEWAY).bearer(&jwt).send().await.assert_ok();
    p.clock.advance(time::Duration::seconds(3600 + 120));
    p.post(GATEWAY)
        .bearer(&jwt)
        .send()
        .await
        .assert_problem(401, "token_expired");
}

/// keygate's own tokens are never user JWTs: a session token is refused where only
/// user JWTs are accepted, and a user JWT never opens a token route.
pub async fn user_jwts_and_issued_tokens_do_not_mix<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let session = p.token("SESSION", "lens", "create").await;
    p.post(ORGS)
        .bearer(&session)
        .send()
        .await
        .assert_problem(403, "credential_not_accepted");
    let jwt = p.users.jwt(
        "user_1",
        json!({"tenant_id": "acme", "scope": "magic-background:create"}),
    );
    p.post("/api/v1/magic-background")
        .bearer(&jwt)
        .send()
        .await
        .assert_problem(403, "credential_not_accepted");
}

/// `POST /api/v1/orgs/create` takes a user JWT with or without a tenant, and nothing
/// else but the platform secret.
pub async fn orgs_create_takes_any_user<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for (jwt, tenant) in [
        (p.users.jwt("user_1", json!({})), Value::Null),
        (p.users.of_tenant("user_2", "acme"), json!("acme")),
    ] {
        let reply = p.post(ORGS).bearer(&jwt).send().await;
        reply.assert_ok();
        let body = reply.json();
        assert_eq!(body["resource"], "orgs");
        assert_eq!(body["action"], "create");
        assert_eq!(body["principal"]["method"], "jwt");
        assert_eq!(body["principal"]["tenant"], tenant);
    }
    let key = p.secret_key("acme").await;
    p.post(ORGS)
        .bearer(text(&key, "key"))
        .send()
        .await
        .assert_problem(403, "credential_not_accepted");
    p.post(ORGS)
        .send()
        .await
        .assert_problem(401, "missing_credentials");
}

/// A publishable key in `X-API-Key` with a user JWT in `Authorization`: the tenant is
/// the key's; a JWT of the same tenant or of none passes, of another tenant is 403
/// `tenant_mismatch`.
pub async fn publishable_key_with_user_jwt<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let pk = p
        .create_key(json!({"kind": "publishable", "environment": "live", "tenant": "acme"}))
        .await;
    let pk_text = text(&pk, "key");
    for jwt in [
        p.users.jwt("user_1", json!({})),
        p.users.of_tenant("user_1", "acme"),
    ] {
        let reply = p
            .post(GATEWAY)
            .header("x-api-key", pk_text)
            .bearer(&jwt)
            .send()
            .await;
        let principal = gateway_principal(&reply);
        assert_eq!(principal["method"], "publishable_key_jwt");
        assert_eq!(principal["tenant"], "acme");
        assert_eq!(principal["subject"], "user_1");
        assert_eq!(principal["key_id"], pk["id"]);
        assert_eq!(principal["environment"], "live");
        assert!(!reply.body.contains(pk_text));
    }
    let other = p.users.of_tenant("user_1", "globex");
    p.post(GATEWAY)
        .header("x-api-key", pk_text)
        .bearer(&other)
        .send()
        .await
        .assert_problem(403, "tenant_mismatch");
    // The pair is only as good as both halves.
    let forged = crate::platform::users::Users::new(9, p.clock.clone()).jwt("user_1", json!({}));
    p.post(GATEWAY)
        .header("x-api-key", pk_text)
        .bearer(&forged)
        .send()
        .await
        .assert_problem(401, "invalid_token");
    let revoked = p
        .admin(Method::DELETE, &format!("{ADMIN_KEYS}/{}", text(&pk, "id")))
        .send()
        .await;
    assert_eq!(revoked.status, 204);
    p.post(GATEWAY)
        .header("x-api-key", pk_text)
        .bearer(&p.users.jwt("user_1", json!({})))
        .send()
        .await
        .assert_problem(401, "key_revoked");
}

/// A publishable key alone is 401 `user_token_required`; on a route that needs a secret
/// it is 403, unverified.
pub async fn publishable_key_alone_is_not_enough<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let pk = p
        .create_key(json!({"kind": "publishable", "tenant": "acme"}))
        .await;
    let pk_text = text(&pk, "key");
    let reply = p.post(GATEWAY).header("x-api-key", pk_text).send().await;
    reply.assert_problem(401, "user_token_required");
    assert_eq!(reply.header("www-authenticate"), Some(REJECTED));
    // Admin routes and the token endpoint need a secret.
    p.get(ADMIN_KEYS)
        .header("x-client-secret", pk_text)
        .send()
        .await
        .assert_problem(403, "secret_key_required");
    p.get(ADMIN_KEYS)
        .header("x-api-key", pk_text)
        .send()
        .await
        .assert_problem(403, "secret_key_required");
    p.post(GATEWAY)
        .header("x-client-secret", pk_text)
        .send()
        .await
        .assert_problem(403, "secret_key_required");
    let reply = p
        .post(TOKEN)
        .header("x-api-key", pk_text)
        .json(&json!({"actionResource": "lens", "actionType": "create"}))
        .send()
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
}

/// `X-On-Behalf-Of` with an `sk_` key, or a restricted key with `users:impersonate`: the
/// subject is the user, the actor the key.
pub async fn impersonation_by_keys<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let sk = p.secret_key("acme").await;
    let rk = p
        .create_key(
            json!({"kind": "restricted", "tenant": "acme", "scopes": ["users:impersonate"]}),
        )
        .await;
    for key in [&sk, &rk] {
        let reply = p
            .post(GATEWAY)
            .bearer(text(key, "key"))
            .header("x-on-behalf-of", "user_123")
            .send()
            .await;
        let principal = gateway_principal(&reply);
        assert_eq!(principal["subject"], "user_123");
        assert_eq!(principal["actor"], key["id"]);
        assert_eq!(principal["key_id"], key["id"]);
        assert_eq!(principal["tenant"], "acme");
    }
    // The tenant's sk_ key in x-client-secret impersonates too.
    let reply = p
        .post(GATEWAY)
        .header("x-client-secret", text(&sk, "key"))
        .header("x-on-behalf-of", "user@example.com")
        .send()
        .await;
    assert_eq!(gateway_principal(&reply)["subject"], "user@example.com");
}

/// `users:impersonate` is granted by name only: a restricted or custom key with `*`,
/// `users:*` or `*:*` cannot impersonate (403 `impersonation_forbidden`), though the same
/// key opens the route without `X-On-Behalf-Of`.
pub async fn impersonation_needs_the_scope_by_name<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for (kind, scopes) in [
        ("restricted", json!(["*"])),
        ("restricted", json!(["users:*"])),
        ("restricted", json!(["*:*"])),
        ("restricted", json!(["*:impersonate"])),
        ("custom", json!(["*"])),
    ] {
        let body = match kind {
            "custom" => {
                json!({"kind": kind, "prefix": "bijou_", "tenant": "acme", "scopes": scopes})
            }
            _ => json!({"kind": kind, "tenant": "acme", "scopes": scopes}),
        };
        let key = p.create_key(body).await;
        let reply = p
            .post(GATEWAY)
            .header("x-api-key", text(&key, "key"))
            .header("x-on-behalf-of", "user_123")
            .send()
            .await;
        reply.assert_problem(403, "impersonation_forbidden");
        assert!(!reply.body.contains(text(&key, "key")));
        if kind == "restricted" {
            p.post(GATEWAY)
                .bearer(text(&key, "key"))
                .header("x-on-behalf-of", "user_123")
                .send()
                .await
                .assert_problem(403, "impersonation_forbidden");
        }
        let principal = gateway_principal(
            &p.post(GATEWAY)
                .header("x-api-key", text(&key, "key"))
                .send()
                .await,
        );
        assert_eq!(principal["actor"], Value::Null, "{kind} {scopes}");
    }
    // Listed by name, a custom key impersonates as a restricted one does.
    let custom = p
        .create_key(
            json!({"kind": "custom", "prefix": "bijou_", "tenant": "acme",
            "scopes": ["users:impersonate"]}),
        )
        .await;
    let reply = p
        .post(GATEWAY)
        .header("x-api-key", text(&custom, "key"))
        .header("x-on-behalf-of", "user_123")
        .send()
        .await;
    let principal = gateway_principal(&reply);
    assert_eq!(principal["subject"], "user_123");
    assert_eq!(principal["actor"], custom["id"]);
}

/// `X-On-Behalf-Of` from anyone else, or where keys and tokens are minted: 403
/// `impersonation_forbidden`; a malformed value: 400.
pub async fn impersonation_refused<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let sk = p.secret_key("acme").await;
    let rk = p
        .create_key(json!({"kind": "restricted", "tenant": "acme", "scopes": ["read:users"]}))
        .await;
    let jwt = p.users.of_tenant("user_1", "acme");
    for call in [
        p.post(GATEWAY).bearer(text(&rk, "key")),
        p.post(GATEWAY).bearer(&jwt),
        p.admin(Method::POST, GATEWAY),
        p.admin(Method::GET, ADMIN_KEYS),
        p.get(ADMIN_KEYS)
            .header("x-client-secret", text(&sk, "key")),
        p.post(TOKEN)
            .header("x-client-secret", text(&sk, "key"))
            .json(&json!({"actionResource": "lens", "actionType": "create"})),
    ] {
        call.header("x-on-behalf-of", "user_123")
            .send()
            .await
            .assert_problem(403, "impersonation_forbidden");
    }
    for bad in ["user 123", "user/123", &"a".repeat(129)] {
        p.post(GATEWAY)
            .bearer(text(&sk, "key"))
            .header("x-on-behalf-of", bad)
            .send()
            .await
            .assert_problem(400, "invalid_request");
    }
}

/// An `ek_` client token opens the gateway with the tenant of the key that minted it; one
/// minted by the platform secret has no tenant.
pub async fn gateway_with_client_token<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let key = p.secret_key("acme").await;
    let reply = p
        .post("/api/tokens")
        .bearer(text(&key, "key"))
        .json(&json!({"metadata": {"app": "web"}}))
        .send()
        .await;
    reply.assert_ok();
    let token = text(&reply.json(), "apiKey").to_owned();
    let reply = p.post(GATEWAY).bearer(&token).send().await;
    let principal = gateway_principal(&reply);
    assert_eq!(principal["method"], "client_token");
    assert_eq!(principal["tenant"], "acme");
    assert_eq!(principal["key_id"], key["id"]);
    assert_eq!(principal["metadata"], json!({"app": "web"}));
    // A client token cannot impersonate.
    p.post(GATEWAY)
        .bearer(&token)
        .header("x-on-behalf-of", "user_123")
        .send()
        .await
        .assert_problem(403, "impersonation_forbidden");

    let reply = p.admin(Method::POST, "/api/tokens").send().await;
    reply.assert_ok();
    let operator_token = text(&reply.json(), "apiKey").to_owned();
    p.post(GATEWAY)
        .bearer(&operator_token)
        .send()
        .await
        .assert_problem(403, "tenant_required");
}
