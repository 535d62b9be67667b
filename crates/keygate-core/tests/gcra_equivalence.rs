//! The microsecond GCRA (`keygate_core::meter::gcra`) against the exact one it replaced
//! (nanoseconds scaled by the limit, in `i128`, copied below as the reference): the same
//! decisions on random request sequences, except for requests within a precisely bounded
//! band around the boundary.
//!
//! # The band
//!
//! Write `s = W / L` for the exact emission interval, `T = ceil(s)` (whole µs) for the
//! meter's and `δ = T − s ∈ [0, 1 µs)` for the rounding. The reference admits a request
//! at `t` when its *slack* `σ = (L − 1)·s − (max(R, t) − t)` is `≥ 0` (`R` its TAT); the
//! meter admits when `(L − 1)·T − (max(N, n) − n) ≥ 0`, with `n` = `t` rounded down to a
//! µs (`ε = t − n < 1 µs`) and `N` its TAT.
//!
//! Both are fed the same admitted requests (the meter commits what the reference
//! admits, so one disagreement cannot snowball). Then `D = N − R` satisfies
//! `−1 µs < D ≤ c·δ`, where `c` counts the requests committed since the meter's TAT was
//! last idle (`N ≤ n`): each commit adds at most `δ`, and a reset starts again from
//! `δ − ε`. The meter's slack minus the reference's is `(L − 1)·δ − X`, with
//! `X = max(N, n) − max(R, t) + ε` in `(ε − 1 µs, c·δ + ε]`, so decisions can differ only
//! when
//!
//! - the reference admits and the meter refuses: `0 ≤ σ < ε + (c − (L − 1))·δ`;
//! - the reference refuses and the meter admits: `0 < −σ < (1 µs − ε) + (L − 1)·δ`.
//!
//! For every limit whose interval is a whole number of microseconds (`δ = 0`: 100 per
//! minute, 1000 per hour, any `L = 2^a·5^b` up to a million) this says: only when the
//! boundary falls inside the request's own microsecond, `[n, n + 1 µs)`; "within 1 µs of
//! the boundary". Otherwise the band widens by the accumulated rounding; in a burst
//! (`c < L`) the first bound is negative, so the meter never refuses a request of the
//! burst the reference admits. The test asserts exactly these bounds, in the
//! reference's integer units (ns × `L`); `an_off_by_one_rule_is_caught` shows that a rule
//! bursting `L − 1` falls outside them.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use keygate_core::key::RateLimit;
use keygate_core::meter::gcra;
use proptest::prelude::*;
use time::{Duration, OffsetDateTime};

/// The GCRA keygate used before microseconds, verbatim in its decisions: times in
/// nanoseconds multiplied by `L`, so the step `W / L` is `W` and nothing rounds.
mod reference {
    use keygate_core::key::RateLimit;
    use time::OffsetDateTime;

    const NANOS_PER_SEC: i128 = 1_000_000_000;

    /// `(allowed, new scaled TAT, slack in scaled units)`.
    pub(crate) fn check(
        limit: RateLimit,
        tat: Option<i128>,
        now: OffsetDateTime,
    ) -> (bool, i128, i128) {
        let l = i128::from(limit.limit());
        let w = i128::from(limit.window_seconds()) * NANOS_PER_SEC;
        let now = now.unix_timestamp_nanos() * l;
        let tat = tat.map_or(now, |tat| tat.max(now));
        let new_tat = tat + w;
        let allowed = new_tat - now <= w * l;
        (allowed, new_tat, w * (l - 1) - (tat - now))
    }
}

/// A meter's GCRA step: `(allowed, new TAT)` from the stored TAT at `now`.
type Rule = fn(RateLimit, Option<i64>, OffsetDateTime) -> (bool, i64);

fn keygate_rule(limit: RateLimit, tat: Option<i64>, now: OffsetDateTime) -> (bool, i64) {
    let decision = gcra::check(limit, tat, now);
    (decision.allowed, decision.new_tat)
}

/// Feeds `times` to the reference and to `rule` in lockstep; the first disagreement
/// outside the band, as text.
fn first_violation(rule: Rule, limit: RateLimit, times: &[OffsetDateTime]) -> Option<String> {
    let l = i128::from(limit.limit());
    let step = i128::from(gcra::emission_interval(limit));
    let window_ns = i128::from(limit.window_seconds()) * 1_000_000_000;
    // δ and 1 µs in the reference's units (ns × L).
    let delta = step * 1000 * l - window_ns;
    let micro = 1000 * l;
    assert!((0..micro).contains(&delta), "T is W / L rounded up");
    let (mut reference, mut tat) = (None, None);
    let mut chain = 0i128;
    for (i, &now) in times.iter().enumerate() {
        let n = gcra::micros(now);
        if tat.is_none_or(|tat| tat <= n) {
            chain = 0;
        }
        let (ref_allowed, ref_tat, slack) = reference::check(limit, reference, now);
        let (allowed, new_tat) = rule(limit, tat, now);
        // ε, the part of `now` below a microsecond, in the reference's units.
        let epsilon = (now.unix_timestamp_nanos() - i128::from(n) * 1000) * l;
        let within = match (ref_allowed, allowed) {
            (true, false) => slack < epsilon + (chain - (l - 1)) * delta,
            (false, true) => -slack < micro - epsilon + (l - 1) * delta,
            _ => true,
        };
        if !within {
            return Some(format!(
                "request {i} at {now}: reference {ref_allowed}, meter {allowed}, slack \
                 {slack}/{l} ns, chain {chain}"
            ));
        }
        if ref_allowed {
            reference = Some(ref_tat);
            tat = Some(new_tat);
            chain += 1;
        }
    }
    None
}

/// Gaps between requests: none, sub-microsecond, about one emission interval (give or
/// take a few ns), anything up to a window, and several windows.
fn gaps(limit: RateLimit) -> impl Strategy<Value = Vec<i64>> {
    let step_ns = i64::from(limit.window_seconds()) * 1_000_000_000 / i64::from(limit.limit());
    let window_ns = i64::from(limit.window_seconds()) * 1_000_000_000;
    let gap = prop_oneof![
        2 => Just(0i64),
        2 => 1i64..1000,
        3 => (0i64..3, -2000i64..2000).prop_map(move |(k, d)| (k * step_ns + d).max(0)),
        2 => 0..=window_ns,
        1 => (1i64..4, 0i64..1_000_000).prop_map(move |(k, d)| k * window_ns + d),
    ];
    proptest::collection::vec(gap, 1..200)
}

fn times(start_ns: i64, gaps: &[i64]) -> Vec<OffsetDateTime> {
    let mut now = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap()
        + Duration::nanoseconds(start_ns);
    gaps.iter()
        .map(|gap| {
            now += Duration::nanoseconds(*gap);
            now
        })
        .collect()
}

fn any_limit() -> impl Strategy<Value = RateLimit> {
    let limit = prop_oneof![1u32..10, 1u32..1000, 1u32..=1_000_000];
    let window = prop_oneof![1u32..120, 1u32..=86_400, 1u32..=31_622_400];
    (limit, window).prop_map(|(l, w)| RateLimit::new(l, w).unwrap())
}

/// Limits whose emission interval is a whole number of microseconds (`L` divides
/// `W · 10^6`): there the band is exactly 1 µs.
fn whole_microsecond_limit() -> impl Strategy<Value = RateLimit> {
    (0u32..=6, 0u32..=6, 1u32..3600)
        .prop_map(|(a, b, w)| RateLimit::new(2u32.pow(a) * 5u32.pow(b), w).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn decisions_match_the_exact_gcra_outside_the_band(
        (limit, gaps) in any_limit().prop_flat_map(|limit| (Just(limit), gaps(limit))),
        start in 0i64..1_000_000_000,
    ) {
        let found = first_violation(keygate_rule, limit, &times(start, &gaps));
        prop_assert!(found.is_none(), "{limit:?}: {found:?}");
    }

    #[test]
    fn whole_microsecond_limits_differ_only_within_1_us(
        (limit, gaps) in whole_microsecond_limit().prop_flat_map(|limit| (Just(limit), gaps(limit))),
        start in 0i64..1_000_000_000,
    ) {
        prop_assume!(gcra::emission_interval(limit) * 1000 * i64::from(limit.limit())
            == i64::from(limit.window_seconds()) * 1_000_000_000);
        let found = first_violation(keygate_rule, limit, &times(start, &gaps));
        prop_assert!(found.is_none(), "{limit:?}: {found:?}");
    }
}

/// The comparison can fail: a rule that is off by one (admitting while strictly under the
/// burst, so a fresh account bursts `L - 1`) is caught on a plain burst.
#[test]
fn an_off_by_one_rule_is_caught() {
    fn off_by_one(limit: RateLimit, tat: Option<i64>, now: OffsetDateTime) -> (bool, i64) {
        let step = gcra::emission_interval(limit);
        let n = gcra::micros(now);
        let new_tat = tat.map_or(n, |tat| tat.max(n)) + step;
        (new_tat - n < step * i64::from(limit.limit()), new_tat)
    }
    let limit = RateLimit::new(10, 60).unwrap();
    let burst = times(0, &[0; 10]);
    assert_eq!(first_violation(keygate_rule, limit, &burst), None);
    let found = first_violation(off_by_one, limit, &burst);
    assert!(found.is_some_and(|found| found.starts_with("request 9 ")));
}
