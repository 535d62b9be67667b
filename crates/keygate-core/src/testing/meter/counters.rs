//! The suite's scenarios on counters: rate limits, several charges, quotas per UTC day
//! and month.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::{T0, allowed, debit, rate, remaining, request};
use crate::Meter;
use crate::meter::{
    Charge, CreditAccount, Limit, MeterAccount, MeterDecision, MeterRequest, WindowLimit,
};

/// A rate limit bursts to its limit, then refuses with `Retry-After`, before the credits are touched.
pub async fn rate_limits_burst_then_refuse_with_retry_after(meter: impl Meter) {
    let charge = rate(MeterAccount::key_lineage("r"), 3, 60);
    let req = MeterRequest {
        charges: std::slice::from_ref(&charge),
        ..request(T0)
    };
    for left in [2, 1, 0] {
        let (tightest, credits) = allowed(meter.meter(&req).await.unwrap());
        assert_eq!(credits, None);
        assert_eq!(tightest.unwrap().status.remaining, left);
    }
    let MeterDecision::Limited { charge: 0, status } = meter.meter(&req).await.unwrap() else {
        panic!("over the limit");
    };
    assert_eq!(status.retry_after, 20);
    // A refused request does not reach the credits either.
    let with_credits = MeterRequest {
        credits: Some(debit("r", 1, 5)),
        ..req
    };
    assert!(matches!(
        meter.meter(&with_credits).await.unwrap(),
        MeterDecision::Limited { charge: 0, .. }
    ));
    let lineage = CreditAccount::KeyLineage("r");
    assert_eq!(super::credits_of(&meter, lineage, 5).await, 5);
    let later = MeterRequest {
        now: T0 + Duration::seconds(20),
        ..req
    };
    allowed(meter.meter(&later).await.unwrap());
}

/// Two charges (a key lineage and a user): the tighter refuses, the decision names it, and the other took nothing.
pub async fn two_rate_limits_refuse_on_the_tighter_and_name_it(meter: impl Meter) {
    // The key allows 10 per minute, its user 2 per minute.
    let key = rate(MeterAccount::key_lineage("k2"), 10, 60);
    let user = rate(MeterAccount::user("ada"), 2, 60);
    let both = [key, user];
    let req = MeterRequest {
        charges: &both,
        ..request(T0)
    };
    for left in [1, 0] {
        let (tightest, _) = allowed(meter.meter(&req).await.unwrap());
        let tightest = tightest.unwrap();
        assert_eq!((tightest.charge, tightest.status.remaining), (1, left));
    }
    let decision = meter.meter(&req).await.unwrap();
    let MeterDecision::Limited { charge: 1, status } = decision else {
        panic!("the user's limit refuses: {decision:?}");
    };
    assert_eq!(
        (status.limit, status.remaining, status.retry_after),
        (2, 0, 30)
    );
    // The key's counter took nothing for the refused request: 8 left, not 7.
    let key_only = MeterRequest {
        charges: std::slice::from_ref(&key),
        ..request(T0)
    };
    assert_eq!(remaining(meter.meter(&key_only).await.unwrap()), 7);
    // Ties go to the first charge; a user and a tenant of the same id count apart.
    let user_again = rate(MeterAccount::tenant("ada"), 2, 60);
    let tied = [user_again, rate(MeterAccount::user("bob"), 2, 60)];
    let (tightest, _) = allowed(
        meter
            .meter(&MeterRequest {
                charges: &tied,
                ..request(T0)
            })
            .await
            .unwrap(),
    );
    assert_eq!(tightest.unwrap().charge, 0);
    assert_eq!(tightest.unwrap().status.remaining, 1);
}

fn window_request<'a>(charge: &'a Charge<'a>, now: OffsetDateTime) -> MeterRequest<'a> {
    MeterRequest {
        charges: std::slice::from_ref(charge),
        ..request(now)
    }
}

/// 5 per day: the sixth is refused until the next UTC midnight, exactly, and a refusal spends nothing.
pub async fn a_daily_window_refuses_the_extra_request_until_utc_midnight(meter: impl Meter) {
    let quota = Charge {
        account: MeterAccount::user("ada"),
        limit: Limit::Window(WindowLimit::per_day(5).unwrap()),
    };
    let morning = T0 + Duration::hours(9);
    for left in (0..5).rev() {
        let (tightest, _) = allowed(meter.meter(&window_request(&quota, morning)).await.unwrap());
        let status = tightest.unwrap().status;
        assert_eq!((status.limit, status.remaining), (5, left));
        assert_eq!(status.reset, (T0 + Duration::days(1)).unix_timestamp());
    }
    let late = T0 + Duration::days(1) - Duration::milliseconds(1500);
    let decision = meter.meter(&window_request(&quota, late)).await.unwrap();
    let MeterDecision::Limited { charge: 0, status } = decision else {
        panic!("the sixth is refused: {decision:?}");
    };
    assert_eq!((status.remaining, status.retry_after), (0, 2));
    assert_eq!(status.reset, (T0 + Duration::days(1)).unix_timestamp());
    // A refused request spends nothing, and the count resets exactly at midnight.
    let just_before = T0 + Duration::days(1) - Duration::microseconds(1);
    assert!(matches!(
        meter
            .meter(&window_request(&quota, just_before))
            .await
            .unwrap(),
        MeterDecision::Limited { .. }
    ));
    let midnight = T0 + Duration::days(1);
    assert_eq!(
        remaining(
            meter
                .meter(&window_request(&quota, midnight))
                .await
                .unwrap()
        ),
        4
    );
}

/// A count per month resets on the first of the next month at midnight UTC; a daily count of the same account is another counter.
pub async fn a_monthly_window_resets_on_the_first_of_the_month(meter: impl Meter) {
    let quota = Charge {
        account: MeterAccount::owner("acme/ada"),
        limit: Limit::Window(WindowLimit::per_month(2).unwrap()),
    };
    let feb = datetime!(2030-02-27 12:00 UTC);
    let march = datetime!(2030-03-01 0:00 UTC);
    for _ in 0..2 {
        allowed(meter.meter(&window_request(&quota, feb)).await.unwrap());
    }
    let last_day = datetime!(2030-02-28 23:59:59 UTC);
    let MeterDecision::Limited { status, .. } = meter
        .meter(&window_request(&quota, last_day))
        .await
        .unwrap()
    else {
        panic!("the month's two are used");
    };
    assert_eq!(status.reset, march.unix_timestamp());
    assert_eq!(status.retry_after, 1);
    // A daily count of the same account is another counter.
    let daily = Charge {
        limit: Limit::Window(WindowLimit::per_day(1).unwrap()),
        ..quota
    };
    allowed(
        meter
            .meter(&window_request(&daily, last_day))
            .await
            .unwrap(),
    );
    let (tightest, _) = allowed(meter.meter(&window_request(&quota, march)).await.unwrap());
    let status = tightest.unwrap().status;
    assert_eq!(status.remaining, 1);
    assert_eq!(
        status.reset,
        datetime!(2030-04-01 0:00 UTC).unix_timestamp()
    );
}
