//! contract.md, "Refilling credits, per-user quotas, usage": `POST /detect`, the web
//! app's route — a user JWT only, 5 requests per user per UTC day, the sixth 429
//! `quota_exceeded` with `Retry-After` until the next UTC midnight.

use http::Method;
use time::Duration;

use crate::platform::{Database, Platform, PlatformAdapter};

const DETECT: &str = "/detect";

/// Five a day per user, with `X-Quota-*`; the sixth is 429 until midnight UTC; another
/// user has a count of their own; the next day starts fresh.
pub async fn detect_quota_per_user_per_day<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    // 20:00 UTC: four hours to midnight.
    p.clock.advance(Duration::hours(20));
    let ada = p.users.of_tenant("ada", "acme");
    for left in (0..5).rev() {
        let reply = p.post(DETECT).bearer(&ada).send().await;
        reply.assert_ok();
        assert_eq!(reply.json()["resource"], "detect");
        assert_eq!(reply.header("x-quota-limit"), Some("5"));
        assert_eq!(
            reply.header("x-quota-remaining"),
            Some(left.to_string().as_str())
        );
        // No key, so no key rate limit.
        assert_eq!(reply.header("x-ratelimit-limit"), None);
    }
    let refused = p.post(DETECT).bearer(&ada).send().await;
    refused.assert_problem(429, "quota_exceeded");
    assert_eq!(refused.header("retry-after"), Some("14400"));
    assert_eq!(refused.header("x-quota-limit"), Some("5"));
    assert_eq!(refused.header("x-quota-remaining"), Some("0"));

    // The same user id in another tenant is another user; so is another id.
    for other in [
        p.users.of_tenant("ada", "globex"),
        p.users.of_tenant("grace", "acme"),
    ] {
        let reply = p.post(DETECT).bearer(&other).send().await;
        reply.assert_ok();
        assert_eq!(reply.header("x-quota-remaining"), Some("4"));
    }

    // A second before midnight the refusal stands (and spent nothing); at midnight, a
    // fresh day.
    p.clock.advance(Duration::hours(4) - Duration::seconds(1));
    let ada = p.users.of_tenant("ada", "acme");
    let refused = p.post(DETECT).bearer(&ada).send().await;
    refused.assert_problem(429, "quota_exceeded");
    assert_eq!(refused.header("retry-after"), Some("1"));
    p.clock.advance(Duration::seconds(1));
    let reply = p.post(DETECT).bearer(&ada).send().await;
    reply.assert_ok();
    assert_eq!(reply.header("x-quota-remaining"), Some("4"));
}

/// Only a user JWT opens `POST /detect` (and the platform secret, which opens every
/// route and is not counted); an API key or an issued token is 403
/// `credential_not_accepted`, and spends nothing.
pub async fn detect_takes_user_jwts_only<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let key = p.secret_key("acme").await;
    let key = key["key"].as_str().unwrap_or_default().to_owned();
    p.post(DETECT)
        .header("x-api-key", &key)
        .send()
        .await
        .assert_problem(403, "credential_not_accepted");
    p.post(DETECT)
        .bearer(&key)
        .send()
        .await
        .assert_problem(403, "credential_not_accepted");
    let token = p.token("SESSION", "*", "*").await;
    p.post(DETECT)
        .bearer(&token)
        .send()
        .await
        .assert_problem(403, "credential_not_accepted");
    for _ in 0..6 {
        let reply = p.admin(Method::POST, DETECT).send().await;
        reply.assert_ok();
        assert_eq!(reply.header("x-quota-limit"), None);
    }
}
