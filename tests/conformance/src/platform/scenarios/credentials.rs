//! contract.md, "Errors" and "Credentials": problem documents, challenges, which
//! credential opens what, and the requests the router refuses (unknown paths, wrong
//! methods, oversized bodies, routes of later issues).

use http::Method;
use serde_json::json;

use super::{BARE, REJECTED, assert_invalid, insufficient};
use crate::platform::{ADMIN_KEYS, CATALOGUES, Database, Platform, PlatformAdapter, TOKEN, text};

const MAGIC: &str = "/api/v1/magic-background";

/// Every field of a problem document, exactly, with `application/problem+json`.
pub async fn problem_documents_are_rfc9457<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let token = p.token("ONE_TIME", "magic-background", "create").await;
    p.post(MAGIC).bearer(&token).send().await.assert_ok();
    let reply = p.post(MAGIC).bearer(&token).send().await;
    reply.assert_problem(401, "token_used");
    assert_eq!(
        reply.json(),
        json!({
            "type": "urn:keygate:error:token_used",
            "title": "Token already used",
            "status": 401,
            "code": "token_used",
            "detail": "this one-time token has already been used",
        })
    );
    assert_eq!(reply.header("www-authenticate"), Some(REJECTED));
    assert!(!reply.body.contains(&token));
    // The platform's own problems have the same shape.
    let reply = p.get("/no-such-path").send().await;
    reply.assert_problem(404, "not_found");
    let body = reply.json();
    assert_eq!(body["type"], "urn:keygate:error:not_found");
    assert_eq!(body["status"], 404);
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
}

/// An admin route with nothing presented: 401 `missing_credentials` with the bare
/// challenge.
pub async fn admin_with_nothing<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for (method, path) in [
        (Method::GET, ADMIN_KEYS.to_owned()),
        (Method::POST, ADMIN_KEYS.to_owned()),
        (Method::GET, format!("{ADMIN_KEYS}/key_nope")),
        (Method::GET, CATALOGUES.to_owned()),
    ] {
        let reply = p.request(method, &path).send().await;
        reply.assert_problem(401, "missing_credentials");
        assert_eq!(reply.header("www-authenticate"), Some(BARE), "{path}");
    }
}

/// A wrong `x-client-secret`: 401 `invalid_secret_key`, `error="invalid_token"`, and the
/// presented text is not echoed.
pub async fn admin_with_wrong_secret<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let reply = p
        .get(ADMIN_KEYS)
        .header("x-client-secret", "not-the-secret")
        .send()
        .await;
    reply.assert_problem(401, "invalid_secret_key");
    assert_eq!(reply.header("www-authenticate"), Some(REJECTED));
    assert!(!reply.body.contains("not-the-secret"));
}

/// A token on an admin route: 403 `secret_key_required`; the one-time token is neither
/// verified nor consumed, and still works on its own route afterwards.
pub async fn admin_with_token_is_refused_and_not_consumed<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let token = p.token("ONE_TIME", "*", "*").await;
    for (method, path) in [(Method::GET, ADMIN_KEYS), (Method::POST, CATALOGUES)] {
        let reply = p
            .request(method, path)
            .bearer(&token)
            .json(&json!({"kind": "secret"}))
            .send()
            .await;
        reply.assert_problem(403, "secret_key_required");
        assert!(!reply.body.contains(&token));
    }
    p.post(MAGIC).bearer(&token).send().await.assert_ok();
    p.post(MAGIC)
        .bearer(&token)
        .send()
        .await
        .assert_problem(401, "token_used");
}

/// An API key on an admin route, as a bearer or in `X-API-Key`: 403
/// `secret_key_required` (it belongs in `x-client-secret`).
pub async fn admin_with_api_key_is_refused<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let key = p.secret_key("acme").await;
    let key = text(&key, "key");
    p.get(ADMIN_KEYS)
        .bearer(key)
        .send()
        .await
        .assert_problem(403, "secret_key_required");
    p.get(ADMIN_KEYS)
        .header("x-api-key", key)
        .send()
        .await
        .assert_problem(403, "secret_key_required");
    // The same key in x-client-secret opens the admin routes of its tenant.
    p.get(ADMIN_KEYS)
        .header("x-client-secret", key)
        .send()
        .await
        .assert_ok();
}

/// Credentials in the query string are ignored: nothing was presented.
pub async fn query_string_credentials_are_ignored<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let secret = p.secret.expose().to_owned();
    let key = p.secret_key("acme").await;
    let key = text(&key, "key");
    let token = p.token("SESSION", "*", "*").await;
    for path in [
        format!("{ADMIN_KEYS}?x-client-secret={secret}"),
        format!("{ADMIN_KEYS}?client_secret={secret}"),
    ] {
        p.get(&path)
            .send()
            .await
            .assert_problem(401, "missing_credentials");
    }
    for path in [
        format!("/api/detect?api_key={key}"),
        format!("/api/detect?x-api-key={key}"),
        format!("/api/detect?access_token={key}"),
    ] {
        p.post(&path)
            .send()
            .await
            .assert_problem(401, "missing_credentials");
    }
    p.post(&format!("{MAGIC}?access_token={token}"))
        .send()
        .await
        .assert_problem(401, "missing_credentials");
    p.get(&format!("/v1/users/me?access_token={key}"))
        .send()
        .await
        .assert_problem(401, "missing_credentials");
}

/// Two values for one credential header: 400 `invalid_request`, neither echoed.
pub async fn duplicate_credential_headers<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let token = p.token("SESSION", "magic-background", "create").await;
    let reply = p.post(MAGIC).bearer(&token).bearer(&token).send().await;
    reply.assert_problem(400, "invalid_request");
    assert!(!reply.body.contains(&token));
    let secret = p.secret.expose().to_owned();
    let reply = p
        .get(ADMIN_KEYS)
        .header("x-client-secret", &secret)
        .header("x-client-secret", &secret)
        .send()
        .await;
    reply.assert_problem(400, "invalid_request");
    assert!(!reply.body.contains(&secret));
    let key = p.secret_key("acme").await;
    let key = text(&key, "key");
    let reply = p
        .post("/api/detect")
        .header("x-api-key", key)
        .header("X-API-Key", key)
        .send()
        .await;
    reply.assert_problem(400, "invalid_request");
    assert!(!reply.body.contains(key));
}

/// Every presented credential is verified: a valid secret with a bad token fails, a
/// valid token with a wrong secret fails; a bad credential is never skipped.
pub async fn every_credential_is_verified<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let reply = p
        .admin(Method::POST, MAGIC)
        .bearer("not-a-token")
        .send()
        .await;
    reply.assert_problem(401, "invalid_token");
    assert_eq!(reply.header("www-authenticate"), Some(REJECTED));
    let token = p.token("ONE_TIME", "magic-background", "create").await;
    p.post(MAGIC)
        .header("x-client-secret", "not-the-secret")
        .bearer(&token)
        .send()
        .await
        .assert_problem(401, "invalid_secret_key");
    // The refused request did not use the one-time token up.
    p.post(MAGIC).bearer(&token).send().await.assert_ok();
}

/// A valid `x-client-secret` with a bearer token acts with the token's scope and context.
pub async fn secret_with_token_acts_with_the_token<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let reply = p
        .mint(
            json!({"actionResource": "magic-background", "actionType": "create",
            "type": "SESSION", "userReference": "user_42"}),
        )
        .await;
    reply.assert_ok();
    let token = text(&reply.json(), "token").to_owned();
    let reply = p.admin(Method::POST, MAGIC).bearer(&token).send().await;
    reply.assert_ok();
    assert_eq!(reply.json()["principal"]["method"], "token");
    assert_eq!(reply.json()["principal"]["user_reference"], "user_42");
    let reply = p
        .admin(Method::POST, "/api/v1/lens")
        .bearer(&token)
        .send()
        .await;
    reply.assert_problem(403, "insufficient_scope");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(insufficient("lens:create").as_str())
    );
}

/// A path no route has: 404 `not_found` as a problem document, whoever asks.
pub async fn unknown_path_is_404<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for path in [
        "/",
        "/nope",
        "/api/v1/nope",
        "/api/v1/admin/nope",
        "/api/v1/admin/keys/k1/nope",
        "/healthz/",
        "/api/v1/catalogue",
    ] {
        let reply = p.admin(Method::GET, path).send().await;
        reply.assert_problem(404, "not_found");
        let reply = p.post(path).send().await;
        reply.assert_problem(404, "not_found");
    }
}

/// A path whose routes take other methods: 405 `method_not_allowed` with `Allow`; the
/// request never reaches keygate, so a one-time token sent with it stays unused.
pub async fn wrong_method_is_405_with_allow<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let token = p.token("ONE_TIME", "*", "*").await;
    let allowed = |reply: &crate::harness::Reply| {
        let mut methods: Vec<String> = reply
            .header("allow")
            .unwrap_or_default()
            .split(',')
            .map(|method| method.trim().to_owned())
            .collect();
        methods.sort();
        methods.join(", ")
    };
    for (method, path, allow) in [
        (Method::DELETE, "/healthz", "GET"),
        (Method::POST, "/readyz", "GET"),
        (Method::PUT, ADMIN_KEYS, "GET, POST"),
        (Method::POST, "/api/v1/admin/keys/k1", "DELETE, GET"),
        (Method::GET, "/api/v1/admin/keys/k1/rotate", "POST"),
        (Method::GET, "/api/v1/admin/keys/k1/credits", "POST"),
        (Method::DELETE, CATALOGUES, "GET, POST"),
        (
            Method::POST,
            "/api/v1/admin/catalogues/c1",
            "DELETE, GET, PUT",
        ),
        (Method::GET, TOKEN, "POST"),
        (Method::GET, MAGIC, "POST"),
        (Method::POST, "/api/v1/catalogues/c1", "GET"),
        (Method::GET, "/api/detect", "POST"),
        (Method::GET, "/api/detector/upload", "POST"),
        (Method::POST, "/v1/users/me", "GET"),
    ] {
        let reply = p.request(method.clone(), path).bearer(&token).send().await;
        reply.assert_problem(405, "method_not_allowed");
        assert_eq!(allowed(&reply), allow, "{method} {path}");
    }
    p.post(MAGIC).bearer(&token).send().await.assert_ok();
}

/// The routes of later issues do not exist yet: 404, never a wrong answer.
pub async fn later_routes_do_not_exist<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let key = p.secret_key("acme").await;
    let usage = format!("{ADMIN_KEYS}/{}/usage", text(&key, "id"));
    // (`POST /detect` exists now: quotas.rs.)
    for (method, path) in [(Method::GET, usage.as_str())] {
        let reply = p.admin(method.clone(), path).json(&json!({})).send().await;
        reply.assert_problem(404, "not_found");
        let reply = p
            .request(method.clone(), path)
            .header("x-api-key", text(&key, "key"))
            .send()
            .await;
        reply.assert_problem(404, "not_found");
    }
}

/// Request bodies are bounded at 64 KiB: one byte more is 413 `payload_too_large`;
/// exactly 64 KiB is read.
pub async fn body_over_64_kib_is_413<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    const LIMIT: usize = 64 * 1024;
    let padded = |len: usize| {
        let mut body = r#"{"kind": "secret", "tenant": "acme"}"#.to_owned();
        body.push_str(&" ".repeat(len - body.len()));
        body
    };
    let reply = p
        .admin(Method::POST, ADMIN_KEYS)
        .header("content-type", "application/json")
        .body(padded(LIMIT + 1))
        .send()
        .await;
    reply.assert_problem(413, "payload_too_large");
    let reply = p
        .admin(Method::POST, ADMIN_KEYS)
        .header("content-type", "application/json")
        .body(padded(LIMIT))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    // A body far over the limit, on a token route, with a valid session token.
    let token = p.token("SESSION", "magic-background", "create").await;
    p.post(MAGIC)
        .bearer(&token)
        .body(vec![b'x'; 1024 * 1024])
        .send()
        .await
        .assert_problem(413, "payload_too_large");
    let reply = p
        .admin(Method::POST, TOKEN)
        .body(format!(
            "{{\"actionResource\": \"lens\", \"actionType\": \"create\"}}{}",
            " ".repeat(LIMIT)
        ))
        .send()
        .await;
    reply.assert_problem(413, "payload_too_large");
    // Only one key was made.
    let reply = p.admin(Method::GET, ADMIN_KEYS).send().await;
    assert_eq!(reply.json()["keys"].as_array().map(Vec::len), Some(1));
}

/// Bad JSON bodies are 400 `invalid_request`, and the detail names the field at fault.
pub async fn bad_json_bodies_name_the_field<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    for (path, body, field) in [
        (ADMIN_KEYS, "{", "body"),
        (ADMIN_KEYS, "", "body"),
        (ADMIN_KEYS, "[]", "body"),
        (ADMIN_KEYS, r#"{"kind": "secret"} {}"#, "body"),
        (ADMIN_KEYS, r#"{"kind": 7}"#, "kind"),
        (TOKEN, "not json", "body"),
        (
            TOKEN,
            r#"{"actionResource": 1, "actionType": "create"}"#,
            "actionResource",
        ),
        (CATALOGUES, r#"{"name": ["x"]}"#, "name"),
    ] {
        let reply = p
            .admin(Method::POST, path)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        assert_invalid(&reply, field, &format!("POST {path} {body}"));
    }
}

/// A 400 names the field and the expected type, never a value the caller sent: a key
/// pasted into the wrong field (or sent as a field name) is not echoed back.
pub async fn bad_json_bodies_never_echo_values<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let leaked = p.secret_key("acme").await;
    let secret = text(&leaked, "key").to_owned();
    let metered = p
        .create_key(json!({"kind": "restricted", "tenant": "acme", "credits": 3}))
        .await;
    let credits = format!("{ADMIN_KEYS}/{}/credits", text(&metered, "id"));
    let rotate = format!("{ADMIN_KEYS}/{}/rotate", text(&metered, "id"));
    for (path, body, field) in [
        (
            ADMIN_KEYS,
            json!({"kind": "secret", "credits": secret}),
            "credits",
        ),
        (ADMIN_KEYS, json!({"kind": secret}), "kind"),
        (
            ADMIN_KEYS,
            json!({"kind": "secret", "environment": secret}),
            "environment",
        ),
        (
            ADMIN_KEYS,
            json!({"kind": "secret", "scopes": [format!("{secret}!")]}),
            "scopes",
        ),
        (
            ADMIN_KEYS,
            json!({"kind": "secret", "rate_limit": {"limit": secret}}),
            "rate_limit.limit",
        ),
        (
            ADMIN_KEYS,
            json!({"kind": "secret", "expires_at": secret}),
            "expires_at",
        ),
        (
            ADMIN_KEYS,
            json!({"kind": "secret", "name": [secret]}),
            "name",
        ),
        (
            ADMIN_KEYS,
            json!({"kind": "secret", secret.clone(): 1}),
            "body",
        ),
        (&credits, json!({"add": secret}), "add"),
        (&rotate, json!({"grace_seconds": secret}), "grace_seconds"),
        (
            TOKEN,
            json!({"actionResource": "lens", "actionType": "create", "type": secret}),
            "type",
        ),
        (
            TOKEN,
            json!({"actionResource": "lens", "actionType": "create", "duration": secret}),
            "duration",
        ),
        (
            CATALOGUES,
            json!({"name": {secret.clone(): secret}}),
            "name",
        ),
    ] {
        let reply = p.admin(Method::POST, path).json(&body).send().await;
        let what = format!("POST {path} {field}");
        assert_invalid(&reply, field, &what);
        assert!(!reply.body.contains(&secret), "{what}: {}", reply.body);
        // Not even a part of it (the preview `start` is not secret, but the rest is).
        assert!(
            !reply.body.contains(&secret[12..]),
            "{what}: {}",
            reply.body
        );
    }
}

/// Requests the frameworks would route differently get one answer before routing: `HEAD`
/// is 405 with `Allow` (404 on an unknown path), never served from a `GET` handler through
/// keygate (a one-time token sent with it stays unused); a percent-encoded path is 404,
/// even one that decodes to a route.
pub async fn head_and_encoded_paths_before_routing<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let reply = p.request(Method::HEAD, "/healthz").send().await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET"));
    let token = p.token("ONE_TIME", "catalogue", "read").await;
    let reply = p
        .request(Method::HEAD, "/api/v1/catalogues/c1")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET"));
    p.get("/api/v1/catalogues/c1")
        .bearer(&token)
        .send()
        .await
        .assert_ok();
    let reply = p.request(Method::HEAD, "/no-such-path").send().await;
    assert_eq!(reply.status, 404);

    for path in [
        "/heal%74hz",
        "/api/v1/admin/key%73",
        "/api/v1/admin/keys/key%5Fx",
    ] {
        let reply = p.admin(Method::GET, path).send().await;
        reply.assert_problem(404, "not_found");
        assert!(
            super::detail(&reply).contains("no route"),
            "{path}: {}",
            reply.body
        );
    }
}
