//! Two instances (two connections) on one Redis behave as one meter.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use keygate_core::key::RateLimit;
use keygate_core::meter::{Charge, Limit, MeterAccount, MeterDecision, MeterRequest, OneTimeUse};
use keygate_core::testing::T0;
use keygate_core::{MemoryMeter, Meter};
use time::Duration;
use tokio::sync::Barrier;

/// 64 tasks over 2 connections, released together: `request` is admitted `expected` times.
async fn race(
    meters: [Arc<dyn Meter>; 2],
    request: impl Fn() -> MeterRequest<'static> + Send + Sync + 'static,
) -> usize {
    let barrier = Arc::new(Barrier::new(64));
    let request = Arc::new(request);
    let tasks: Vec<_> = (0..64)
        .map(|task| {
            let meter = Arc::clone(&meters[task % 2]);
            let barrier = Arc::clone(&barrier);
            let request = Arc::clone(&request);
            tokio::spawn(async move {
                barrier.wait().await;
                matches!(
                    meter.meter(&request()).await.unwrap(),
                    MeterDecision::Allowed { .. }
                )
            })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        if task.await.unwrap() {
            admitted += 1;
        }
    }
    admitted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_one_time_token_raced_by_64_tasks_on_2_connections_is_used_once() {
    let Some(redis) = common::TestRedis::new(module_path!()).await else {
        return;
    };
    let first: Arc<dyn Meter> = Arc::new(redis.meter(MemoryMeter::new()).await);
    let second: Arc<dyn Meter> = Arc::new(redis.second().await.meter(MemoryMeter::new()));
    let admitted = race([first, second], || MeterRequest {
        now: T0,
        charges: &[],
        credits: None,
        one_time: Some(OneTimeUse {
            token_id: "jti-raced",
            issued_at: T0,
            expires_at: T0 + Duration::minutes(5),
        }),
    })
    .await;
    assert_eq!(admitted, 1);
}

static TEN_PER_MINUTE: std::sync::LazyLock<Charge<'static>> = std::sync::LazyLock::new(|| Charge {
    account: MeterAccount::key_lineage("key_raced"),
    limit: Limit::Rate(RateLimit::new(10, 60).unwrap()),
});

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_10_per_minute_limit_raced_by_64_tasks_on_2_connections_admits_exactly_10() {
    let Some(redis) = common::TestRedis::new(module_path!()).await else {
        return;
    };
    let first: Arc<dyn Meter> = Arc::new(redis.meter(MemoryMeter::new()).await);
    let second: Arc<dyn Meter> = Arc::new(redis.second().await.meter(MemoryMeter::new()));
    let admitted = race([first, second], || MeterRequest {
        now: T0,
        charges: std::slice::from_ref(&*TEN_PER_MINUTE),
        credits: None,
        one_time: None,
    })
    .await;
    assert_eq!(admitted, 10);
}
