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

/// Odd HTTP/1.1, sent raw, gets the same status from every binary (docs/adapters.md has
/// the table, and what only the frameworks' parsers decide): no `Host` or two → 400,
/// raw non-ASCII in the path → 400, a target over 8 KiB → 414, HTTP/1.0 without `Host`
/// → 200, `Expect: 100-continue` without credentials → 401 in the end.
pub async fn odd_http_is_answered_alike<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let long = "a".repeat(9 * 1024);
    let cases: [(&str, Vec<u8>, u16, Option<&str>); 7] = [
        ("no Host", b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(), 400, None),
        (
            "two Hosts",
            b"GET /api/v1/admin/keys HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n".to_vec(),
            400,
            None,
        ),
        (
            "raw UTF-8 in the path",
            "GET /healthz/caf\u{e9} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".into(),
            400,
            None,
        ),
        (
            "a 9 KiB target",
            format!("GET /healthz?q={long} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").into(),
            414,
            Some("uri_too_long"),
        ),
        ("HTTP/1.0 without Host", b"GET /healthz HTTP/1.0\r\n\r\n".to_vec(), 200, None),
        (
            "Expect without credentials",
            b"POST /api/v1/token HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n{}".to_vec(),
            401,
            Some("missing_credentials"),
        ),
        (
            "an 8 KiB target",
            format!("GET /healthz?q={} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &long[..8 * 1024 - 11]).into(),
            200,
            None,
        ),
    ];
    for (what, request, status, code) in cases {
        let answer = raw(p.authority(), &request).await;
        // The final answer, after any `100 Continue`.
        let got: u16 = answer
            .split("\r\n")
            .filter_map(|line| {
                line.strip_prefix("HTTP/1.1 ")
                    .or_else(|| line.strip_prefix("HTTP/1.0 "))
            })
            .last()
            .and_then(|line| line.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        assert_eq!(got, status, "{what}: {answer}");
        if let Some(code) = code {
            assert!(
                answer.contains(&format!("\"code\":\"{code}\"")),
                "{what}: {answer}"
            );
        }
    }
}

/// Sends `request` as written and reads the answer until the server closes.
async fn raw(authority: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect");
    stream.write_all(request).await.expect("write");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}
