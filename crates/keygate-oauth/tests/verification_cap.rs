//! Concurrent argon2 verifications are capped: past the slots and their waiting room,
//! the token endpoint answers 503 `temporarily_unavailable` without hashing.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use keygate_oauth::testing::harness::{Harness, encode};
use keygate_oauth::{AuthorizationServer, EndpointRequest, MemoryOAuthStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifications_beyond_the_cap_are_refused_unhashed() {
    let store = Arc::new(MemoryOAuthStore::new());
    let h = Harness::new(store.clone());
    let client = h.register(true, None, &["read:users"]).await;
    // One slot; eight in the endpoint at most, the one hashing included.
    let server = AuthorizationServer::builder("https://auth.example")
        .store(store)
        .concurrent_verifications(1)
        .build()
        .unwrap();
    let body = encode(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", "ort_x"),
        ("client_id", &client.id),
        ("client_secret", "cs_wrong"),
    ]);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20u8 {
        let server = server.clone();
        let body = body.clone();
        tasks.spawn(async move {
            server
                .token(EndpointRequest {
                    authorization: &[],
                    content_type: Some(b"application/x-www-form-urlencoded"),
                    body: body.as_bytes(),
                    // Distinct addresses: the failure throttle stays out of it.
                    client_address: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i))),
                })
                .await
                .status
                .as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap());
    }
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    let busy = statuses.iter().filter(|s| **s == 503).count();
    assert_eq!(unauthorized + busy, 20, "{statuses:?}");
    assert!(busy >= 1, "{statuses:?}");
    // At most eight were ever in the endpoint at once (hashing or waiting for the slot).
    assert!((1..=8).contains(&unauthorized), "{statuses:?}");
    eprintln!(
        "20 concurrent bad secrets: {unauthorized} verified one at a time, {busy} refused, in {:?}",
        started.elapsed()
    );
}
