//! One Redis call per metered request, measured with `INFO commandstats`: the `eval` and
//! `evalsha` calls before and after 1,000 requests. The tests of this file run one after
//! another (one test function), so their counts are their own; nothing else should be
//! running scripts on the test Redis meanwhile.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

mod common;

use keygate_core::key::RateLimit;
use keygate_core::meter::{
    Charge, Limit, MeterAccount, MeterDecision, MeterRequest, OneTimeUse, WindowLimit,
};
use keygate_core::testing::T0;
use keygate_core::{MemoryMeter, Meter};
use time::Duration;

const REQUESTS: u64 = 1000;

/// `eval` plus `evalsha` calls so far, from `INFO commandstats`.
fn script_calls(url: &str) -> u64 {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_connection().unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut conn)
        .unwrap();
    info.lines()
        .filter(|line| line.starts_with("cmdstat_eval:") || line.starts_with("cmdstat_evalsha:"))
        .map(|line| {
            let calls = line
                .split([':', ','])
                .find_map(|field| field.strip_prefix("calls="))
                .unwrap();
            calls.parse::<u64>().unwrap()
        })
        .sum()
}

/// Redis calls per request over `REQUESTS` requests made by `request(i)`, all admitted.
async fn calls_per_request(
    redis: &common::TestRedis,
    meter: &impl Meter,
    request: impl Fn(u64) -> MeterRequest<'static>,
) -> f64 {
    // Once first, so the script is loaded (a NOSCRIPT reply and a SCRIPT LOAD happen
    // once per Redis, not per request).
    meter.meter(&request(REQUESTS)).await.unwrap();
    let before = script_calls(&redis.url);
    for i in 0..REQUESTS {
        let decision = meter.meter(&request(i)).await.unwrap();
        assert!(
            matches!(decision, MeterDecision::Allowed { .. }),
            "{decision:?}"
        );
    }
    let after = script_calls(&redis.url);
    (after - before) as f64 / REQUESTS as f64
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

#[tokio::test]
async fn every_metered_request_is_one_redis_call() {
    let Some(redis) = common::TestRedis::new(module_path!()).await else {
        return;
    };
    let meter = redis.meter(MemoryMeter::new()).await;

    // A key's rate limit.
    let key_limit: &'static [Charge<'static>] = Box::leak(Box::new([Charge {
        account: MeterAccount::key_lineage("key_rt"),
        limit: Limit::Rate(RateLimit::new(1_000_000, 1).unwrap()),
    }]));
    let one = calls_per_request(&redis, &meter, |i| MeterRequest {
        now: T0 + Duration::microseconds(i as i64),
        charges: key_limit,
        credits: None,
        one_time: None,
    })
    .await;
    eprintln!("one charge: {one:.2} Redis calls per request");
    assert_eq!(format!("{one:.2}"), "1.00");

    // A key limit and a per-user daily window.
    let two_charges: &'static [Charge<'static>] = Box::leak(Box::new([
        Charge {
            account: MeterAccount::key_lineage("key_rt2"),
            limit: Limit::Rate(RateLimit::new(1_000_000, 1).unwrap()),
        },
        Charge {
            account: MeterAccount::user("user_rt"),
            limit: Limit::Window(WindowLimit::per_day(10_000).unwrap()),
        },
    ]));
    let two = calls_per_request(&redis, &meter, |i| MeterRequest {
        now: T0 + Duration::microseconds(i as i64),
        charges: two_charges,
        credits: None,
        one_time: None,
    })
    .await;
    eprintln!("two charges: {two:.2} Redis calls per request");
    assert_eq!(format!("{two:.2}"), "1.00");

    // Two charges and a one-time token each.
    let with_token = calls_per_request(&redis, &meter, |i| MeterRequest {
        now: T0 + Duration::microseconds(i as i64),
        charges: two_charges,
        credits: None,
        one_time: Some(OneTimeUse {
            token_id: leak(format!("jti-{i}")),
            issued_at: T0,
            expires_at: T0 + Duration::minutes(5),
        }),
    })
    .await;
    eprintln!("two charges and a token: {with_token:.2} Redis calls per request");
    assert_eq!(format!("{with_token:.2}"), "1.00");
}
