//! contract.md, "Client tokens and proxy mode": `ANY /api/proxy/{*path}` forwards to the
//! upstream with its key, for client tokens and user JWTs, and
//! never lets the caller's credentials or cookies through.

use http::Method;
use serde_json::{Value, json};
use time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::REJECTED;
use crate::platform::upstream::{UPSTREAM_KEY, Upstream, seen};
use crate::platform::{ADMIN_KEYS, Database, Platform, PlatformAdapter, text};

/// The platform with its proxy to `upstream` (`KEYGATE_UPSTREAM_URL` = `upstream/base`,
/// `KEYGATE_UPSTREAM_KEY` = [`UPSTREAM_KEY`]), as `platform::start` builds it.
async fn proxying<A: PlatformAdapter, D: Database>(url: &str) -> Option<Platform> {
    let proxy = platform::config::upstream_proxy(Some(url.to_owned()), Some(UPSTREAM_KEY.into()))
        .expect("the proxy");
    Platform::start_with::<A, D>(|app| app.with_proxy(proxy)).await
}

/// A client token minted with a new `sk_` key of `acme` (with `key` as the key's
/// settings); the token and the key's JSON.
async fn client_token(p: &Platform, key: Value) -> (String, Value) {
    let created = p.create_key(key).await;
    let reply = p
        .post("/api/tokens")
        .bearer(text(&created, "key"))
        .send()
        .await;
    reply.assert_ok();
    (text(&reply.json(), "apiKey").to_owned(), created)
}

/// Forwarded: the method, the path below `/api/proxy`, the query and the body, with
/// `Authorization: Bearer <upstream key>` and without the caller's `Authorization`,
/// `X-API-Key`, `x-client-secret` or `Cookie`; a client token works as a bearer and in
/// `X-API-Key`, and every method goes through, `HEAD` included.
pub async fn proxy_forwards_with_the_upstream_key<A: PlatformAdapter, D: Database>() {
    let upstream = Upstream::start().await;
    let Some(p) = proxying::<A, D>(&upstream.url()).await else {
        return;
    };
    let (token, _) = client_token(&p, json!({"kind": "secret", "tenant": "acme"})).await;
    let body = json!({"prompt": "a cat", "size": 512}).to_string();
    for call in [
        p.post("/api/proxy/v1/images?model=x&n=2&tag=a%20b")
            .bearer(&token),
        p.post("/api/proxy/v1/images?model=x&n=2&tag=a%20b")
            .header("x-api-key", &token),
    ] {
        let reply = call
            .header("cookie", "session=abc")
            .header("x-request-id", "req-1")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await;
        reply.assert_ok();
        let echo = reply.json();
        assert_eq!(echo["method"], "POST");
        assert_eq!(echo["path"], "/base/v1/images");
        assert_eq!(echo["query"], "model=x&n=2&tag=a%20b");
        assert_eq!(echo["body"], body.as_str());
        assert_eq!(echo["length"], body.len());
        assert_eq!(
            seen(&echo, "authorization"),
            [format!("Bearer {UPSTREAM_KEY}")]
        );
        for gone in ["x-api-key", "x-client-secret", "cookie"] {
            assert!(seen(&echo, gone).is_empty(), "{gone}: {echo}");
        }
        assert_eq!(seen(&echo, "x-request-id"), ["req-1"]);
        assert_eq!(seen(&echo, "content-type"), ["application/json"]);
        assert_eq!(seen(&echo, "host"), [upstream.addr.to_string()]);
        assert!(!reply.body.contains(&token));
    }
    for method in ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        let method = Method::from_bytes(method.as_bytes()).expect("a method");
        let reply = p
            .request(method.clone(), "/api/proxy/things/1")
            .bearer(&token)
            .send()
            .await;
        reply.assert_ok();
        assert_eq!(reply.json()["method"], method.as_str());
        assert_eq!(reply.json()["path"], "/base/things/1");
    }
    let reply = p
        .request(Method::HEAD, "/api/proxy/things/1")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(reply.status, 200, "HEAD is forwarded, not 405");
    assert!(reply.body.is_empty());
    // The proxy's root and encoded characters are the upstream's.
    let reply = p.get("/api/proxy/").bearer(&token).send().await;
    assert_eq!(reply.json()["path"], "/base/");
    let reply = p.get("/api/proxy/a%20b/%C3%A9").bearer(&token).send().await;
    assert_eq!(reply.json()["path"], "/base/a%20b/%C3%A9");
}

/// The upstream's status, headers and body come back, hop-by-hop headers and its cookies
/// excepted.
pub async fn proxy_returns_the_upstream_answer<A: PlatformAdapter, D: Database>() {
    let upstream = Upstream::start().await;
    let Some(p) = proxying::<A, D>(&upstream.url()).await else {
        return;
    };
    let (token, _) = client_token(&p, json!({"kind": "secret", "tenant": "acme"})).await;
    for status in [200u16, 201, 302, 404, 418, 500, 503] {
        let reply = p
            .get(&format!("/api/proxy/status/{status}"))
            .bearer(&token)
            .send()
            .await;
        assert_eq!(reply.status, status);
        assert_eq!(reply.body, "from upstream");
        assert_eq!(reply.header("x-upstream"), Some("yes"));
        // The upstream's cookies would land on the platform's origin: not passed on.
        assert_eq!(reply.header("set-cookie"), None);
        assert_eq!(reply.header("x-hop"), None);
        assert_eq!(reply.header("proxy-authenticate"), None);
    }
    // Large bodies stream both ways, whole.
    let big = 8 * 1024 * 1024;
    let reply = p
        .put("/api/proxy/upload")
        .bearer(&token)
        .body(vec![b'y'; big])
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.json()["length"], big);
    let reply = p
        .get(&format!("/api/proxy/bytes/{big}"))
        .bearer(&token)
        .send()
        .await;
    reply.assert_ok();
    assert_eq!(reply.body.len(), big);
}

/// Only a client token or a user JWT (or `x-client-secret`, which opens every route) uses
/// the proxy. Refused requests never reach the upstream.
pub async fn proxy_needs_a_client_token<A: PlatformAdapter, D: Database>() {
    let upstream = Upstream::start().await;
    let Some(p) = proxying::<A, D>(&upstream.url()).await else {
        return;
    };
    let path = "/api/proxy/things";
    p.get(path)
        .send()
        .await
        .assert_problem(401, "missing_credentials");
    let (token, parent) = client_token(
        &p,
        json!({"kind": "secret", "tenant": "acme", "environment": "test"}),
    )
    .await;
    let key = text(&parent, "key").to_owned();
    for call in [
        p.get(path).bearer(&key),
        p.get(path).header("x-api-key", &key),
        p.get(path).bearer(&p.token("SESSION", "*", "*").await),
    ] {
        call.send()
            .await
            .assert_problem(403, "credential_not_accepted");
    }
    // A user JWT must be one the platform trusts: a forged one is refused.
    let forged = crate::platform::users::Users::new(9, p.clock.clone()).of_tenant("user_1", "acme");
    let reply = p.get(path).bearer(&forged).send().await;
    reply.assert_problem(401, "invalid_token");
    assert_eq!(reply.header("www-authenticate"), Some(REJECTED));
    p.get(path)
        .bearer("ek_forged.token.here")
        .send()
        .await
        .assert_problem(401, "invalid_token");
    assert_eq!(
        upstream.requests(),
        0,
        "nothing refused reached the upstream"
    );
    // x-client-secret opens every route; it is not forwarded either.
    let reply = p.admin(Method::GET, path).send().await;
    reply.assert_ok();
    assert!(seen(&reply.json(), "x-client-secret").is_empty());
    p.get(path).bearer(&token).send().await.assert_ok();
    assert_eq!(upstream.requests(), 2);
    // The token's key revoked: refused at once.
    let reply = p
        .admin(
            Method::DELETE,
            &format!("{ADMIN_KEYS}/{}", text(&parent, "id")),
        )
        .send()
        .await;
    assert_eq!(reply.status, 204);
    p.get(path)
        .bearer(&token)
        .send()
        .await
        .assert_problem(401, "key_revoked");
    // Expired: refused.
    let (short, _) = client_token(&p, json!({"kind": "secret", "tenant": "acme"})).await;
    p.clock.advance(Duration::seconds(600));
    p.get(path)
        .bearer(&short)
        .send()
        .await
        .assert_problem(401, "token_expired");
    assert_eq!(upstream.requests(), 2);
}

/// Proxied requests are metered on the client token's key: its rate-limit headers come
/// with the upstream's answer, and the limit refuses before anything is forwarded.
pub async fn proxy_is_metered_on_the_tokens_key<A: PlatformAdapter, D: Database>() {
    let upstream = Upstream::start().await;
    let Some(p) = proxying::<A, D>(&upstream.url()).await else {
        return;
    };
    let (token, _) = client_token(
        &p,
        json!({"kind": "secret", "tenant": "acme",
            "rate_limit": {"limit": 3, "window_seconds": 60}}),
    )
    .await;
    for remaining in [1, 0] {
        let reply = p.get("/api/proxy/things").bearer(&token).send().await;
        reply.assert_ok();
        assert_eq!(reply.number("x-ratelimit-limit"), Some(3));
        assert_eq!(reply.number("x-ratelimit-remaining"), Some(remaining));
    }
    let reply = p.get("/api/proxy/things").bearer(&token).send().await;
    reply.assert_problem(429, "rate_limited");
    assert!(reply.number("retry-after").is_some());
    assert_eq!(upstream.requests(), 2);
}

/// Without an upstream, or with one that does not answer, the proxy is 502
/// `upstream_unavailable` (a problem document), after keygate let the request in.
pub async fn proxy_upstream_unavailable_is_502<A: PlatformAdapter, D: Database>() {
    // No KEYGATE_UPSTREAM_URL: the app's default proxy.
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let (token, _) = client_token(&p, json!({"kind": "secret", "tenant": "acme"})).await;
    let reply = p.get("/api/proxy/things").bearer(&token).send().await;
    reply.assert_problem(502, "upstream_unavailable");
    assert_eq!(
        reply.json()["type"],
        "urn:keygate:error:upstream_unavailable"
    );
    p.get("/api/proxy/things")
        .send()
        .await
        .assert_problem(401, "missing_credentials");
    drop(p);
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address");
    let Some(p) = proxying::<A, D>(&format!("http://{closed}/base")).await else {
        return;
    };
    let (token, _) = client_token(&p, json!({"kind": "secret", "tenant": "acme"})).await;
    let reply = p
        .post("/api/proxy/things?x=1")
        .bearer(&token)
        .body("payload")
        .send()
        .await;
    reply.assert_problem(502, "upstream_unavailable");
    assert!(!reply.body.contains(&closed.to_string()));
    assert!(!reply.body.contains(UPSTREAM_KEY));
}

/// A path that could climb out of the upstream's base path (`..`, `.`, plain or
/// percent-encoded, or an encoded slash) is 400 `invalid_request` and never forwarded.
pub async fn proxy_paths_stay_below_the_upstream_base<A: PlatformAdapter, D: Database>() {
    let upstream = Upstream::start().await;
    let Some(p) = proxying::<A, D>(&upstream.url()).await else {
        return;
    };
    let (token, _) = client_token(&p, json!({"kind": "secret", "tenant": "acme"})).await;
    // HTTP clients resolve dot segments before sending: these go out raw.
    for path in [
        "/api/proxy/../admin",
        "/api/proxy/a/../../admin",
        "/api/proxy/%2e%2e/admin",
        "/api/proxy/a%2F..%2F..%2Fadmin",
        "/api/proxy/./x",
        // Forms an independent attack found going upstream verbatim.
        "/api/proxy/..%3b/admin",
        "/api/proxy/..%00/admin",
        "/api/proxy/.%00./admin",
        "/api/proxy/%%32%65%%32%65/admin",
        "/api/proxy/%u002e%u002e/admin",
    ] {
        let (status, body) = raw_get(&p, path, &token).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body.contains("\"code\":\"invalid_request\""),
            "{path}: {body}"
        );
        assert!(body.contains("\"detail\":\"path: "), "{path}: {body}");
    }
    assert_eq!(upstream.requests(), 0);
    for ordinary in [
        "/api/proxy/a/..b/c.",
        "/api/proxy/v1/items/abc-1_2.json",
        "/api/proxy/files/my%20report.pdf",
        "/api/proxy/caf%C3%A9",
    ] {
        let (status, body) = raw_get(&p, ordinary, &token).await;
        assert_eq!(status, 200, "{ordinary}: {body}");
    }
}

/// Sends `GET path` as written (no client-side normalisation) with the token; the status
/// and body.
async fn raw_get(p: &Platform, path: &str, token: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(p.authority())
        .await
        .expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n",
        p.authority()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A signed-in user's JWT uses the proxy too; the JWT is not forwarded, the upstream key
/// is.
pub async fn proxy_takes_a_user_jwt<A: PlatformAdapter, D: Database>() {
    let upstream = Upstream::start().await;
    let Some(p) = proxying::<A, D>(&upstream.url()).await else {
        return;
    };
    let jwt = p.users.jwt("user_1", json!({}));
    let reply = p
        .post("/api/proxy/v1/chat?stream=false")
        .bearer(&jwt)
        .body("{}")
        .send()
        .await;
    reply.assert_ok();
    let echo = reply.json();
    assert_eq!(
        seen(&echo, "authorization"),
        [format!("Bearer {UPSTREAM_KEY}")]
    );
    assert!(!reply.body.contains(&jwt), "the JWT went upstream");
    assert_eq!(upstream.requests(), 1);
}

/// `X-On-Behalf-Of` is refused on the proxy (the upstream key is the operator's), and
/// `TRACE` and `CONNECT` are never forwarded: nothing reaches the upstream.
pub async fn proxy_refuses_impersonation_and_trace<A: PlatformAdapter, D: Database>() {
    let upstream = Upstream::start().await;
    let Some(p) = proxying::<A, D>(&upstream.url()).await else {
        return;
    };
    let key = p.secret_key("acme").await;
    p.get("/api/proxy/things")
        .header("x-client-secret", text(&key, "key"))
        .header("x-on-behalf-of", "user_1")
        .send()
        .await
        .assert_problem(403, "impersonation_forbidden");
    let (token, _) = client_token(&p, json!({"kind": "secret", "tenant": "acme"})).await;
    p.request(Method::TRACE, "/api/proxy/things")
        .bearer(&token)
        .send()
        .await
        .assert_problem(405, "method_not_allowed");
    assert_eq!(upstream.requests(), 0);
}
