//! User-JWT keys from a JWKS URL: the Firebase preset, key rotation, the refetch
//! throttle, start-up without the JWKS, Cache-Control lifetimes and the refresh task.
//! The JWKS is served on 127.0.0.1 by the test itself.
#![cfg(feature = "jwks")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod jwt_support;

use std::time::Duration as StdDuration;

use keygate_core::jwt::{JwtConfigError, JwtVerifier};
use keygate_core::{Clock, ManualClock};
use serde_json::json;
use time::Duration;

use jwt_support::jwks_server::JwksServer;
use jwt_support::*;

/// A Firebase verifier whose keys come from `server` instead of Google.
fn firebase(server: &JwksServer) -> JwtVerifier {
    JwtVerifier::builder()
        .firebase(PROJECT)
        .jwks_url(&server.url)
        .build()
        .unwrap()
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test]
async fn the_firebase_preset_fetches_the_keys_once_and_verifies() {
    let key = TestKey::rsa1();
    let server = JwksServer::start(jwks(&[&key])).await;
    // jwks_url before firebase: the explicit URL still wins.
    let verifier = JwtVerifier::builder()
        .jwks_url(&server.url)
        .firebase(PROJECT)
        .build()
        .unwrap();

    let mut claims = firebase_claims(T0);
    claims["firebase"]["tenant"] = json!("tenant-a");
    let user = verifier.verify(&key.sign(&claims), T0).await.unwrap();
    assert_eq!(&*user.subject, "user_1");
    assert_eq!(&*user.issuer, "https://securetoken.google.com/keygate-test");
    assert_eq!(user.tenant.as_deref(), Some("tenant-a"));
    // The background task's first fetch and the verification shared one request.
    server.assert_fetches_stay(1).await;

    // The preset's audience is the project id: a token for another project is refused.
    let other = with(firebase_claims(T0), "aud", json!("another-project"));
    assert_eq!(
        code(verifier.verify(&key.sign(&other), T0).await),
        "invalid_token"
    );

    let shown = format!("{verifier:?}");
    assert!(
        shown.contains(&server.url) && shown.contains("rsa-1"),
        "{shown}"
    );
    assert!(!shown.contains("\"n\""), "{shown}");
}

#[test]
fn jwks_urls_are_checked_at_build() {
    for url in [
        "http://issuer.example/jwks",
        "not a url",
        "https://u:p@issuer.example/",
    ] {
        let err = JwtVerifier::builder()
            .firebase(PROJECT)
            .jwks_url(url)
            .build()
            .unwrap_err();
        assert!(
            matches!(err, JwtConfigError::InvalidJwksUrl(_)),
            "{url}: {err}"
        );
    }
    let err = JwtVerifier::builder()
        .firebase("Bad/Project")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, JwtConfigError::InvalidFirebaseProject),
        "{err}"
    );
}

#[tokio::test]
async fn rotated_keys_are_picked_up_and_removed_keys_stop_verifying() {
    let (old, new) = (TestKey::rsa1(), TestKey::rsa2());
    let server = JwksServer::start(jwks(&[&old])).await;
    let verifier = firebase(&server);
    let clock = ManualClock::new(T0);

    let old_token = old.sign(&firebase_claims(T0));
    assert_eq!(code(verifier.verify(&old_token, clock.now()).await), "ok");
    server.wait_for_fetches(1).await;

    // The issuer adds a key: a token naming it makes the verifier refetch, once.
    server.set_keys(jwks(&[&old, &new]));
    let new_token = new.sign(&firebase_claims(T0));
    assert_eq!(code(verifier.verify(&new_token, clock.now()).await), "ok");
    assert_eq!(server.fetches(), 2);
    assert_eq!(code(verifier.verify(&new_token, clock.now()).await), "ok");
    assert_eq!(code(verifier.verify(&old_token, clock.now()).await), "ok");
    assert_eq!(server.fetches(), 2);

    // The issuer drops the old key. Once the verifier has refetched (here because a
    // token names a kid it does not know, 30 s later), the old key's tokens are refused,
    // cached or not.
    server.set_keys(jwks(&[&new]));
    clock.advance(Duration::seconds(31));
    let stranger = TestKey::rsa2().with_kid("rsa-3").sign(&firebase_claims(T0));
    assert_eq!(
        code(verifier.verify(&stranger, clock.now()).await),
        "invalid_token"
    );
    assert_eq!(server.fetches(), 3);
    assert_eq!(
        code(verifier.verify(&old_token, clock.now()).await),
        "invalid_token"
    );
    assert_eq!(code(verifier.verify(&new_token, clock.now()).await), "ok");
    // Refused without another fetch: the throttle holds.
    assert_eq!(server.fetches(), 3);
}

#[tokio::test]
async fn random_kids_cannot_flood_the_issuer() {
    let key = TestKey::rsa1();
    let server = JwksServer::start(jwks(&[&key])).await;
    let verifier = firebase(&server);
    let clock = ManualClock::new(T0);
    assert_eq!(
        code(verifier.verify(&key.sign(&firebase_claims(T0)), T0).await),
        "ok"
    );
    server.wait_for_fetches(1).await;

    // 500 tokens with made-up kids, all at once. The kid is looked up before any
    // signature is checked, so the forgeries need no real signature.
    let claims = firebase_claims(T0);
    let forged = |n: usize| {
        let header = json!({"alg": "RS256", "kid": format!("random-{n}"), "typ": "JWT"});
        sign_raw(&header, &claims, |_| "c2lnbmF0dXJl".into())
    };
    let mut all = tokio::task::JoinSet::new();
    for n in 0..500 {
        let (verifier, token, now) = (verifier.clone(), forged(n), clock.now());
        all.spawn(async move { code(verifier.verify(&token, now).await) });
    }
    while let Some(result) = all.join_next().await {
        assert_eq!(result.unwrap(), "invalid_token");
    }
    // One shared refetch for all 500 (the first unknown kid may refetch; the others wait
    // on it, then the throttle holds): the load and that one.
    let after_flood = server.fetches();
    assert_eq!(after_flood, 2, "{after_flood} fetches");
    // More of them within 30 s: no fetch at all.
    clock.advance(Duration::seconds(29));
    for n in 500..600 {
        assert_eq!(
            code(verifier.verify(&forged(n), clock.now()).await),
            "invalid_token"
        );
    }
    assert_eq!(server.fetches(), after_flood);

    // 30 s after the last refetch, one more is allowed, and only one.
    clock.advance(Duration::seconds(1));
    for n in 600..700 {
        assert_eq!(
            code(verifier.verify(&forged(n), clock.now()).await),
            "invalid_token"
        );
    }
    assert_eq!(server.fetches(), after_flood + 1);
    // The genuine token never stopped working.
    assert_eq!(
        code(
            verifier
                .verify(&key.sign(&firebase_claims(T0)), clock.now())
                .await
        ),
        "ok"
    );
}

#[tokio::test]
async fn without_the_jwks_at_start_verify_is_unavailable_then_recovers() {
    let key = TestKey::rsa1();
    let server = JwksServer::start(jwks(&[&key])).await;
    server.set_up(false);
    let verifier = firebase(&server);
    let clock = ManualClock::new(T0);
    let token = key.sign(&firebase_claims(T0));

    let err = verifier.verify(&token, clock.now()).await.unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (503, "auth_unavailable")
    );
    let fetched = server.fetches();
    assert!((1..=2).contains(&fetched), "{fetched}");

    // The JWKS comes back; within the throttle window nothing is fetched yet...
    server.set_up(true);
    clock.advance(Duration::seconds(10));
    assert_eq!(
        code(verifier.verify(&token, clock.now()).await),
        "auth_unavailable"
    );
    assert_eq!(server.fetches(), fetched);
    // ...and once it has passed, the next verification loads the keys and succeeds.
    clock.advance(Duration::seconds(20));
    assert_eq!(code(verifier.verify(&token, clock.now()).await), "ok");
    assert_eq!(server.fetches(), fetched + 1);
}

#[tokio::test]
async fn an_unreachable_jwks_is_unavailable_not_a_panic() {
    // A port nobody listens on any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    drop(listener);
    let verifier = JwtVerifier::builder()
        .firebase(PROJECT)
        .jwks_url(&url)
        .build()
        .unwrap();
    let token = TestKey::rsa1().sign(&firebase_claims(T0));
    let err = verifier.verify(&token, T0).await.unwrap_err();
    assert_eq!(err.code(), "auth_unavailable");
    // A malformed token is still refused as such, without a fetch.
    assert_eq!(code(verifier.verify("a.b.c", T0).await), "invalid_token");
}

#[tokio::test]
async fn a_new_unknown_kid_during_an_outage_is_unavailable() {
    let key = TestKey::rsa1();
    let server = JwksServer::start(jwks(&[&key])).await;
    let verifier = firebase(&server);
    assert_eq!(
        code(verifier.verify(&key.sign(&firebase_claims(T0)), T0).await),
        "ok"
    );
    server.wait_for_fetches(1).await;
    server.set_up(false);
    // A kid the issuer may just have rotated in: 503 so clients retry, not 401.
    let rotated = TestKey::rsa2()
        .with_kid("rsa-new")
        .sign(&firebase_claims(T0));
    assert_eq!(
        code(verifier.verify(&rotated, T0).await),
        "auth_unavailable"
    );
    // The keys already loaded keep working.
    let fresh = key.sign(&with(firebase_claims(T0), "sub", json!("user_2")));
    assert_eq!(code(verifier.verify(&fresh, T0).await), "ok");
}

#[tokio::test]
async fn the_key_set_is_refreshed_when_its_max_age_runs_out() {
    let key = TestKey::rsa1();
    let server = JwksServer::start(jwks(&[&key])).await;
    server.set_cache_control(Some("public, max-age=120, must-revalidate"));
    let _verifier = firebase(&server);
    server.wait_for_fetches(1).await;

    // Tokio's clock is paused only to move it: fetches run in real time.
    let advance = |secs: u64| async move {
        tokio::time::pause();
        tokio::time::advance(StdDuration::from_secs(secs)).await;
        tokio::time::resume();
    };
    advance(100).await;
    server.assert_fetches_stay(1).await;
    advance(21).await;
    server.wait_for_fetches(2).await;

    // Now max-age=5: kept for the 60 s minimum, not 5 s.
    server.set_cache_control(Some("max-age=5"));
    advance(121).await;
    server.wait_for_fetches(3).await;
    advance(30).await;
    server.assert_fetches_stay(3).await;
    advance(31).await;
    server.wait_for_fetches(4).await;

    // No Cache-Control: five minutes. A huge max-age: at most a day.
    server.set_cache_control(None);
    advance(61).await;
    server.wait_for_fetches(5).await;
    server.set_cache_control(Some("max-age=31536000"));
    advance(299).await;
    server.assert_fetches_stay(5).await;
    advance(2).await;
    server.wait_for_fetches(6).await;
    advance(24 * 3600 - 10).await;
    server.assert_fetches_stay(6).await;
    advance(11).await;
    server.wait_for_fetches(7).await;
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_keys_and_retries() {
    let key = TestKey::rsa1();
    let server = JwksServer::start(jwks(&[&key])).await;
    server.set_cache_control(Some("max-age=60"));
    let verifier = firebase(&server);
    let token = key.sign(&firebase_claims(T0));
    assert_eq!(code(verifier.verify(&token, T0).await), "ok");
    server.wait_for_fetches(1).await;

    let advance = |secs: u64| async move {
        tokio::time::pause();
        tokio::time::advance(StdDuration::from_secs(secs)).await;
        tokio::time::resume();
    };
    server.set_up(false);
    advance(61).await;
    server.wait_for_fetches(2).await;
    // The refresh failed: the last good keys still verify (a new token, not a cache hit).
    let other = key.sign(&with(firebase_claims(T0), "sub", json!("user_2")));
    assert_eq!(code(verifier.verify(&other, T0).await), "ok");
    // Retried after 30 s, then 60 s.
    advance(31).await;
    server.wait_for_fetches(3).await;
    server.set_up(true);
    advance(40).await;
    server.assert_fetches_stay(3).await;
    advance(21).await;
    server.wait_for_fetches(4).await;
}

#[tokio::test]
async fn the_refresh_task_outlives_clones_and_stops_with_the_last_one() {
    let key = TestKey::rsa1();
    let server = JwksServer::start(jwks(&[&key])).await;
    server.set_cache_control(Some("max-age=60"));
    let advance = |secs: u64| async move {
        tokio::time::pause();
        tokio::time::advance(StdDuration::from_secs(secs)).await;
        tokio::time::resume();
    };
    let wait_for_tasks = |expected: usize| async move {
        let deadline = std::time::Instant::now() + StdDuration::from_secs(5);
        while alive_tasks() != expected {
            assert!(
                std::time::Instant::now() < deadline,
                "{} tasks alive",
                alive_tasks()
            );
            tokio::time::sleep(StdDuration::from_millis(5)).await;
        }
    };
    let baseline = alive_tasks(); // the server's accept loop

    let verifier = firebase(&server);
    server.wait_for_fetches(1).await;
    wait_for_tasks(baseline + 1).await; // the refresh task, connections closed

    // The original is dropped, a clone lives on: the task keeps refreshing.
    let clone = verifier.clone();
    drop(verifier);
    advance(61).await;
    server.wait_for_fetches(2).await;
    assert_eq!(
        code(clone.verify(&key.sign(&firebase_claims(T0)), T0).await),
        "ok"
    );

    // The last clone goes: the task ends at once, and fetches nothing more.
    drop(clone);
    wait_for_tasks(baseline).await;
    advance(3600).await;
    server.assert_fetches_stay(2).await;
}

#[test]
fn built_outside_a_runtime_the_task_starts_at_first_use() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = TestKey::rsa1();
    let server = runtime.block_on(JwksServer::start(jwks(&[&key])));
    // No runtime here: building must neither panic nor fetch.
    let verifier = firebase(&server);
    assert_eq!(server.fetches(), 0);

    runtime.block_on(async {
        let baseline = alive_tasks();
        let token = key.sign(&firebase_claims(T0));
        assert_eq!(code(verifier.verify(&token, T0).await), "ok");
        assert_eq!(server.fetches(), 1);
        // The refresh task now runs beside the server.
        assert!(alive_tasks() > baseline);
    });
}

#[test]
fn a_task_lost_with_its_runtime_is_started_again() {
    let key = TestKey::rsa1();
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = server_runtime.block_on(JwksServer::start(jwks(&[&key])));

    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let verifier = first.block_on(async {
        let verifier = firebase(&server);
        // Keys loaded: nothing is left to fetch in the next runtime.
        let token = key.sign(&firebase_claims(T0));
        assert_eq!(code(verifier.verify(&token, T0).await), "ok");
        verifier
    });
    drop(first); // the refresh task goes with it

    let second = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        assert_eq!(alive_tasks(), 0);
        let token = key.sign(&with(firebase_claims(T0), "sub", json!("user_2")));
        assert_eq!(code(verifier.verify(&token, T0).await), "ok");
        assert_eq!(alive_tasks(), 1, "the refresh task runs again");
    });
    assert_eq!(server.fetches(), 1);
}
