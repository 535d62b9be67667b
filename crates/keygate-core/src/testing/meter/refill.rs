//! The suite's scenarios on accounts and refills: a balance is set back (not added to) at
//! each UTC day or month boundary, once however many requests cross it; an owner account
//! without a balance is not metered.

use std::sync::Arc;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::{allowed, request};
use crate::Meter;
use crate::account::{Refill, RefillInterval};
use crate::meter::{CreditAccount, CreditDebit, CreditSeed, MeterDecision, MeterRequest};

fn daily(amount: u64) -> Refill {
    Refill::new(amount, RefillInterval::Daily).unwrap()
}

fn monthly(amount: u64) -> Refill {
    Refill::new(amount, RefillInterval::Monthly).unwrap()
}

/// A debit of `cost` from key lineage `id`, seeded with `allowance` and `refill`.
fn key_debit(id: &str, cost: u64, allowance: u64, refill: Option<Refill>) -> CreditDebit<'_> {
    CreditDebit {
        account: CreditAccount::KeyLineage(id),
        cost,
        allowance,
        refill,
    }
}

/// A debit of `cost` from owner account `id`.
fn owner_debit(id: &str, cost: u64) -> CreditDebit<'_> {
    CreditDebit {
        account: CreditAccount::Owner(id),
        cost,
        allowance: 0,
        refill: None,
    }
}

async fn spend(meter: &impl Meter, debit: CreditDebit<'_>, now: OffsetDateTime) -> Option<u64> {
    let req = MeterRequest {
        credits: Some(debit),
        ..request(now)
    };
    match meter.meter(&req).await.unwrap() {
        MeterDecision::Allowed {
            credits_remaining, ..
        } => credits_remaining,
        MeterDecision::InsufficientCredits { .. } => None,
        other => panic!("a credit-only request decided {other:?}"),
    }
}

async fn read(meter: &impl Meter, account: CreditAccount<'_>, now: OffsetDateTime) -> Option<u64> {
    meter
        .credits(account, CreditSeed::NONE, now)
        .await
        .unwrap()
        .map(|balance| balance.credits)
}

/// A key with a daily refill: spent down during the day, set back to the amount (not
/// added to) by the first debit after midnight UTC, and only then.
pub async fn a_refill_sets_the_balance_back_at_the_boundary(meter: impl Meter) {
    let start = datetime!(2031-05-10 15:00 UTC);
    let midnight = datetime!(2031-05-11 0:00 UTC);
    let debit = |cost| key_debit("key_refill", cost, 10, Some(daily(10)));
    assert_eq!(spend(&meter, debit(7), start).await, Some(3));
    let before = midnight - Duration::seconds(1);
    assert_eq!(
        spend(&meter, debit(4), before).await,
        None,
        "3 left, not 10"
    );
    assert_eq!(spend(&meter, debit(1), before).await, Some(2));
    // Set back to 10 at midnight: 10 - 1, not 2 + 10 - 1.
    assert_eq!(spend(&meter, debit(1), midnight).await, Some(9));
    assert_eq!(
        spend(&meter, debit(1), midnight + Duration::hours(23)).await,
        Some(8)
    );
    // The next day's first debit sets it back once more.
    let next = midnight + Duration::days(1) + Duration::minutes(5);
    assert_eq!(spend(&meter, debit(10), next).await, Some(0));
}

/// A read after the boundary applies the refill: the balance reads as the amount, and
/// the first debit then takes from it.
pub async fn a_read_after_the_boundary_applies_the_refill(meter: impl Meter) {
    let start = datetime!(2031-05-10 15:00 UTC);
    let midnight = datetime!(2031-05-11 0:00 UTC);
    let seed = CreditSeed {
        allowance: 5,
        refill: Some(daily(5)),
    };
    let lineage = CreditAccount::KeyLineage("key_read");
    assert_eq!(
        spend(&meter, key_debit("key_read", 5, 5, Some(daily(5))), start).await,
        Some(0)
    );
    let balance = |now| {
        let meter = &meter;
        async move { meter.credits(lineage, seed, now).await.unwrap().unwrap() }
    };
    assert_eq!(balance(midnight - Duration::seconds(1)).await.credits, 0);
    let after = balance(midnight).await;
    assert_eq!((after.credits, after.refill), (5, Some(daily(5))));
    assert_eq!(
        spend(
            &meter,
            key_debit("key_read", 2, 5, Some(daily(5))),
            midnight
        )
        .await,
        Some(3)
    );
}

/// A key without a refill keeps its balance across every boundary.
pub async fn a_balance_without_refill_is_untouched_at_the_boundary(meter: impl Meter) {
    let start = datetime!(2031-01-31 12:00 UTC);
    let debit = |cost| key_debit("key_plain", cost, 4, None);
    assert_eq!(spend(&meter, debit(3), start).await, Some(1));
    for later in [
        datetime!(2031-02-01 0:00 UTC),
        datetime!(2031-03-01 0:00 UTC),
    ] {
        assert_eq!(spend(&meter, debit(0), later).await, Some(1));
        assert_eq!(spend(&meter, debit(2), later).await, None);
    }
}

/// 32 tasks cross the boundary together, each taking 1 from an account that refills to
/// 20: the refill applies once, so exactly 20 pass and the balance ends at 0.
pub async fn a_refill_applies_once_when_tasks_race_across_the_boundary(meter: impl Meter) {
    let meter = Arc::new(meter);
    let before = datetime!(2031-06-30 23:59:59 UTC);
    let seed = key_debit("key_race", 20, 20, Some(daily(20)));
    assert_eq!(spend(&*meter, seed, before).await, Some(0));
    let after = datetime!(2031-07-01 0:00:00.25 UTC);
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let meter = Arc::clone(&meter);
            tokio::spawn(async move {
                let now = after + Duration::milliseconds(i);
                spend(&*meter, key_debit("key_race", 1, 20, Some(daily(20))), now)
                    .await
                    .is_some()
            })
        })
        .collect();
    let mut served = 0;
    for task in tasks {
        if task.await.unwrap() {
            served += 1;
        }
    }
    assert_eq!(served, 20, "the refill applied exactly once");
    let lineage = CreditAccount::KeyLineage("key_race");
    let left = meter
        .credits(lineage, CreditSeed::NONE, after + Duration::seconds(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(left.credits, 0);
}

/// A monthly refill lands on the first of the month at midnight UTC, whatever the length
/// of the month before: 28 days (February 2031), 29 (February 2032), 30 (April), 31
/// (January).
pub async fn a_monthly_refill_lands_on_the_first_after_every_month_length(meter: impl Meter) {
    let account = CreditAccount::Owner("acme/monthly");
    let months = [
        (
            datetime!(2031-01-05 8:00 UTC),
            datetime!(2031-02-01 0:00 UTC),
        ),
        (
            datetime!(2031-02-05 8:00 UTC),
            datetime!(2031-03-01 0:00 UTC),
        ),
        (
            datetime!(2031-04-05 8:00 UTC),
            datetime!(2031-05-01 0:00 UTC),
        ),
        (
            datetime!(2032-02-05 8:00 UTC),
            datetime!(2032-03-01 0:00 UTC),
        ),
    ];
    for (during, first) in months {
        meter
            .set_refill(account, Some(monthly(3)), during)
            .await
            .unwrap();
        let left = read(&meter, account, during).await.unwrap();
        assert_eq!(
            spend(&meter, owner_debit("acme/monthly", left), during).await,
            Some(0)
        );
        // The last instant of the month (the 28th, 29th, 30th or 31st) is still spent.
        let last = first - Duration::microseconds(1);
        assert_eq!(read(&meter, account, last).await, Some(0), "{last}");
        assert_eq!(
            spend(&meter, owner_debit("acme/monthly", 1), last).await,
            None
        );
        assert_eq!(
            spend(&meter, owner_debit("acme/monthly", 1), first).await,
            Some(2),
            "{first}"
        );
    }
}

/// An owner account is not metered until it has a balance: its debits pass with no
/// balance to report. Adding credits or setting a refill makes it metered; clearing the
/// refill keeps the balance.
pub async fn an_owner_account_is_metered_once_it_has_a_balance(meter: impl Meter) {
    let now = datetime!(2031-03-03 10:00 UTC);
    let ada = CreditAccount::Owner("acme/ada");
    assert_eq!(read(&meter, ada, now).await, None);
    let req = MeterRequest {
        credits: Some(owner_debit("acme/ada", 5)),
        ..request(now)
    };
    assert_eq!(allowed(meter.meter(&req).await.unwrap()), (None, None));
    assert_eq!(
        read(&meter, ada, now).await,
        None,
        "a debit creates no balance"
    );
    // Clearing a refill that was never set creates nothing.
    assert_eq!(meter.set_refill(ada, None, now).await.unwrap(), None);
    assert_eq!(read(&meter, ada, now).await, None);

    let set = meter
        .set_refill(ada, Some(daily(8)), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((set.credits, set.refill), (8, Some(daily(8))));
    assert_eq!(
        spend(&meter, owner_debit("acme/ada", 5), now).await,
        Some(3)
    );
    // A new rule keeps the balance until its own boundary.
    let kept = meter
        .set_refill(ada, Some(daily(50)), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((kept.credits, kept.refill), (3, Some(daily(50))));
    let tomorrow = datetime!(2031-03-04 0:00 UTC);
    assert_eq!(read(&meter, ada, tomorrow).await, Some(50));
    // Cleared: the balance stays, and no longer refills.
    let cleared = meter
        .set_refill(ada, None, tomorrow)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((cleared.credits, cleared.refill), (50, None));
    assert_eq!(
        spend(&meter, owner_debit("acme/ada", 45), tomorrow).await,
        Some(5)
    );
    assert_eq!(
        read(&meter, ada, tomorrow + Duration::days(3)).await,
        Some(5)
    );

    // Credits added to an account without a balance start it from 0.
    let bob = CreditAccount::Owner("acme/bob");
    assert_eq!(
        meter
            .add_credits(bob, 30, CreditSeed::NONE, now)
            .await
            .unwrap(),
        30
    );
    assert_eq!(
        spend(&meter, owner_debit("acme/bob", 30), now).await,
        Some(0)
    );
    assert_eq!(spend(&meter, owner_debit("acme/bob", 1), now).await, None);
}

/// A key's first debit that its balance cannot pay stores nothing, so every meter reads
/// the key the same after a boundary: from the seed it is then given (the engine's,
/// counted from the key's creation: [`CreditSeed::as_of`]), not from a balance the
/// refused request left behind.
pub async fn a_refused_first_debit_seeds_no_balance(meter: impl Meter) {
    let day = datetime!(2031-08-10 11:00 UTC);
    let next = datetime!(2031-08-11 9:00 UTC);
    let refill = Some(daily(100));
    let debit = |cost, allowance| key_debit("key_unpaid", cost, allowance, refill);
    assert_eq!(spend(&meter, debit(10, 5), day).await, None, "5 < 10");
    // The same seed after the boundary: still 5 (nothing was stored to refill).
    let lineage = CreditAccount::KeyLineage("key_unpaid");
    let seed = CreditSeed {
        allowance: 5,
        refill,
    };
    let read_back = meter.credits(lineage, seed, next).await.unwrap().unwrap();
    assert_eq!(read_back.credits, 5);
    assert_eq!(spend(&meter, debit(10, 5), next).await, None);
    // The seed a key created on `day` gets after the boundary: the refill's amount.
    let counted = seed.as_of(day, next);
    assert_eq!(counted.allowance, 100);
    assert_eq!(
        spend(&meter, debit(10, counted.allowance), next).await,
        Some(90)
    );
}

/// Top-ups racing debits on one owner account neither lose nor make credits: from 20,
/// 10 top-ups of 5 and 100 debits of 1 at once end at `20 + 50 - served`.
pub async fn top_ups_racing_debits_keep_every_credit(meter: impl Meter) {
    let meter = Arc::new(meter);
    let now = datetime!(2031-09-01 12:00 UTC);
    let account = CreditAccount::Owner("acme/racer");
    meter
        .add_credits(account, 20, CreditSeed::NONE, now)
        .await
        .unwrap();
    let debits: Vec<_> = (0..100)
        .map(|_| {
            let meter = Arc::clone(&meter);
            tokio::spawn(async move {
                spend(&*meter, owner_debit("acme/racer", 1), now)
                    .await
                    .is_some()
            })
        })
        .collect();
    let top_ups: Vec<_> = (0..10)
        .map(|_| {
            let meter = Arc::clone(&meter);
            tokio::spawn(async move {
                meter
                    .add_credits(CreditAccount::Owner("acme/racer"), 5, CreditSeed::NONE, now)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut served = 0u64;
    for debit in debits {
        if debit.await.unwrap() {
            served += 1;
        }
    }
    for top_up in top_ups {
        top_up.await.unwrap();
    }
    assert!(
        served >= 20,
        "at least the starting balance was served: {served}"
    );
    assert_eq!(read(&*meter, account, now).await, Some(70 - served));
}
