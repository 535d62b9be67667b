//! The shared-meter suite: what two meters on one backend (two instances on one database
//! or one Redis) must agree on. A quota is part of what a customer pays for, so it is one
//! count however many instances serve it. [`shared_meter_suite!`](crate::shared_meter_suite)
//! runs every scenario against a pair of meters:
//!
//! ```
//! keygate_core::shared_meter_suite!(memory_pair, async {
//!     let meter = keygate_core::MemoryMeter::new();
//!     (meter.clone(), meter)
//! });
//! ```

use time::Duration;

use super::{T0, allowed, debit, rate, request};
use crate::Meter;
use crate::meter::{Charge, Limit, MeterAccount, MeterDecision, MeterRequest, WindowLimit};

/// What the expression given to [`shared_meter_suite!`](crate::shared_meter_suite) may
/// build: two meters on one backend, or `None` to skip (the backend is not configured).
pub trait MeterPairUnderTest {
    /// The first instance's meter.
    type A: Meter;
    /// The second instance's meter.
    type B: Meter;

    /// The pair; `None` to skip.
    fn into_pair(self) -> Option<(Self::A, Self::B)>;
}

impl<A: Meter, B: Meter> MeterPairUnderTest for (A, B) {
    type A = A;
    type B = B;

    fn into_pair(self) -> Option<(A, B)> {
        Some(self)
    }
}

impl<A: Meter, B: Meter> MeterPairUnderTest for Option<(A, B)> {
    type A = A;
    type B = B;

    fn into_pair(self) -> Option<(A, B)> {
        self
    }
}

fn daily(user: &str, count: u32) -> Charge<'_> {
    Charge {
        account: MeterAccount::user(user),
        limit: Limit::Window(WindowLimit::per_day(count).unwrap()),
    }
}

fn one<'a>(charge: &'a Charge<'a>, now: time::OffsetDateTime) -> MeterRequest<'a> {
    MeterRequest {
        charges: std::slice::from_ref(charge),
        ..request(now)
    }
}

fn quota_left(decision: MeterDecision) -> u32 {
    allowed(decision)
        .0
        .expect("the quota's counter")
        .status
        .remaining
}

/// 5 a day, spread over two instances: the sixth is refused on either, with a
/// `Retry-After` reaching midnight UTC; the next day starts fresh.
pub async fn a_daily_quota_is_one_count_across_instances(a: impl Meter, b: impl Meter) {
    let ada = daily("acme/ada", 5);
    let evening = T0 + Duration::hours(20);
    for (i, left) in (0..5u32).rev().enumerate() {
        let meter: &dyn Meter = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            quota_left(meter.meter(&one(&ada, evening)).await.unwrap()),
            left
        );
    }
    for meter in [&a as &dyn Meter, &b] {
        let decision = meter.meter(&one(&ada, evening)).await.unwrap();
        let MeterDecision::Limited { charge: 0, status } = decision else {
            panic!("the sixth is refused on every instance: {decision:?}");
        };
        assert_eq!((status.limit, status.remaining), (5, 0));
        assert_eq!(status.retry_after, 4 * 3600, "until midnight UTC");
        assert_eq!(status.reset, (T0 + Duration::days(1)).unix_timestamp());
    }
    let midnight = T0 + Duration::days(1);
    assert_eq!(quota_left(b.meter(&one(&ada, midnight)).await.unwrap()), 4);
    assert_eq!(quota_left(a.meter(&one(&ada, midnight)).await.unwrap()), 3);
}

/// Two users' quotas are apart, on either instance.
pub async fn two_users_quotas_are_apart_across_instances(a: impl Meter, b: impl Meter) {
    let ada = daily("acme/ada", 2);
    let grace = daily("acme/grace", 2);
    a.meter(&one(&ada, T0)).await.unwrap();
    a.meter(&one(&ada, T0)).await.unwrap();
    assert!(matches!(
        b.meter(&one(&ada, T0)).await.unwrap(),
        MeterDecision::Limited { .. }
    ));
    assert_eq!(quota_left(b.meter(&one(&grace, T0)).await.unwrap()), 1);
    assert_eq!(quota_left(a.meter(&one(&grace, T0)).await.unwrap()), 0);
}

/// A request refused for credits, or by a rate limit, spends no quota: the other
/// instance still sees it whole.
pub async fn a_refused_request_spends_no_quota_across_instances(a: impl Meter, b: impl Meter) {
    let ada = daily("acme/ada", 3);
    // Refused for credits: 5 cost, 4 allowed.
    let short = MeterRequest {
        credits: Some(debit("k", 5, 4)),
        ..one(&ada, T0)
    };
    let decision = a.meter(&short).await.unwrap();
    let MeterDecision::InsufficientCredits { remaining: 4, .. } = decision else {
        panic!("{decision:?}");
    };
    // Refused by the key's rate limit, listed after the quota.
    let charges = [ada, rate(MeterAccount::key_lineage("k"), 1, 60)];
    let both = MeterRequest {
        charges: &charges,
        ..request(T0)
    };
    allowed(a.meter(&both).await.unwrap());
    let decision = a.meter(&both).await.unwrap();
    let MeterDecision::Limited { charge: 1, .. } = decision else {
        panic!("the rate limit refuses: {decision:?}");
    };
    // One of three taken, by the one allowed request.
    assert_eq!(quota_left(b.meter(&one(&ada, T0)).await.unwrap()), 1);
}

/// Runs the shared-meter suite ([`testing::meter::shared`](crate::testing::meter::shared))
/// against the pair of meters `$make` builds, once per scenario: see the module.
#[macro_export]
macro_rules! shared_meter_suite {
    ($name:ident, $make:expr $(,)?) => {
        $crate::shared_meter_suite!(@tests $name, $make;
            a_daily_quota_is_one_count_across_instances,
            two_users_quotas_are_apart_across_instances,
            a_refused_request_spends_no_quota_across_instances,
        );
    };
    (@tests $name:ident, $make:expr; $($scenario:ident),+ $(,)?) => {
        #[allow(unused_imports)]
        mod $name {
            use super::*;
            use $crate::testing::__private::tokio;

            $(
                #[tokio::test]
                async fn $scenario() {
                    let fresh = $make.await;
                    let pair = $crate::testing::meter::shared::MeterPairUnderTest::into_pair(fresh);
                    // `None`: the meters' backend is not here (it said so); skip.
                    if let Some((a, b)) = pair {
                        $crate::testing::meter::shared::$scenario(a, b).await;
                    }
                }
            )+
        }
    };
}
