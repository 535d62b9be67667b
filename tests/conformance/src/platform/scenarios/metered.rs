//! contract.md, "Metered keys": `/api/detect` costs a credit, `/api/detector/upload` is
//! free; rate-limit and credit headers; refused requests cost nothing.

use http::Method;
use serde_json::{Value, json};
use time::Duration;

use crate::harness::{Reply, T0};
use crate::platform::{Database, Platform, PlatformAdapter, text};

const DETECT: &str = "/api/detect";
const UPLOAD: &str = "/api/detector/upload";

async fn metered_key(p: &Platform, limit: u32, credits: Option<u64>) -> Value {
    let mut body = json!({"kind": "secret", "tenant": "acme",
        "rate_limit": {"limit": limit, "window_seconds": 60}});
    if let Some(credits) = credits {
        body["credits"] = json!(credits);
    }
    p.create_key(body).await
}

fn assert_rate_headers(reply: &Reply, limit: u64, remaining: u64) {
    let reset_at = (T0 + Duration::seconds(60)).unix_timestamp() as u64;
    assert_eq!(reply.number("x-ratelimit-limit"), Some(limit), "{reply:?}");
    assert_eq!(
        reply.number("x-ratelimit-remaining"),
        Some(remaining),
        "{reply:?}"
    );
    let reset = reply
        .number("x-ratelimit-reset")
        .expect("X-RateLimit-Reset");
    assert!(
        reset > T0.unix_timestamp() as u64 && reset <= reset_at,
        "X-RateLimit-Reset {reset} is Unix seconds within the window"
    );
}

/// A rate-limited key: every answer carries `X-RateLimit-Limit`, `-Remaining` and
/// `-Reset`; past the limit 429 `rate_limited` with `Retry-After` (whole seconds, ≥ 1),
/// and waiting that long is enough.
pub async fn rate_limit_headers_and_429<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let key = metered_key(&p, 2, None).await;
    let key = text(&key, "key");
    for (path, remaining) in [(UPLOAD, 1), (DETECT, 0)] {
        let reply = p.post(path).header("x-api-key", key).send().await;
        reply.assert_ok();
        assert_rate_headers(&reply, 2, remaining);
        assert!(reply.header("x-credits-remaining").is_none());
    }
    for path in [UPLOAD, DETECT] {
        let reply = p.post(path).header("X-Api-Key", key).send().await;
        reply.assert_problem(429, "rate_limited");
        assert_rate_headers(&reply, 2, 0);
        let retry_after = reply
            .number("retry-after")
            .expect("Retry-After, whole seconds");
        assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
        assert!(reply.header("www-authenticate").is_none());
        assert!(!reply.body.contains(key));
    }
    let retry_after = p
        .post(UPLOAD)
        .header("x-api-key", key)
        .send()
        .await
        .number("retry-after")
        .expect("Retry-After");
    p.clock.advance(Duration::seconds(retry_after as i64));
    p.post(UPLOAD)
        .header("x-api-key", key)
        .send()
        .await
        .assert_ok();
}

/// Credits: `/api/detect` costs one, `X-Credits-Remaining` counts down, then 402
/// `insufficient_credits`; `/api/detector/upload` stays free and open.
pub async fn credits_run_out<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let created = metered_key(&p, 100, Some(2)).await;
    let key = text(&created, "key");
    for left in [1, 0] {
        let reply = p.post(DETECT).header("x-api-key", key).send().await;
        reply.assert_ok();
        assert_eq!(reply.number("x-credits-remaining"), Some(left));
        assert_eq!(reply.json()["resource"], "detect");
        assert_eq!(reply.json()["principal"]["method"], "api_key");
    }
    let reply = p.post(DETECT).header("x-api-key", key).send().await;
    reply.assert_problem(402, "insufficient_credits");
    assert_eq!(reply.number("x-credits-remaining"), Some(0));
    assert_eq!(reply.number("x-ratelimit-limit"), Some(100));
    assert!(reply.header("www-authenticate").is_none());
    for _ in 0..3 {
        let reply = p.post(UPLOAD).header("x-api-key", key).send().await;
        reply.assert_ok();
        assert_eq!(reply.number("x-credits-remaining"), Some(0));
        assert_eq!(reply.json()["resource"], "upload");
    }
    assert_eq!(p.show_key(text(&created, "id")).await["credits"], 0);
    // Zero credits from the start: 402 at once.
    let empty = p.create_key(json!({"kind": "secret", "credits": 0})).await;
    p.post(DETECT)
        .header("x-api-key", text(&empty, "key"))
        .send()
        .await
        .assert_problem(402, "insufficient_credits");
}

/// A request refused for any reason costs no credits: rate-limited, refused for its
/// credential, or free.
pub async fn refused_requests_cost_no_credits<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let created = metered_key(&p, 2, Some(10)).await;
    let key = text(&created, "key");
    let balance = || async { p.show_key(text(&created, "id")).await["credits"].clone() };
    p.post(UPLOAD)
        .header("x-api-key", key)
        .send()
        .await
        .assert_ok();
    assert_eq!(balance().await, 10, "upload is free");
    p.post(DETECT)
        .header("x-api-key", key)
        .send()
        .await
        .assert_ok();
    assert_eq!(balance().await, 9);
    let reply = p.post(DETECT).header("x-api-key", key).send().await;
    reply.assert_problem(429, "rate_limited");
    assert_eq!(
        reply.number("x-credits-remaining"),
        Some(9),
        "a key with credits shows its balance on every answer, a 429 too"
    );
    assert_eq!(balance().await, 9, "a rate-limited request is free");
    // Refused with a second, bad credential: nothing spent.
    p.clock.advance(Duration::seconds(60));
    p.post(DETECT)
        .header("x-api-key", key)
        .bearer("not-a-token")
        .send()
        .await
        .assert_problem(401, "invalid_token");
    p.post(DETECT)
        .header("x-api-key", key)
        .header("x-client-secret", "not-the-secret")
        .send()
        .await
        .assert_problem(401, "invalid_secret_key");
    assert_eq!(balance().await, 9);
    // A request the router refuses never reaches the meter.
    p.request(Method::GET, DETECT)
        .header("x-api-key", key)
        .send()
        .await
        .assert_problem(405, "method_not_allowed");
    p.post(DETECT)
        .header("x-api-key", key)
        .send()
        .await
        .assert_ok();
    assert_eq!(balance().await, 8);
}

/// A key without a rate limit or credits gets no metering headers and is never refused
/// for use.
pub async fn unmetered_key_has_no_metering_headers<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let created = p.secret_key("acme").await;
    for _ in 0..5 {
        let reply = p
            .post(DETECT)
            .header("x-api-key", text(&created, "key"))
            .send()
            .await;
        reply.assert_ok();
        for header in [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
            "x-credits-remaining",
        ] {
            assert!(reply.header(header).is_none(), "{header}");
        }
    }
    assert_eq!(
        p.show_key(text(&created, "id")).await["credits"],
        Value::Null
    );
    // Credits without a rate limit: the credit header only.
    let credited = p.create_key(json!({"kind": "secret", "credits": 3})).await;
    let reply = p
        .post(DETECT)
        .header("x-api-key", text(&credited, "key"))
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.number("x-credits-remaining"), Some(2));
    assert!(reply.header("x-ratelimit-limit").is_none());
}

/// The metered routes take any API key in `X-API-Key` (any case): secret, restricted
/// without scopes, custom; a publishable key alone grants nothing; issued tokens are
/// not API keys (`ek_` client tokens are: see `client_tokens.rs`).
pub async fn metered_routes_take_any_api_key<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for (body, header) in [
        (
            json!({"kind": "secret", "environment": "test"}),
            "x-api-key",
        ),
        (json!({"kind": "restricted", "tenant": "acme"}), "X-API-Key"),
        (
            json!({"kind": "custom", "prefix": "bijou_", "scopes": ["read:users"]}),
            "X-Api-Key",
        ),
    ] {
        let created = p.create_key(body.clone()).await;
        for path in [DETECT, UPLOAD] {
            let reply = p
                .post(path)
                .header(header, text(&created, "key"))
                .send()
                .await;
            reply.assert_ok();
            assert_eq!(reply.json()["principal"]["key_id"], created["id"], "{body}");
        }
    }
    let publishable = p
        .create_key(json!({"kind": "publishable", "tenant": "acme"}))
        .await;
    p.post(DETECT)
        .header("x-api-key", text(&publishable, "key"))
        .send()
        .await
        .assert_problem(401, "user_token_required");
    let token = p.token("SESSION", "*", "*").await;
    p.post(DETECT)
        .bearer(&token)
        .send()
        .await
        .assert_problem(403, "credential_not_accepted");
    p.post(DETECT)
        .send()
        .await
        .assert_problem(401, "missing_credentials");
    p.post(DETECT)
        .header("x-api-key", "sk_live_nope")
        .send()
        .await
        .assert_problem(401, "invalid_api_key");
}
