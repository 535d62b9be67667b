//! contract.md, "Client tokens and proxy mode": `POST /api/tokens` mints `ek_` client
//! tokens from the platform secret or an `sk_` key; they carry the minter's tenant and
//! scopes, never more, are charged to the minting key, die with it, and open neither
//! admin routes nor minting.

use http::Method;
use serde_json::{Value, json};
use time::Duration;

use super::{BARE, REJECTED, assert_invalid};
use crate::harness::{Call, Reply};
use crate::platform::{ADMIN_KEYS, Database, Platform, PlatformAdapter, TOKEN, text};

/// `POST /api/tokens`.
const TOKENS: &str = "/api/tokens";
/// A metered route that answers with the principal.
const DETECT: &str = "/api/detect";
/// A free metered route.
const UPLOAD: &str = "/api/detector/upload";

/// Sends a mint and expects a 200 with exactly `apiKey` and `expiresAt`; the token.
async fn minted(call: Call) -> (String, String) {
    let reply = call.send().await;
    reply.assert_ok();
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    let mut fields: Vec<&String> = body.as_object().expect("an object").keys().collect();
    fields.sort();
    assert_eq!(fields, ["apiKey", "expiresAt"], "{body}");
    let token = text(&body, "apiKey").to_owned();
    assert!(token.starts_with("ek_"), "{token}");
    (token, text(&body, "expiresAt").to_owned())
}

/// The principal `/api/detect` reports for a request with `X-API-Key: credential`.
async fn principal(p: &Platform, credential: &str) -> Value {
    let reply = p.post(DETECT).header("x-api-key", credential).send().await;
    reply.assert_ok();
    reply.json()["principal"].clone()
}

/// A mint with the platform secret and `body`.
fn mint(p: &Platform, body: &Value) -> Call {
    p.admin(Method::POST, TOKENS).json(body)
}

/// Minted by the platform secret and by an `sk_` key (in `x-client-secret`, as a bearer
/// and in `X-API-Key`): 200 `{"apiKey": "ek_…", "expiresAt"}` (600 s by default, RFC
/// 3339); the token works as a bearer and in `X-API-Key`, as `client_token`, with the
/// key's tenant, environment, scopes and id, and the metadata of the mint.
pub async fn client_token_minting<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    // The platform secret: an empty body takes every default.
    let (operator, expires_at) = minted(p.admin(Method::POST, TOKENS)).await;
    assert_eq!(expires_at, "2030-01-01T00:10:00Z");
    let seen = principal(&p, &operator).await;
    assert_eq!(seen["method"], "client_token");
    assert_eq!(seen["tenant"], Value::Null);
    assert_eq!(seen["key_id"], Value::Null);

    let parent = p
        .create_key(
            json!({"kind": "secret", "environment": "test", "tenant": "acme",
            "metadata": {"plan": "pro"}}),
        )
        .await;
    let key = text(&parent, "key");
    let from_key = principal(&p, key).await;
    let body = json!({"metadata": {"user": "u_1", "device": {"kind": "browser"}},
        "ttl_seconds": 120});
    for call in [
        p.post(TOKENS).header("x-client-secret", key),
        p.post(TOKENS).bearer(key),
        p.post(TOKENS).header("X-API-Key", key),
    ] {
        let (token, expires_at) = minted(call.json(&body)).await;
        assert_eq!(expires_at, "2030-01-01T00:02:00Z");
        let by_header = principal(&p, &token).await;
        let reply = p.post(DETECT).bearer(&token).send().await;
        reply.assert_ok();
        assert_eq!(
            reply.json()["principal"],
            by_header,
            "bearer and X-API-Key alike"
        );
        assert_eq!(by_header["method"], "client_token");
        assert_eq!(by_header["tenant"], "acme");
        assert_eq!(by_header["environment"], "test");
        assert_eq!(by_header["key_id"], parent["id"]);
        assert_eq!(by_header["subject"], parent["id"]);
        assert_eq!(by_header["scopes"], from_key["scopes"]);
        assert_eq!(by_header["actor"], Value::Null);
        assert_eq!(
            by_header["metadata"],
            json!({"user": "u_1", "device": {"kind": "browser"}}),
            "the mint's metadata, not the key's"
        );
        assert!(!reply.body.contains(&token), "the token is never echoed");
    }
    // GET is not how a token is minted.
    let reply = p.admin(Method::GET, TOKENS).send().await;
    reply.assert_problem(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("POST"));
}

/// `ttl_seconds` is 1 to 86400 (400 `invalid_request` naming it otherwise); the body
/// takes `metadata` (an object of at most 4 KiB) and `ttl_seconds`, nothing else.
pub async fn client_token_validation<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for (ttl, expires_at) in [
        (1, "2030-01-01T00:00:01Z"),
        (600, "2030-01-01T00:10:00Z"),
        (86_400, "2030-01-02T00:00:00Z"),
    ] {
        let (_, at) = minted(mint(&p, &json!({"ttl_seconds": ttl}))).await;
        assert_eq!(at, expires_at, "ttl {ttl}");
    }
    let (_, at) = minted(mint(&p, &json!({"metadata": {}}))).await;
    assert_eq!(at, "2030-01-01T00:10:00Z");
    for (body, field) in [
        (json!({"ttl_seconds": 0}), "ttl_seconds"),
        (json!({"ttl_seconds": 86_401}), "ttl_seconds"),
        (json!({"ttl_seconds": -1}), "ttl_seconds"),
        (json!({"ttl_seconds": 1.5}), "ttl_seconds"),
        (json!({"ttl_seconds": "60"}), "ttl_seconds"),
        (json!({"metadata": "pro"}), "metadata"),
        (json!({"metadata": ["pro"]}), "metadata"),
        (json!({"metadata": {"x": "y".repeat(5000)}}), "metadata"),
        (json!({"ttl": 60}), "ttl"),
        (json!({"scopes": ["*"]}), "scopes"),
        (json!([]), "body"),
    ] {
        let reply = mint(&p, &body).send().await;
        assert_invalid(&reply, field, &body.to_string());
    }
    let reply = p
        .admin(Method::POST, TOKENS)
        .body("{\"ttl_seconds\": ")
        .send()
        .await;
    reply.assert_problem(400, "invalid_request");
}

/// Only the platform secret and `sk_` keys mint client tokens: a restricted, custom or
/// publishable key, an issued token and a client token are refused (and a one-time
/// token is not spent by the refusal); nothing is 401; impersonation is 403.
pub async fn client_token_minters<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let reply = p.post(TOKENS).send().await;
    reply.assert_problem(401, "missing_credentials");
    assert_eq!(reply.header("www-authenticate"), Some(BARE));
    let restricted = p
        .create_key(json!({"kind": "restricted", "tenant": "acme", "scopes": ["read:users"]}))
        .await;
    let custom = p
        .create_key(json!({"kind": "custom", "prefix": "bijou_", "scopes": ["read:users"]}))
        .await;
    for key in [&restricted, &custom] {
        let key = text(key, "key");
        for call in [
            p.post(TOKENS).bearer(key),
            p.post(TOKENS).header("x-api-key", key),
        ] {
            // A route that needs a secret: any other kind of key is refused unverified.
            let reply = call.send().await;
            reply.assert_problem(403, "secret_key_required");
            assert!(!reply.body.contains(key));
        }
    }
    let publishable = p
        .create_key(json!({"kind": "publishable", "tenant": "acme"}))
        .await;
    p.post(TOKENS)
        .header("x-api-key", text(&publishable, "key"))
        .send()
        .await
        .assert_problem(403, "secret_key_required");
    let one_time = p.token("ONE_TIME", "*", "*").await;
    let session = p.token("SESSION", "*", "*").await;
    for token in [&one_time, &session] {
        p.post(TOKENS)
            .bearer(token)
            .send()
            .await
            .assert_problem(403, "credential_not_accepted");
    }
    p.post("/api/v1/lens")
        .bearer(&one_time)
        .send()
        .await
        .assert_ok();
    let (client, _) = minted(p.admin(Method::POST, TOKENS)).await;
    for call in [
        p.post(TOKENS).bearer(&client),
        p.post(TOKENS).header("x-api-key", &client),
    ] {
        call.send()
            .await
            .assert_problem(403, "credential_not_accepted");
    }
    let key = p.secret_key("acme").await;
    p.post(TOKENS)
        .bearer(text(&key, "key"))
        .header("x-on-behalf-of", "user_1")
        .send()
        .await
        .assert_problem(403, "impersonation_forbidden");
    p.post(TOKENS)
        .header("x-client-secret", "not-the-secret")
        .send()
        .await
        .assert_problem(401, "invalid_secret_key");
}

/// A client token works until `expiresAt` and is 401 `token_expired` from then on
/// (the engine's clock, never a sleep).
pub async fn client_token_expiry<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let key = p.secret_key("acme").await;
    let key = text(&key, "key");
    let (short, _) = minted(p.post(TOKENS).bearer(key).json(&json!({"ttl_seconds": 60}))).await;
    let (default, _) = minted(p.post(TOKENS).bearer(key)).await;
    p.clock.advance(Duration::seconds(59));
    principal(&p, &short).await;
    p.clock.advance(Duration::seconds(1));
    let reply = p.post(DETECT).header("x-api-key", &short).send().await;
    reply.assert_problem(401, "token_expired");
    assert_eq!(reply.header("www-authenticate"), Some(REJECTED));
    assert!(!reply.body.contains(&short));
    p.clock.advance(Duration::seconds(539));
    principal(&p, &default).await;
    p.clock.advance(Duration::seconds(1));
    p.post(DETECT)
        .bearer(&default)
        .send()
        .await
        .assert_problem(401, "token_expired");
}

/// A client token is no wider than its key: the key's tenant and environment, its
/// scopes, and no life beyond the key's expiry; next to another tenant's key in
/// `x-client-secret` it is 403 `tenant_mismatch`; altered, it is 401 `invalid_token`.
pub async fn client_token_no_wider_than_its_key<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let expiring = p
        .create_key(
            json!({"kind": "secret", "environment": "live", "tenant": "acme",
            "expires_at": "2030-01-01T00:01:40Z"}),
        )
        .await;
    let key = text(&expiring, "key");
    let (token, expires_at) = minted(
        p.post(TOKENS)
            .bearer(key)
            .json(&json!({"ttl_seconds": 3600})),
    )
    .await;
    assert_eq!(
        expires_at, "2030-01-01T00:01:40Z",
        "cut to the key's expiry"
    );
    let seen = principal(&p, &token).await;
    assert_eq!(seen["tenant"], "acme");
    assert_eq!(seen["environment"], "live");
    assert_eq!(seen["scopes"], principal(&p, key).await["scopes"]);
    let globex = p.secret_key("globex").await;
    p.post(DETECT)
        .header("x-client-secret", text(&globex, "key"))
        .bearer(&token)
        .send()
        .await
        .assert_problem(403, "tenant_mismatch");
    // The key's own tenant may vouch for it: the token acts.
    let reply = p
        .post(DETECT)
        .header("x-client-secret", key)
        .bearer(&token)
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.json()["principal"]["method"], "client_token");
    // Altered in its signature or its claims: invalid.
    let mut altered = token.clone().into_bytes();
    let last = altered.len() - 2;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).expect("ASCII");
    let reply = p.post(DETECT).bearer(&altered).send().await;
    reply.assert_problem(401, "invalid_token");
    assert_eq!(reply.header("www-authenticate"), Some(REJECTED));
    p.post(DETECT)
        .bearer("ek_not.a.token")
        .send()
        .await
        .assert_problem(401, "invalid_token");
    p.clock.advance(Duration::seconds(100));
    let reply = p.post(DETECT).bearer(&token).send().await;
    assert_eq!(reply.status, 401, "{}", reply.body);
}

/// Revoking the key kills its client tokens at once (401 `key_revoked`); a rotated key's
/// client tokens last its grace period, then 401 `key_expired`.
pub async fn client_token_dies_with_its_key<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let parent = p.secret_key("acme").await;
    let (token, _) = minted(p.post(TOKENS).bearer(text(&parent, "key"))).await;
    principal(&p, &token).await;
    let path = format!("{ADMIN_KEYS}/{}", text(&parent, "id"));
    let reply = p.admin(Method::DELETE, &path).send().await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    for call in [
        p.post(DETECT).bearer(&token),
        p.post(UPLOAD).header("x-api-key", &token),
    ] {
        let reply = call.send().await;
        reply.assert_problem(401, "key_revoked");
        assert_eq!(reply.header("www-authenticate"), Some(REJECTED));
    }

    let rotated = p.secret_key("acme").await;
    let (token, _) = minted(p.post(TOKENS).bearer(text(&rotated, "key"))).await;
    let reply = p
        .admin(
            Method::POST,
            &format!("{ADMIN_KEYS}/{}/rotate", text(&rotated, "id")),
        )
        .json(&json!({"grace_seconds": 60}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    principal(&p, &token).await;
    p.clock.advance(Duration::seconds(60));
    p.post(DETECT)
        .bearer(&token)
        .send()
        .await
        .assert_problem(401, "key_expired");
}

/// A client token is charged to its key: the key's rate limit and credits, shared with
/// the key itself (the mint, made with the key, took a slot too), with the key's
/// `X-RateLimit-*` and `X-Credits-Remaining` headers.
pub async fn client_token_charged_to_its_key<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let parent = p
        .create_key(json!({"kind": "secret", "tenant": "acme", "credits": 2,
            "rate_limit": {"limit": 5, "window_seconds": 60}}))
        .await;
    let key = text(&parent, "key");
    let (token, _) = minted(p.post(TOKENS).bearer(key)).await;
    let headers = |reply: &Reply| {
        (
            reply.number("x-ratelimit-limit"),
            reply.number("x-ratelimit-remaining"),
            reply.number("x-credits-remaining"),
        )
    };
    let reply = p.post(DETECT).header("x-api-key", &token).send().await;
    reply.assert_ok();
    assert_eq!(headers(&reply), (Some(5), Some(3), Some(1)));
    let reply = p.post(DETECT).header("x-api-key", key).send().await;
    reply.assert_ok();
    assert_eq!(headers(&reply), (Some(5), Some(2), Some(0)));
    let reply = p.post(DETECT).bearer(&token).send().await;
    reply.assert_problem(402, "insufficient_credits");
    assert_eq!(reply.number("x-credits-remaining"), Some(0));
    assert_eq!(p.show_key(text(&parent, "id")).await["credits"], 0);
    let reply = p.post(UPLOAD).bearer(&token).send().await;
    reply.assert_ok();
    assert_eq!(headers(&reply), (Some(5), Some(1), Some(0)));
    p.post(UPLOAD)
        .header("x-api-key", key)
        .send()
        .await
        .assert_ok();
    let reply = p.post(UPLOAD).bearer(&token).send().await;
    reply.assert_problem(429, "rate_limited");
    assert!(reply.number("retry-after").is_some_and(|after| after >= 1));
    assert_eq!(headers(&reply), (Some(5), Some(0), Some(0)));
    // A client token of a key without limits carries no metering headers.
    let free = p.secret_key("acme").await;
    let (token, _) = minted(p.post(TOKENS).bearer(text(&free, "key"))).await;
    let reply = p.post(DETECT).bearer(&token).send().await;
    reply.assert_ok();
    assert_eq!(headers(&reply), (None, None, None));
}

/// A client token opens no admin route (403 `secret_key_required`), mints nothing
/// (`POST /api/v1/token`, `POST /api/tokens`: 403 `credential_not_accepted`), opens no
/// token route and no key route, and is no platform secret.
pub async fn client_token_refused_on_admin_and_minting<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let parent = p.secret_key("acme").await;
    let (token, _) = minted(p.post(TOKENS).bearer(text(&parent, "key"))).await;
    for (method, path) in [
        (Method::GET, ADMIN_KEYS.to_owned()),
        (Method::POST, ADMIN_KEYS.to_owned()),
        (
            Method::DELETE,
            format!("{ADMIN_KEYS}/{}", text(&parent, "id")),
        ),
        (Method::GET, "/api/v1/admin/catalogues".to_owned()),
    ] {
        for call in [
            p.request(method.clone(), &path).bearer(&token),
            p.request(method.clone(), &path).header("x-api-key", &token),
        ] {
            let reply = call.json(&json!({"kind": "secret"})).send().await;
            reply.assert_problem(403, "secret_key_required");
            assert!(!reply.body.contains(&token));
        }
    }
    let mint = json!({"actionResource": "*", "actionType": "*"});
    for call in [
        p.post(TOKEN).bearer(&token),
        p.post(TOKEN).header("x-api-key", &token),
        p.post(TOKENS).bearer(&token),
    ] {
        call.json(&mint)
            .send()
            .await
            .assert_problem(403, "credential_not_accepted");
    }
    for (method, path) in [
        (Method::POST, "/api/v1/lens"),
        (Method::GET, "/api/v1/catalogues/c1"),
        (Method::GET, "/v1/users/me"),
    ] {
        p.request(method, path)
            .bearer(&token)
            .send()
            .await
            .assert_problem(403, "credential_not_accepted");
    }
    // Longer than any platform secret: refused as a malformed header.
    p.get(ADMIN_KEYS)
        .header("x-client-secret", &token)
        .send()
        .await
        .assert_problem(400, "invalid_request");
    // The key is still whole: it lists its tenant's keys.
    p.get(ADMIN_KEYS)
        .header("x-client-secret", text(&parent, "key"))
        .send()
        .await
        .assert_ok();
}
