//! contract.md, "API keys": the admin key routes (create, list, show, revoke, rotate,
//! top up) and tenant isolation for a tenant's `sk_` key in `x-client-secret`.

use http::Method;
use keygate_core::key::ParsedKey;
use serde_json::{Value, json};
use time::Duration;

use super::assert_invalid;
use crate::platform::{ADMIN_KEYS, Database, Platform, PlatformAdapter, text};

/// `T0` as the JSON shows it.
const T0_TEXT: &str = "2030-01-01T00:00:00Z";

fn key_path(key: &Value) -> String {
    format!("{ADMIN_KEYS}/{}", text(key, "id"))
}

/// Asserts a key's text is `<prefix><32 base62><6 checksum>`, with a valid checksum, and
/// that `start` is its non-secret preview.
fn assert_key_format(created: &Value, prefix: &str) {
    let key = text(created, "key");
    let tail = key
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{key:?} starts with {prefix}"));
    assert_eq!(tail.len(), 32 + 6, "{key:?}");
    assert!(tail.bytes().all(|b| b.is_ascii_alphanumeric()), "{key:?}");
    ParsedKey::parse(key).expect("the checksum is valid");
    let start = text(created, "start");
    assert!(
        start.starts_with(prefix) && start.len() > prefix.len(),
        "{start}"
    );
    assert!(key.starts_with(start), "start {start} previews the key");
    assert!(start.len() < prefix.len() + 8, "start {start} shows little");
    assert_eq!(created["prefix"], prefix);
}

/// Creating a key of every kind and environment, and a custom-prefixed one: 201 with the
/// contract's fields; the key text follows the format and opens what its kind opens.
pub async fn admin_key_create_every_kind<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for (kind, environment, prefix) in [
        ("secret", "live", "sk_live_"),
        ("secret", "test", "sk_test_"),
        ("restricted", "live", "rk_live_"),
        ("restricted", "test", "rk_test_"),
        ("publishable", "live", "pk_live_"),
        ("publishable", "test", "pk_test_"),
    ] {
        let created = p
            .create_key(json!({"kind": kind, "environment": environment, "tenant": "acme"}))
            .await;
        assert_key_format(&created, prefix);
        assert_eq!(created["kind"], kind);
        assert_eq!(created["environment"], environment);
        assert_eq!(created["tenant"], "acme");
        assert_eq!(created["status"], "active");
        assert_eq!(created["created_at"], T0_TEXT);
        for field in ["id", "scopes", "rate_limit", "credits", "expires_at"] {
            assert!(created.get(field).is_some(), "{field} in {created}");
        }
    }
    // Without an environment a key is a test key: a live key is asked for by name (the
    // CLI's default too).
    let created = p.create_key(json!({"kind": "secret"})).await;
    assert_key_format(&created, "sk_test_");
    assert_eq!(created["tenant"], Value::Null);

    let custom = p
        .create_key(
            json!({"kind": "custom", "prefix": "bijou_", "tenant": "acme",
            "scopes": ["magic-background:create"]}),
        )
        .await;
    assert_key_format(&custom, "bijou_");
    assert_eq!(custom["kind"], "custom");
    // Ids are distinct, keys too.
    let listed = p.admin(Method::GET, ADMIN_KEYS).send().await.json();
    let mut ids: Vec<&str> = listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| text(key, "id"))
        .collect();
    assert_eq!(ids.len(), 8);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 8, "ids are unique");
    // A tampered checksum is refused without a look-up.
    let key = text(&custom, "key");
    let mut tampered = key.to_owned();
    let last = tampered.pop().map(|c| if c == 'a' { 'b' } else { 'a' });
    tampered.extend(last);
    let reply = p
        .post("/api/detect")
        .header("x-api-key", &tampered)
        .send()
        .await;
    reply.assert_problem(401, "invalid_api_key");
    assert!(!reply.body.contains(&tampered));
    p.post("/api/detect")
        .header("x-api-key", key)
        .send()
        .await
        .assert_ok();
}

/// Every setting given at creation comes back, on creation and on show; the key text is
/// shown on creation only.
pub async fn admin_key_fields_round_trip<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let created = p
        .create_key(json!({
            "kind": "restricted", "environment": "test", "tenant": "acme", "name": "ci runner",
            "scopes": ["read:users", "magic-background:create"],
            "rate_limit": {"limit": 100, "window_seconds": 60},
            "credits": 500, "expires_at": "2031-01-01T00:00:00Z",
            "metadata": {"plan": "pro", "seats": 3}
        }))
        .await;
    let shown = p.show_key(text(&created, "id")).await;
    assert!(
        shown.get("key").is_none(),
        "the key text is shown once: {shown}"
    );
    for view in [&created, &shown] {
        assert_eq!(view["name"], "ci runner");
        assert_eq!(
            view["scopes"],
            json!(["magic-background:create", "read:users"])
        );
        assert_eq!(
            view["rate_limit"],
            json!({"limit": 100, "window_seconds": 60})
        );
        assert_eq!(view["credits"], 500);
        assert_eq!(view["expires_at"], "2031-01-01T00:00:00Z");
        assert_eq!(view["metadata"], json!({"plan": "pro", "seats": 3}));
        assert_eq!(view["created_at"], T0_TEXT);
        assert_eq!(view["revoked_at"], Value::Null);
        assert_eq!(view["status"], "active");
    }
    let mut without_key = created.clone();
    without_key.as_object_mut().map(|o| o.remove("key"));
    assert_eq!(without_key, shown);
    // The key expires on the platform's clock.
    let key = text(&created, "key");
    p.get("/v1/users/me").bearer(key).send().await.assert_ok();
    p.clock.advance(Duration::days(366));
    p.get("/v1/users/me")
        .bearer(key)
        .send()
        .await
        .assert_problem(401, "key_expired");
    assert_eq!(p.show_key(text(&created, "id")).await["status"], "expired");
}

/// Every invalid creation is 400 `invalid_request` naming the field, and creates
/// nothing.
pub async fn admin_key_create_validation<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let big = "x".repeat(5000);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"kind": "master"}), "kind"),
        (json!({"environment": "live"}), "body"),
        (
            json!({"kind": "secret", "environment": "staging"}),
            "environment",
        ),
        (json!({"kind": "custom"}), "prefix"),
        (json!({"kind": "custom", "prefix": "sk_"}), "prefix"),
        (json!({"kind": "custom", "prefix": "Bijou_"}), "prefix"),
        (json!({"kind": "custom", "prefix": "bijou"}), "prefix"),
        (json!({"kind": "secret", "prefix": "bijou_"}), "prefix"),
        (json!({"kind": "restricted", "prefix": "bijou_"}), "prefix"),
        (
            json!({"kind": "secret", "rate_limit": {"limit": 0, "window_seconds": 60}}),
            "rate_limit",
        ),
        (
            json!({"kind": "secret", "rate_limit": {"limit": 10, "window_seconds": 0}}),
            "rate_limit",
        ),
        (
            json!({"kind": "secret", "rate_limit": {"limit": 10}}),
            "rate_limit",
        ),
        (json!({"kind": "secret", "rate_limit": 10}), "rate_limit"),
        (json!({"kind": "secret", "credits": -1}), "credits"),
        (json!({"kind": "secret", "credits": 1.5}), "credits"),
        (
            json!({"kind": "secret", "expires_at": "2027-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (
            json!({"kind": "secret", "expires_at": T0_TEXT}),
            "expires_at",
        ),
        (
            json!({"kind": "secret", "expires_at": "next tuesday"}),
            "expires_at",
        ),
        (
            json!({"kind": "secret", "metadata": {"blob": big}}),
            "metadata",
        ),
        (
            json!({"kind": "secret", "metadata": "not an object"}),
            "metadata",
        ),
        (json!({"kind": "secret", "scopes": ["bad scope"]}), "scopes"),
        (json!({"kind": "secret", "tenant": "bad tenant!"}), "tenant"),
        (json!({"kind": "secret", "name": "n".repeat(129)}), "name"),
    ];
    for (body, field) in cases {
        let reply = p.admin(Method::POST, ADMIN_KEYS).json(&body).send().await;
        assert_invalid(&reply, field, &body.to_string());
    }
    let reply = p
        .admin(Method::POST, ADMIN_KEYS)
        .json(&json!({"kind": "secret", "credit": 5}))
        .send()
        .await;
    reply.assert_problem(400, "invalid_request");
    assert!(
        super::detail(&reply).starts_with("credit: unknown field, expected one of"),
        "{}",
        reply.body
    );
    let reply = p
        .admin(Method::POST, ADMIN_KEYS)
        .header("content-type", "application/json")
        .body(r#"{"kind": "secret","#)
        .send()
        .await;
    assert_invalid(&reply, "body", "truncated JSON");
    let listed = p.admin(Method::GET, ADMIN_KEYS).send().await.json();
    assert_eq!(
        listed,
        json!({"keys": [], "has_more": false}),
        "nothing was created"
    );
}

/// `GET /api/v1/admin/keys` lists every key, `?tenant=` one tenant's; never the key text.
pub async fn admin_key_list_and_tenant_filter<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let acme = p.secret_key("acme").await;
    let acme_test = p
        .create_key(json!({"kind": "restricted", "environment": "test", "tenant": "acme"}))
        .await;
    let globex = p.secret_key("globex").await;
    let untenanted = p.create_key(json!({"kind": "secret"})).await;
    let ids = |reply: &crate::harness::Reply| -> Vec<String> {
        reply.assert_ok();
        let keys = reply.json()["keys"].as_array().expect("keys").clone();
        for key in &keys {
            assert!(key.get("key").is_none(), "no key text in a list: {key}");
            assert!(key.get("start").is_some(), "{key}");
        }
        keys.iter().map(|key| text(key, "id").to_owned()).collect()
    };
    let all = ids(&p.admin(Method::GET, ADMIN_KEYS).send().await);
    assert_eq!(all.len(), 4);
    for key in [&acme, &acme_test, &globex, &untenanted] {
        assert!(all.contains(&text(key, "id").to_owned()), "{all:?}");
        assert!(
            !p.admin(Method::GET, ADMIN_KEYS)
                .send()
                .await
                .body
                .contains(text(key, "key"))
        );
    }
    let only_acme = ids(&p
        .admin(Method::GET, &format!("{ADMIN_KEYS}?tenant=acme"))
        .send()
        .await);
    let mut want = vec![
        text(&acme, "id").to_owned(),
        text(&acme_test, "id").to_owned(),
    ];
    let mut got = only_acme.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    let none = ids(&p
        .admin(Method::GET, &format!("{ADMIN_KEYS}?tenant=initech"))
        .send()
        .await);
    assert!(none.is_empty());
    // Other parameters are ignored; a bad tenant is refused.
    let reply = p
        .admin(Method::GET, &format!("{ADMIN_KEYS}?tenant=globex&page=2"))
        .send()
        .await;
    assert_eq!(ids(&reply), vec![text(&globex, "id").to_owned()]);
    let reply = p
        .admin(Method::GET, &format!("{ADMIN_KEYS}?tenant=bad%20tenant"))
        .send()
        .await;
    assert_invalid(&reply, "tenant", "a bad tenant");
}

/// `GET /api/v1/admin/keys` pages: `limit` (1 to 100, default 100) keys oldest first,
/// `has_more`, and `starting_after` the last id for the next page; a cursor from outside
/// the listing or a bad limit is 400.
pub async fn admin_key_list_pages<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(text(&p.secret_key("acme").await, "id").to_owned());
        p.clock.advance(Duration::seconds(1));
    }
    let globex = p.secret_key("globex").await;
    let page = |query: String| {
        let p = &p;
        async move {
            let reply = p
                .admin(Method::GET, &format!("{ADMIN_KEYS}?tenant=acme{query}"))
                .send()
                .await;
            reply.assert_ok();
            let body = reply.json();
            let ids: Vec<String> = body["keys"]
                .as_array()
                .expect("keys")
                .iter()
                .map(|key| text(key, "id").to_owned())
                .collect();
            (ids, body["has_more"].as_bool().expect("has_more"))
        }
    };
    let (all, more) = page(String::new()).await;
    assert_eq!((all.clone(), more), (created.clone(), false));
    let mut walked = Vec::new();
    let mut query = "&limit=2".to_owned();
    loop {
        let (ids, more) = page(query.clone()).await;
        assert!(ids.len() <= 2);
        walked.extend(ids.iter().cloned());
        if !more {
            break;
        }
        query = format!("&limit=2&starting_after={}", ids.last().expect("a page"));
    }
    assert_eq!(walked, created, "the pages walk the list in order");
    for (query, field) in [
        ("&limit=0".to_owned(), "limit"),
        ("&limit=101".to_owned(), "limit"),
        ("&limit=ten".to_owned(), "limit"),
        ("&limit=1&limit=2".to_owned(), "limit"),
        (
            format!("&starting_after={}", text(&globex, "id")),
            "starting_after",
        ),
        ("&starting_after=key_nope".to_owned(), "starting_after"),
    ] {
        let reply = p
            .admin(Method::GET, &format!("{ADMIN_KEYS}?tenant=acme{query}"))
            .send()
            .await;
        assert_invalid(&reply, field, &query);
    }
}

/// `GET /api/v1/admin/keys/{id}` shows the key with its live credit balance; an unknown
/// id is 404 `not_found`.
pub async fn admin_key_show_has_live_credits<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let created = p
        .create_key(json!({"kind": "secret", "tenant": "acme", "credits": 5}))
        .await;
    for _ in 0..2 {
        p.post("/api/detect")
            .header("x-api-key", text(&created, "key"))
            .send()
            .await
            .assert_ok();
    }
    let shown = p.show_key(text(&created, "id")).await;
    assert_eq!(shown["credits"], 3);
    assert!(shown.get("key").is_none());
    let listed = p.admin(Method::GET, ADMIN_KEYS).send().await.json();
    assert_eq!(listed["keys"][0]["credits"], 3);
    for id in ["key_doesnotexist", "x", &"k".repeat(65)] {
        p.admin(Method::GET, &format!("{ADMIN_KEYS}/{id}"))
            .send()
            .await
            .assert_problem(404, "not_found");
    }
}

/// `DELETE /api/v1/admin/keys/{id}` → 204; from then on the key gets 401 `key_revoked`
/// wherever it is presented.
pub async fn admin_key_revoke<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let created = p.secret_key("acme").await;
    let key = text(&created, "key");
    p.get("/v1/users/me").bearer(key).send().await.assert_ok();
    let reply = p.admin(Method::DELETE, &key_path(&created)).send().await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(reply.body.is_empty());
    for reply in [
        p.get("/v1/users/me").bearer(key).send().await,
        p.post("/api/detect").header("x-api-key", key).send().await,
        p.get(ADMIN_KEYS)
            .header("x-client-secret", key)
            .send()
            .await,
    ] {
        reply.assert_problem(401, "key_revoked");
        assert_eq!(reply.header("www-authenticate"), Some(super::REJECTED));
        assert!(!reply.body.contains(key));
    }
    let shown = p.show_key(text(&created, "id")).await;
    assert_eq!(shown["status"], "revoked");
    assert_eq!(shown["revoked_at"], T0_TEXT);
    // A revoked key cannot be rotated or topped up; an unknown one is not found.
    let reply = p
        .admin(Method::POST, &format!("{}/rotate", key_path(&created)))
        .send()
        .await;
    reply.assert_problem(400, "invalid_request");
    p.admin(Method::DELETE, &format!("{ADMIN_KEYS}/key_doesnotexist"))
        .send()
        .await
        .assert_problem(404, "not_found");
}

/// Rotation: 201 with a new key of the same settings; the old key works until the grace
/// period ends on the platform's clock, then gets 401 `key_expired`; rotating it again is
/// 400.
pub async fn admin_key_rotate_with_grace<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let old = p
        .create_key(
            json!({"kind": "restricted", "environment": "test", "tenant": "acme",
            "name": "rotating", "scopes": ["read:users"], "metadata": {"team": "a"},
            "rate_limit": {"limit": 50, "window_seconds": 60}}),
        )
        .await;
    let reply = p
        .admin(Method::POST, &format!("{}/rotate", key_path(&old)))
        .json(&json!({"grace_seconds": 3600}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let new = reply.json();
    assert_key_format(&new, "rk_test_");
    assert_ne!(new["id"], old["id"]);
    assert_ne!(new["key"], old["key"]);
    for field in [
        "kind",
        "environment",
        "tenant",
        "name",
        "scopes",
        "rate_limit",
        "metadata",
    ] {
        assert_eq!(new[field], old[field], "{field} carries over");
    }
    assert_eq!(new["status"], "active");
    let shown = p.show_key(text(&old, "id")).await;
    assert_eq!(shown["valid_until"], "2030-01-01T01:00:00Z");
    assert_eq!(shown["status"], "active");

    let me = |key: &Value| p.get("/v1/users/me").bearer(text(key, "key")).send();
    me(&old).await.assert_ok();
    me(&new).await.assert_ok();
    p.clock.advance(Duration::seconds(3599));
    me(&old).await.assert_ok();
    p.clock.advance(Duration::seconds(1));
    let reply = me(&old).await;
    reply.assert_problem(401, "key_expired");
    assert_eq!(reply.header("www-authenticate"), Some(super::REJECTED));
    me(&new).await.assert_ok();
    assert_eq!(p.show_key(text(&old, "id")).await["status"], "expired");

    // Rotating twice: 400, the successor is what rotates next.
    let reply = p
        .admin(Method::POST, &format!("{}/rotate", key_path(&old)))
        .json(&json!({"grace_seconds": 60}))
        .send()
        .await;
    reply.assert_problem(400, "invalid_request");
    // An empty body is no grace: the old key stops at once.
    let reply = p
        .admin(Method::POST, &format!("{}/rotate", key_path(&new)))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    me(&new).await.assert_problem(401, "key_expired");
    me(&reply.json()).await.assert_ok();
}

/// Rotation's own validation: grace out of 0..=30 days or not a number → 400; an unknown
/// id → 404.
pub async fn admin_key_rotate_validation<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let created = p.secret_key("acme").await;
    let rotate = format!("{}/rotate", key_path(&created));
    for body in [
        json!({"grace_seconds": -1}),
        json!({"grace_seconds": 2_592_001}),
        json!({"grace_seconds": "soon"}),
        json!({"grace": 60}),
    ] {
        let reply = p.admin(Method::POST, &rotate).json(&body).send().await;
        reply.assert_problem(400, "invalid_request");
    }
    let reply = p
        .admin(Method::POST, &rotate)
        .json(&json!({"grace_seconds": -1}))
        .send()
        .await;
    assert_invalid(&reply, "grace_seconds", "negative grace");
    p.admin(
        Method::POST,
        &format!("{ADMIN_KEYS}/key_doesnotexist/rotate"),
    )
    .json(&json!({"grace_seconds": 60}))
    .send()
    .await
    .assert_problem(404, "not_found");
    // Nothing was rotated: the key still works and has no successor.
    p.get("/v1/users/me")
        .bearer(text(&created, "key"))
        .send()
        .await
        .assert_ok();
    assert_eq!(
        p.show_key(text(&created, "id")).await["valid_until"],
        Value::Null
    );
    let listed = p.admin(Method::GET, ADMIN_KEYS).send().await.json();
    assert_eq!(listed["keys"].as_array().map(Vec::len), Some(1));
}

/// Credits top-up: `{"add": n}` → 200 with the key and its new balance, which
/// `/api/detect` then spends; at zero 402.
pub async fn admin_key_credits_top_up<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let created = p
        .create_key(json!({"kind": "secret", "tenant": "acme", "credits": 1}))
        .await;
    let key = text(&created, "key");
    let detect = || p.post("/api/detect").header("x-api-key", key).send();
    detect().await.assert_ok();
    detect().await.assert_problem(402, "insufficient_credits");
    let credits = format!("{}/credits", key_path(&created));
    let reply = p
        .admin(Method::POST, &credits)
        .json(&json!({"add": 2}))
        .send()
        .await;
    reply.assert_ok();
    let topped = reply.json();
    assert_eq!(topped["credits"], 2);
    assert_eq!(topped["id"], created["id"]);
    assert!(topped.get("key").is_none());
    assert!(!reply.body.contains(key));
    let reply = detect().await;
    reply.assert_ok();
    assert_eq!(reply.number("x-credits-remaining"), Some(1));
    detect().await.assert_ok();
    detect().await.assert_problem(402, "insufficient_credits");
    assert_eq!(p.show_key(text(&created, "id")).await["credits"], 0);
    // Top-ups add.
    for (add, balance) in [(5, 5), (10, 15)] {
        let reply = p
            .admin(Method::POST, &credits)
            .json(&json!({"add": add}))
            .send()
            .await;
        reply.assert_ok();
        assert_eq!(reply.json()["credits"], balance);
    }
    // Invalid amounts, unlimited keys, unknown keys.
    for body in [
        json!({"add": 0}),
        json!({"add": -5}),
        json!({}),
        json!({"add": 1, "x": 1}),
    ] {
        let reply = p.admin(Method::POST, &credits).json(&body).send().await;
        reply.assert_problem(400, "invalid_request");
    }
    let unlimited = p.secret_key("acme").await;
    p.admin(Method::POST, &format!("{}/credits", key_path(&unlimited)))
        .json(&json!({"add": 5}))
        .send()
        .await
        .assert_problem(400, "invalid_request");
    p.admin(
        Method::POST,
        &format!("{ADMIN_KEYS}/key_doesnotexist/credits"),
    )
    .json(&json!({"add": 5}))
    .send()
    .await
    .assert_problem(404, "not_found");
    assert_eq!(p.show_key(text(&created, "id")).await["credits"], 15);
}

/// A tenant's `sk_` key in `x-client-secret` sees and changes only its tenant's keys:
/// another tenant's key id is 404, creating for or listing another tenant 403
/// `tenant_forbidden`.
pub async fn admin_keys_tenant_isolation<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let acme_admin = p.secret_key("acme").await;
    // Live, like `acme_admin`: a tenant's key changes keys of its own environment.
    let acme_other = p
        .create_key(
            json!({"kind": "restricted", "environment": "live", "tenant": "acme", "credits": 3}),
        )
        .await;
    let globex = p
        .create_key(json!({"kind": "secret", "tenant": "globex", "credits": 3}))
        .await;
    let platform_key = p.create_key(json!({"kind": "secret"})).await;
    let as_acme = |method: Method, path: &str| {
        p.request(method, path)
            .header("x-client-secret", text(&acme_admin, "key"))
    };

    let reply = as_acme(Method::GET, ADMIN_KEYS).send().await;
    reply.assert_ok();
    let mut listed: Vec<String> = reply.json()["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| text(key, "id").to_owned())
        .collect();
    listed.sort();
    let mut own = vec![
        text(&acme_admin, "id").to_owned(),
        text(&acme_other, "id").to_owned(),
    ];
    own.sort();
    assert_eq!(listed, own, "only acme's keys");
    as_acme(Method::GET, &format!("{ADMIN_KEYS}?tenant=acme"))
        .send()
        .await
        .assert_ok();
    as_acme(Method::GET, &format!("{ADMIN_KEYS}?tenant=globex"))
        .send()
        .await
        .assert_problem(403, "tenant_forbidden");

    for other in [&globex, &platform_key] {
        let path = key_path(other);
        as_acme(Method::GET, &path)
            .send()
            .await
            .assert_problem(404, "not_found");
        as_acme(Method::DELETE, &path)
            .send()
            .await
            .assert_problem(404, "not_found");
        as_acme(Method::POST, &format!("{path}/rotate"))
            .json(&json!({"grace_seconds": 0}))
            .send()
            .await
            .assert_problem(404, "not_found");
        // Credits take the platform secret, whoever's key it is.
        as_acme(Method::POST, &format!("{path}/credits"))
            .json(&json!({"add": 100}))
            .send()
            .await
            .assert_problem(403, "operator_required");
    }
    // Nothing happened to globex's key.
    let shown = p.show_key(text(&globex, "id")).await;
    assert_eq!(
        (shown["status"].clone(), shown["credits"].clone()),
        (json!("active"), json!(3))
    );

    // Own keys can be managed.
    let shown = as_acme(Method::GET, &key_path(&acme_other)).send().await;
    shown.assert_ok();
    as_acme(Method::POST, &format!("{}/credits", key_path(&acme_other)))
        .json(&json!({"add": 1}))
        .send()
        .await
        .assert_problem(403, "operator_required");
    assert_eq!(p.show_key(text(&acme_other, "id")).await["credits"], 3);

    // Creating: in its own tenant by default, never for another.
    let reply = as_acme(Method::POST, ADMIN_KEYS)
        .json(&json!({"kind": "restricted"}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.json()["tenant"], "acme");
    let reply = as_acme(Method::POST, ADMIN_KEYS)
        .json(&json!({"kind": "restricted", "tenant": "acme"}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply = as_acme(Method::POST, ADMIN_KEYS)
        .json(&json!({"kind": "secret", "tenant": "globex"}))
        .send()
        .await;
    reply.assert_problem(403, "tenant_forbidden");
    assert!(!reply.body.contains(text(&acme_admin, "key")));
    let globex_keys = p
        .admin(Method::GET, &format!("{ADMIN_KEYS}?tenant=globex"))
        .send()
        .await
        .json();
    assert_eq!(globex_keys["keys"].as_array().map(Vec::len), Some(1));

    // Revoking its own admin key locks the tenant out.
    let reply = as_acme(Method::DELETE, &key_path(&acme_admin)).send().await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    as_acme(Method::GET, ADMIN_KEYS)
        .send()
        .await
        .assert_problem(401, "key_revoked");
}

/// Only a tenant's `sk_` key opens admin routes from `x-client-secret`: a restricted or
/// publishable key there is not a secret, 403 `secret_key_required` (issue 6: "`pk_` on
/// any route that needs a secret → 403").
pub async fn admin_with_other_key_kinds_in_client_secret<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for kind in ["restricted", "publishable"] {
        let created = p
            .create_key(json!({"kind": kind, "tenant": "acme", "scopes": []}))
            .await;
        let reply = p
            .get(ADMIN_KEYS)
            .header("x-client-secret", text(&created, "key"))
            .send()
            .await;
        // Not a secret at all: refused as the wrong kind of credential, unverified.
        reply.assert_problem(403, "secret_key_required");
        assert_eq!(reply.header("www-authenticate"), None);
        assert!(!reply.body.contains(text(&created, "key")));
    }
}

/// A tenant's test key cannot create, rotate or revoke a live key (403
/// `environment_forbidden`; top-ups take the platform secret whatever the key); a live key manages both. The keys a tenant's key creates are
/// of its environment unless told otherwise; both read every key of their tenant.
pub async fn tenant_test_keys_cannot_touch_live_keys<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let test = p
        .create_key(json!({"kind": "secret", "environment": "test", "tenant": "acme"}))
        .await;
    let live = p.secret_key("acme").await;
    let as_test = |method: Method, path: &str| {
        p.request(method, path)
            .header("x-client-secret", text(&test, "key"))
    };
    let reply = as_test(Method::POST, ADMIN_KEYS)
        .json(&json!({"kind": "secret", "environment": "live"}))
        .send()
        .await;
    reply.assert_problem(403, "environment_forbidden");
    let reply = as_test(Method::POST, ADMIN_KEYS)
        .json(&json!({"kind": "restricted", "scopes": ["read:users"]}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.json()["environment"], "test");
    assert_eq!(reply.json()["tenant"], "acme");
    let live_path = format!("{ADMIN_KEYS}/{}", text(&live, "id"));
    for (method, path, body) in [
        (Method::DELETE, live_path.clone(), None),
        (Method::POST, format!("{live_path}/rotate"), Some(json!({}))),
    ] {
        let call = as_test(method, &path);
        let call = match body {
            Some(body) => call.json(&body),
            None => call,
        };
        call.send()
            .await
            .assert_problem(403, "environment_forbidden");
    }
    as_test(Method::GET, &live_path).send().await.assert_ok();
    // The live key was not touched.
    assert_eq!(p.show_key(text(&live, "id")).await["status"], "active");

    // A live key makes live keys by default, and test keys when asked.
    let as_live = |method: Method, path: &str| {
        p.request(method, path)
            .header("x-client-secret", text(&live, "key"))
    };
    for (asked, made) in [(json!(null), "live"), (json!("test"), "test")] {
        let reply = as_live(Method::POST, ADMIN_KEYS)
            .json(&json!({"kind": "secret", "environment": asked}))
            .send()
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_eq!(reply.json()["environment"], made);
    }
    as_live(
        Method::DELETE,
        &format!("{ADMIN_KEYS}/{}", text(&test, "id")),
    )
    .send()
    .await;
    assert_eq!(p.show_key(text(&test, "id")).await["status"], "revoked");
}

/// A tenant's key that expires makes keys that expire no later than itself, and cannot
/// rotate keys (403 `expiring_credential`): a leaked key in its rotation grace cannot hand
/// itself a key that outlives the grace.
pub async fn expiring_tenant_keys_cannot_outlive_themselves<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let ends = "2030-01-02T00:00:00Z";
    let expiring = p
        .create_key(
            json!({"kind": "secret", "environment": "live", "tenant": "acme", "expires_at": ends}),
        )
        .await;
    let as_expiring = |method: Method, path: &str| {
        p.request(method, path)
            .header("x-client-secret", text(&expiring, "key"))
    };
    for asked in [json!(null), json!("2031-01-01T00:00:00Z")] {
        let reply = as_expiring(Method::POST, ADMIN_KEYS)
            .json(&json!({"kind": "secret", "environment": "live", "expires_at": asked}))
            .send()
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_eq!(reply.json()["expires_at"], ends, "asked {asked}");
    }
    let sooner = "2030-01-01T12:00:00Z";
    let reply = as_expiring(Method::POST, ADMIN_KEYS)
        .json(&json!({"kind": "secret", "environment": "live", "expires_at": sooner}))
        .send()
        .await;
    assert_eq!(reply.json()["expires_at"], sooner);
    let other = p.secret_key("acme").await;
    as_expiring(
        Method::POST,
        &format!("{ADMIN_KEYS}/{}/rotate", text(&other, "id")),
    )
    .json(&json!({"grace_seconds": 0}))
    .send()
    .await
    .assert_problem(403, "expiring_credential");
}

/// A key in its rotation grace (rotated, perhaps because it leaked) may read, but every
/// admin change it attempts is 403 `expiring_credential`: it cannot revoke its successor,
/// create keys or rotate; adding credits is 403 `operator_required`, checked first.
pub async fn rotated_keys_make_no_admin_change<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let leaked = p.secret_key("acme").await;
    let metered = p
        .create_key(
            json!({"kind": "restricted", "environment": "live", "tenant": "acme", "credits": 3}),
        )
        .await;
    let reply = p
        .admin(Method::POST, &format!("{}/rotate", key_path(&leaked)))
        .json(&json!({"grace_seconds": 3600}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let successor = reply.json();
    let as_leaked = |method: Method, path: &str| {
        p.request(method, path)
            .header("x-client-secret", text(&leaked, "key"))
    };
    // Reading still works: the key is in its grace.
    as_leaked(Method::GET, &key_path(&successor))
        .send()
        .await
        .assert_ok();
    as_leaked(Method::GET, ADMIN_KEYS).send().await.assert_ok();

    let refused = as_leaked(Method::DELETE, &key_path(&successor))
        .send()
        .await;
    refused.assert_problem(403, "expiring_credential");
    assert!(!refused.body.contains(text(&leaked, "key")));
    assert_eq!(refused.header("www-authenticate"), None);
    as_leaked(Method::DELETE, &key_path(&metered))
        .send()
        .await
        .assert_problem(403, "expiring_credential");
    as_leaked(Method::POST, ADMIN_KEYS)
        .json(&json!({"kind": "secret", "environment": "live"}))
        .send()
        .await
        .assert_problem(403, "expiring_credential");
    as_leaked(Method::POST, &format!("{}/rotate", key_path(&successor)))
        .json(&json!({"grace_seconds": 0}))
        .send()
        .await
        .assert_problem(403, "expiring_credential");
    as_leaked(Method::POST, &format!("{}/credits", key_path(&metered)))
        .json(&json!({"add": 100}))
        .send()
        .await
        .assert_problem(403, "operator_required");
    as_leaked(Method::POST, ADMIN_KEYS)
        .json(&json!({"kind": "secret", "environment": "live", "credits": 5}))
        .send()
        .await
        .assert_problem(403, "operator_required");

    // Nothing changed: the successor works, and manages keys itself.
    assert_eq!(p.show_key(text(&successor, "id")).await["status"], "active");
    assert_eq!(p.show_key(text(&metered, "id")).await["credits"], 3);
    let reply = p
        .request(Method::POST, ADMIN_KEYS)
        .header("x-client-secret", text(&successor, "key"))
        .json(&json!({"kind": "secret", "environment": "live"}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

/// Credits are money: a tenant's key can neither top up a key (its own included) nor
/// create one with credits (403 `operator_required`); the platform secret can.
pub async fn only_the_platform_secret_creates_credits<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let acme = p.secret_key("acme").await;
    let metered = p
        .create_key(
            json!({"kind": "secret", "environment": "live", "tenant": "acme", "credits": 3}),
        )
        .await;
    let as_acme = |method: Method, path: &str| {
        p.request(method, path)
            .header("x-client-secret", text(&acme, "key"))
    };
    for target in [&metered, &acme] {
        let reply = as_acme(Method::POST, &format!("{}/credits", key_path(target)))
            .json(&json!({"add": 1_000_000_000_u64}))
            .send()
            .await;
        reply.assert_problem(403, "operator_required");
        assert!(!reply.body.contains(text(&acme, "key")));
    }
    // The metered key tops itself up no more than another key does.
    p.request(Method::POST, &format!("{}/credits", key_path(&metered)))
        .header("x-client-secret", text(&metered, "key"))
        .json(&json!({"add": 5}))
        .send()
        .await
        .assert_problem(403, "operator_required");
    for tenant in [json!(null), json!("acme"), json!("globex")] {
        as_acme(Method::POST, ADMIN_KEYS)
            .json(&json!({"kind": "secret", "tenant": tenant, "credits": 1_000_000_000_u64}))
            .send()
            .await
            .assert_problem(403, "operator_required");
    }
    assert_eq!(p.show_key(text(&metered, "id")).await["credits"], 3);
    let listed = p
        .admin(Method::GET, &format!("{ADMIN_KEYS}?tenant=acme"))
        .send()
        .await
        .json();
    assert_eq!(
        listed["keys"].as_array().map(Vec::len),
        Some(2),
        "no key was made"
    );

    // The platform secret creates them.
    let reply = p
        .admin(Method::POST, &format!("{}/credits", key_path(&metered)))
        .json(&json!({"add": 2}))
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.json()["credits"], 5);
}
