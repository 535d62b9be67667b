//! contract.md, "Realtime": `GET /api/realtime` is an echo WebSocket that takes a client
//! token as the subprotocol `keygate, ek_…` (answered `keygate`, never the token), an API
//! key or the platform secret in the usual headers, and scope `realtime:connect`. Refusals
//! are decided before the upgrade, as problem+json; an open socket whose token expires or
//! whose parent key is revoked is closed with 1008 within 5 s.
//!
//! Spoken by a real WebSocket client (tokio-tungstenite) to each adapter.

use std::time::{Duration as StdDuration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use http::Method;
use keygate_core::token::{TokenKind, TokenRequest};
use keygate_core::{Access, ScopeSet};
use serde_json::{Value, json};
use time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

use super::{BARE, REJECTED, insufficient};
use crate::platform::{ADMIN_KEYS, Database, Platform, PlatformAdapter, text};

/// The route.
const REALTIME: &str = "/api/realtime";
/// `POST /api/tokens`.
const TOKENS: &str = "/api/tokens";
/// The contract's bound on closing a socket whose credential ended.
const CLOSE_WITHIN: StdDuration = StdDuration::from_secs(5);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A handshake the server answered with something other than 101.
struct Refused {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

impl Refused {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    fn assert_problem(&self, status: u16, code: &str, what: &str) {
        let body: Value = serde_json::from_str(&self.body).unwrap_or(Value::Null);
        assert_eq!(
            (self.status, body["code"].as_str().unwrap_or_default()),
            (status, code),
            "{what}: {}",
            self.body
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{what}"
        );
    }
}

/// Asserts that `secret` is in none of `headers`' values.
fn assert_not_in_headers(headers: &http::HeaderMap, secret: &str, what: &str) {
    for (name, value) in headers {
        assert!(
            !String::from_utf8_lossy(value.as_bytes()).contains(secret),
            "{what}: the credential is echoed in {name}"
        );
    }
}

/// Opens `/api/realtime` with `headers` added to the handshake: the socket and the 101's
/// headers, or what the server answered instead.
async fn connect(
    p: &Platform,
    headers: &[(&str, &str)],
) -> Result<(Socket, http::HeaderMap), Refused> {
    let mut request = format!("ws://{}{REALTIME}", p.authority())
        .into_client_request()
        .expect("a handshake request");
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            http::HeaderValue::from_str(value).expect("a header value"),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, response)) => {
            assert_eq!(response.status(), 101);
            Ok((socket, response.headers().clone()))
        }
        Err(tungstenite::Error::Http(response)) => Err(Refused {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned(),
        }),
        Err(error) => panic!("the handshake failed without an answer: {error}"),
    }
}

/// The refusal of a handshake with `headers` (panics if the socket opens).
async fn refused(p: &Platform, headers: &[(&str, &str)]) -> Refused {
    match connect(p, headers).await {
        Ok(_) => panic!("the upgrade with {headers:?} was accepted"),
        Err(refused) => refused,
    }
}

/// The subprotocol offer that carries `token`.
fn offer(token: &str) -> String {
    format!("keygate, {token}")
}

/// A client token minted over HTTP by the key `key` (`ttl_seconds` if given).
async fn client_token(p: &Platform, key: &str, ttl_seconds: Option<u64>) -> String {
    let body = ttl_seconds.map_or_else(|| json!({}), |ttl| json!({ "ttl_seconds": ttl }));
    let reply = p.post(TOKENS).bearer(key).json(&body).send().await;
    reply.assert_ok();
    text(&reply.json(), "apiKey").to_owned()
}

/// Sends `text` and expects it back.
async fn assert_echoes(socket: &mut Socket, sent: &str) {
    socket
        .send(Message::Text(sent.into()))
        .await
        .expect("the frame is sent");
    let echoed = tokio::time::timeout(StdDuration::from_secs(5), socket.next())
        .await
        .expect("an answer within 5 s");
    match echoed {
        Some(Ok(Message::Text(text))) => assert_eq!(text.as_str(), sent),
        other => panic!("expected the echo of {sent:?}, got {other:?}"),
    }
}

/// Waits (at most [`CLOSE_WITHIN`]) for the server to close `socket`; its close code.
async fn closed_with(socket: &mut Socket) -> (CloseCode, String, StdDuration) {
    let started = Instant::now();
    loop {
        let next = tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + CLOSE_WITHIN),
            socket.next(),
        )
        .await
        .expect("the server closes the socket within 5 s");
        match next {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (frame.code, frame.reason.to_string(), started.elapsed());
            }
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => {
                panic!("the socket ended without a close code")
            }
            Some(Ok(_)) => {}
        }
    }
}

/// A client token as the subprotocol opens the socket: the answer names exactly the
/// subprotocol `keygate` and never the token, and text is echoed. An API key in
/// `X-API-Key` and the platform secret in `x-client-secret` open it too.
pub async fn realtime_echoes_with_a_client_token<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let parent = p.secret_key("acme").await;
    let key = text(&parent, "key");
    let token = client_token(&p, key, None).await;
    let (mut socket, headers) = connect(&p, &[("sec-websocket-protocol", &offer(&token))])
        .await
        .unwrap_or_else(|refused| panic!("refused: {} {}", refused.status, refused.body));
    assert_eq!(
        headers
            .get_all("sec-websocket-protocol")
            .iter()
            .collect::<Vec<_>>(),
        ["keygate"]
    );
    assert_not_in_headers(&headers, &token, "the 101");
    assert_echoes(&mut socket, "hello").await;
    assert_echoes(&mut socket, "and again").await;
    socket.close(None).await.expect("closed by the client");

    for (name, value) in [("x-api-key", key), ("x-client-secret", p.secret.expose())] {
        let (mut socket, headers) = connect(&p, &[(name, value)])
            .await
            .unwrap_or_else(|refused| panic!("{name}: {} {}", refused.status, refused.body));
        assert_eq!(headers.get("sec-websocket-protocol"), None, "{name}");
        assert_not_in_headers(&headers, value, name);
        assert_echoes(&mut socket, name).await;
    }
}

/// Refused before the upgrade, as problem+json with the contract's status and code:
/// nothing, a malformed token, an expired token, a revoked parent key, a credential
/// without `realtime:connect`, a user JWT. No answer carries the token.
pub async fn realtime_refusals_are_problem_answers<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let nothing = refused(&p, &[]).await;
    nothing.assert_problem(401, "missing_credentials", "nothing");
    assert_eq!(nothing.header("www-authenticate"), Some(BARE));

    let forged = "ek_not_a_real_token";
    let bad = refused(&p, &[("sec-websocket-protocol", &offer(forged))]).await;
    bad.assert_problem(401, "invalid_token", "a malformed token");
    assert_not_in_headers(&bad.headers, forged, "a malformed token");

    let parent = p.secret_key("acme").await;
    let key = text(&parent, "key");
    let short = client_token(&p, key, Some(60)).await;
    p.clock.advance(Duration::seconds(60));
    let expired = refused(&p, &[("sec-websocket-protocol", &offer(&short))]).await;
    expired.assert_problem(401, "token_expired", "an expired token");
    assert_eq!(expired.header("www-authenticate"), Some(REJECTED));
    assert_not_in_headers(&expired.headers, &short, "an expired token");
    assert!(!expired.body.contains(&short));

    let doomed = p.secret_key("acme").await;
    let orphan = client_token(&p, text(&doomed, "key"), None).await;
    let reply = p
        .admin(
            Method::DELETE,
            &format!("{ADMIN_KEYS}/{}", text(&doomed, "id")),
        )
        .send()
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let revoked = refused(&p, &[("sec-websocket-protocol", &offer(&orphan))]).await;
    revoked.assert_problem(401, "key_revoked", "a revoked parent key");
    assert_not_in_headers(&revoked.headers, &orphan, "a revoked parent key");

    // Without the scope: a restricted key, and a client token narrowed in the engine
    // (the HTTP mint gives a token its key's scopes).
    let narrow_key = p
        .create_key(json!({"kind": "restricted", "tenant": "acme", "scopes": ["read:users"]}))
        .await;
    let scope = refused(&p, &[("x-api-key", text(&narrow_key, "key"))]).await;
    scope.assert_problem(403, "insufficient_scope", "a key without the scope");
    assert_eq!(
        scope.header("www-authenticate"),
        Some(insufficient("realtime:connect").as_str())
    );
    let keygate = p.app.keygate();
    let minter = http::Request::builder()
        .header("x-api-key", key)
        .body(())
        .expect("a request");
    let minter = keygate
        .authenticate(&minter, &Access::authenticated())
        .await
        .expect("the key authenticates")
        .into_principal();
    let narrow = keygate
        .issue_token(
            &minter,
            TokenRequest {
                scopes: Some(ScopeSet::parse(["read:users"]).expect("scopes")),
                ..TokenRequest::new(TokenKind::Client)
            },
        )
        .expect("a narrow client token");
    let scope = refused(&p, &[("sec-websocket-protocol", &offer(narrow.expose()))]).await;
    scope.assert_problem(403, "insufficient_scope", "a token without the scope");
    assert_not_in_headers(&scope.headers, narrow.expose(), "a token without the scope");

    let jwt = p.users.of_tenant("u_1", "acme");
    let user = refused(&p, &[("authorization", &format!("Bearer {jwt}"))]).await;
    user.assert_problem(403, "credential_not_accepted", "a user JWT");
}

/// A token offered as a subprotocol on a request that is not an upgrade is not read: the
/// request has no credential. An admitted plain `GET` is 426.
pub async fn realtime_subprotocol_is_ignored_without_upgrade<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let parent = p.secret_key("acme").await;
    let key = text(&parent, "key");
    let token = client_token(&p, key, None).await;
    let reply = p
        .get(REALTIME)
        .header("sec-websocket-protocol", &offer(&token))
        .send()
        .await;
    reply.assert_problem(401, "missing_credentials");
    assert_eq!(reply.header("www-authenticate"), Some(BARE));
    // Elsewhere too: the metered route does not read it either.
    let reply = p
        .post("/api/detect")
        .header("sec-websocket-protocol", &offer(&token))
        .send()
        .await;
    reply.assert_problem(401, "missing_credentials");

    let reply = p.get(REALTIME).header("x-api-key", &token).send().await;
    reply.assert_problem(426, "upgrade_required");
}

/// Revoking the parent key of an open socket's client token closes the socket with
/// 1008 within 5 s.
pub async fn realtime_closes_when_the_parent_key_is_revoked<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let parent = p.secret_key("acme").await;
    let token = client_token(&p, text(&parent, "key"), None).await;
    let (mut socket, _) = connect(&p, &[("sec-websocket-protocol", &offer(&token))])
        .await
        .unwrap_or_else(|refused| panic!("refused: {} {}", refused.status, refused.body));
    assert_echoes(&mut socket, "before").await;
    let reply = p
        .admin(
            Method::DELETE,
            &format!("{ADMIN_KEYS}/{}", text(&parent, "id")),
        )
        .send()
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let (code, reason, after) = closed_with(&mut socket).await;
    assert_eq!(code, CloseCode::Policy, "closed with 1008 ({reason})");
    assert_eq!(reason, "key_revoked");
    assert!(after <= CLOSE_WITHIN, "closed after {after:?}");
}

/// An open socket whose client token expires (the platform's clock moved past it) is
/// closed with 1008 within 5 s.
pub async fn realtime_closes_when_the_token_expires<A: PlatformAdapter, D: Database>() {
    let Some(p) = Platform::start::<A, D>().await else {
        return;
    };
    let parent = p.secret_key("acme").await;
    let token = client_token(&p, text(&parent, "key"), Some(60)).await;
    let (mut socket, _) = connect(&p, &[("sec-websocket-protocol", &offer(&token))])
        .await
        .unwrap_or_else(|refused| panic!("refused: {} {}", refused.status, refused.body));
    p.clock.advance(Duration::seconds(59));
    assert_echoes(&mut socket, "still good").await;
    p.clock.advance(Duration::seconds(1));
    let (code, reason, after) = closed_with(&mut socket).await;
    assert_eq!(code, CloseCode::Policy, "closed with 1008 ({reason})");
    assert_eq!(reason, "token_expired");
    assert!(after <= CLOSE_WITHIN, "closed after {after:?}");
}
