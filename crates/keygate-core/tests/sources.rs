//! Configured credential sources: other header names, a cookie with its `Origin` rule, a
//! `Sec-WebSocket-Protocol` entry on upgrades; and the contract's rule that a malformed
//! bearer value is `invalid_token`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Fixture, bearer, code};
use keygate_core::credentials::{CredentialSources, Credentials, MAX_TOKEN_LEN, SourcesError};
use keygate_core::token::{IssuedToken, TokenKind, TokenRequest};
use keygate_core::{Access, Principal};

const APP: &str = "https://app.example.com";
const COOKIE: &str = "kg_session";
const MARKER: &str = "keygate";

fn lens() -> Access {
    Access::scoped("lens:create").unwrap()
}

fn with_sources(sources: CredentialSources) -> Fixture {
    Fixture::with(|builder| builder.credential_sources(sources))
}

fn cookie_engine() -> Fixture {
    with_sources(
        CredentialSources::builder()
            .cookie(COOKIE)
            .allowed_origin(APP)
            .allowed_origin("http://localhost:3000")
            .build()
            .unwrap(),
    )
}

fn websocket_engine() -> Fixture {
    with_sources(
        CredentialSources::builder()
            .websocket_protocol(MARKER)
            .build()
            .unwrap(),
    )
}

/// A request of `method` with `headers`, each appended (so a name may repeat).
fn request(method: &str, headers: &[(&str, &str)]) -> http::Request<()> {
    let mut builder = http::Request::builder().method(method).uri("/api/realtime");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

/// A WebSocket handshake offering `protocols`, as a browser sends it.
fn upgrade(protocols: &str) -> http::Request<()> {
    request(
        "GET",
        &[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-protocol", protocols),
        ],
    )
}

async fn session(f: &Fixture) -> IssuedToken {
    f.token(TokenKind::Session, "lens:create").await
}

async fn client_token(f: &Fixture) -> IssuedToken {
    let parent = f.secret_key("acme").await;
    let minter = f
        .principal(
            &[("authorization", &bearer(parent.key.expose()))],
            &Access::authenticated(),
        )
        .await;
    f.keygate
        .issue_token(&minter, TokenRequest::new(TokenKind::Client))
        .unwrap()
}

// --- header names ------------------------------------------------------------------

#[tokio::test]
async fn a_custom_api_key_header_authenticates_and_the_default_is_not_read() {
    let f = with_sources(
        CredentialSources::builder()
            .api_key_header("X-Acme-Key")
            .build()
            .unwrap(),
    );
    let key = f.secret_key("acme").await;
    let any = Access::authenticated();
    let principal = f.principal(&[("x-acme-key", key.key.expose())], &any).await;
    assert_eq!(principal.tenant.as_deref(), Some("acme"));
    // The contract's header is not a source any more: nothing was presented.
    assert_eq!(
        code(f.call(&[("x-api-key", key.key.expose())], &any).await),
        "missing_credentials"
    );
    // Its syntax rules follow it: a repeated custom header is refused.
    assert_eq!(
        code(
            f.call(&[("x-acme-key", "a"), ("x-acme-key", "b")], &any)
                .await
        ),
        "invalid_request"
    );
    assert_eq!(
        f.keygate.credential_sources().api_key_header().as_str(),
        "x-acme-key"
    );

    // An engine on the defaults does not read the custom header.
    let plain = Fixture::new();
    let other = plain.secret_key("acme").await;
    assert_eq!(
        code(
            plain
                .call(&[("x-acme-key", other.key.expose())], &any)
                .await
        ),
        "missing_credentials"
    );
}

#[tokio::test]
async fn every_header_slot_can_be_renamed() {
    let f = with_sources(
        CredentialSources::builder()
            .client_secret_header("x-acme-secret")
            .bearer_header("x-acme-authorization")
            .on_behalf_of_header("x-acme-as")
            .build()
            .unwrap(),
    );
    let operator = f
        .call(&[("x-acme-secret", f.secret.expose())], &Access::admin())
        .await
        .unwrap();
    assert!(operator.principal().is_operator());
    // The secret's header is renamed, so the token is minted without a request.
    let token = f
        .keygate
        .issue_token(
            &Principal::operator(),
            common::scoped(TokenKind::Session, "lens:create"),
        )
        .unwrap();
    assert!(
        f.call(
            &[("x-acme-authorization", &bearer(token.expose()))],
            &lens()
        )
        .await
        .is_ok()
    );
    let key = f.secret_key("acme").await;
    let acting = f
        .principal(
            &[("x-api-key", key.key.expose()), ("x-acme-as", "user_123")],
            &Access::authenticated(),
        )
        .await;
    assert_eq!(acting.subject.as_deref(), Some("user_123"));
    // The old names are not read.
    assert_eq!(
        code(
            f.call(&[("x-client-secret", f.secret.expose())], &Access::admin())
                .await
        ),
        "missing_credentials"
    );
    assert_eq!(
        code(
            f.call(&[("authorization", &bearer(token.expose()))], &lens())
                .await
        ),
        "missing_credentials"
    );
}

#[test]
fn bad_sources_are_refused_at_configuration_with_what_to_fix() {
    let cases: Vec<(keygate_core::credentials::CredentialSourcesBuilder, &str)> = vec![
        (
            CredentialSources::builder().api_key_header("x api key"),
            "not an HTTP header name",
        ),
        (
            CredentialSources::builder().api_key_header(""),
            "not an HTTP header name",
        ),
        (
            CredentialSources::builder().api_key_header("cookie"),
            "its own meaning",
        ),
        (
            CredentialSources::builder().bearer_header("Origin"),
            "its own meaning",
        ),
        (
            CredentialSources::builder().api_key_header("sec-websocket-protocol"),
            "cannot be set",
        ),
        (
            CredentialSources::builder().client_secret_header("proxy-authorization"),
            "cannot be set",
        ),
        (
            CredentialSources::builder().api_key_header("authorization"),
            "give each its own header",
        ),
        (
            CredentialSources::builder()
                .client_secret_header("x-key")
                .on_behalf_of_header("X-Key"),
            "give each its own header",
        ),
        (
            CredentialSources::builder().cookie(COOKIE),
            "allowed_origin",
        ),
        (
            CredentialSources::builder().allowed_origin(APP),
            "CredentialSourcesBuilder::cookie",
        ),
        (
            CredentialSources::builder()
                .cookie("kg session")
                .allowed_origin(APP),
            "such as kg_session",
        ),
        (
            CredentialSources::builder().cookie("").allowed_origin(APP),
            "such as kg_session",
        ),
        (
            CredentialSources::builder()
                .cookie(COOKIE)
                .allowed_origin("https://app.example.com/"),
            "scheme://host[:port]",
        ),
        (
            CredentialSources::builder()
                .cookie(COOKIE)
                .allowed_origin("*"),
            "scheme://host[:port]",
        ),
        (
            CredentialSources::builder()
                .cookie(COOKIE)
                .allowed_origin("null"),
            "scheme://host[:port]",
        ),
        (
            CredentialSources::builder().websocket_protocol("key gate"),
            "such as keygate",
        ),
        (
            CredentialSources::builder().websocket_protocol("a/b"),
            "such as keygate",
        ),
    ];
    for (builder, says) in cases {
        let error = builder.build().unwrap_err();
        assert!(error.to_string().contains(says), "{error}");
    }
    assert_eq!(
        CredentialSources::builder()
            .cookie(COOKIE)
            .build()
            .unwrap_err(),
        SourcesError::CookieWithoutOrigins
    );
    // The defaults are the contract's names.
    let defaults = CredentialSources::default();
    assert_eq!(defaults.client_secret_header().as_str(), "x-client-secret");
    assert_eq!(defaults.bearer_header().as_str(), "authorization");
    assert_eq!(defaults.api_key_header().as_str(), "x-api-key");
    assert_eq!(defaults.on_behalf_of_header().as_str(), "x-on-behalf-of");
    assert_eq!(defaults.cookie(), None);
    assert_eq!(defaults.websocket_protocol(), None);
}

// --- the cookie and its Origin rule -------------------------------------------------

#[tokio::test]
async fn a_cookie_from_an_allowed_origin_authenticates() {
    let f = cookie_engine();
    let token = session(&f).await;
    let cookie = format!("theme=dark; {COOKIE}={}; lang=en", token.expose());
    for origin in [APP, "http://localhost:3000"] {
        let grant = f
            .call(&[("cookie", &cookie), ("origin", origin)], &lens())
            .await
            .unwrap();
        assert_eq!(grant.principal().method, keygate_core::AuthMethod::Token);
    }
    // A quoted value, an API key, and an ek_ client token work the same way.
    let key = f.secret_key("acme").await;
    let quoted = format!("{COOKIE}=\"{}\"", key.key.expose());
    assert!(
        f.call(
            &[("cookie", &quoted), ("origin", APP)],
            &Access::authenticated()
        )
        .await
        .is_ok()
    );
    let client = client_token(&f).await;
    let grant = f
        .call(
            &[
                ("cookie", &format!("{COOKIE}={}", client.expose())),
                ("origin", APP),
            ],
            &Access::authenticated(),
        )
        .await
        .unwrap();
    assert_eq!(
        grant.principal().method,
        keygate_core::AuthMethod::ClientToken
    );
    assert_eq!(
        f.keygate
            .credential_sources()
            .allowed_origins()
            .collect::<Vec<_>>(),
        [APP, "http://localhost:3000"]
    );
}

#[tokio::test]
async fn a_cookie_from_another_origin_or_none_is_origin_forbidden() {
    let f = cookie_engine();
    let token = f.token(TokenKind::OneTime, "lens:create").await;
    let cookie = format!("{COOKIE}={}", token.expose());
    let lookups = f.store.lookups();
    let same_in_header = bearer(token.expose());
    let refused: Vec<Vec<(&str, &str)>> = vec![
        vec![("cookie", &cookie)],
        vec![("cookie", &cookie), ("origin", "https://evil.example")],
        vec![("cookie", &cookie), ("origin", "null")],
        vec![("cookie", &cookie), ("origin", "https://app.example.com/")],
        vec![("cookie", &cookie), ("origin", "https://APP.example.com")],
        vec![("cookie", &cookie), ("origin", "http://app.example.com")],
        vec![("cookie", &cookie), ("origin", APP), ("origin", APP)],
        // The same value in Authorization too: the cookie still came along.
        vec![
            ("cookie", &cookie),
            ("authorization", &same_in_header),
            ("origin", "https://evil.example"),
        ],
    ];
    for headers in refused {
        let err = f.call(&headers, &lens()).await.unwrap_err();
        assert_eq!(
            (err.status().as_u16(), err.code()),
            (403, "origin_forbidden"),
            "{headers:?}"
        );
        assert_eq!(err.title(), "Origin forbidden");
        assert!(err.www_authenticate().is_none());
        assert!(!err.problem_json().contains(token.expose()));
    }
    // Upgrades too: a WebSocket handshake from another page carries the cookie.
    let handshake = request(
        "GET",
        &[
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("cookie", &cookie),
            ("origin", "https://evil.example"),
        ],
    );
    assert_eq!(
        code(f.keygate.authenticate(&handshake, &lens()).await),
        "origin_forbidden"
    );
    // Refused before anything was verified: the one-time token is still unused.
    assert_eq!(f.store.lookups(), lookups);
    assert!(
        f.call(&[("cookie", &cookie), ("origin", APP)], &lens())
            .await
            .is_ok()
    );
    // Without the cookie, Origin plays no part.
    let key = f.secret_key("acme").await;
    assert!(
        f.call(
            &[
                ("x-api-key", key.key.expose()),
                ("origin", "https://evil.example")
            ],
            &Access::authenticated()
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn cookie_headers_are_parsed_strictly_and_bounded() {
    let f = cookie_engine();
    let token = session(&f).await;
    let ok = format!("{COOKIE}={}", token.expose());
    let twice = format!("{ok}; {ok}");
    let long = format!("{COOKIE}={}", "a".repeat(MAX_TOKEN_LEN + 1));
    let bad_chars = format!("{COOKIE}=a,b");
    let empty = format!("{COOKIE}=");
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("cookie", &twice)],
        // Several Cookie lines are one list: the cookie once across them, capped in each.
        vec![("cookie", &ok), ("cookie", "theme=dark"), ("cookie", &ok)],
        vec![("cookie", "theme=dark"), ("cookie", &twice)],
        vec![("cookie", &long)],
        vec![("cookie", "theme=dark"), ("cookie", &long)],
        vec![("cookie", &bad_chars)],
        vec![("cookie", &empty)],
    ];
    for headers in cases {
        let err = f.call(&headers, &lens()).await.unwrap_err();
        assert_eq!(
            (err.status().as_u16(), err.code()),
            (400, "invalid_request"),
            "{headers:?}"
        );
        assert!(!err.problem_json().contains(token.expose()));
    }
    // The cap is the token cap: a value of exactly MAX_TOKEN_LEN is read (and refused
    // as a token, not as a request).
    let longest = format!("{COOKIE}={}", "a".repeat(MAX_TOKEN_LEN));
    let err = f
        .call(&[("cookie", &longest), ("origin", APP)], &lens())
        .await;
    assert_eq!(code(err), "invalid_token");
    // Other cookies are not the engine's business, however they look; nor is a cookie
    // whose name only starts like the credential's.
    let others = format!("a=\u{e9}t\u{e9}; {COOKIE}2=zzz; b; c=\"q\"; {ok}");
    assert!(
        f.call(&[("cookie", &others), ("origin", APP)], &lens())
            .await
            .is_ok()
    );
    // An engine without a cookie source reads no cookie at all.
    let plain = Fixture::new();
    assert_eq!(
        code(
            plain
                .call(&[("cookie", &twice), ("cookie", "x=1")], &lens())
                .await
        ),
        "missing_credentials"
    );
}

/// HTTP/2 clients may send one `Cookie` line per cookie (RFC 9113 §8.2.3), and hyper
/// does not join them: the lines are one list, as if joined by `"; "`.
#[tokio::test]
async fn several_cookie_lines_are_one_list() {
    let f = cookie_engine();
    let token = session(&f).await;
    let key = f.secret_key("acme").await;
    let cookie = format!("{COOKIE}={}", token.expose());
    // Other cookies split over lines do not stop a request that authenticates otherwise.
    let split = [("cookie", "theme=dark"), ("cookie", "_ga=GA1.2.3")];
    let mut headers = vec![("x-api-key", key.key.expose())];
    headers.extend(split);
    assert!(f.call(&headers, &lens()).await.is_ok());
    assert_eq!(code(f.call(&split, &lens()).await), "missing_credentials");
    // The credential cookie is found on any line, with the Origin rule as on one line.
    for lines in [
        [("cookie", cookie.as_str()), ("cookie", "theme=dark")],
        [("cookie", "theme=dark"), ("cookie", cookie.as_str())],
    ] {
        let mut headers = lines.to_vec();
        headers.push(("origin", APP));
        assert!(f.call(&headers, &lens()).await.is_ok(), "{headers:?}");
        let mut headers = lines.to_vec();
        headers.push(("origin", "https://evil.example"));
        assert_eq!(code(f.call(&headers, &lens()).await), "origin_forbidden");
    }
    // Parsed from `http::request::Parts` too.
    let (parts, ()) = request(
        "GET",
        &[("cookie", "a=1"), ("cookie", &cookie), ("origin", APP)],
    )
    .into_parts();
    let sources = f.keygate.credential_sources();
    let credentials = Credentials::parse_with(&parts, sources).unwrap();
    assert_eq!(credentials.bearer(), Some(token.expose()));
}

#[tokio::test]
async fn a_cookie_and_a_header_in_one_slot_follow_the_two_credentials_rule() {
    let f = cookie_engine();
    let token = session(&f).await;
    let other = session(&f).await;
    let key = f.secret_key("acme").await;
    let cookie = format!("{COOKIE}={}", token.expose());
    // The same value twice is one credential.
    assert!(
        f.call(
            &[
                ("cookie", &cookie),
                ("authorization", &bearer(token.expose())),
                ("origin", APP)
            ],
            &lens()
        )
        .await
        .is_ok()
    );
    // Two different values: refused, whichever header the other came in.
    for headers in [
        vec![
            ("cookie", cookie.as_str()),
            ("authorization", &bearer(other.expose())),
            ("origin", APP),
        ],
        vec![
            ("cookie", cookie.as_str()),
            ("x-api-key", key.key.expose()),
            ("origin", APP),
        ],
    ] {
        assert_eq!(
            code(f.call(&headers, &lens()).await),
            "invalid_request",
            "{headers:?}"
        );
    }
}

// --- the WebSocket subprotocol entry ------------------------------------------------

#[tokio::test]
async fn a_subprotocol_entry_authenticates_an_upgrade_when_enabled() {
    let f = websocket_engine();
    let token = client_token(&f).await;
    let handshake = upgrade(&format!("{MARKER}, {}", token.expose()));
    let grant = f
        .keygate
        .authenticate(&handshake, &Access::authenticated())
        .await
        .unwrap();
    assert_eq!(
        grant.principal().method,
        keygate_core::AuthMethod::ClientToken
    );
    // The server answers with the marker, never the token.
    let sources = f.keygate.credential_sources();
    let credentials = Credentials::parse_with(&handshake, sources).unwrap();
    assert_eq!(credentials.websocket_protocol(), Some(MARKER));
    assert_eq!(sources.websocket_protocol(), Some(MARKER));
    // Other subprotocols may be offered around it; header values are case-insensitive.
    let mixed = request(
        "GET",
        &[
            ("Connection", "upgrade"),
            ("Upgrade", "WebSocket"),
            (
                "sec-websocket-protocol",
                &format!("chat,{MARKER},{} , v2", token.expose()),
            ),
        ],
    );
    assert!(
        f.keygate
            .authenticate(&mixed, &Access::authenticated())
            .await
            .is_ok()
    );
    // A credential in a header is not a subprotocol one: nothing to echo.
    let key = f.secret_key("acme").await;
    let by_header = request(
        "GET",
        &[
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("x-api-key", key.key.expose()),
        ],
    );
    let credentials = Credentials::parse_with(&by_header, sources).unwrap();
    assert_eq!(credentials.websocket_protocol(), None);
}

#[tokio::test]
async fn a_subprotocol_entry_is_ignored_unless_enabled_and_an_upgrade() {
    let f = websocket_engine();
    let token = client_token(&f).await;
    let protocols = format!("{MARKER}, {}", token.expose());
    let any = Access::authenticated();
    // Not an upgrade: a plain request, a POST, an upgrade to something else, a
    // Connection header that does not ask for one.
    let not_upgrades = [
        request("GET", &[("sec-websocket-protocol", &protocols)]),
        request(
            "POST",
            &[
                ("connection", "upgrade"),
                ("upgrade", "websocket"),
                ("sec-websocket-protocol", &protocols),
            ],
        ),
        request(
            "GET",
            &[
                ("connection", "upgrade"),
                ("upgrade", "h2c"),
                ("sec-websocket-protocol", &protocols),
            ],
        ),
        request(
            "GET",
            &[
                ("connection", "keep-alive"),
                ("upgrade", "websocket"),
                ("sec-websocket-protocol", &protocols),
            ],
        ),
        request(
            "GET",
            &[
                ("upgrade", "websocket"),
                ("sec-websocket-protocol", &protocols),
            ],
        ),
    ];
    for request in &not_upgrades {
        assert_eq!(
            code(f.keygate.authenticate(request, &any).await),
            "missing_credentials",
            "{:?}",
            request.headers()
        );
    }
    // Not enabled: the default engine ignores it on a real upgrade.
    let plain = Fixture::new();
    assert_eq!(
        code(plain.keygate.authenticate(&upgrade(&protocols), &any).await),
        "missing_credentials"
    );
    // Another engine's marker is somebody else's subprotocol.
    assert_eq!(
        code(
            f.keygate
                .authenticate(&upgrade(&format!("other, {}", token.expose())), &any)
                .await
        ),
        "missing_credentials"
    );
}

#[tokio::test]
async fn a_subprotocol_entry_is_parsed_strictly() {
    let f = websocket_engine();
    let token = client_token(&f).await;
    let t = token.expose();
    let long = "a".repeat(MAX_TOKEN_LEN + 1);
    let cases = [
        MARKER.to_owned(),
        format!("{MARKER}, "),
        format!("{MARKER}, {t}, {MARKER}, {t}"),
        format!("{MARKER}, a/b"),
        format!("{MARKER}, abc=="),
        format!("{MARKER}, {long}"),
    ];
    for protocols in &cases {
        let err = f
            .keygate
            .authenticate(&upgrade(protocols), &Access::authenticated())
            .await
            .unwrap_err();
        assert_eq!(
            (err.status().as_u16(), err.code()),
            (400, "invalid_request"),
            "{protocols}"
        );
        assert!(!err.problem_json().contains(t));
    }
    // The header twice, on an upgrade: refused.
    let mut twice = upgrade(&format!("{MARKER}, {t}"));
    twice
        .headers_mut()
        .append("sec-websocket-protocol", "chat".parse().unwrap());
    assert_eq!(
        code(
            f.keygate
                .authenticate(&twice, &Access::authenticated())
                .await
        ),
        "invalid_request"
    );
    // With a different bearer in Authorization: two credentials.
    let mut both = upgrade(&format!("{MARKER}, {t}"));
    both.headers_mut().append(
        "authorization",
        bearer("other.token.value").parse().unwrap(),
    );
    assert_eq!(
        code(
            f.keygate
                .authenticate(&both, &Access::authenticated())
                .await
        ),
        "invalid_request"
    );
}

// --- malformed bearer values --------------------------------------------------------

#[tokio::test]
async fn malformed_bearer_values_are_invalid_token_wherever_they_come_from() {
    let f = with_sources(
        CredentialSources::builder()
            .cookie(COOKIE)
            .allowed_origin(APP)
            .websocket_protocol(MARKER)
            .build()
            .unwrap(),
    );
    let lookups = f.store.lookups();
    let malformed = [
        "abc",
        "nounderscore",
        "a_b",
        "sk_live_short",
        "sk_live_0000000000000000000000000000000000000-",
        "SK_LIVE_00000000000000000000000000000000aaaaaa",
        "bad-prefix_00000000000000000000000000000000aaaaaa",
        "sk_0000000000000000000000000000000000000000aaaaaa",
        "a~b+c",
    ];
    for value in malformed {
        let by_header = f
            .call(
                &[("authorization", &bearer(value))],
                &Access::authenticated(),
            )
            .await
            .unwrap_err();
        assert_eq!(
            (by_header.status().as_u16(), by_header.code()),
            (401, "invalid_token"),
            "{value}"
        );
        let cookie = format!("{COOKIE}={value}");
        let by_cookie = f
            .call(
                &[("cookie", &cookie), ("origin", APP)],
                &Access::authenticated(),
            )
            .await;
        assert_eq!(code(by_cookie), "invalid_token", "{value}");
        let by_entry = f
            .keygate
            .authenticate(
                &upgrade(&format!("{MARKER}, {value}")),
                &Access::authenticated(),
            )
            .await;
        assert_eq!(code(by_entry), "invalid_token", "{value}");
    }
    // A key-shaped value with a bad checksum was a key, mistyped: invalid_api_key, as
    // before; and X-API-Key values are keys, so malformed ones stay invalid_api_key.
    let mistyped = "sk_live_00000000000000000000000000000000aaaaaa";
    assert_eq!(
        code(
            f.call(
                &[("authorization", &bearer(mistyped))],
                &Access::authenticated()
            )
            .await
        ),
        "invalid_api_key"
    );
    for value in ["nounderscore", "sk_live_short", "a_b"] {
        assert_eq!(
            code(
                f.call(&[("x-api-key", value)], &Access::authenticated())
                    .await
            ),
            "invalid_api_key",
            "{value}"
        );
    }
    assert_eq!(
        f.store.lookups(),
        lookups,
        "no store look-up for any of them"
    );
}
