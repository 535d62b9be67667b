//! The proxy service against a real upstream on 127.0.0.1: an echo server that reports
//! what reached it (method, path, query, headers, body length and digest) and can stream
//! large bodies without storing them.
// The streaming tests print their figures (peak bytes in flight, time) for `--nocapture`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use keygate_tower::proxy::{BoxError, Proxy, ProxyBody};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tower::{Layer as _, ServiceExt as _};

const KEY: &str = "upstream-key-0123456789";
const MIB: u64 = 1024 * 1024;
const CHUNK: usize = 64 * 1024;
/// The upstream's socket buffers.
const SOCKET_BUFFER: u32 = 64 * 1024;

/// What the upstream has received and sent, for the streaming tests.
#[derive(Default)]
struct Counters {
    /// Request-body bytes the upstream has read.
    received: AtomicU64,
    /// Response-body bytes the upstream has produced.
    sent: AtomicU64,
}

/// The echo upstream on 127.0.0.1:0; stops when dropped.
struct Upstream {
    addr: SocketAddr,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    async fn start() -> Self {
        // Small socket buffers (accepted connections inherit them) keep what the kernel
        // holds of a stream small, so the in-flight figures measure the proxy.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(SOCKET_BUFFER).unwrap();
        socket.set_send_buffer_size(SOCKET_BUFFER).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(64).unwrap();
        let addr = listener.local_addr().unwrap();
        let counters = Arc::new(Counters::default());
        let shared = Arc::clone(&counters);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counters = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        answer(request, Arc::clone(&counters))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            counters,
            task,
        }
    }

    fn url(&self, base_path: &str) -> String {
        format!("http://{}{base_path}", self.addr)
    }
}

type UpstreamBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// The upstream's answers:
/// - `/status/{code}`: that status, a body, and hop-by-hop headers that must not pass;
/// - `/slow`: never answers;
/// - `/stream/{mib}`: `mib` MiB generated on demand (counted in `sent`);
/// - anything else: the request as JSON, its body read chunk by chunk (counted in
///   `received`), never stored: only its length and SHA-256.
async fn answer(
    request: Request<Incoming>,
    counters: Arc<Counters>,
) -> Result<Response<UpstreamBody>, Infallible> {
    let path = request.uri().path().to_owned();
    if let Some(code) = path.strip_prefix("/v1/status/") {
        let response = Response::builder()
            .status(code.parse::<u16>().unwrap())
            .header("x-upstream", "yes")
            .header("set-cookie", "upstream=1")
            .header("www-authenticate", "Bearer realm=\"upstream\"")
            .header("connection", "x-hop")
            .header("x-hop", "1")
            .header("keep-alive", "timeout=5")
            .header("proxy-authenticate", "Basic")
            .body(Full::from("from upstream").boxed())
            .unwrap();
        return Ok(response);
    }
    if path == "/v1/slow" {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    if let Some(mib) = path.strip_prefix("/v1/stream/") {
        let total = mib.parse::<u64>().unwrap() * MIB;
        let chunk = Bytes::from(vec![7u8; CHUNK]);
        let chunks = stream::unfold(0u64, move |done| {
            let chunk = chunk.clone();
            let counters = Arc::clone(&counters);
            async move {
                if done >= total {
                    return None;
                }
                counters.sent.fetch_add(CHUNK as u64, Ordering::SeqCst);
                Some((Ok(Frame::data(chunk)), done + CHUNK as u64))
            }
        });
        return Ok(Response::new(StreamBody::new(chunks).boxed()));
    }
    let (parts, mut body) = request.into_parts();
    let mut digest = Sha256::new();
    let mut length = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Some(data) = frame.data_ref() {
            length += data.len() as u64;
            counters
                .received
                .fetch_add(data.len() as u64, Ordering::SeqCst);
            if length <= 8 * MIB {
                digest.update(data);
            }
        }
    }
    let headers: Vec<Value> = parts
        .headers
        .iter()
        .map(|(name, value)| json!([name.as_str(), value.to_str().unwrap_or("?")]))
        .collect();
    let digest: String = digest
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let echo = json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "length": length,
        "sha256": digest,
    });
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::from(echo.to_string()).boxed())
        .unwrap())
}

fn proxy_to(upstream: &str) -> Proxy {
    Proxy::builder()
        .upstream(upstream)
        .key(SecretString::from(KEY))
        .strip_prefix("/api/proxy")
        .response_timeout(Duration::from_millis(300))
        .build()
        .unwrap()
}

async fn send<B>(proxy: &Proxy, request: Request<B>) -> Response<ProxyBody>
where
    B: http_body::Body + Send + 'static,
    B::Data: Into<Bytes> + Send,
    B::Error: Into<BoxError>,
{
    proxy.clone().oneshot(request).await.unwrap()
}

async fn text(response: Response<ProxyBody>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The values the upstream saw for header `name`.
fn seen<'a>(echo: &'a Value, name: &str) -> Vec<&'a str> {
    echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pair| pair[0] == name)
        .map(|pair| pair[1].as_str().unwrap())
        .collect()
}

/// Asserts a problem document of `status` and `code`; its text.
async fn assert_problem(response: Response<ProxyBody>, status: u16, code: &str) -> String {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body = text(response).await;
    let document: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(document.get("code"), Some(&Value::from(code)), "{body}");
    assert_eq!(document.get("status"), Some(&Value::from(status)), "{body}");
    body
}

#[tokio::test]
async fn the_key_goes_up_and_the_callers_credentials_do_not() {
    let upstream = Upstream::start().await;
    let proxy = proxy_to(&upstream.url("/v1"));
    let body = b"{\"hello\": \"upstream\"}".repeat(100);
    let request = Request::post("/api/proxy/things/42?a=1&b=two%20words&a=3")
        .header("authorization", "Bearer ek_caller_token")
        .header("x-api-key", "sk_live_caller")
        .header("X-Client-Secret", "platform-secret")
        .header("cookie", "session=abc")
        .header("cookie", "other=def")
        .header("host", "proxy.example")
        .header("connection", "x-private")
        .header("x-private", "hop")
        .header("keep-alive", "timeout=5")
        .header("te", "trailers")
        .header("upgrade", "websocket")
        .header("proxy-authorization", "Basic eDp5")
        .header("x-on-behalf-of", "user_9")
        .header("forwarded", "for=10.0.0.1")
        .header("x-forwarded-for", "10.0.0.1")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "http")
        .header("x-real-ip", "10.0.0.1")
        .header("x-request-id", "r-1")
        .header("content-type", "application/json")
        .header("content-length", body.len().to_string())
        .body(Full::<Bytes>::from(body.clone()))
        .unwrap();
    let response = send(&proxy, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let echo: Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/v1/things/42");
    assert_eq!(echo["query"], "a=1&b=two%20words&a=3");
    assert_eq!(seen(&echo, "authorization"), [format!("Bearer {KEY}")]);
    for gone in [
        "x-api-key",
        "x-client-secret",
        "cookie",
        "connection",
        "x-private",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-authorization",
        "transfer-encoding",
        "x-on-behalf-of",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
    ] {
        assert!(
            seen(&echo, gone).is_empty(),
            "{gone} reached the upstream: {echo}"
        );
    }
    assert_eq!(seen(&echo, "host"), [upstream.addr.to_string()]);
    assert_eq!(seen(&echo, "x-request-id"), ["r-1"]);
    assert_eq!(seen(&echo, "content-type"), ["application/json"]);
    assert_eq!(seen(&echo, "content-length"), [body.len().to_string()]);
    assert_eq!(echo["length"], body.len());
    let digest: String = Sha256::digest(&body)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(echo["sha256"], digest);
    assert!(!echo.to_string().contains("ek_caller_token"));
}

#[tokio::test]
async fn the_engines_configured_sources_do_not_go_up() {
    let upstream = Upstream::start().await;
    let keygate = keygate_core::Keygate::builder()
        .pepper(keygate_core::Pepper::generate().unwrap())
        .credential_sources(
            keygate_core::CredentialSources::builder()
                .api_key_header("x-acme-key")
                .client_secret_header("x-acme-secret")
                .cookie("kg_session")
                .allowed_origin("https://app.example.com")
                .websocket_protocol("keygate")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let configured = Proxy::builder()
        .upstream(upstream.url("/v1"))
        .key(SecretString::from(KEY))
        .strip_prefix("/api/proxy")
        .credential_sources(keygate.credential_sources())
        .build()
        .unwrap();
    let request = || {
        Request::get("/api/proxy/things")
            .header("x-acme-key", "sk_live_caller")
            .header("x-acme-secret", "platform-secret")
            .header("x-api-key", "sk_live_caller")
            .header("cookie", "theme=dark; kg_session=ek_caller.token.value")
            .header(
                "sec-websocket-protocol",
                "chat, keygate, ek_caller.token.value",
            )
            .header("x-request-id", "r-2")
            .body(String::new())
            .unwrap()
    };
    let echo: Value =
        serde_json::from_str(&text(send(&configured, request()).await).await).unwrap();
    for gone in ["x-acme-key", "x-acme-secret", "x-api-key", "cookie"] {
        assert!(
            seen(&echo, gone).is_empty(),
            "{gone} reached the upstream: {echo}"
        );
    }
    assert_eq!(seen(&echo, "sec-websocket-protocol"), ["chat"]);
    assert_eq!(seen(&echo, "authorization"), [format!("Bearer {KEY}")]);
    assert_eq!(seen(&echo, "x-request-id"), ["r-2"]);
    assert!(!echo.to_string().contains("caller"), "{echo}");

    // A proxy that was not told the engine's sources forwards what only the engine
    // knows to be a credential: the setting is what keeps it here.
    let unaware = proxy_to(&upstream.url("/v1"));
    let echo: Value = serde_json::from_str(&text(send(&unaware, request()).await).await).unwrap();
    assert_eq!(seen(&echo, "x-acme-key"), ["sk_live_caller"]);
    assert_eq!(
        seen(&echo, "sec-websocket-protocol"),
        ["chat, keygate, ek_caller.token.value"]
    );
    assert!(
        seen(&echo, "cookie").is_empty(),
        "Cookie never goes up: {echo}"
    );
}

#[tokio::test]
async fn behind_a_keygate_layer_the_proxy_removes_what_that_engine_reads_unasked() {
    let upstream = Upstream::start().await;
    let keygate = keygate_core::Keygate::builder()
        .pepper(keygate_core::Pepper::generate().unwrap())
        .credential_sources(
            keygate_core::CredentialSources::builder()
                .api_key_header("x-acme-key")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let key = keygate
        .create_key(keygate_core::key::NewKey::new(
            keygate_core::KeyKind::Secret,
            keygate_core::Environment::Live,
        ))
        .await
        .unwrap();
    // The proxy is not told the engine's sources: the layer in front hands them on.
    let service = keygate_tower::KeygateLayer::new(&keygate, keygate_core::Access::authenticated())
        .layer(proxy_to(&upstream.url("/v1")));
    let request = Request::get("/api/proxy/things")
        .header("x-acme-key", key.key.expose())
        .body(String::new())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let echo: Value = serde_json::from_str(&text(response).await).unwrap();
    assert!(seen(&echo, "x-acme-key").is_empty(), "{echo}");
    assert!(!echo.to_string().contains(key.key.expose()), "{echo}");
}

#[tokio::test]
async fn every_method_goes_up_and_an_empty_body_stays_empty() {
    let upstream = Upstream::start().await;
    let proxy = proxy_to(&upstream.url("/v1/"));
    for method in ["GET", "DELETE", "PUT", "PATCH", "OPTIONS", "CUSTOM"] {
        let request = Request::builder()
            .method(method)
            .uri("/api/proxy/x")
            .body(String::new())
            .unwrap();
        let echo: Value = serde_json::from_str(&text(send(&proxy, request).await).await).unwrap();
        assert_eq!(echo["method"], method);
        assert_eq!(echo["path"], "/v1/x");
        assert_eq!(echo["query"], Value::Null);
        assert_eq!(echo["length"], 0);
        assert!(seen(&echo, "transfer-encoding").is_empty(), "{echo}");
    }
    // The prefix alone is the base.
    let echo: Value = serde_json::from_str(
        &text(
            send(
                &proxy,
                Request::get("/api/proxy").body(String::new()).unwrap(),
            )
            .await,
        )
        .await,
    )
    .unwrap();
    assert_eq!(echo["path"], "/v1");
}

#[tokio::test]
async fn the_upstream_status_and_headers_come_back_without_hop_by_hop_ones() {
    let upstream = Upstream::start().await;
    let proxy = proxy_to(&upstream.url("/v1"));
    for status in [200u16, 201, 302, 404, 418, 500, 503] {
        let request = Request::get(format!("/api/proxy/status/{status}"))
            .body(String::new())
            .unwrap();
        let response = send(&proxy, request).await;
        assert_eq!(response.status().as_u16(), status);
        let headers = response.headers().clone();
        assert_eq!(headers["x-upstream"], "yes");
        for gone in [
            "connection",
            "x-hop",
            "keep-alive",
            "proxy-authenticate",
            "set-cookie",
            "www-authenticate",
        ] {
            assert!(headers.get(gone).is_none(), "{gone} came back: {headers:?}");
        }
        // A 3xx is the caller's to follow, not the proxy's.
        assert_eq!(text(response).await, "from upstream");
    }
}

#[tokio::test]
async fn an_unreachable_upstream_is_502_upstream_unavailable() {
    // A port nobody listens on: bound, then released.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = proxy_to(&format!("http://{addr}/v1"));
    let response = send(
        &proxy,
        Request::post("/api/proxy/things?secret=query")
            .header("authorization", "Bearer ek_caller")
            .body(String::from("body"))
            .unwrap(),
    )
    .await;
    let body = assert_problem(response, 502, "upstream_unavailable").await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], 502);
    assert_eq!(body["type"], "urn:keygate:error:upstream_unavailable");
    assert!(!body.to_string().contains(&addr.to_string()));

    // No upstream at all: 502 too.
    for proxy in [Proxy::unconfigured(), Proxy::builder().build().unwrap()] {
        assert!(!proxy.is_configured());
        let response = send(&proxy, Request::get("/x").body(String::new()).unwrap()).await;
        let body = assert_problem(response, 502, "upstream_unavailable").await;
        assert!(body.contains("no upstream is configured"));
    }
}

#[tokio::test]
async fn an_upstream_that_does_not_answer_is_504_upstream_timeout() {
    let upstream = Upstream::start().await;
    let proxy = proxy_to(&upstream.url("/v1"));
    let response = send(
        &proxy,
        Request::get("/api/proxy/slow").body(String::new()).unwrap(),
    )
    .await;
    assert_problem(response, 504, "upstream_timeout").await;
}

#[tokio::test]
async fn paths_cannot_climb_out_of_the_upstream_base() {
    let upstream = Upstream::start().await;
    let proxy = proxy_to(&upstream.url("/v1"));
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
        let response = send(&proxy, Request::get(path).body(String::new()).unwrap()).await;
        let body = assert_problem(response, 400, "invalid_request").await;
        assert!(body.contains("\"detail\":\"path: "), "{path}");
    }
    let response = send(
        &proxy,
        Request::get("/elsewhere").body(String::new()).unwrap(),
    )
    .await;
    assert_problem(response, 404, "not_found").await;
    // TRACE would echo the injected key back; CONNECT asks for a tunnel.
    for method in [http::Method::TRACE, http::Method::CONNECT] {
        let request = Request::builder()
            .method(method)
            .uri("/api/proxy/x")
            .body(String::new())
            .unwrap();
        assert_problem(send(&proxy, request).await, 405, "method_not_allowed").await;
    }
    assert_eq!(upstream.counters.received.load(Ordering::SeqCst), 0);
}

#[test]
fn bad_settings_say_what_to_fix() {
    for (builder, says) in [
        (Proxy::builder().upstream("localhost:8080"), "http://"),
        (Proxy::builder().upstream("/v1"), "not a URL"),
        (
            Proxy::builder().upstream("https://u:p@host/"),
            "credentials",
        ),
        (Proxy::builder().strip_prefix("api/proxy"), "/api/proxy"),
        (Proxy::builder().strip_prefix("/api/proxy/"), "/api/proxy"),
        (
            Proxy::builder().key(SecretString::from("a\nb")),
            "line breaks",
        ),
    ] {
        let error = builder.build().unwrap_err().to_string();
        assert!(error.contains(says), "{error}");
    }
    let proxy = proxy_to("http://127.0.0.1:9/v1");
    let debug = format!("{proxy:?}");
    assert!(!debug.contains(KEY), "{debug}");
    assert!(debug.contains("[redacted]"), "{debug}");
}

/// The largest number of bytes seen in flight between a producer and a consumer.
#[derive(Default)]
struct Peak(AtomicU64);

impl Peak {
    fn record(&self, produced: u64, consumed: u64) {
        self.0
            .fetch_max(produced.saturating_sub(consumed), Ordering::SeqCst);
    }
    fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// At most this much of a 100 MiB body may be between its producer and its consumer at
/// any time: the chunk in hand, hyper's buffers, and the socket buffers of the proxy's
/// connection to the upstream (the upstream's are small; the proxy's send buffer is the
/// OS's to size, at most `net.ipv4.tcp_wmem`'s 4 MiB by default, and most of what is
/// measured on the way up). A proxy that buffered the body would reach 100 MiB.
const IN_FLIGHT_BOUND: u64 = 12 * MIB;

#[tokio::test]
async fn a_100_mib_request_body_streams_through_without_being_held() {
    let upstream = Upstream::start().await;
    let proxy = proxy_to(&upstream.url("/v1"));
    let total = 100 * MIB;
    let peak = Arc::new(Peak::default());
    let produced = Arc::new(AtomicU64::new(0));
    let chunk = Bytes::from(vec![3u8; CHUNK]);
    let body = {
        let (peak, produced, counters) = (
            Arc::clone(&peak),
            Arc::clone(&produced),
            Arc::clone(&upstream.counters),
        );
        // Each chunk is made when the proxy asks for it, never before.
        StreamBody::new(stream::unfold(0u64, move |done| {
            let (chunk, peak, produced, counters) = (
                chunk.clone(),
                Arc::clone(&peak),
                Arc::clone(&produced),
                Arc::clone(&counters),
            );
            async move {
                if done >= total {
                    return None;
                }
                let now = produced.fetch_add(CHUNK as u64, Ordering::SeqCst) + CHUNK as u64;
                peak.record(now, counters.received.load(Ordering::SeqCst));
                Some((Ok::<_, Infallible>(Frame::data(chunk)), done + CHUNK as u64))
            }
        }))
    };
    let started = std::time::Instant::now();
    let response = send(
        &proxy,
        Request::put("/api/proxy/upload").body(body).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let echo: Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(echo["length"], total, "every byte arrived");
    assert_eq!(produced.load(Ordering::SeqCst), total);
    let peak = peak.get();
    eprintln!(
        "100 MiB up in {:?}: peak {} KiB between the producer and the upstream",
        started.elapsed(),
        peak / 1024
    );
    assert!(
        peak < IN_FLIGHT_BOUND,
        "{peak} bytes were in flight at once: the proxy held the body"
    );
}

#[tokio::test]
async fn a_100_mib_response_body_streams_back_without_being_held() {
    let upstream = Upstream::start().await;
    let proxy = proxy_to(&upstream.url("/v1"));
    let started = std::time::Instant::now();
    let response = send(
        &proxy,
        Request::get("/api/proxy/stream/100")
            .body(String::new())
            .unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let peak = Peak::default();
    let mut consumed = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.unwrap();
        if let Some(data) = frame.data_ref() {
            consumed += data.len() as u64;
            peak.record(upstream.counters.sent.load(Ordering::SeqCst), consumed);
        }
    }
    assert_eq!(consumed, 100 * MIB, "every byte came back");
    let peak = peak.get();
    eprintln!(
        "100 MiB down in {:?}: peak {} KiB between the upstream and the caller",
        started.elapsed(),
        peak / 1024
    );
    assert!(
        peak < IN_FLIGHT_BOUND,
        "{peak} bytes were in flight at once: the proxy held the body"
    );
}
