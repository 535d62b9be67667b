//! contract.md's rules, as scenarios spoken over HTTP. Each runs once per adapter (see
//! the [`conformance_suite!`](crate::conformance_suite) macro); none knows which adapter
//! it talks to.

use keygate_core::key::{KeyKind, NewKey, RateLimit};
use keygate_core::token::TokenKind;
use keygate_core::{Environment, KeyRecord};
use time::Duration;

use crate::adapters::Adapter;
use crate::harness::Harness;

const ADMIN: &str = "/api/v1/admin/keys";
const MAGIC: &str = "/api/v1/magic-background";
const LENS: &str = "/api/v1/lens";
const DETECT: &str = "/api/detect";

/// The platform secret opens an admin route; the handler's `Admin` extractor sees the
/// operator.
pub async fn admin_with_platform_secret<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let reply = h
        .get(ADMIN)
        .header("x-client-secret", h.secret.expose())
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.json()["admin"]["method"], "secret_key");
    assert_eq!(reply.json()["admin"]["tenant"], serde_json::Value::Null);
    assert!(reply.header("www-authenticate").is_none());
}

/// A tenant's `sk_` key in `x-client-secret` opens admin routes too, for its tenant.
pub async fn admin_with_tenant_secret_key<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let key = h.secret_key("acme").await;
    let reply = h
        .get(ADMIN)
        .header("x-client-secret", key.key.expose())
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.json()["admin"]["tenant"], "acme");
    assert!(
        !reply.body.contains(key.key.expose()),
        "the key is never echoed"
    );
}

/// Operator-only routes (`Access::operator()`, and the `Operator` extractor on an admin
/// route or any other): the platform secret passes; a tenant's `sk_` key is 403
/// `operator_required`; any other credential 403 `secret_key_required` — problem+json on
/// every adapter, never a fall-through 404. A one-time token refused there stays unused.
pub async fn operator_only_routes<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let secret = h.secret.expose().to_owned();
    let sk = h.secret_key("acme").await;
    let rk = h
        .key(NewKey {
            tenant: Some("acme".into()),
            scopes: vec!["*".into()],
            ..NewKey::new(KeyKind::Restricted, Environment::Live)
        })
        .await;
    let token = h.token(TokenKind::OneTime, "*").await;
    let operator_routes = [
        ("/operator", "admin"),
        ("/api/v1/admin/tenants", "operator"),
        ("/operator/extractor", "operator"),
    ];
    for (path, field) in operator_routes {
        let reply = h.get(path).header("x-client-secret", &secret).send().await;
        reply.assert_ok();
        assert_eq!(reply.json()[field]["method"], "secret_key", "{path}");
        assert_eq!(reply.json()[field]["tenant"], serde_json::Value::Null);

        let reply = h
            .get(path)
            .header("x-client-secret", sk.key.expose())
            .send()
            .await;
        reply.assert_problem(403, "operator_required");
        assert_eq!(reply.header("www-authenticate"), None, "{path}");
        assert!(!reply.body.contains(sk.key.expose()));

        let reply = h.get(path).bearer(&token).send().await;
        reply.assert_problem(403, "secret_key_required");
        assert!(!reply.body.contains(&token));
        let reply = h
            .get(path)
            .header("x-api-key", rk.key.expose())
            .send()
            .await;
        reply.assert_problem(403, "secret_key_required");
        h.get(path)
            .send()
            .await
            .assert_problem(401, "missing_credentials");
    }
    // A tenant's sk_ key outside x-client-secret is still a tenant's key.
    let reply = h
        .get("/operator/extractor")
        .header("x-api-key", sk.key.expose())
        .send()
        .await;
    reply.assert_problem(403, "operator_required");
    let reply = h
        .get("/operator")
        .header("x-api-key", sk.key.expose())
        .send()
        .await;
    reply.assert_problem(403, "secret_key_required");
    // The one-time token was refused unconsumed everywhere it went.
    h.post(MAGIC).bearer(&token).send().await.assert_ok();
}

/// A token on an admin route: 403 `secret_key_required`, and the token is not consumed.
pub async fn admin_with_token_is_refused_and_not_consumed<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let token = h.token(TokenKind::OneTime, "*:*").await;
    let reply = h.get(ADMIN).bearer(&token).send().await;
    reply.assert_problem(403, "secret_key_required");
    assert!(!reply.body.contains(&token), "the token is never echoed");
    h.post(MAGIC).bearer(&token).send().await.assert_ok();
}

/// An API key on an admin route is refused the same way.
pub async fn admin_with_api_key_is_refused<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let key = h.secret_key("acme").await;
    let reply = h
        .get(ADMIN)
        .header("x-api-key", key.key.expose())
        .send()
        .await;
    reply.assert_problem(403, "secret_key_required");
}

/// Nothing presented: 401 `missing_credentials` with the bare challenge.
pub async fn admin_with_nothing<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let reply = h.get(ADMIN).send().await;
    reply.assert_problem(401, "missing_credentials");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Bearer realm="keygate""#)
    );
}

/// A wrong secret: 401 `invalid_secret_key` with `error="invalid_token"`.
pub async fn admin_with_wrong_secret<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let reply = h
        .get(ADMIN)
        .header("x-client-secret", "not-the-secret")
        .send()
        .await;
    reply.assert_problem(401, "invalid_secret_key");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Bearer realm="keygate", error="invalid_token""#)
    );
    assert!(!reply.body.contains("not-the-secret"));
}

/// Credentials in the query string are ignored.
pub async fn query_string_credentials_are_ignored<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let path = format!("{ADMIN}?x-client-secret={}", h.secret.expose());
    h.get(&path)
        .send()
        .await
        .assert_problem(401, "missing_credentials");
}

/// A token with the route's scope is allowed; the principal says so.
pub async fn scoped_token_allowed<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let token = h.token(TokenKind::Session, "magic-background:create").await;
    let reply = h.post(MAGIC).bearer(&token).send().await;
    reply.assert_ok();
    let body = reply.json();
    assert_eq!(body["resource"], "magic-background");
    assert_eq!(body["principal"]["method"], "token");
    assert_eq!(body["principal"]["scopes"][0], "magic-background:create");
}

/// A token without the route's scope: 403 `insufficient_scope` naming the scope.
pub async fn scoped_token_refused<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let token = h.token(TokenKind::Session, "magic-background:create").await;
    let reply = h.post(LENS).bearer(&token).send().await;
    reply.assert_problem(403, "insufficient_scope");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Bearer error="insufficient_scope", scope="lens:create""#)
    );
}

/// A wildcard scope matches any segment in its place.
pub async fn wildcard_scope<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let token = h.token(TokenKind::Session, "*:create").await;
    h.post(MAGIC).bearer(&token).send().await.assert_ok();
    h.post(LENS).bearer(&token).send().await.assert_ok();
}

/// A one-time token works once; the replay is 401 `token_used`.
pub async fn one_time_token_replay<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let token = h.token(TokenKind::OneTime, "magic-background:create").await;
    h.post(MAGIC).bearer(&token).send().await.assert_ok();
    let replay = h.post(MAGIC).bearer(&token).send().await;
    replay.assert_problem(401, "token_used");
    assert_eq!(
        replay.header("www-authenticate"),
        Some(r#"Bearer realm="keygate", error="invalid_token""#)
    );
}

/// A one-time token presented to a route outside its scope stays unused.
pub async fn one_time_token_not_consumed_by_refused_request<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let token = h.token(TokenKind::OneTime, "magic-background:create").await;
    h.post(LENS)
        .bearer(&token)
        .send()
        .await
        .assert_problem(403, "insufficient_scope");
    h.post(MAGIC).bearer(&token).send().await.assert_ok();
}

/// A one-time token is spent only by a request its handler serves: an answer of 4xx
/// gives it back (the request was refused), one of 5xx does not (the handler may have
/// acted before it failed).
pub async fn one_time_token_given_back_by_a_handler_4xx<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let token = h.token(TokenKind::OneTime, "magic-background:create").await;
    for _ in 0..2 {
        let reply = h.post("/api/v1/refused").bearer(&token).send().await;
        assert_eq!(reply.status, 422, "{}", reply.body);
    }
    h.post(MAGIC).bearer(&token).send().await.assert_ok();
    h.post("/api/v1/refused")
        .bearer(&token)
        .send()
        .await
        .assert_problem(401, "token_used");

    let token = h.token(TokenKind::OneTime, "magic-background:create").await;
    let reply = h.post("/api/v1/broken").bearer(&token).send().await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    h.post(MAGIC)
        .bearer(&token)
        .send()
        .await
        .assert_problem(401, "token_used");
}

/// A session token serves many requests.
pub async fn session_token_reuse<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let token = h.token(TokenKind::Session, "magic-background:create").await;
    for _ in 0..3 {
        h.post(MAGIC).bearer(&token).send().await.assert_ok();
    }
}

/// Tokens expire on the engine's clock: one-time after 300 s, session after its duration.
pub async fn token_expiry<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let one_time = h.token(TokenKind::OneTime, "magic-background:create").await;
    let session = h.token(TokenKind::Session, "magic-background:create").await;
    h.clock.advance(Duration::seconds(299));
    h.post(MAGIC).bearer(&session).send().await.assert_ok();
    h.clock.advance(Duration::seconds(2));
    h.post(MAGIC)
        .bearer(&one_time)
        .send()
        .await
        .assert_problem(401, "token_expired");
    // A session token lives 5 minutes by default.
    h.post(MAGIC)
        .bearer(&session)
        .send()
        .await
        .assert_problem(401, "token_expired");
}

/// A malformed token: 401 `invalid_token`.
pub async fn malformed_token<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    h.post(MAGIC)
        .bearer("eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl")
        .send()
        .await
        .assert_problem(401, "invalid_token");
}

/// The kinds of API key: `sk_` acts with every scope of its tenant, `rk_` and custom keys
/// with their listed scopes, `pk_` grants nothing without a user JWT.
pub async fn api_key_kinds<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let secret = h.secret_key("acme").await;
    let reply = h
        .get("/v1/users/me")
        .bearer(secret.key.expose())
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.json()["principal"]["method"], "api_key");
    assert_eq!(reply.json()["principal"]["tenant"], "acme");
    assert_eq!(reply.json()["principal"]["environment"], "live");

    let restricted = h
        .key(NewKey {
            tenant: Some("acme".into()),
            scopes: vec!["read:users".into()],
            ..NewKey::new(KeyKind::Restricted, Environment::Test)
        })
        .await;
    let reply = h
        .get("/v1/users/me")
        .bearer(restricted.key.expose())
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.json()["principal"]["environment"], "test");
    h.post(MAGIC)
        .header("x-api-key", restricted.key.expose())
        .send()
        .await
        .assert_problem(403, "insufficient_scope");

    let custom = h
        .key(NewKey {
            prefix: Some("bijou_".into()),
            scopes: vec!["magic-background:create".into()],
            ..NewKey::new(KeyKind::Custom, Environment::Live)
        })
        .await;
    assert!(custom.key.expose().starts_with("bijou_"));
    h.post(MAGIC)
        .header("X-API-Key", custom.key.expose())
        .send()
        .await
        .assert_ok();

    let publishable = h
        .key(NewKey {
            tenant: Some("acme".into()),
            ..NewKey::new(KeyKind::Publishable, Environment::Live)
        })
        .await;
    h.post(MAGIC)
        .header("x-api-key", publishable.key.expose())
        .send()
        .await
        .assert_problem(401, "user_token_required");
}

/// A key with a bad checksum or an unknown key: 401 `invalid_api_key`, never echoed.
pub async fn invalid_api_key<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let key = h.secret_key("acme").await;
    let mut tampered = key.key.expose().to_owned();
    let last = tampered.pop().map(|c| if c == 'a' { 'b' } else { 'a' });
    tampered.extend(last);
    let reply = h.post(MAGIC).header("x-api-key", &tampered).send().await;
    reply.assert_problem(401, "invalid_api_key");
    assert!(!reply.body.contains(&tampered));
}

/// A revoked key: 401 `key_revoked`.
pub async fn revoked_key<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let key = h.secret_key("acme").await;
    h.post(MAGIC)
        .bearer(key.key.expose())
        .send()
        .await
        .assert_ok();
    h.keygate.revoke_key(&key.record.id).await.expect("revoke");
    h.post(MAGIC)
        .bearer(key.key.expose())
        .send()
        .await
        .assert_problem(401, "key_revoked");
}

/// An expired key: 401 `key_expired`, on the engine's clock.
pub async fn expired_key<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let key = h
        .key(NewKey {
            tenant: Some("acme".into()),
            expires_at: Some(crate::harness::T0 + Duration::hours(1)),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    h.post(MAGIC)
        .bearer(key.key.expose())
        .send()
        .await
        .assert_ok();
    h.clock.advance(Duration::hours(1));
    h.post(MAGIC)
        .bearer(key.key.expose())
        .send()
        .await
        .assert_problem(401, "key_expired");
}

/// A rotated key keeps working through its grace period, then expires; its successor works.
pub async fn rotated_key_grace<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let old = h.secret_key("acme").await;
    let new = h
        .keygate
        .rotate_key(&old.record.id, Duration::seconds(60))
        .await
        .expect("rotate");
    h.post(MAGIC)
        .bearer(old.key.expose())
        .send()
        .await
        .assert_ok();
    h.post(MAGIC)
        .bearer(new.key.expose())
        .send()
        .await
        .assert_ok();
    h.clock.advance(Duration::seconds(61));
    h.post(MAGIC)
        .bearer(old.key.expose())
        .send()
        .await
        .assert_problem(401, "key_expired");
    h.post(MAGIC)
        .bearer(new.key.expose())
        .send()
        .await
        .assert_ok();
}

async fn limited_key(h: &Harness, limit: u32, credits: Option<u64>) -> keygate_core::CreatedKey {
    h.key(NewKey {
        tenant: Some("acme".into()),
        rate_limit: Some(RateLimit::new(limit, 60).expect("limit")),
        credits,
        ..NewKey::new(KeyKind::Secret, Environment::Live)
    })
    .await
}

/// Rate-limit headers on every answer, then 429 `rate_limited` with `Retry-After`.
pub async fn rate_limit_headers_and_429<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let key = limited_key(&h, 2, None).await;
    let reset_at = (crate::harness::T0 + Duration::seconds(60)).unix_timestamp() as u64;
    for remaining in [1, 0] {
        let reply = h
            .post("/api/detector/upload")
            .header("x-api-key", key.key.expose())
            .send()
            .await;
        reply.assert_ok();
        assert_eq!(reply.number("x-ratelimit-limit"), Some(2));
        assert_eq!(reply.number("x-ratelimit-remaining"), Some(remaining));
        let reset = reply
            .number("x-ratelimit-reset")
            .expect("X-RateLimit-Reset");
        assert!(reset <= reset_at && reset > reset_at - 60, "reset {reset}");
    }
    let reply = h
        .post("/api/detector/upload")
        .header("x-api-key", key.key.expose())
        .send()
        .await;
    reply.assert_problem(429, "rate_limited");
    let retry_after = reply
        .number("retry-after")
        .expect("Retry-After in whole seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(reply.number("x-ratelimit-remaining"), Some(0));
    // The wait the header asks for is enough.
    h.clock.advance(Duration::seconds(retry_after as i64));
    h.post("/api/detector/upload")
        .header("x-api-key", key.key.expose())
        .send()
        .await
        .assert_ok();
}

/// A key without a rate limit gets no rate-limit headers.
pub async fn no_rate_limit_headers_without_a_limit<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let key = h.secret_key("acme").await;
    let reply = h
        .post("/api/detector/upload")
        .header("x-api-key", key.key.expose())
        .send()
        .await;
    reply.assert_ok();
    assert!(reply.header("x-ratelimit-limit").is_none());
    assert!(reply.header("x-credits-remaining").is_none());
}

async fn balance(h: &Harness, record: &KeyRecord) -> u64 {
    h.keygate
        .credits(record)
        .await
        .expect("credits")
        .expect("a metered key")
}

/// Credits: each call costs one, `X-Credits-Remaining` counts down, then 402.
pub async fn credits_run_out<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let key = limited_key(&h, 100, Some(2)).await;
    for left in [1, 0] {
        let reply = h
            .post(DETECT)
            .header("x-api-key", key.key.expose())
            .send()
            .await;
        reply.assert_ok();
        assert_eq!(reply.number("x-credits-remaining"), Some(left));
    }
    let reply = h
        .post(DETECT)
        .header("x-api-key", key.key.expose())
        .send()
        .await;
    reply.assert_problem(402, "insufficient_credits");
    assert_eq!(reply.number("x-credits-remaining"), Some(0));
    // Free routes still work for a key out of credits.
    h.post("/api/detector/upload")
        .header("x-api-key", key.key.expose())
        .send()
        .await
        .assert_ok();
}

/// A request rejected for any reason costs no credits: a missing scope, a rate limit, a
/// handler's 4xx.
pub async fn rejected_requests_cost_no_credits<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let key = h
        .key(NewKey {
            tenant: Some("acme".into()),
            scopes: vec!["magic-background:create".into()],
            rate_limit: Some(RateLimit::new(3, 60).expect("limit")),
            credits: Some(10),
            ..NewKey::new(KeyKind::Restricted, Environment::Live)
        })
        .await;
    let send = |path: &'static str| h.post(path).header("x-api-key", key.key.expose()).send();
    send("/api/detect/scoped")
        .await
        .assert_problem(403, "insufficient_scope");
    assert_eq!(balance(&h, &key.record).await, 10);
    let reply = send("/api/invalid-body").await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.number("x-credits-remaining"), Some(10));
    assert_eq!(balance(&h, &key.record).await, 10);
    send(DETECT).await.assert_ok();
    send(DETECT).await.assert_ok();
    let reply = send(DETECT).await;
    reply.assert_problem(429, "rate_limited");
    assert_eq!(
        reply.number("x-credits-remaining"),
        Some(8),
        "a 429 shows the balance"
    );
    assert_eq!(balance(&h, &key.record).await, 8);
}

/// A handler that answers 5xx gets the request's credits back.
pub async fn refund_on_handler_5xx<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let key = limited_key(&h, 100, Some(5)).await;
    let reply = h
        .post("/api/fail")
        .header("x-api-key", key.key.expose())
        .send()
        .await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert_eq!(reply.number("x-credits-remaining"), Some(5));
    assert_eq!(reply.number("x-ratelimit-limit"), Some(100));
    assert_eq!(balance(&h, &key.record).await, 5);
    h.post(DETECT)
        .header("x-api-key", key.key.expose())
        .send()
        .await
        .assert_ok();
    assert_eq!(balance(&h, &key.record).await, 4);
}

/// Two `Authorization` headers: 400 `invalid_request`.
pub async fn duplicate_authorization<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let token = h.token(TokenKind::Session, "magic-background:create").await;
    let reply = h.post(MAGIC).bearer(&token).bearer(&token).send().await;
    reply.assert_problem(400, "invalid_request");
    assert!(!reply.body.contains(&token));
}

/// Every field of the problem document, exactly.
pub async fn problem_json_shape<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let token = h.token(TokenKind::OneTime, "magic-background:create").await;
    h.post(MAGIC).bearer(&token).send().await.assert_ok();
    let reply = h.post(MAGIC).bearer(&token).send().await;
    reply.assert_problem(401, "token_used");
    assert_eq!(
        reply.json(),
        serde_json::json!({
            "type": "urn:keygate:error:token_used",
            "title": "Token already used",
            "status": 401,
            "code": "token_used",
            "detail": "this one-time token has already been used",
        })
    );
}

/// Every presented credential is verified: a valid secret with a bad token fails, and
/// so does a valid token with a wrong secret.
pub async fn every_credential_is_verified<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    h.post(MAGIC)
        .header("x-client-secret", h.secret.expose())
        .bearer("not-a-token")
        .send()
        .await
        .assert_problem(401, "invalid_token");
    let token = h.token(TokenKind::Session, "magic-background:create").await;
    h.post(MAGIC)
        .header("x-client-secret", "not-the-secret")
        .bearer(&token)
        .send()
        .await
        .assert_problem(401, "invalid_secret_key");
}

/// The platform secret with a token acts with the token's scope.
pub async fn secret_with_token_acts_with_the_token<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let token = h.token(TokenKind::Session, "magic-background:create").await;
    let with = |path: &'static str| {
        h.post(path)
            .header("x-client-secret", h.secret.expose())
            .bearer(&token)
            .send()
    };
    with(MAGIC).await.assert_ok();
    with(LENS).await.assert_problem(403, "insufficient_scope");
}

/// Optional authentication: no credential reaches the handler as `None`; a bad one is
/// still refused.
pub async fn optional_authentication<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let reply = h.get("/optional").send().await;
    reply.assert_ok();
    assert_eq!(reply.json()["principal"], serde_json::Value::Null);
    let key = h.secret_key("acme").await;
    let reply = h
        .get("/optional")
        .header("x-api-key", key.key.expose())
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.json()["principal"]["tenant"], "acme");
    h.get("/optional")
        .header("x-api-key", "sk_live_nope")
        .send()
        .await
        .assert_problem(401, "invalid_api_key");
}

/// An extractor on a route without the middleware fails loudly, never anonymously.
pub async fn extractor_without_middleware_fails_loudly<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let reply = h
        .get("/unwired")
        .header("x-client-secret", h.secret.expose())
        .send()
        .await;
    reply.assert_problem(500, "keygate_misconfigured");
    let detail = reply.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains(A::MIDDLEWARE),
        "{detail} names {}",
        A::MIDDLEWARE
    );
    assert!(!reply.body.contains(h.secret.expose()));
}

/// The `Tenant` extractor: the caller's tenant, or 403 `tenant_required`.
pub async fn tenant_extractor<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let key = h.secret_key("acme").await;
    let reply = h
        .get("/tenant")
        .header("x-api-key", key.key.expose())
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.json()["tenant"], "acme");
    h.get("/tenant")
        .header("x-client-secret", h.secret.expose())
        .send()
        .await
        .assert_problem(403, "tenant_required");
}

/// `X-On-Behalf-Of` with an `sk_` key: the subject is the user, the actor the key. With a
/// restricted key lacking `users:impersonate`: 403 `impersonation_forbidden`.
pub async fn impersonation<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let key = h.secret_key("acme").await;
    let reply = h
        .get("/acting")
        .header("x-api-key", key.key.expose())
        .header("x-on-behalf-of", "user_123")
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.json()["user"], "user_123");
    assert_eq!(reply.json()["actor"], key.record.id.as_str());
    let reply = h
        .get("/acting")
        .header("x-api-key", key.key.expose())
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.json()["user"], serde_json::Value::Null);

    let restricted = h
        .key(NewKey {
            tenant: Some("acme".into()),
            scopes: vec!["read:users".into()],
            ..NewKey::new(KeyKind::Restricted, Environment::Live)
        })
        .await;
    h.get("/acting")
        .header("x-api-key", restricted.key.expose())
        .header("x-on-behalf-of", "user_123")
        .send()
        .await
        .assert_problem(403, "impersonation_forbidden");
    h.get("/acting")
        .header("x-api-key", key.key.expose())
        .header("x-on-behalf-of", "bad user!")
        .send()
        .await
        .assert_problem(400, "invalid_request");
}

/// A store that cannot answer: 503 `auth_unavailable`, never an admission.
pub async fn store_down_fails_closed<A: Adapter>() {
    let Some(h) = Harness::start_with::<A>(|builder| builder.key_store(crate::DownStore)).await
    else {
        return;
    };
    // A bad checksum is refused before the store is asked, so the answer is 401.
    h.post(MAGIC)
        .header(
            "x-api-key",
            "sk_live_00000000000000000000000000000000aaaaaa",
        )
        .send()
        .await
        .assert_problem(401, "invalid_api_key");
    let key = keygate_core::key::ApiKey::generate(
        &keygate_core::key::KeyPrefix::standard(KeyKind::Secret, Environment::Live)
            .expect("prefix"),
    )
    .expect("key");
    let reply = h.post(MAGIC).header("x-api-key", key.expose()).send().await;
    reply.assert_problem(503, "auth_unavailable");
    // The platform secret needs no store.
    h.get(ADMIN)
        .header("x-client-secret", h.secret.expose())
        .send()
        .await
        .assert_ok();
}

/// A request the router answers 404 or 405 never reaches keygate: a one-time token sent
/// to an unknown path or with the wrong method stays unused.
pub async fn unmatched_requests_leave_one_time_tokens_unused<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let token = h.token(TokenKind::OneTime, "*:*").await;
    let wrong_method = h.get(MAGIC).bearer(&token).send().await;
    assert_eq!(wrong_method.status, 405, "{}", wrong_method.body);
    let unknown = h.post("/api/v1/no-such-route").bearer(&token).send().await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    h.post(MAGIC).bearer(&token).send().await.assert_ok();
}

/// The problem document of a 429 and a 402: same shape, with the contract's headers.
pub async fn metering_problem_shapes<A: Adapter>() {
    let Some(h) = Harness::start::<A>().await else {
        return;
    };
    let key = limited_key(&h, 1, Some(0)).await;
    let reply = h
        .post(DETECT)
        .header("x-api-key", key.key.expose())
        .send()
        .await;
    reply.assert_problem(402, "insufficient_credits");
    assert_eq!(reply.json()["status"], 402);
    assert_eq!(
        reply.json()["type"],
        "urn:keygate:error:insufficient_credits"
    );
    h.post("/api/detector/upload")
        .header("x-api-key", key.key.expose())
        .send()
        .await
        .assert_ok();
    let reply = h
        .post("/api/detector/upload")
        .header("x-api-key", key.key.expose())
        .send()
        .await;
    reply.assert_problem(429, "rate_limited");
    assert_eq!(reply.json()["title"], "Rate limited");
    assert!(reply.number("retry-after").is_some_and(|secs| secs >= 1));
    assert!(reply.header("www-authenticate").is_none());
}

/// What an adapter answers to a fixed set of requests whose answers hold nothing random
/// (no key ids, no tokens): status, the headers the contract names, and the body. The
/// differential test asks every adapter and compares the lists, byte for byte.
pub async fn fixed_answers<A: Adapter>() -> Vec<String> {
    let Some(h) = Harness::start::<A>().await else {
        return Vec::new();
    };
    let secret = h.secret.expose().to_owned();
    let calls = vec![
        h.get(ADMIN),
        h.get(ADMIN).header("x-client-secret", "wrong"),
        h.get(ADMIN).header("x-client-secret", &secret),
        h.get(ADMIN).bearer("not-a-token"),
        h.post(MAGIC).bearer("a").bearer("b"),
        h.post(MAGIC)
            .bearer("eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"),
        h.post(MAGIC).header(
            "x-api-key",
            "sk_live_00000000000000000000000000000000aaaaaa",
        ),
        h.post(MAGIC)
            .header("x-api-key", "a")
            .header("x-api-key", "b"),
        h.post(MAGIC).header("x-client-secret", &secret),
        h.post(MAGIC)
            .header("x-client-secret", &secret)
            .header("x-on-behalf-of", "bad user!"),
        h.post(DETECT).header("x-client-secret", &secret),
        h.get("/optional"),
        h.get("/tenant").header("x-client-secret", &secret),
        h.get("/acting").header("x-client-secret", &secret),
        h.get("/operator").header("x-client-secret", &secret),
        h.get("/operator").bearer("not-a-token"),
        h.get("/operator/extractor")
            .header("x-client-secret", &secret),
        h.get(MAGIC),
        h.post("/api/v1/no-such-route"),
    ];
    let mut answers = Vec::new();
    for call in calls {
        let reply = call.send().await;
        let mut line = format!("{} ", reply.status);
        for name in [
            "content-type",
            "www-authenticate",
            "retry-after",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
            "x-credits-remaining",
        ] {
            if let Some(value) = reply.header(name) {
                line.push_str(&format!("{name}: {value}; "));
            }
        }
        // 404 and 405 bodies are each framework's own; keygate's answers are compared.
        if reply.status != 404 && reply.status != 405 {
            line.push_str(&reply.body);
        }
        answers.push(line);
    }
    answers
}
