//! Per-principal quotas on a route ([`Access::quota`]): a fixed window per UTC day,
//! charged in the route's one meter call, refused with 429 `quota_exceeded` until
//! midnight UTC.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::*;
use keygate_core::access::{Quota, QuotaSubject};
use keygate_core::key::{KeyKind, NewKey, RateLimit};
use keygate_core::meter::WindowLimit;
use keygate_core::{Access, AuthError, CreatedKey, Environment};
use time::Duration;

fn per_user(count: u32) -> Access {
    Access::authenticated().quota(Quota::new(
        WindowLimit::per_day(count).unwrap(),
        QuotaSubject::User,
    ))
}

async fn key(f: &Fixture, rate_limit: Option<RateLimit>) -> CreatedKey {
    f.key(NewKey {
        tenant: Some("acme".into()),
        rate_limit,
        ..NewKey::new(KeyKind::Secret, Environment::Live)
    })
    .await
}

fn headers(grant: &keygate_core::Grant) -> Vec<(&'static str, u64)> {
    grant.headers().collect()
}

#[tokio::test]
async fn the_sixth_request_of_a_day_is_refused_until_midnight_utc() {
    let f = Fixture::new();
    let route = per_user(5);
    let ada = key(&f, None).await;
    let grace = key(&f, None).await;
    f.clock.advance(Duration::hours(20));
    for left in (0..5).rev() {
        let grant = f
            .call(&[("x-api-key", ada.key.expose())], &route)
            .await
            .unwrap();
        assert_eq!(grant.quota().unwrap().remaining, left);
        assert_eq!(
            headers(&grant),
            [("x-quota-limit", 5), ("x-quota-remaining", u64::from(left))]
        );
        assert!(grant.rate_limit().is_none());
    }
    let err = f
        .call(&[("x-api-key", ada.key.expose())], &route)
        .await
        .unwrap_err();
    // 20:00 UTC: four hours to midnight.
    assert!(
        matches!(
            err,
            AuthError::QuotaExceeded {
                retry_after_secs: 14_400,
                limit: Some(5)
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "quota_exceeded");
    assert_eq!(err.status(), 429);
    let rendered: Vec<(&str, String)> = err
        .headers()
        .map(|(name, value)| (name, value.to_string()))
        .collect();
    for expected in [
        ("retry-after", "14400"),
        ("x-quota-limit", "5"),
        ("x-quota-remaining", "0"),
    ] {
        assert!(
            rendered
                .iter()
                .any(|(name, value)| *name == expected.0 && value == expected.1),
            "{expected:?} in {rendered:?}"
        );
    }

    // Another user has a quota of their own.
    let grant = f
        .call(&[("x-api-key", grace.key.expose())], &route)
        .await
        .unwrap();
    assert_eq!(grant.quota().unwrap().remaining, 4);

    // A second before midnight, still refused; at midnight, a fresh day.
    f.clock.advance(Duration::hours(4) - Duration::seconds(1));
    assert_eq!(
        code(f.call(&[("x-api-key", ada.key.expose())], &route).await),
        "quota_exceeded"
    );
    f.clock.advance(Duration::seconds(1));
    let grant = f
        .call(&[("x-api-key", ada.key.expose())], &route)
        .await
        .unwrap();
    assert_eq!(grant.quota().unwrap().remaining, 4);
}

#[tokio::test]
async fn a_request_refused_by_the_rate_limit_spends_no_quota() {
    let f = Fixture::new();
    let route = per_user(3);
    let ada = key(&f, Some(RateLimit::new(1, 60).unwrap())).await;
    f.call(&[("x-api-key", ada.key.expose())], &route)
        .await
        .unwrap();
    // The rate limit (1 per minute) is the tighter: it refuses, and the quota keeps 2.
    for _ in 0..5 {
        assert_eq!(
            code(f.call(&[("x-api-key", ada.key.expose())], &route).await),
            "rate_limited"
        );
    }
    // Three a day, one a minute: the five refusals spent none of the day's three.
    for _ in 0..2 {
        f.clock.advance(Duration::minutes(1));
        let grant = f
            .call(&[("x-api-key", ada.key.expose())], &route)
            .await
            .unwrap();
        // The headers show the tightest charge: the rate limit, first of equals.
        assert_eq!(grant.rate_limit().unwrap().remaining, 0);
    }
    f.clock.advance(Duration::minutes(1));
    assert_eq!(
        code(f.call(&[("x-api-key", ada.key.expose())], &route).await),
        "quota_exceeded"
    );
}

#[tokio::test]
async fn a_tenant_quota_is_shared_by_the_tenants_keys_and_the_operator_is_not_counted() {
    let f = Fixture::new();
    let route = Access::authenticated().quota(Quota::new(
        WindowLimit::per_month(2).unwrap(),
        QuotaSubject::Tenant,
    ));
    let a = key(&f, None).await;
    let b = key(&f, None).await;
    f.call(&[("x-api-key", a.key.expose())], &route)
        .await
        .unwrap();
    f.call(&[("x-api-key", b.key.expose())], &route)
        .await
        .unwrap();
    assert_eq!(
        code(f.call(&[("x-api-key", a.key.expose())], &route).await),
        "quota_exceeded"
    );
    let grant = f
        .call(&[("x-client-secret", f.secret.expose())], &route)
        .await
        .unwrap();
    assert!(grant.quota().is_none());
}
