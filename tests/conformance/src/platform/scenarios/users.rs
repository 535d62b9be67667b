//! contract.md, "Stripe-style keys": `GET /v1/users/me` with an `sk_`/`rk_` key as a
//! bearer, needing `read:users`.

use serde_json::{Value, json};

use super::insufficient;
use crate::platform::{Database, Platform, PlatformAdapter, text};

const ME: &str = "/v1/users/me";

/// `sk_` keys and `rk_` keys with `read:users`: 200 `{"principal", "livemode"}`,
/// `livemode` false for `_test_` keys.
pub async fn users_me_with_keys<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for (kind, environment, livemode) in [
        ("secret", "live", true),
        ("secret", "test", false),
        ("restricted", "live", true),
        ("restricted", "test", false),
    ] {
        let created = p
            .create_key(
                json!({"kind": kind, "environment": environment, "tenant": "acme",
                "scopes": if kind == "restricted" { json!(["read:users"]) } else { json!([]) },
                "metadata": {"owner": "ops"}}),
            )
            .await;
        let reply = p.get(ME).bearer(text(&created, "key")).send().await;
        reply.assert_ok();
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let body = reply.json();
        let mut fields: Vec<&String> = body.as_object().expect("an object").keys().collect();
        fields.sort();
        assert_eq!(fields, ["livemode", "principal"]);
        assert_eq!(body["livemode"], livemode, "{kind} {environment}");
        let principal = &body["principal"];
        assert_eq!(principal["method"], "api_key");
        assert_eq!(principal["tenant"], "acme");
        assert_eq!(principal["key_id"], created["id"]);
        assert_eq!(principal["subject"], created["id"]);
        assert_eq!(principal["actor"], Value::Null);
        assert_eq!(principal["environment"], environment);
        assert_eq!(principal["user_reference"], Value::Null);
        assert_eq!(principal["catalogue_id"], Value::Null);
        assert_eq!(principal["metadata"], json!({"owner": "ops"}));
        assert!(!reply.body.contains(text(&created, "key")));
    }
}

/// A restricted key without `read:users`: 403 `insufficient_scope` naming it.
/// Publishable keys and tokens do not open the route.
pub async fn users_me_needs_read_users<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for scopes in [json!([]), json!(["write:users"]), json!(["read:orders"])] {
        let created = p
            .create_key(json!({"kind": "restricted", "tenant": "acme", "scopes": scopes}))
            .await;
        let reply = p.get(ME).bearer(text(&created, "key")).send().await;
        reply.assert_problem(403, "insufficient_scope");
        assert_eq!(
            reply.header("www-authenticate"),
            Some(insufficient("read:users").as_str())
        );
    }
    let wildcard = p
        .create_key(json!({"kind": "restricted", "scopes": ["read:*"]}))
        .await;
    p.get(ME)
        .bearer(text(&wildcard, "key"))
        .send()
        .await
        .assert_ok();
    let publishable = p
        .create_key(json!({"kind": "publishable", "tenant": "acme"}))
        .await;
    p.get(ME)
        .bearer(text(&publishable, "key"))
        .send()
        .await
        .assert_problem(401, "user_token_required");
    let token = p.token("SESSION", "*", "*").await;
    p.get(ME)
        .bearer(&token)
        .send()
        .await
        .assert_problem(403, "credential_not_accepted");
    let reply = p.get(ME).send().await;
    reply.assert_problem(401, "missing_credentials");
    assert_eq!(reply.header("www-authenticate"), Some(super::BARE));
}
