//! The `Meter` suite: the all-or-nothing semantics of `MemoryMeter`, which every meter
//! must share.

use keygate_core::Meter;
use keygate_core::key::RateLimit;
use keygate_core::meter::{
    CreditDebit, MAX_CREDITS, MeterDecision, MeterRequest, OneTimeUse, RateLimitCharge,
};
use time::{Duration, OffsetDateTime};

use super::T0;

fn request(now: OffsetDateTime) -> MeterRequest<'static> {
    MeterRequest {
        now,
        rate_limit: None,
        credits: None,
        one_time: None,
    }
}

fn debit(account: &str, cost: u64, allowance: u64) -> CreditDebit<'_> {
    CreditDebit {
        account,
        cost,
        allowance,
    }
}

pub async fn a_refused_request_commits_nothing(meter: impl Meter) {
    let limit = RateLimit::new(2, 60).unwrap();
    let req = MeterRequest {
        rate_limit: Some(RateLimitCharge {
            account: "k",
            limit,
        }),
        credits: Some(debit("k", 5, 4)),
        one_time: Some(OneTimeUse {
            token_id: "t",
            expires_at: T0 + Duration::minutes(5),
        }),
        ..request(T0)
    };
    let decision = meter.meter(&req).await.unwrap();
    let MeterDecision::InsufficientCredits {
        remaining: 4,
        rate_limit: Some(status),
    } = decision
    else {
        panic!("{decision:?}");
    };
    assert_eq!(status.remaining, 2, "no rate-limit slot taken");
    let cheaper = MeterRequest {
        credits: Some(debit("k", 4, 4)),
        ..req
    };
    let MeterDecision::Allowed {
        rate_limit: Some(status),
        credits_remaining: Some(0),
    } = meter.meter(&cheaper).await.unwrap()
    else {
        panic!("should pass");
    };
    assert_eq!(status.remaining, 1);
    // Credits are checked before the token.
    let MeterDecision::InsufficientCredits { remaining: 0, .. } =
        meter.meter(&cheaper).await.unwrap()
    else {
        panic!("balance is 0");
    };
    let replay = MeterRequest {
        credits: None,
        ..req
    };
    assert_eq!(
        meter.meter(&replay).await.unwrap(),
        MeterDecision::AlreadyUsed
    );
    // Neither refusal took a slot.
    let MeterDecision::Allowed {
        rate_limit: Some(status),
        ..
    } = meter
        .meter(&MeterRequest {
            rate_limit: req.rate_limit,
            ..request(T0)
        })
        .await
        .unwrap()
    else {
        panic!("one slot left");
    };
    assert_eq!(status.remaining, 0);
}

pub async fn a_replayed_one_time_token_costs_no_credits(meter: impl Meter) {
    let req = MeterRequest {
        credits: Some(debit("acct", 3, 10)),
        one_time: Some(OneTimeUse {
            token_id: "jti-1",
            expires_at: T0 + Duration::minutes(5),
        }),
        ..request(T0)
    };
    assert_eq!(
        meter.meter(&req).await.unwrap(),
        MeterDecision::Allowed {
            rate_limit: None,
            credits_remaining: Some(7)
        }
    );
    for _ in 0..3 {
        assert_eq!(meter.meter(&req).await.unwrap(), MeterDecision::AlreadyUsed);
    }
    assert_eq!(meter.credits("acct", 10).await.unwrap(), 7);
    // Another token on its own (no credits) is used once too.
    let bare = MeterRequest {
        one_time: Some(OneTimeUse {
            token_id: "jti-2",
            expires_at: T0 + Duration::minutes(5),
        }),
        ..request(T0)
    };
    assert!(matches!(
        meter.meter(&bare).await.unwrap(),
        MeterDecision::Allowed { .. }
    ));
    assert_eq!(
        meter.meter(&bare).await.unwrap(),
        MeterDecision::AlreadyUsed
    );
}

pub async fn a_released_one_time_token_can_be_used_again(meter: impl Meter) {
    let use_ = |token_id| MeterRequest {
        one_time: Some(OneTimeUse {
            token_id,
            expires_at: T0 + Duration::minutes(5),
        }),
        ..request(T0)
    };
    let (first, second) = (use_("jti-1"), use_("jti-2"));
    for req in [&first, &second] {
        assert!(matches!(
            meter.meter(req).await.unwrap(),
            MeterDecision::Allowed { .. }
        ));
    }
    meter.release_one_time("jti-1").await.unwrap();
    assert!(
        matches!(
            meter.meter(&first).await.unwrap(),
            MeterDecision::Allowed { .. }
        ),
        "usable again after its release"
    );
    assert_eq!(
        meter.meter(&first).await.unwrap(),
        MeterDecision::AlreadyUsed
    );
    assert_eq!(
        meter.meter(&second).await.unwrap(),
        MeterDecision::AlreadyUsed,
        "a release frees that token only"
    );
    // Releasing a token never used, or twice, does nothing (and is no error).
    meter.release_one_time("never-used").await.unwrap();
    meter.release_one_time("jti-2").await.unwrap();
    meter.release_one_time("jti-2").await.unwrap();
    assert!(matches!(
        meter.meter(&second).await.unwrap(),
        MeterDecision::Allowed { .. }
    ));
    // A release touches no balance.
    let paid = MeterRequest {
        credits: Some(debit("acct", 3, 10)),
        ..use_("jti-3")
    };
    assert!(matches!(
        meter.meter(&paid).await.unwrap(),
        MeterDecision::Allowed {
            credits_remaining: Some(7),
            ..
        }
    ));
    meter.release_one_time("jti-3").await.unwrap();
    assert_eq!(meter.credits("acct", 10).await.unwrap(), 7);
    assert!(matches!(
        meter.meter(&paid).await.unwrap(),
        MeterDecision::Allowed {
            credits_remaining: Some(4),
            ..
        }
    ));
}

pub async fn rate_limits_burst_then_refuse_with_retry_after(meter: impl Meter) {
    let limit = RateLimit::new(3, 60).unwrap();
    let req = MeterRequest {
        rate_limit: Some(RateLimitCharge {
            account: "r",
            limit,
        }),
        ..request(T0)
    };
    for remaining in [2, 1, 0] {
        let MeterDecision::Allowed {
            rate_limit: Some(status),
            credits_remaining: None,
        } = meter.meter(&req).await.unwrap()
        else {
            panic!("within the burst");
        };
        assert_eq!(status.remaining, remaining);
    }
    let MeterDecision::RateLimited(status) = meter.meter(&req).await.unwrap() else {
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
        MeterDecision::RateLimited(_)
    ));
    assert_eq!(meter.credits("r", 5).await.unwrap(), 5);
    let later = MeterRequest {
        now: T0 + Duration::seconds(20),
        ..req
    };
    assert!(matches!(
        meter.meter(&later).await.unwrap(),
        MeterDecision::Allowed { .. }
    ));
}

pub async fn credits_seed_from_the_allowance_and_saturate(meter: impl Meter) {
    assert_eq!(meter.credits("k", 10).await.unwrap(), 10);
    assert_eq!(meter.add_credits("k", 5, 10).await.unwrap(), 15);
    assert_eq!(meter.credits("k", 10).await.unwrap(), 15);
    assert_eq!(
        meter.add_credits("k", u64::MAX, 0).await.unwrap(),
        MAX_CREDITS
    );
    meter.refund(&debit("k", 1, 0)).await.unwrap();
    assert_eq!(meter.credits("k", 0).await.unwrap(), MAX_CREDITS);
    // A refund to an account not seen yet starts from its allowance.
    meter.refund(&debit("fresh", 2, 10)).await.unwrap();
    assert_eq!(meter.credits("fresh", 10).await.unwrap(), 12);
}

pub async fn a_free_request_reads_the_balance_and_takes_nothing(meter: impl Meter) {
    let free = MeterRequest {
        credits: Some(debit("f", 0, 3)),
        ..request(T0)
    };
    for _ in 0..3 {
        assert_eq!(
            meter.meter(&free).await.unwrap(),
            MeterDecision::Allowed {
                rate_limit: None,
                credits_remaining: Some(3)
            }
        );
    }
    let paid = MeterRequest {
        credits: Some(debit("f", 3, 3)),
        ..request(T0)
    };
    assert_eq!(
        meter.meter(&paid).await.unwrap(),
        MeterDecision::Allowed {
            rate_limit: None,
            credits_remaining: Some(0)
        }
    );
    // At zero, a free route still passes; a paid one does not.
    assert!(matches!(
        meter.meter(&free).await.unwrap(),
        MeterDecision::Allowed {
            credits_remaining: Some(0),
            ..
        }
    ));
    assert!(matches!(
        meter.meter(&paid).await.unwrap(),
        MeterDecision::InsufficientCredits { remaining: 0, .. }
    ));
}

pub async fn concurrent_debits_never_oversell(meter: impl Meter + Clone) {
    let tasks: Vec<_> = (0..60)
        .map(|_| {
            let meter = meter.clone();
            tokio::spawn(async move {
                let req = MeterRequest {
                    credits: Some(debit("shared", 1, 25)),
                    ..request(T0)
                };
                matches!(
                    meter.meter(&req).await.unwrap(),
                    MeterDecision::Allowed { .. }
                )
            })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if task.await.unwrap() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 25);
    assert_eq!(meter.credits("shared", 25).await.unwrap(), 0);
}
