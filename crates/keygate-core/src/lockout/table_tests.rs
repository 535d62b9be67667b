//! The lock-out table's budgets, on fixed instants.

use super::*;
use time::Duration;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

fn lockouts(capacity: usize) -> Lockouts {
    Lockouts::new(SecretLockout::default().capacity(capacity))
}

#[test]
fn ten_failures_lock_until_the_window_ends() {
    let l = lockouts(100);
    let a = ip("203.0.113.9");
    for n in 0..9 {
        assert_eq!(l.fail(a, T0 + Duration::seconds(n)), None);
        assert!(l.check(a, T0 + Duration::seconds(n)).is_ok());
    }
    assert_eq!(
        l.fail(a, T0 + Duration::seconds(10)),
        Some((LockScope::Address, 50))
    );
    assert_eq!(l.check(a, T0 + Duration::seconds(10)), Err(50));
    assert_eq!(l.check(a, T0 + Duration::milliseconds(59_500)), Err(1));
    assert!(l.check(ip("203.0.113.10"), T0).is_ok(), "another address");
    assert!(
        l.check(a, T0 + Duration::seconds(60)).is_ok(),
        "the window ended"
    );
    assert_eq!(l.fail(a, T0 + Duration::seconds(60)), None, "a new window");
}

#[test]
fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
    let l = lockouts(100);
    for n in 0..10 {
        l.fail(ip(&format!("2001:db8::{n:x}")), T0);
    }
    assert!(l.check(ip("2001:db8::ffff:1"), T0).is_err());
    assert!(l.check(ip("2001:db8:0:1::1"), T0).is_ok());
    for _ in 0..10 {
        l.fail(ip("::ffff:198.51.100.4"), T0);
    }
    assert!(l.check(ip("198.51.100.4"), T0).is_err());
    for _ in 0..10 {
        l.fail(None, T0);
    }
    assert!(l.check(None, T0).is_err(), "unknown peers share one count");
}

#[test]
fn a_full_table_keeps_live_entries_and_sends_newcomers_to_overflow() {
    let l = lockouts(3);
    let attacker = ip("198.51.100.1");
    for _ in 0..10 {
        l.fail(attacker, T0);
    }
    // Two other addresses fill the table.
    l.fail(ip("198.51.100.2"), T0);
    l.fail(ip("198.51.100.3"), T0);
    // Failing from many more addresses evicts nothing: the attacker stays locked.
    for n in 10..200 {
        l.fail(ip(&format!("192.0.2.{n}")), T0 + Duration::seconds(1));
    }
    assert!(l.check(attacker, T0 + Duration::seconds(1)).is_err());
    // Those newcomers shared the overflow count, and it is locked too.
    assert!(
        l.check(ip("192.0.2.250"), T0 + Duration::seconds(1))
            .is_err()
    );
    assert!(
        l.check(ip("198.51.100.2"), T0 + Duration::seconds(1))
            .is_ok()
    );
    assert_eq!(l.table.lock().unwrap().entries.len(), 3);
    // Once the windows end, a sweep frees the table for new addresses.
    let later = T0 + Duration::seconds(61);
    assert!(l.check(attacker, later).is_ok());
    assert_eq!(l.fail(ip("192.0.2.1"), later), None);
    assert!(
        l.table
            .lock()
            .unwrap()
            .entries
            .contains_key(&Bucket::of(ip("192.0.2.1")).0)
    );
    assert_eq!(l.table.lock().unwrap().entries.len(), 1);
    let shown = format!("{l:?}");
    assert!(
        shown.contains("addresses: 1") && !shown.contains("192.0.2"),
        "{shown}"
    );
}

/// `n` failures from `address` at `at`.
fn fail_n(l: &Lockouts, address: Option<IpAddr>, n: usize, at: OffsetDateTime) {
    for _ in 0..n {
        l.fail(address, at);
    }
}

#[test]
fn an_ipv6_48_has_ten_times_the_budget_of_one_64() {
    let l = lockouts(1_000);
    // Nine failures from each of eleven /64s of one /48: 99, no /64 locked, nor the /48.
    for subnet in 0..11 {
        fail_n(&l, ip(&format!("2001:db8:7:{subnet:x}::1")), 9, T0);
    }
    assert!(l.check(ip("2001:db8:7:0::1"), T0).is_ok());
    assert!(l.check(ip("2001:db8:7:ff::1"), T0).is_ok());
    // The hundredth locks the whole /48, a /64 that never failed included.
    let at = T0 + Duration::seconds(20);
    assert_eq!(
        l.fail(ip("2001:db8:7:42::1"), at),
        Some((LockScope::Network, 40))
    );
    assert_eq!(l.check(ip("2001:db8:7:ffff::9"), at), Err(40));
    // Another /48, and IPv4, are not affected.
    assert!(l.check(ip("2001:db8:8::1"), at).is_ok());
    assert!(l.check(ip("198.51.100.1"), at).is_ok());
    // Until the /48's window ends.
    assert!(
        l.check(ip("2001:db8:7:ffff::9"), T0 + Duration::seconds(60))
            .is_ok()
    );
}

#[test]
fn a_spread_of_addresses_meets_the_global_ceiling() {
    let l = lockouts(10_000);
    // One failure each from 999 addresses: nobody is locked.
    for n in 0..999u32 {
        let address = IpAddr::from(std::net::Ipv4Addr::from(0xC633_0000 + n));
        assert_eq!(l.fail(Some(address), T0), None);
    }
    assert!(l.check(ip("203.0.113.250"), T0).is_ok());
    // The thousandth spends the global ceiling, until its window ends.
    let at = T0 + Duration::seconds(30);
    assert_eq!(
        l.fail(ip("2001:db8:9::1"), at),
        Some((LockScope::Everyone, 30)),
        "the global window started with the first failure; reported as the broadest"
    );
    assert_eq!(
        l.fail(ip("2001:db8:9::1"), at),
        None,
        "reported once per window"
    );
    // Closed to every address that failed in its window, the one that never failed
    // untouched (1 of 10 failures spent each, not their own limit).
    let failed = IpAddr::from(std::net::Ipv4Addr::from(0xC633_0000u32));
    assert_eq!(l.check(Some(failed), at), Err(30));
    assert_eq!(l.check(ip("2001:db8:9::1"), at), Err(30));
    // An address that never guessed wrong (the operator's) is still checked, so a flood
    // cannot lock the operator out; its first failure closes it too.
    for fresh in ["203.0.113.250", "2001:db8:ffff::1"] {
        assert!(l.check(ip(fresh), at).is_ok(), "{fresh}");
    }
    assert!(l.check(None, at).is_ok());
    l.fail(ip("203.0.113.250"), at);
    assert_eq!(l.check(ip("203.0.113.250"), at), Err(30));
    assert!(l.check(Some(failed), T0 + Duration::seconds(60)).is_ok());

    // Configurable, and never below the per-address limit.
    let tight = Lockouts::new(SecretLockout::default().global_failures(25));
    for n in 0..25u8 {
        tight.fail(ip(&format!("192.0.2.{n}")), T0);
    }
    assert!(tight.check(ip("192.0.2.3"), T0).is_err());
    assert!(tight.check(ip("192.0.2.200"), T0).is_ok());
}

#[test]
fn memory_stays_bounded_whatever_the_spread() {
    let l = lockouts(64);
    // 20 000 failures from distinct /48s (two counts each): the table never grows past
    // its capacity, and the ceiling still counts every one of them.
    for n in 0..20_000u32 {
        let address = std::net::Ipv6Addr::new(0x2001, (n >> 16) as u16, n as u16, 0, 0, 0, 0, 1);
        l.fail(Some(IpAddr::V6(address)), T0);
        assert!(l.table.lock().unwrap().entries.len() <= 64);
    }
    assert!(
        l.check(ip("198.51.100.77"), T0).is_err(),
        "the ceiling was met"
    );
}

#[test]
fn a_table_emptied_by_a_sweep_is_swept_again_when_it_fills() {
    let l = lockouts(2);
    l.fail(ip("192.0.2.1"), T0);
    l.fail(ip("192.0.2.2"), T0);
    // Both windows end; a newcomer sweeps them out and takes a place.
    let later = T0 + Duration::seconds(61);
    l.fail(ip("192.0.2.3"), later);
    l.fail(ip("192.0.2.4"), later);
    // Those end too: the next newcomer must find room again, not the overflow.
    let again = later + Duration::seconds(61);
    l.fail(ip("192.0.2.5"), again);
    let table = l.table.lock().unwrap();
    assert!(
        table.entries.contains_key(&Bucket::of(ip("192.0.2.5")).0),
        "{table:?}"
    );
    assert_eq!(table.overflow.failures, 0, "{table:?}");
}
