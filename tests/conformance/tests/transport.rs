//! HTTPS-only and the secret lock-out through each adapter, over real TCP and real TLS:
//! the scheme and the peer come from the connection (tower and axum through keygate's
//! `Connection`, actix from its listener), and `X-Forwarded-*` counts only from a trusted
//! proxy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use keygate_conformance::transport::{Answer, Column, TestTls, exchange, serve};
use keygate_core::transport::TrustedProxies;
use keygate_core::{Keygate, ManualClock, Pepper, PlatformSecret};
use time::macros::datetime;

const COLUMNS: [Column; 3] = [Column::Axum, Column::Actix, Column::Tower];

fn engine(secret: &PlatformSecret, https: bool, proxies: &str) -> (Keygate, ManualClock) {
    let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
    let keygate = Keygate::builder()
        .pepper(Pepper::from_bytes(vec![7; 32]).unwrap())
        .platform_secret(secret)
        .clock(clock.clone())
        .require_https(https)
        .trusted_proxies(TrustedProxies::parse(proxies).unwrap())
        .build()
        .unwrap();
    (keygate, clock)
}

/// `GET /api/v1/admin/keys` with `headers`.
fn admin(headers: &[(&str, &str)]) -> String {
    let mut request =
        String::from("GET /api/v1/admin/keys HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request
}

fn assert_refused(answer: &Answer, status: u16, code: &str, column: Column) {
    assert_eq!(
        (answer.status, answer.code().as_deref()),
        (status, Some(code)),
        "{column:?}: {answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_forwarded_proto_from_an_untrusted_peer_is_refused() {
    let secret = PlatformSecret::generate().unwrap();
    for column in COLUMNS {
        // Loopback is the peer here, and it is not trusted by default.
        let (keygate, _) = engine(&secret, true, "");
        let (addr, _server) = serve(column, &keygate, None);
        let spoofed = admin(&[
            ("x-client-secret", secret.expose()),
            ("x-forwarded-proto", "https"),
        ]);
        let answer = exchange(addr, None, &spoofed).await;
        assert_refused(&answer, 403, "https_required", column);
        assert!(!answer.body.contains(secret.expose()));
        // Without a credential, the usual 401.
        let answer = exchange(addr, None, &admin(&[])).await;
        assert_refused(&answer, 401, "missing_credentials", column);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_vouches_for_https() {
    let secret = PlatformSecret::generate().unwrap();
    for column in COLUMNS {
        let (keygate, _) = engine(&secret, true, "127.0.0.1");
        let (addr, _server) = serve(column, &keygate, None);
        let proxied = admin(&[
            ("x-client-secret", secret.expose()),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        let answer = exchange(addr, None, &proxied).await;
        assert_eq!(answer.status, 200, "{column:?}: {answer:?}");
        let plain = admin(&[
            ("x-client-secret", secret.expose()),
            ("x-forwarded-proto", "http"),
        ]);
        let answer = exchange(addr, None, &plain).await;
        assert_refused(&answer, 403, "https_required", column);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_tls_connection_is_https_by_itself() {
    let secret = PlatformSecret::generate().unwrap();
    let tls = TestTls::new();
    for column in COLUMNS {
        let (keygate, _) = engine(&secret, true, "");
        let (addr, _server) = serve(column, &keygate, Some(&tls));
        let request = admin(&[("x-client-secret", secret.expose())]);
        let answer = exchange(addr, Some(&tls), &request).await;
        assert_eq!(answer.status, 200, "{column:?}: {answer:?}");
        let wrong = admin(&[("x-client-secret", "wrong-secret")]);
        let answer = exchange(addr, Some(&tls), &wrong).await;
        assert_refused(&answer, 401, "invalid_secret_key", column);
        // The same engine over plain TCP refuses the credential.
        let (plain, _plain_server) = serve(column, &keygate, None);
        let answer = exchange(plain, None, &request).await;
        assert_refused(&answer, 403, "https_required", column);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_wrong_secrets_lock_the_client_address() {
    let secret = PlatformSecret::generate().unwrap();
    for column in COLUMNS {
        // Behind a trusted proxy (loopback here), the forwarded client is the one locked.
        let (keygate, clock) = engine(&secret, false, "127.0.0.1");
        let (addr, _server) = serve(column, &keygate, None);
        let from = |client: &str, value: &str| {
            admin(&[("x-client-secret", value), ("x-forwarded-for", client)])
        };
        for _ in 0..10 {
            let answer = exchange(addr, None, &from("203.0.113.9", "wrong-secret")).await;
            assert_refused(&answer, 401, "invalid_secret_key", column);
            clock.advance(time::Duration::seconds(1));
        }
        let answer = exchange(addr, None, &from("203.0.113.9", secret.expose())).await;
        assert_refused(&answer, 429, "rate_limited", column);
        assert_eq!(answer.header("retry-after"), Some("50"), "{column:?}");
        let other = exchange(addr, None, &from("203.0.113.10", secret.expose())).await;
        assert_eq!(other.status, 200, "{column:?}: {other:?}");
        clock.advance(time::Duration::seconds(50));
        let later = exchange(addr, None, &from("203.0.113.9", secret.expose())).await;
        assert_eq!(later.status, 200, "{column:?}: {later:?}");
    }
}
