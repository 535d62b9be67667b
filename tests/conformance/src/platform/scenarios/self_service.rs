//! contract.md, "Accounts and self-service keys", the user's side: a signed-in user (a
//! user JWT with a tenant) creates, lists and revokes keys of their own account on
//! `/api/v1/me/...`; nobody else can, and the keys act for that user only.

use http::Method;
use serde_json::{Value, json};

use super::assert_invalid;
use crate::platform::{ADMIN_KEYS, Database, Platform, PlatformAdapter, TOKEN, text};

const ME_KEYS: &str = "/api/v1/me/keys";
const ME_ACCOUNT: &str = "/api/v1/me/account";
const DETECT: &str = "/api/detect";

/// `POST /api/v1/me/keys` as `jwt` with `body`; the 201's JSON.
async fn create(p: &Platform, jwt: &str, body: Value) -> Value {
    let reply = p.post(ME_KEYS).bearer(jwt).json(&body).send().await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()
}

/// `GET /api/v1/me/keys` as `jwt`: the ids listed.
async fn listed(p: &Platform, jwt: &str) -> Vec<String> {
    let reply = p.get(ME_KEYS).bearer(jwt).send().await;
    reply.assert_ok();
    let keys = reply.json()["keys"].as_array().cloned().expect("keys");
    for key in &keys {
        assert!(key.get("key").is_none(), "no plaintext in a listing: {key}");
    }
    keys.iter().map(|key| text(key, "id").to_owned()).collect()
}

/// End to end: a user creates a key (a live `secret` key of their tenant, owned by their
/// `sub`, shown once), uses it on `/api/detect`, lists it without its plaintext, and
/// revokes it: 401 `key_revoked` at once.
pub async fn self_service_keys_end_to_end<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let user = p.users.of_tenant("auth0|abc", "acme");
    let created = create(&p, &user, json!({"name": "laptop"})).await;
    let key = text(&created, "key").to_owned();
    assert!(key.starts_with("sk_live_"), "{created}");
    assert_eq!(created["kind"], "secret");
    assert_eq!(created["tenant"], "acme");
    assert_eq!(created["owner"], "auth0|abc");
    assert_eq!(created["name"], "laptop");
    let reply = p.post(DETECT).header("x-api-key", &key).send().await;
    reply.assert_ok();
    assert_eq!(reply.json()["principal"]["owner"], "auth0|abc");
    assert_eq!(reply.json()["principal"]["subject"], "auth0|abc");
    assert_eq!(listed(&p, &user).await, [text(&created, "id")]);
    let reply = p.get(ME_KEYS).bearer(&user).send().await;
    assert!(!reply.body.contains(&key), "the plaintext is shown once");
    let test_key = create(&p, &user, json!({"environment": "test"})).await;
    assert!(text(&test_key, "key").starts_with("sk_test_"));
    let account = p.get(ME_ACCOUNT).bearer(&user).send().await;
    account.assert_ok();
    assert_eq!(
        account.json(),
        json!({"tenant": "acme", "owner": "auth0|abc", "credits": null, "keys": 2})
    );
    let reply = p
        .delete(&format!("{ME_KEYS}/{}", text(&created, "id")))
        .bearer(&user)
        .send()
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    p.post(DETECT)
        .header("x-api-key", &key)
        .send()
        .await
        .assert_problem(401, "key_revoked");
    assert_eq!(listed(&p, &user).await, [text(&test_key, "id")]);
    assert_eq!(p.show_key(text(&created, "id")).await["status"], "revoked");
    // The account's credits, given by the operator, are the user's keys' credits.
    p.admin(
        Method::POST,
        "/api/v1/admin/accounts/acme/auth0%7Cabc/credits",
    )
    .json(&json!({"add": 2}))
    .send()
    .await
    .assert_ok();
    let reply = p
        .post(DETECT)
        .header("x-api-key", text(&test_key, "key"))
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.number("x-credits-remaining"), Some(1));
    let account = p.get(ME_ACCOUNT).bearer(&user).send().await;
    assert_eq!(account.json()["credits"], 1);
    let reply = p
        .post(ME_KEYS)
        .bearer(&user)
        .json(&json!({"scopes": []}))
        .send()
        .await;
    assert_invalid(
        &reply,
        "scopes",
        "a self-service key takes a name and environment",
    );
}

/// Another user of the same tenant sees none of the user's keys and cannot revoke them
/// (404); nor can a user of another tenant with the same `sub`.
pub async fn self_service_keys_are_the_users_own<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let user = p.users.of_tenant("user_1", "acme");
    let created = create(&p, &user, json!({})).await;
    let path = format!("{ME_KEYS}/{}", text(&created, "id"));
    for other in [
        p.users.of_tenant("user_2", "acme"),
        p.users.of_tenant("user_1", "globex"),
    ] {
        assert!(listed(&p, &other).await.is_empty());
        p.delete(&path)
            .bearer(&other)
            .send()
            .await
            .assert_problem(404, "not_found");
    }
    p.delete(&format!("{ME_KEYS}/key_nope"))
        .bearer(&user)
        .send()
        .await
        .assert_problem(404, "not_found");
    // An admin-made key of the same tenant without this owner is not the user's either.
    let plain = p.secret_key("acme").await;
    p.delete(&format!("{ME_KEYS}/{}", text(&plain, "id")))
        .bearer(&user)
        .send()
        .await
        .assert_problem(404, "not_found");
    p.post(DETECT)
        .header("x-api-key", text(&created, "key"))
        .send()
        .await
        .assert_ok();
}

/// At most 10 active keys per account: the eleventh → 409 `key_limit_reached`; revoking
/// one makes room again.
pub async fn self_service_key_limit<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let user = p.users.of_tenant("user_1", "acme");
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(text(&create(&p, &user, json!({})).await, "id").to_owned());
    }
    let reply = p.post(ME_KEYS).bearer(&user).json(&json!({})).send().await;
    reply.assert_problem(409, "key_limit_reached");
    assert_eq!(listed(&p, &user).await.len(), 10);
    // Another user of the tenant has their own ten.
    create(&p, &p.users.of_tenant("user_2", "acme"), json!({})).await;
    let reply = p
        .delete(&format!("{ME_KEYS}/{}", ids[0]))
        .bearer(&user)
        .send()
        .await;
    assert_eq!(reply.status, 204);
    create(&p, &user, json!({})).await;
    p.post(ME_KEYS)
        .bearer(&user)
        .send()
        .await
        .assert_problem(409, "key_limit_reached");
}

/// The self-service routes take a user JWT with a tenant only: an API key, an issued
/// token or the platform secret → 403 `credential_not_accepted`, a JWT without a tenant
/// → 403 `tenant_required`. The user's key opens no admin route (403
/// `secret_key_required`), mints no token and impersonates nobody (403).
pub async fn self_service_takes_signed_in_users_only<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let user = p.users.of_tenant("user_1", "acme");
    let mine = create(&p, &user, json!({})).await;
    let mine = text(&mine, "key");
    let tenant_key = p.secret_key("acme").await;
    let tenant_key = text(&tenant_key, "key");
    let token = p.token("SESSION", "*", "*").await;
    for (method, path) in [
        (Method::GET, ME_KEYS.to_owned()),
        (Method::POST, ME_KEYS.to_owned()),
        (Method::GET, ME_ACCOUNT.to_owned()),
        (Method::DELETE, format!("{ME_KEYS}/key_x")),
    ] {
        for call in [
            p.request(method.clone(), &path)
                .header("x-api-key", tenant_key),
            p.request(method.clone(), &path).bearer(tenant_key),
            p.request(method.clone(), &path).header("x-api-key", mine),
            p.request(method.clone(), &path).bearer(&token),
            p.request(method.clone(), &path)
                .header("x-client-secret", tenant_key),
            p.admin(method.clone(), &path),
        ] {
            let reply = call.json(&json!({})).send().await;
            reply.assert_problem(403, "credential_not_accepted");
            assert!(!reply.body.contains(tenant_key) && !reply.body.contains(mine));
        }
        p.request(method.clone(), &path)
            .bearer(&p.users.jwt("user_1", json!({})))
            .json(&json!({}))
            .send()
            .await
            .assert_problem(403, "tenant_required");
        p.request(method.clone(), &path)
            .bearer(&user)
            .header("x-on-behalf-of", "user_2")
            .json(&json!({}))
            .send()
            .await
            .assert_problem(403, "impersonation_forbidden");
        p.request(method.clone(), &path)
            .send()
            .await
            .assert_problem(401, "missing_credentials");
    }
    // The user's key, on the routes that would make it more than its user.
    p.get(ADMIN_KEYS)
        .header("x-client-secret", mine)
        .send()
        .await
        .assert_problem(403, "secret_key_required");
    p.post(ADMIN_KEYS)
        .header("x-client-secret", mine)
        .json(&json!({"kind": "secret"}))
        .send()
        .await
        .assert_problem(403, "secret_key_required");
    p.post(TOKEN)
        .header("x-client-secret", mine)
        .json(&json!({"actionResource": "lens", "actionType": "create"}))
        .send()
        .await
        .assert_problem(403, "credential_not_accepted");
    p.post(DETECT)
        .header("x-api-key", mine)
        .header("x-on-behalf-of", "user_2")
        .send()
        .await
        .assert_problem(403, "impersonation_forbidden");
    assert_eq!(
        listed(&p, &user).await.len(),
        1,
        "nothing was spent or made"
    );
}

/// A user JWT whose `sub` is no user id (`/`, `%`, a space, 129 characters, empty) makes
/// no key and reads no account: 4xx, never a 5xx, and nothing is created for anyone; a
/// body naming another owner, tenant, kind, credits or refill is 400.
pub async fn self_service_refuses_subjects_that_are_no_user_id<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let long = "u".repeat(129);
    for sub in ["a/b", "auth0%7Cabc", "a b", long.as_str(), ""] {
        let jwt = p.users.of_tenant(sub, "acme");
        for (method, path) in [(Method::POST, ME_KEYS), (Method::GET, ME_ACCOUNT)] {
            let reply = p
                .request(method.clone(), path)
                .bearer(&jwt)
                .json(&json!({}))
                .send()
                .await;
            assert!(
                (400..500).contains(&reply.status),
                "{method} {path} as sub {sub:?}: {} {}",
                reply.status,
                reply.body
            );
        }
    }
    // A valid user cannot widen the key through the body: 400 naming the body.
    let user = p.users.of_tenant("user_1", "acme");
    for body in [
        json!({"owner": "user_2"}),
        json!({"tenant": "globex"}),
        json!({"credits": 5}),
        json!({"kind": "publishable"}),
        json!({"refill": {"amount": 5, "interval": "daily"}}),
    ] {
        let reply = p.post(ME_KEYS).bearer(&user).json(&body).send().await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
    }
    let accounts = p
        .admin(Method::GET, "/api/v1/admin/accounts?tenant=acme")
        .send()
        .await;
    accounts.assert_ok();
    assert_eq!(
        accounts.json()["accounts"],
        json!([]),
        "no account was made"
    );
}
