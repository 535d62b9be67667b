//! The engine's transport rules: HTTPS-only (403 `https_required`, before anything is
//! verified), trusted proxies, and the lock-out of addresses that guess the platform
//! secret (429 `rate_limited` with `Retry-After`), on a manual clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Fixture, bearer, code, get};
use keygate_core::credentials::{Connection, Credentials, Scheme};
use keygate_core::lockout::SecretLockout;
use keygate_core::transport::{Client, TrustedProxies};
use keygate_core::{Access, Gate, PlatformSecret};
use time::Duration;

/// A request with `headers` from `peer` over `scheme`.
fn from(peer: &str, scheme: Scheme, headers: &[(&str, &str)]) -> http::Request<()> {
    let mut request = get(headers);
    request.extensions_mut().insert(Connection {
        peer: peer.parse().unwrap(),
        scheme,
    });
    request
}

fn https_only() -> Fixture {
    Fixture::with(|b| {
        b.require_https(true)
            .trusted_proxies("10.0.0.0/8, fd00::/8".parse().unwrap())
    })
}

#[tokio::test]
async fn a_credential_over_plain_http_is_refused_before_it_is_verified() {
    let f = https_only();
    let key = f.secret_key("acme").await;
    let lookups = f.store.lookups();
    let auth = bearer(key.key.expose());
    for headers in [
        vec![("authorization", auth.as_str())],
        vec![("x-client-secret", f.secret.expose())],
        vec![("x-api-key", key.key.expose())],
    ] {
        let request = from("198.51.100.7:5000", Scheme::Http, &headers);
        let err = f
            .keygate
            .authenticate(&request, &Access::authenticated())
            .await
            .unwrap_err();
        assert_eq!((err.status().as_u16(), err.code()), (403, "https_required"));
        assert!(err.www_authenticate().is_none());
        let admin = f.keygate.authenticate(&request, &Access::admin()).await;
        assert_eq!(code(admin), "https_required");
    }
    assert_eq!(f.store.lookups(), lookups, "nothing was verified");

    // Over TLS, the same key works; without any credential, the usual 401.
    let request = from(
        "198.51.100.7:5000",
        Scheme::Https,
        &[("authorization", &auth)],
    );
    assert!(
        f.keygate
            .authenticate(&request, &Access::authenticated())
            .await
            .is_ok()
    );
    let anonymous = from("198.51.100.7:5000", Scheme::Http, &[]);
    let err = f
        .keygate
        .authenticate(&anonymous, &Access::authenticated())
        .await;
    assert_eq!(code(err), "missing_credentials");
    // An optional route stays open to anonymous plain-HTTP callers.
    let gate = Gate::optional(&f.keygate, Access::authenticated());
    assert!(gate.admit(&anonymous).await.is_ok());
}

#[tokio::test]
async fn forwarded_proto_counts_only_from_a_trusted_proxy() {
    let f = https_only();
    let secret = [
        ("x-client-secret", f.secret.expose()),
        ("x-forwarded-proto", "https"),
    ];
    let spoofed = from("198.51.100.7:5000", Scheme::Http, &secret);
    assert_eq!(
        code(f.keygate.authenticate(&spoofed, &Access::admin()).await),
        "https_required"
    );
    // Loopback is not trusted unless listed.
    let local = from("127.0.0.1:5000", Scheme::Http, &secret);
    assert_eq!(
        code(f.keygate.authenticate(&local, &Access::admin()).await),
        "https_required"
    );

    for proxy in ["10.1.2.3:443", "[fd00::7]:443", "[::ffff:10.0.0.1]:443"] {
        let proxied = from(proxy, Scheme::Http, &secret);
        assert!(
            f.keygate
                .authenticate(&proxied, &Access::admin())
                .await
                .is_ok(),
            "{proxy}"
        );
    }
    // A trusted proxy that says http, or a list, is plain HTTP.
    for proto in ["http", "https, http", "wss"] {
        let proxied = from(
            "10.1.2.3:443",
            Scheme::Http,
            &[
                ("x-client-secret", f.secret.expose()),
                ("x-forwarded-proto", proto),
            ],
        );
        let err = f.keygate.authenticate(&proxied, &Access::admin()).await;
        assert_eq!(code(err), "https_required", "{proto}");
    }
    // No connection information at all: the scheme is unknown, so refused.
    let unknown = get(&[("x-client-secret", f.secret.expose())]);
    assert_eq!(
        code(f.keygate.authenticate(&unknown, &Access::admin()).await),
        "https_required"
    );
}

#[tokio::test]
async fn an_absolute_https_uri_is_the_clients_claim_not_the_connections() {
    let f = https_only();
    let key = f.secret_key("acme").await;
    let lookups = f.store.lookups();
    // A plain-HTTP client may send the absolute form `GET https://host/…` (and HTTP/2's
    // `:scheme` is the client's word too): without a Connection, the scheme is unknown.
    let mut absolute = get(&[("x-client-secret", f.secret.expose())]);
    *absolute.uri_mut() = "https://api.example.com/api/v1/test".parse().unwrap();
    assert_eq!(keygate_core::RequestHead::scheme(&absolute), None);
    assert_eq!(
        code(f.keygate.authenticate(&absolute, &Access::admin()).await),
        "https_required"
    );
    let auth = bearer(key.key.expose());
    let mut absolute = get(&[("authorization", auth.as_str())]);
    *absolute.uri_mut() = "https://api.example.com/api/v1/test".parse().unwrap();
    assert_eq!(
        code(
            f.keygate
                .authenticate(&absolute, &Access::authenticated())
                .await
        ),
        "https_required"
    );
    // With the connection's word, the URI changes nothing either way.
    let mut plain = from(
        "198.51.100.7:5000",
        Scheme::Http,
        &[("x-client-secret", f.secret.expose())],
    );
    *plain.uri_mut() = "https://api.example.com/api/v1/test".parse().unwrap();
    assert_eq!(
        code(f.keygate.authenticate(&plain, &Access::admin()).await),
        "https_required"
    );
    let mut tls = from(
        "198.51.100.7:5000",
        Scheme::Https,
        &[("x-client-secret", f.secret.expose())],
    );
    *tls.uri_mut() = "http://api.example.com/api/v1/test".parse().unwrap();
    assert!(f.keygate.authenticate(&tls, &Access::admin()).await.is_ok());
    assert_eq!(f.store.lookups(), lookups, "nothing refused was verified");
}

#[tokio::test]
async fn a_handler_applies_the_engines_transport_rules_to_its_own_credentials() {
    let f = https_only();
    // A client behind a trusted proxy: the forwarded address and scheme.
    let proxied = from(
        "10.0.0.2:4000",
        Scheme::Http,
        &[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ],
    );
    let client = f.keygate.client(&proxied);
    assert_eq!(client.address, Some("203.0.113.9".parse().unwrap()));
    assert!(f.keygate.check_https(&client).is_ok());
    // The same headers from an untrusted peer: the peer, over plain HTTP.
    let spoofed = from(
        "198.51.100.7:4000",
        Scheme::Http,
        &[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ],
    );
    let client = f.keygate.client(&spoofed);
    assert_eq!(client.address, Some("198.51.100.7".parse().unwrap()));
    let err = f.keygate.check_https(&client).unwrap_err();
    assert_eq!((err.status().as_u16(), err.code()), (403, "https_required"));
    // No Connection: unknown, refused.
    let unknown = f.keygate.client(&get(&[]));
    assert_eq!(unknown, Client::default());
    assert_eq!(
        f.keygate.check_https(&unknown).map_err(|e| e.code()),
        Err("https_required")
    );
    // An engine that does not require HTTPS takes anything.
    let g = Fixture::new();
    assert!(g.keygate.check_https(&Client::default()).is_ok());
}

#[tokio::test]
async fn credentials_parsed_by_hand_carry_their_client() {
    let f = https_only();
    let request = from(
        "10.0.0.9:1",
        Scheme::Http,
        &[
            ("x-client-secret", f.secret.expose()),
            ("x-forwarded-proto", "https"),
        ],
    );
    let sources = f.keygate.credential_sources();
    let parsed = Credentials::parse_with(&request, sources).unwrap();
    assert_eq!(parsed.client(), Client::default(), "unknown until told");
    let err = f
        .keygate
        .authenticate_credentials(parsed, &Access::admin())
        .await;
    assert_eq!(code(err), "https_required");
    let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
    let told = parsed.with_client(Client::of(&request, &proxies));
    assert!(
        f.keygate
            .authenticate_credentials(told, &Access::admin())
            .await
            .is_ok()
    );
}

/// `n` wrong secrets from `peer` (with `headers` added), one a second: their codes.
async fn guess(f: &Fixture, n: usize, peer: &str, headers: &[(&str, &str)]) -> Vec<&'static str> {
    let mut codes = Vec::new();
    for _ in 0..n {
        let wrong = PlatformSecret::generate().unwrap();
        let mut all = vec![("x-client-secret", wrong.expose())];
        all.extend_from_slice(headers);
        let request = from(peer, Scheme::Http, &all);
        codes.push(code(
            f.keygate.authenticate(&request, &Access::admin()).await,
        ));
        f.clock.advance(Duration::seconds(1));
    }
    codes
}

/// Ten wrong secrets from `peer`, each refused as wrong.
async fn guess_ten(f: &Fixture, peer: &str, headers: &[(&str, &str)]) {
    assert_eq!(
        guess(f, 10, peer, headers).await,
        ["invalid_secret_key"; 10]
    );
}

#[tokio::test]
async fn ten_wrong_secrets_lock_the_address_until_the_window_ends() {
    let f = Fixture::new();
    let key = f.secret_key("acme").await;
    guess_ten(&f, "203.0.113.9:4000", &[]).await;
    // 10 s after the first failure: locked for the 50 s left, the right secret included,
    // and a tenant's sk_ key too (the store is not asked).
    let lookups = f.store.lookups();
    for value in [f.secret.expose(), key.key.expose()] {
        let request = from(
            "203.0.113.9:4001",
            Scheme::Http,
            &[("x-client-secret", value)],
        );
        for access in [Access::admin(), Access::authenticated()] {
            let err = f.keygate.authenticate(&request, &access).await.unwrap_err();
            assert_eq!((err.status().as_u16(), err.code()), (429, "rate_limited"));
            assert_eq!(err.retry_after_secs(), Some(50));
            let headers: Vec<(&str, String)> =
                err.headers().map(|(n, v)| (n, v.to_string())).collect();
            assert!(
                headers.contains(&("retry-after", "50".into())),
                "{headers:?}"
            );
            assert!(!err.problem_json().contains(value));
        }
    }
    assert_eq!(f.store.lookups(), lookups, "refused unverified");
    // Other credentials from the same address are not affected.
    let request = from(
        "203.0.113.9:4001",
        Scheme::Http,
        &[("authorization", &bearer(key.key.expose()))],
    );
    assert!(
        f.keygate
            .authenticate(&request, &Access::authenticated())
            .await
            .is_ok()
    );
    // Another address is not locked.
    let other = from(
        "203.0.113.10:4000",
        Scheme::Http,
        &[("x-client-secret", f.secret.expose())],
    );
    assert!(
        f.keygate
            .authenticate(&other, &Access::admin())
            .await
            .is_ok()
    );
    // One second before the window ends, still locked; at its end, open again.
    f.clock.advance(Duration::seconds(49));
    let again = from(
        "203.0.113.9:4002",
        Scheme::Http,
        &[("x-client-secret", f.secret.expose())],
    );
    let err = f
        .keygate
        .authenticate(&again, &Access::admin())
        .await
        .unwrap_err();
    assert_eq!(err.retry_after_secs(), Some(1));
    f.clock.advance(Duration::seconds(1));
    assert!(
        f.keygate
            .authenticate(&again, &Access::admin())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn nine_wrong_secrets_do_not_lock_and_old_failures_expire() {
    let f = Fixture::new();
    for _ in 0..9 {
        let wrong = PlatformSecret::generate().unwrap();
        let request = from(
            "203.0.113.9:4000",
            Scheme::Http,
            &[("x-client-secret", wrong.expose())],
        );
        let _ = f.keygate.authenticate(&request, &Access::admin()).await;
    }
    let right = from(
        "203.0.113.9:4000",
        Scheme::Http,
        &[("x-client-secret", f.secret.expose())],
    );
    assert!(
        f.keygate
            .authenticate(&right, &Access::admin())
            .await
            .is_ok()
    );
    // The window ends; nine more failures start a new one and do not lock either.
    f.clock.advance(Duration::seconds(60));
    for _ in 0..9 {
        let wrong = PlatformSecret::generate().unwrap();
        let request = from(
            "203.0.113.9:4000",
            Scheme::Http,
            &[("x-client-secret", wrong.expose())],
        );
        let _ = f.keygate.authenticate(&request, &Access::admin()).await;
    }
    assert!(
        f.keygate
            .authenticate(&right, &Access::admin())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_locked_not_the_proxy() {
    let f = Fixture::with(|b| b.trusted_proxies("10.0.0.0/8".parse().unwrap()));
    guess_ten(
        &f,
        "10.0.0.2:4000",
        &[("x-forwarded-for", "6.6.6.6, 203.0.113.9")],
    )
    .await;
    let right = |xff: &'static str| {
        from(
            "10.0.0.2:4000",
            Scheme::Http,
            &[
                ("x-client-secret", f.secret.expose()),
                ("x-forwarded-for", xff),
            ],
        )
    };
    let err = f
        .keygate
        .authenticate(&right("1.1.1.1, 203.0.113.9"), &Access::admin())
        .await;
    assert_eq!(
        code(err),
        "rate_limited",
        "the client, whatever it claims to the left"
    );
    assert!(
        f.keygate
            .authenticate(&right("203.0.113.10"), &Access::admin())
            .await
            .is_ok()
    );
    // Without a trusted proxy, the forwarded header is ignored: the peer is the client.
    let g = Fixture::new();
    guess_ten(
        &g,
        "198.51.100.1:4000",
        &[("x-forwarded-for", "203.0.113.9")],
    )
    .await;
    let spoof = from(
        "198.51.100.1:4000",
        Scheme::Http,
        &[
            ("x-client-secret", g.secret.expose()),
            ("x-forwarded-for", "192.0.2.1"),
        ],
    );
    assert_eq!(
        code(g.keygate.authenticate(&spoof, &Access::admin()).await),
        "rate_limited"
    );
}

#[tokio::test]
async fn the_lockout_is_configurable_and_can_be_turned_off() {
    let f =
        Fixture::with(|b| b.secret_lockout(SecretLockout::new(2, Duration::minutes(5)).unwrap()));
    let codes = guess(&f, 10, "203.0.113.9:1", &[]).await;
    assert_eq!(
        codes[..3],
        ["invalid_secret_key", "invalid_secret_key", "rate_limited"]
    );
    let right = from(
        "203.0.113.9:1",
        Scheme::Http,
        &[("x-client-secret", f.secret.expose())],
    );
    let err = f
        .keygate
        .authenticate(&right, &Access::admin())
        .await
        .unwrap_err();
    assert_eq!(err.retry_after_secs(), Some(300 - 10));

    let off = Fixture::with(|b| b.secret_lockout(None));
    assert_eq!(
        guess(&off, 30, "203.0.113.9:1", &[]).await,
        ["invalid_secret_key"; 30]
    );
    let right = from(
        "203.0.113.9:1",
        Scheme::Http,
        &[("x-client-secret", off.secret.expose())],
    );
    assert!(
        off.keygate
            .authenticate(&right, &Access::admin())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn malformed_sk_keys_count_and_a_locked_address_is_refused_whatever_it_sends() {
    let f = Fixture::new();
    for n in 0..10 {
        let value = format!("sk_live_guess{n}");
        let request = from(
            "203.0.113.9:1",
            Scheme::Http,
            &[("x-client-secret", &value)],
        );
        let err = f
            .keygate
            .authenticate(&request, &Access::authenticated())
            .await;
        assert_eq!(code(err), "invalid_secret_key");
    }
    for value in ["sk_live_garbage", "pk_live_x", "anything-at-all"] {
        let request = from(
            "203.0.113.9:1",
            Scheme::Http,
            &[
                ("x-client-secret", value),
                ("authorization", "Bearer not-a-token"),
            ],
        );
        for access in [Access::admin(), Access::authenticated()] {
            let err = f.keygate.authenticate(&request, &access).await;
            assert_eq!(code(err), "rate_limited", "{value}");
        }
    }
}
