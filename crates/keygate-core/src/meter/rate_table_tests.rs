#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use super::*;
use crate::key::RateLimit;
use crate::meter::{MeterAccount, WindowLimit};
use proptest::prelude::*;
use time::Duration;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

fn charge(limit: RateLimit) -> [Charge<'static>; 1] {
    [Charge {
        account: MeterAccount::key_lineage("k"),
        limit: Limit::Rate(limit),
    }]
}

fn status(outcome: Result<Taken, ChargeStatus>) -> RateLimitStatus {
    match outcome {
        Ok(taken) => taken.tightest().unwrap().status,
        Err(refused) => refused.status,
    }
}

#[test]
fn a_give_back_with_nothing_in_between_undoes_the_take() {
    let limit = RateLimit::new(3, 60).unwrap();
    let mut table = RateTable::default();
    let first = table.take(&charge(limit), T0);
    assert_eq!(status(first).remaining, 2);
    let taken = table
        .take(&charge(limit), T0 + Duration::seconds(1))
        .unwrap();
    table.give_back(&charge(limit), &taken);
    let again = table.take(&charge(limit), T0 + Duration::seconds(1));
    assert_eq!(
        status(again).remaining,
        1,
        "the given-back slot is free again"
    );
}

/// The reviewer's case: A takes at T0 and waits on the database; B takes the refilled
/// slot at T0 + 20 s; A gives back. C at T0 + 20 s must be refused.
#[test]
fn a_late_give_back_returns_nothing_of_an_expired_slot() {
    let limit = RateLimit::new(1, 10).unwrap();
    let mut table = RateTable::default();
    let a = table.take(&charge(limit), T0).unwrap();
    let later = T0 + Duration::seconds(20);
    assert!(table.take(&charge(limit), later).is_ok());
    table.give_back(&charge(limit), &a);
    assert!(
        table.take(&charge(limit), later).is_err(),
        "C shared B's window"
    );
}

/// A give-back meant for an entry that was swept since does nothing.
#[test]
fn a_give_back_to_a_new_entry_does_nothing() {
    let limit = RateLimit::new(2, 10).unwrap();
    let mut table = RateTable::default();
    let a = table.take(&charge(limit), T0).unwrap();
    table.sweep(T0 + Duration::seconds(30));
    assert_eq!(table.len(), 0);
    let later = T0 + Duration::seconds(30);
    table.take(&charge(limit), later).unwrap();
    let full = table.take(&charge(limit), later);
    assert_eq!(status(full).remaining, 0);
    table.give_back(&charge(limit), &a);
    assert!(table.take(&charge(limit), later).is_err());
}

/// Two charges on one request: the refusal of the second takes nothing from the first;
/// a request charging one counter twice takes (and gives back) two steps.
#[test]
fn a_refused_charge_takes_nothing_from_the_others() {
    let wide = Charge {
        account: MeterAccount::key_lineage("k"),
        limit: Limit::Rate(RateLimit::new(5, 60).unwrap()),
    };
    let narrow = Charge {
        account: MeterAccount::user("u"),
        limit: Limit::Rate(RateLimit::new(1, 60).unwrap()),
    };
    let mut table = RateTable::new();
    let taken = table.take(&[wide, narrow], T0).unwrap();
    assert_eq!(taken.tightest().unwrap().charge, 1);
    let refused = table.take(&[wide, narrow], T0).unwrap_err();
    assert_eq!(refused.charge, 1);
    assert_eq!(table.peek(&[wide], T0).unwrap().status.remaining, 4);
    let twice = table.take(&[wide, wide], T0).unwrap();
    assert_eq!(table.peek(&[wide], T0).unwrap().status.remaining, 2);
    table.give_back(&[wide, wide], &twice);
    assert_eq!(table.peek(&[wide], T0).unwrap().status.remaining, 4);
}

/// A window's unit comes back while its period lasts, not after a new one started.
#[test]
fn a_window_gives_back_within_its_period_only() {
    let quota = [Charge {
        account: MeterAccount::user("u"),
        limit: Limit::Window(WindowLimit::per_day(1).unwrap()),
    }];
    let mut table = RateTable::new();
    let taken = table.take(&quota, T0).unwrap();
    let evening = T0 + Duration::hours(20);
    assert!(table.take(&quota, evening).is_err());
    table.give_back(&quota, &taken);
    let again = table.take(&quota, evening).unwrap();
    let tomorrow = T0 + Duration::days(1);
    table.take(&quota, tomorrow).unwrap();
    table.give_back(&quota, &again);
    assert!(
        table.take(&quota, tomorrow).is_err(),
        "yesterday's give-back frees nothing today"
    );
    table.sweep(T0 + Duration::days(2));
    assert!(table.is_empty());
}

#[derive(Debug, Clone)]
enum Op {
    /// A request `dt` milliseconds after the previous one (may be negative: clocks of
    /// concurrent requests are not ordered).
    Take(i64),
    /// The SQL part of pending request `pick` (modulo) decided: `true` refused (give
    /// back), `false` allowed (keep).
    Settle(usize, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (-2000i64..6000).prop_map(Op::Take),
        (any::<usize>(), any::<bool>()).prop_map(|(pick, refused)| Op::Settle(pick, refused)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// Whatever the interleaving of takes and give-backs, the requests that stay
    /// admitted form a sequence the limit allows, and the stored TAT is never below the
    /// one those requests alone give (so no later request is over-admitted).
    #[test]
    fn give_backs_never_admit_more_than_the_limit(
        limit in 1u32..6,
        window in 1u32..11,
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let limit = RateLimit::new(limit, window).unwrap();
        let charge = charge(limit);
        let mut table = RateTable::default();
        let mut now = T0;
        // Admitted and not given back, in the order they were taken.
        let mut kept: Vec<(u64, OffsetDateTime)> = Vec::new();
        let mut pending: Vec<(u64, Taken)> = Vec::new();
        let mut next = 0u64;
        for op in ops {
            match op {
                Op::Take(dt) => {
                    now += Duration::milliseconds(dt);
                    if let Ok(taken) = table.take(&charge, now) {
                        next += 1;
                        kept.push((next, now));
                        pending.push((next, taken));
                    }
                }
                Op::Settle(pick, refused) => {
                    if pending.is_empty() {
                        continue;
                    }
                    let (id, taken) = pending.remove(pick % pending.len());
                    if refused {
                        table.give_back(&charge, &taken);
                        kept.retain(|(kept_id, _)| *kept_id != id);
                    }
                }
            }
            let mut tat = None;
            for (_, at) in &kept {
                let replay = gcra::check(limit, tat, *at);
                prop_assert!(replay.allowed, "more admitted than the limit allows");
                tat = Some(replay.new_tat);
            }
            if let Some(tat) = tat {
                prop_assert!(table.tat(&charge[0]).unwrap() >= tat);
            }
        }
    }
}
