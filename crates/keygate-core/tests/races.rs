//! Concurrency: counters decided under contention on a multi-threaded runtime.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{Fixture, bearer, get};
use keygate_core::key::{KeyKind, NewKey};
use keygate_core::token::TokenKind;
use keygate_core::{Access, Environment};
use tokio::sync::Barrier;

const TASKS: usize = 64;

/// Runs `TASKS` authentications of `request` against `access` at once (released together
/// by a barrier) and returns each outcome's code (`"ok"` for success).
async fn race(f: &Fixture, request: http::Request<()>, access: Access) -> Vec<&'static str> {
    let request = Arc::new(request);
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut tasks = Vec::with_capacity(TASKS);
    for _ in 0..TASKS {
        let (keygate, request, access, barrier) = (
            f.keygate.clone(),
            Arc::clone(&request),
            access.clone(),
            Arc::clone(&barrier),
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            match keygate.authenticate(&*request, &access).await {
                Ok(_) => "ok",
                Err(err) => err.code(),
            }
        }));
    }
    let mut outcomes = Vec::with_capacity(TASKS);
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_one_time_token_raced_by_64_tasks_succeeds_exactly_once() {
    let f = Fixture::new();
    let token = f.token(TokenKind::OneTime, "lens:create").await;
    let request = get(&[("authorization", &bearer(token.expose()))]);
    let outcomes = race(&f, request, Access::scoped("lens:create").unwrap()).await;
    assert_eq!(outcomes.iter().filter(|o| **o == "ok").count(), 1);
    assert_eq!(
        outcomes.iter().filter(|o| **o == "token_used").count(),
        TASKS - 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn credits_raced_by_64_tasks_never_go_below_zero() {
    let f = Fixture::new();
    let start = 40;
    let key = f
        .key(NewKey {
            credits: Some(start),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    let request = get(&[("x-api-key", key.key.expose())]);
    let outcomes = race(&f, request, Access::authenticated().cost(1)).await;
    let successes = outcomes.iter().filter(|o| **o == "ok").count();
    assert_eq!(successes, usize::try_from(start).unwrap());
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == "insufficient_credits")
            .count(),
        TASKS - successes
    );
    assert_eq!(f.keygate.credits(&key.record).await.unwrap(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rate_limit_raced_by_64_tasks_admits_exactly_its_burst() {
    let f = Fixture::new();
    let key = f
        .key(NewKey {
            rate_limit: Some(keygate_core::key::RateLimit::new(10, 3600).unwrap()),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    let request = get(&[("x-api-key", key.key.expose())]);
    let outcomes = race(&f, request, Access::authenticated()).await;
    assert_eq!(outcomes.iter().filter(|o| **o == "ok").count(), 10);
    assert_eq!(
        outcomes.iter().filter(|o| **o == "rate_limited").count(),
        TASKS - 10
    );
}
