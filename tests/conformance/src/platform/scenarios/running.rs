//! contract.md, "Running": `/healthz`, `/readyz`, and failing closed when the store is
//! gone.

use http::Method;
use keygate_core::Environment;
use keygate_core::key::{ApiKey, KeyKind, KeyPrefix};
use serde_json::json;

use crate::platform::{ADMIN_KEYS, Database, Platform, PlatformAdapter};

/// `GET /healthz` → 200 always: without credentials, and with the store closed.
pub async fn healthz_always_answers<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let reply = p.get("/healthz").send().await;
    reply.assert_ok();
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), json!({"status": "ok"}));
    p.app.store().close().await;
    let reply = p.get("/healthz").send().await;
    reply.assert_ok();
    assert_eq!(reply.json(), json!({"status": "ok"}));
}

/// `GET /readyz` → 200 while the store answers, 503 `auth_unavailable` once it does not.
pub async fn readyz_follows_the_store<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let reply = p.get("/readyz").send().await;
    reply.assert_ok();
    assert_eq!(reply.json(), json!({"status": "ready"}));
    p.app.store().close().await;
    let reply = p.get("/readyz").send().await;
    reply.assert_problem(503, "auth_unavailable");
    assert_eq!(reply.json()["status"], 503);
    assert!(reply.header("www-authenticate").is_none());
}

/// With the store gone every request that needs it is 503 `auth_unavailable`, never an
/// admission; the platform secret still checks without the store, and a bad checksum is
/// refused before any look-up.
pub async fn closed_store_fails_closed<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    p.app.store().close().await;
    let unseen =
        ApiKey::generate(&KeyPrefix::standard(KeyKind::Secret, Environment::Live).expect("prefix"))
            .expect("a key");
    let reply = p
        .post("/api/detect")
        .header("x-api-key", unseen.expose())
        .send()
        .await;
    reply.assert_problem(503, "auth_unavailable");
    assert!(!reply.body.contains(unseen.expose()));
    p.get("/v1/users/me")
        .bearer(unseen.expose())
        .send()
        .await
        .assert_problem(503, "auth_unavailable");
    // A tenant's key in x-client-secret needs the store too.
    p.get(ADMIN_KEYS)
        .header("x-client-secret", unseen.expose())
        .send()
        .await
        .assert_problem(503, "auth_unavailable");
    // The platform secret is checked without the store; what it asks of the store fails.
    p.admin(Method::GET, ADMIN_KEYS)
        .send()
        .await
        .assert_problem(503, "auth_unavailable");
    p.admin(Method::POST, ADMIN_KEYS)
        .json(&json!({"kind": "secret"}))
        .send()
        .await
        .assert_problem(503, "auth_unavailable");
    // A bad checksum never reaches the store.
    p.post("/api/detect")
        .header(
            "x-api-key",
            "sk_live_00000000000000000000000000000000aaaaaa",
        )
        .send()
        .await
        .assert_problem(401, "invalid_api_key");
    // Minting needs no store; using a one-time token does (its consumption is shared).
    let token = p.token("ONE_TIME", "lens", "create").await;
    p.post("/api/v1/lens")
        .bearer(&token)
        .send()
        .await
        .assert_problem(503, "auth_unavailable");
}
