//! [`RateTable`]: rate limits and fixed windows in process memory, for every meter that
//! keeps counters in process ([`MemoryMeter`](super::MemoryMeter), keygate-sqlx's
//! `SqlMeter`).

use std::collections::HashMap;

use time::OffsetDateTime;

use super::{AccountKind, Charge, ChargeStatus, Limit, Period, RateLimitStatus, gcra, window};

/// The table sweeps idle entries every this many [`RateTable::take`] calls.
pub const SWEEP_EVERY: u64 = 1024;

/// Counters in process memory, keyed by account (kind and id): per account one GCRA
/// theoretical arrival time (see [`gcra`]) and one counter per window period (see
/// [`window`]). Not synchronised: wrap it in a mutex; every method is a short critical
/// section that never blocks or awaits.
///
/// - [`take`](Self::take) decides every charge of a request and takes one unit from each,
///   or nothing when any refuses.
/// - [`give_back`](Self::give_back) returns what a take took when the request is refused
///   later (for credits, by the database), and never more than what has not expired.
/// - Memory is bounded: an entry is dropped once it is idle (a TAT in the past, a period
///   that ended), when it is exactly as no entry. [`take`](Self::take) sweeps every 1024
///   calls; [`sweep`](Self::sweep) does it now.
///
/// An account has one rate-limit counter: two rate limits charged against the same
/// account share it (each takes a step). Quotas per day and per month count separately.
///
/// ```
/// use keygate_core::key::RateLimit;
/// use keygate_core::meter::{Charge, Limit, MeterAccount, RateTable};
/// use time::macros::datetime;
///
/// let mut table = RateTable::new();
/// let charge = Charge {
///     account: MeterAccount::key_lineage("key_0123"),
///     limit: Limit::Rate(RateLimit::new(1, 60)?),
/// };
/// let now = datetime!(2030-01-01 0:00 UTC);
/// let taken = table.take(std::slice::from_ref(&charge), now).expect("a fresh account");
/// assert!(table.take(std::slice::from_ref(&charge), now).is_err(), "one per minute");
/// table.give_back(std::slice::from_ref(&charge), &taken);
/// assert!(table.take(std::slice::from_ref(&charge), now).is_ok(), "given back");
/// # Ok::<(), keygate_core::key::RateLimitError>(())
/// ```
#[derive(Debug, Default)]
pub struct RateTable {
    /// Account kind → counter → account id → entry. The first two are fields, found
    /// without hashing; the map is looked up by `&str`, without allocating.
    key_lineage: Counters,
    owner: Counters,
    user: Counters,
    tenant: Counters,
    /// Stamps every take and give-back, table-wide, so a stamp names one state of an
    /// entry.
    changes: u64,
    takes: u64,
}

/// One kind of account's counters: account id → entry, per counter.
#[derive(Debug, Default)]
struct Counters {
    rate: HashMap<String, Entry>,
    day: HashMap<String, Entry>,
    month: HashMap<String, Entry>,
}

impl Counters {
    fn maps(&self) -> [&HashMap<String, Entry>; 3] {
        [&self.rate, &self.day, &self.month]
    }

    fn maps_mut(&mut self) -> [&mut HashMap<String, Entry>; 3] {
        [&mut self.rate, &mut self.day, &mut self.month]
    }
}

/// Which of an account's counters a charge uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Counter {
    Rate,
    Window(Period),
}

impl Counter {
    fn of(limit: &Limit) -> Self {
        match limit {
            Limit::Rate(_) => Self::Rate,
            Limit::Window(window) => Self::Window(window.period()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    state: State,
    /// The latest request time this entry has seen, in Unix microseconds.
    latest: i64,
    /// The stamp of the entry's creation (for a window, of its period's start): a
    /// give-back meant for an earlier entry or period does nothing.
    born: u64,
    /// The stamp of the entry's last change.
    changed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A GCRA TAT, Unix microseconds.
    Tat(i64),
    /// A window: its end (Unix seconds) and the requests admitted in it.
    Window { end: i64, used: u32 },
}

impl State {
    fn tat(state: Option<Self>) -> Option<i64> {
        match state {
            Some(Self::Tat(tat)) => Some(tat),
            _ => None,
        }
    }

    fn window(state: Option<Self>) -> Option<(i64, u32)> {
        match state {
            Some(Self::Window { end, used }) => Some((end, used)),
            _ => None,
        }
    }
}

/// One charge's step from a state: whether it fits, the state after it, its status.
fn step(
    charge: &Charge<'_>,
    state: Option<State>,
    now: OffsetDateTime,
) -> (bool, State, RateLimitStatus) {
    match charge.limit {
        Limit::Rate(limit) => {
            let decision = gcra::check(limit, State::tat(state), now);
            (
                decision.allowed,
                State::Tat(decision.new_tat),
                decision.status,
            )
        }
        Limit::Window(limit) => {
            let decision = window::check(limit, State::window(state), now);
            let (end, used) = decision.new_counter;
            (
                decision.allowed,
                State::Window { end, used },
                decision.status,
            )
        }
    }
}

fn peek_one(charge: &Charge<'_>, state: Option<State>, now: OffsetDateTime) -> RateLimitStatus {
    match charge.limit {
        Limit::Rate(limit) => gcra::peek(limit, State::tat(state), now),
        Limit::Window(limit) => window::peek(limit, State::window(state), now),
    }
}

fn same_counter(a: &Charge<'_>, b: &Charge<'_>) -> bool {
    a.account == b.account && Counter::of(&a.limit) == Counter::of(&b.limit)
}

/// What [`RateTable::take`] took, to give it back (exactly, or the part that has not
/// expired) with [`RateTable::give_back`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    tightest: Option<ChargeStatus>,
    /// The request's time, Unix microseconds.
    now: i64,
    stamp: u64,
}

impl Taken {
    /// The charge with the fewest remaining after the take (the first of equals); `None`
    /// when there were no charges.
    pub fn tightest(&self) -> Option<ChargeStatus> {
        self.tightest
    }
}

impl RateTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Entries held (one per account and counter).
    pub fn len(&self) -> usize {
        self.kinds()
            .flat_map(Counters::maps)
            .map(HashMap::len)
            .sum()
    }

    /// Whether the table holds nothing.
    pub fn is_empty(&self) -> bool {
        self.kinds().flat_map(Counters::maps).all(HashMap::is_empty)
    }

    fn kinds(&self) -> impl Iterator<Item = &Counters> {
        [&self.key_lineage, &self.owner, &self.user, &self.tenant].into_iter()
    }

    /// The map holding `charge`'s counter.
    fn map(&self, charge: &Charge<'_>) -> &HashMap<String, Entry> {
        let kind = match charge.account.kind {
            AccountKind::KeyLineage => &self.key_lineage,
            AccountKind::Owner => &self.owner,
            AccountKind::User => &self.user,
            AccountKind::Tenant => &self.tenant,
        };
        match Counter::of(&charge.limit) {
            Counter::Rate => &kind.rate,
            Counter::Window(Period::Day) => &kind.day,
            Counter::Window(Period::Month) => &kind.month,
        }
    }

    fn map_mut(&mut self, charge: &Charge<'_>) -> &mut HashMap<String, Entry> {
        let kind = match charge.account.kind {
            AccountKind::KeyLineage => &mut self.key_lineage,
            AccountKind::Owner => &mut self.owner,
            AccountKind::User => &mut self.user,
            AccountKind::Tenant => &mut self.tenant,
        };
        match Counter::of(&charge.limit) {
            Counter::Rate => &mut kind.rate,
            Counter::Window(Period::Day) => &mut kind.day,
            Counter::Window(Period::Month) => &mut kind.month,
        }
    }

    fn stamp(&mut self) -> u64 {
        self.changes = self.changes.wrapping_add(1);
        self.changes
    }

    fn get(&self, charge: &Charge<'_>) -> Option<&Entry> {
        self.map(charge).get(charge.account.id)
    }

    fn get_mut(&mut self, charge: &Charge<'_>) -> Option<&mut Entry> {
        self.map_mut(charge).get_mut(charge.account.id)
    }

    /// Takes one unit from every charge's counter at `now`, or, if any charge refuses,
    /// nothing: `Err` names the first refusing charge (its index in `charges`) with its
    /// status (`retry_after` at least 1).
    pub fn take(
        &mut self,
        charges: &[Charge<'_>],
        now: OffsetDateTime,
    ) -> Result<Taken, ChargeStatus> {
        self.takes = self.takes.wrapping_add(1);
        if self.takes.is_multiple_of(SWEEP_EVERY) {
            self.sweep(now);
        }
        let micros = gcra::micros(now);
        if let [charge] = charges {
            return self.take_one(charge, now, micros);
        }
        // Decide everything first: each charge from the state the charges before it on
        // the same counter would leave (no allocation: requests carry a few charges)…
        for (index, charge) in charges.iter().enumerate() {
            let mut state = self.get(charge).map(|entry| entry.state);
            for prior in charges.iter().take(index) {
                if same_counter(prior, charge) {
                    state = Some(step(prior, state, now).1);
                }
            }
            let (allowed, _, status) = step(charge, state, now);
            if !allowed {
                // Refused requests count too: a later time only shrinks what a give-back
                // may return.
                for charge in charges {
                    if let Some(entry) = self.get_mut(charge) {
                        entry.latest = entry.latest.max(micros);
                    }
                }
                return Err(ChargeStatus {
                    charge: index,
                    status,
                });
            }
        }
        // …then commit all of it.
        let stamp = self.stamp();
        let mut tightest: Option<ChargeStatus> = None;
        for (index, charge) in charges.iter().enumerate() {
            let status = self.commit(charge, now, micros, stamp);
            if tightest.is_none_or(|best| status.remaining < best.status.remaining) {
                tightest = Some(ChargeStatus {
                    charge: index,
                    status,
                });
            }
        }
        Ok(Taken {
            tightest,
            now: micros,
            stamp,
        })
    }

    /// [`take`](Self::take) for the usual request, with one charge: one look-up, one
    /// step, decided and committed together.
    fn take_one(
        &mut self,
        charge: &Charge<'_>,
        now: OffsetDateTime,
        micros: i64,
    ) -> Result<Taken, ChargeStatus> {
        let stamp = self.changes.wrapping_add(1);
        let map = self.map_mut(charge);
        let status = match map.get_mut(charge.account.id) {
            Some(entry) => {
                let (allowed, state, status) = step(charge, Some(entry.state), now);
                entry.latest = entry.latest.max(micros);
                if !allowed {
                    return Err(ChargeStatus { charge: 0, status });
                }
                if let (State::Window { end: old, .. }, State::Window { end: new, .. }) =
                    (entry.state, state)
                    && old != new
                {
                    entry.born = stamp;
                }
                entry.state = state;
                entry.changed = stamp;
                status
            }
            None => {
                let (allowed, state, status) = step(charge, None, now);
                if !allowed {
                    return Err(ChargeStatus { charge: 0, status });
                }
                map.insert(
                    charge.account.id.to_owned(),
                    Entry {
                        state,
                        latest: micros,
                        born: stamp,
                        changed: stamp,
                    },
                );
                status
            }
        };
        self.changes = stamp;
        Ok(Taken {
            tightest: Some(ChargeStatus { charge: 0, status }),
            now: micros,
            stamp,
        })
    }

    fn commit(
        &mut self,
        charge: &Charge<'_>,
        now: OffsetDateTime,
        micros: i64,
        stamp: u64,
    ) -> RateLimitStatus {
        let slot = self.map_mut(charge);
        match slot.get_mut(charge.account.id) {
            Some(entry) => {
                let (_, state, status) = step(charge, Some(entry.state), now);
                if let (State::Window { end: old, .. }, State::Window { end: new, .. }) =
                    (entry.state, state)
                    && old != new
                {
                    // A new period: earlier takes have nothing left to give back.
                    entry.born = stamp;
                }
                entry.state = state;
                entry.latest = entry.latest.max(micros);
                entry.changed = stamp;
                status
            }
            None => {
                let (_, state, status) = step(charge, None, now);
                slot.insert(
                    charge.account.id.to_owned(),
                    Entry {
                        state,
                        latest: micros,
                        born: stamp,
                        changed: stamp,
                    },
                );
                status
            }
        }
    }

    /// Gives back what is left of the units [`take`](Self::take) took for `charges` (the
    /// same charges), and never more:
    ///
    /// - a rate limit whose entry has not changed since is undone exactly (one step);
    ///   otherwise other requests took (or gave back) meanwhile, and only the part of
    ///   this request's step still ahead of every request time the entry has seen is
    ///   returned: `clamp(now + T - latest, 0, T)`.
    /// - a window gets its unit back while its period lasts (a count is the same
    ///   whatever the order of requests); once a new period started, nothing.
    /// - an entry created since (after a sweep) gets nothing.
    ///
    /// Why the rate-limit rule is safe: the step this request took ends at least `T`
    /// after its own time, whatever came before it, and each later request, at a time no
    /// later than `latest`, can only have shifted what followed by less than what
    /// remained of it. So removing the request from the sequence of committed requests
    /// lowers their TAT by at least this much, and the stored TAT never drops below the
    /// one the admitted requests alone would give (the property test checks it).
    pub fn give_back(&mut self, charges: &[Charge<'_>], taken: &Taken) {
        let stamp = self.stamp();
        for charge in charges {
            let Some(entry) = self.get_mut(charge) else {
                continue;
            };
            if entry.born > taken.stamp {
                continue;
            }
            // Unchanged since the take, or changed only by this give-back (a request
            // charging one counter twice): exact.
            let exact = entry.changed == taken.stamp || entry.changed == stamp;
            match (charge.limit, &mut entry.state) {
                (Limit::Rate(limit), State::Tat(tat)) => {
                    let step = gcra::emission_interval(limit);
                    let amount = if exact {
                        step
                    } else {
                        (taken.now + step - entry.latest).clamp(0, step)
                    };
                    *tat -= amount;
                }
                (Limit::Window(_), State::Window { used, .. }) => {
                    *used = used.saturating_sub(1);
                }
                _ => continue,
            }
            entry.changed = stamp;
        }
    }

    /// The tightest charge at `now`, taking nothing.
    pub fn peek(&self, charges: &[Charge<'_>], now: OffsetDateTime) -> Option<ChargeStatus> {
        ChargeStatus::tightest(
            charges
                .iter()
                .map(|charge| peek_one(charge, self.get(charge).map(|entry| entry.state), now)),
        )
    }

    /// Drops every entry that is idle at `now`: exactly as having no entry.
    pub fn sweep(&mut self, now: OffsetDateTime) {
        let micros = gcra::micros(now);
        let secs = now.unix_timestamp();
        let kinds = [
            &mut self.key_lineage,
            &mut self.owner,
            &mut self.user,
            &mut self.tenant,
        ];
        for slot in kinds.into_iter().flat_map(Counters::maps_mut) {
            slot.retain(|_, entry| match entry.state {
                State::Tat(tat) => !gcra::is_idle(tat, micros),
                State::Window { end, .. } => !window::is_idle(end, secs),
            });
        }
    }

    /// The stored TAT of `charge`'s account, for tests.
    #[cfg(test)]
    fn tat(&self, charge: &Charge<'_>) -> Option<i64> {
        State::tat(self.get(charge).map(|entry| entry.state))
    }
}

#[cfg(test)]
#[path = "rate_table_tests.rs"]
mod tests;
