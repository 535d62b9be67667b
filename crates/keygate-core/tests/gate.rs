//! The admission API every adapter is glue around: one gate per request path, settled
//! once; usage records off the request path; tokens that follow the key that minted them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::{Arc, Mutex};

use common::{Fixture, bearer, code, get};
use http::StatusCode;
use keygate_core::key::{KeyKind, NewKey, RateLimit};
use keygate_core::store::CachedKeyStore;
use keygate_core::token::{TokenKind, TokenRequest};
use keygate_core::usage::{self, Outcome, UsageRecord};
use keygate_core::{Access, Environment, Gate, ScopeSet};
use time::Duration;

fn metered_key(tenant: &str, credits: u64, limit: u32) -> NewKey {
    NewKey {
        tenant: Some(tenant.into()),
        credits: Some(credits),
        rate_limit: Some(RateLimit::new(limit, 60).unwrap()),
        ..NewKey::new(KeyKind::Secret, Environment::Live)
    }
}

#[tokio::test]
async fn a_second_gate_on_one_request_is_a_500_and_charges_nothing_twice() {
    let f = Fixture::new();
    let key = f.key(metered_key("acme", 10, 100)).await;
    let route = Access::authenticated().cost(1);
    let outer = Gate::new(&f.keygate, route.clone());
    let inner = Gate::new(&f.keygate, route);

    let mut request = get(&[("x-api-key", key.key.expose())]);
    let admission = outer.admit(&request).await.unwrap();
    assert_eq!(admission.grant().unwrap().credits_remaining(), Some(9));
    request.extensions_mut().insert(admission.authentication());

    let err = inner.admit(&request).await.unwrap_err();
    assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(err.code(), "keygate_misconfigured");
    assert!(err.problem_json().contains("two keygate layers"));

    // The outer layer answers the inner one's 500: the credit comes back.
    let headers = admission
        .settle(Some(StatusCode::INTERNAL_SERVER_ERROR))
        .await;
    let credits: Vec<_> = headers
        .iter()
        .filter(|(name, _)| *name == "x-credits-remaining")
        .collect();
    assert_eq!(credits, [("x-credits-remaining", 10)]);
    let record = f.keygate.key_store().get(&key.record.id).await.unwrap();
    let balance = f
        .keygate
        .meter()
        .credits(
            keygate_core::meter::CreditAccount::KeyLineage(record.unwrap().lineage.as_str()),
            keygate_core::meter::CreditSeed::credits(10),
            f.keygate.clock().now(),
        )
        .await
        .unwrap()
        .map(|balance| balance.credits);
    assert_eq!(balance, Some(10), "charged once, refunded once");
}

#[tokio::test]
async fn an_admission_settles_once_with_the_status_and_hands_back_its_headers() {
    let f = Fixture::new();
    let key = f.key(metered_key("acme", 5, 3)).await;
    let gate = Gate::new(&f.keygate, Access::authenticated().cost(2));
    let request = get(&[("authorization", &bearer(key.key.expose()))]);

    let ok = gate.admit(&request).await.unwrap();
    let headers: Vec<_> = ok.settle(Some(StatusCode::OK)).await.iter().collect();
    assert_eq!(
        headers,
        [
            ("x-ratelimit-limit", 3),
            ("x-ratelimit-remaining", 2),
            (
                "x-ratelimit-reset",
                (common::T0 + Duration::seconds(20)).unix_timestamp() as u64
            ),
            ("x-credits-remaining", 3),
        ]
    );
    // A 4xx answer gets its credits back, and the headers say so.
    let refused = gate.admit(&request).await.unwrap();
    let headers = refused.settle(Some(StatusCode::BAD_REQUEST)).await;
    assert_eq!(headers.iter().last(), Some(("x-credits-remaining", 3)));

    // An optional gate lets a request with no credential through, unmetered.
    let optional = Gate::optional(&f.keygate, Access::authenticated());
    let anonymous = optional.admit(&get(&[])).await.unwrap();
    assert!(anonymous.principal().is_none());
    assert!(anonymous.authentication().principal().is_none());
    assert_eq!(
        anonymous.settle(Some(StatusCode::OK)).await.iter().count(),
        0
    );
}

#[tokio::test]
async fn the_usage_sink_gets_one_record_per_settled_request_and_per_refusal() {
    let seen: Arc<Mutex<Vec<UsageRecord>>> = Arc::default();
    let sink = {
        let seen = Arc::clone(&seen);
        move |record: UsageRecord| seen.lock().unwrap().push(record)
    };
    let (queue, worker) = usage::queue(16, sink);
    let f = Fixture::with(|builder| builder.usage(queue.clone()));
    let key = f.key(metered_key("acme", 10, 100)).await;
    let gate = Gate::new(&f.keygate, Access::authenticated().cost(3).named("detect"));

    let ok = gate
        .admit(&get(&[("x-api-key", key.key.expose())]))
        .await
        .unwrap();
    let _ = ok.settle(Some(StatusCode::OK)).await;
    let failed = gate
        .admit(&get(&[("x-api-key", key.key.expose())]))
        .await
        .unwrap();
    let _ = failed.settle(Some(StatusCode::BAD_GATEWAY)).await;
    let refused = gate.admit(&get(&[("x-api-key", "sk_live_nope")])).await;
    assert_eq!(code(refused), "invalid_api_key");

    // Dropping the engine and the queue ends the worker once it has drained.
    drop(f);
    drop(gate);
    drop(queue);
    worker.run().await;
    let records = seen.lock().unwrap();
    assert_eq!(records.len(), 3, "{records:?}");
    let detect = Some(Arc::<str>::from("detect"));
    assert_eq!(records[0].route, detect);
    assert_eq!(records[0].outcome, Outcome::Answered { status: 200 });
    assert_eq!(records[0].credits_spent, 3);
    assert_eq!(records[0].tenant.as_deref(), Some("acme"));
    assert_eq!(records[0].key_id.as_ref(), Some(&key.record.id));
    assert_eq!(records[0].account.as_ref(), Some(&key.record.lineage));
    assert_eq!(records[1].outcome, Outcome::Answered { status: 502 });
    assert_eq!(records[1].credits_spent, 0, "refunded");
    assert_eq!(
        records[2].outcome,
        Outcome::Refused {
            code: "invalid_api_key",
            status: 401
        }
    );
    assert_eq!(records[2].route, detect);
    assert!(records[2].key_id.is_none());
    let shown = format!("{records:?}");
    assert!(!shown.contains(key.key.expose()), "no key in a record");
}

#[tokio::test]
async fn a_full_usage_queue_drops_and_counts_and_never_blocks_a_request() {
    // A queue of one whose worker never runs: every record after the first is dropped.
    let (queue, _worker) = usage::queue(1, |_: UsageRecord| {});
    let f = Fixture::with(|builder| builder.usage(queue.clone()));
    let gate = Gate::new(&f.keygate, Access::admin());
    let request = get(&[("x-client-secret", f.secret.expose())]);
    for _ in 0..100 {
        // Each admission and settlement completes at once, the queue full or not.
        let admission = gate.admit(&request).await.unwrap();
        let _ = admission.settle(Some(StatusCode::OK)).await;
    }
    assert_eq!(queue.dropped(), 99);
}

#[tokio::test]
async fn a_session_token_follows_the_key_that_minted_it() {
    let f = Fixture::new();
    let key = f
        .key(NewKey {
            tenant: Some("acme".into()),
            rate_limit: Some(RateLimit::new(2, 60).unwrap()),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await;
    let minter = f
        .principal(&[("x-client-secret", key.key.expose())], &Access::admin())
        .await;
    let token = f
        .keygate
        .issue_token(
            &minter,
            TokenRequest {
                scopes: Some(ScopeSet::parse(["fill:create"]).unwrap()),
                lifetime: Some(Duration::minutes(30)),
                ..TokenRequest::new(TokenKind::Session)
            },
        )
        .unwrap();
    let route = Access::scoped("fill:create").unwrap();
    let request = get(&[("authorization", &bearer(token.expose()))]);

    // It counts against the key's rate limit (the minting request was an admin one, not
    // metered), and carries the key's headers.
    let grant = f.keygate.authenticate(&request, &route).await.unwrap();
    assert_eq!(
        grant.rate_limit().map(|r| (r.limit, r.remaining)),
        Some((2, 1))
    );
    let by_key = get(&[("x-api-key", key.key.expose())]);
    f.keygate.authenticate(&by_key, &route).await.unwrap();
    let limited = f.keygate.authenticate(&request, &route).await;
    assert_eq!(code(limited), "rate_limited");

    // A session-token request reads the key by id, once (a cached store answers it
    // without a round trip: see the next test).
    f.clock.advance(Duration::seconds(60));
    let before = f.store.lookups();
    f.keygate.authenticate(&request, &route).await.unwrap();
    assert_eq!(f.store.lookups() - before, 1);

    // Revoking the key ends the token.
    f.keygate.revoke_key(&key.record.id).await.unwrap();
    let revoked = f.keygate.authenticate(&request, &route).await;
    assert_eq!(code(revoked), "key_revoked");
}

#[tokio::test]
async fn a_one_time_token_of_a_key_past_its_rotation_grace_is_refused_and_left_unused() {
    let f = Fixture::new();
    let key = f.secret_key("acme").await;
    let minter = f
        .principal(&[("x-client-secret", key.key.expose())], &Access::admin())
        .await;
    let token = f
        .keygate
        .issue_token(&minter, common::scoped(TokenKind::OneTime, "fill:create"))
        .unwrap();
    let successor = f
        .keygate
        .rotate_key(&key.record.id, Duration::seconds(60))
        .await
        .unwrap();
    let request = get(&[("authorization", &bearer(token.expose()))]);
    let route = Access::scoped("fill:create").unwrap();
    f.clock.advance(Duration::seconds(120)); // the token lives 300 s; the grace 60 s
    assert_eq!(
        code(f.keygate.authenticate(&request, &route).await),
        "key_expired"
    );
    // The token was not consumed: it is refused for its key, not as used.
    assert_eq!(
        code(f.keygate.authenticate(&request, &route).await),
        "key_expired"
    );
    let _ = successor;
}

#[tokio::test]
async fn a_session_token_of_a_cached_key_costs_no_store_round_trip() {
    let counting = common::CountingStore::default();
    let cached = CachedKeyStore::new(counting.clone());
    let f = Fixture::with(|builder| builder.key_store(cached));
    let key = f.secret_key("acme").await;
    let minter = f
        .principal(&[("x-client-secret", key.key.expose())], &Access::admin())
        .await;
    let token = f
        .keygate
        .issue_token(&minter, common::scoped(TokenKind::Session, "fill:create"))
        .unwrap();
    let request = get(&[("authorization", &bearer(token.expose()))]);
    let route = Access::scoped("fill:create").unwrap();
    f.keygate.authenticate(&request, &route).await.unwrap();
    let warm = counting.lookups();
    for _ in 0..10 {
        f.keygate.authenticate(&request, &route).await.unwrap();
    }
    assert_eq!(counting.lookups(), warm, "served from the key cache");
}

#[tokio::test]
async fn a_token_of_a_key_without_credits_cannot_open_a_paid_route() {
    let f = Fixture::new();
    let key = f.key(metered_key("acme", 2, 100)).await;
    let minter = f
        .principal(&[("x-client-secret", key.key.expose())], &Access::admin())
        .await;
    let token = f
        .keygate
        .issue_token(&minter, common::scoped(TokenKind::Session, "fill:create"))
        .unwrap();
    let request = get(&[("authorization", &bearer(token.expose()))]);

    // A free route reads no balance for a session token: no X-Credits-Remaining.
    let free = Access::scoped("fill:create").unwrap();
    let grant = f.keygate.authenticate(&request, &free).await.unwrap();
    assert_eq!(grant.credits_remaining(), None);

    // A paid route spends the key's credits, and refuses when they run out.
    let paid = Access::scoped("fill:create").unwrap().cost(1);
    for left in [1, 0] {
        let grant = f.keygate.authenticate(&request, &paid).await.unwrap();
        assert!(grant.is_charged());
        assert_eq!(grant.credits_remaining(), Some(left));
    }
    assert_eq!(
        code(f.keygate.authenticate(&request, &paid).await),
        "insufficient_credits"
    );
}

#[tokio::test]
async fn refusals_fill_only_half_the_usage_queue() {
    let (queue, worker) = usage::queue(16, |_: UsageRecord| {});
    let f = Fixture::with(|builder| builder.usage(queue.clone()));
    let key = f.key(metered_key("acme", 10, 100)).await;
    let gate = Gate::new(&f.keygate, Access::authenticated().cost(1));
    for _ in 0..16 {
        let refused = gate.admit(&get(&[("x-api-key", "garbage")])).await;
        assert_eq!(code(refused), "invalid_api_key");
    }
    assert_eq!(queue.dropped(), 8, "refusals past half the queue");
    let paid = gate
        .admit(&get(&[("x-api-key", key.key.expose())]))
        .await
        .unwrap();
    let _ = paid.settle(Some(StatusCode::OK)).await;
    assert_eq!(queue.dropped(), 8, "the served request's record was kept");
    drop(worker);
}

#[test]
fn a_huge_usage_queue_is_clamped_not_a_panic() {
    let (queue, _worker) = usage::queue(usize::MAX, |_: UsageRecord| {});
    assert_eq!(queue.dropped(), 0);
}
