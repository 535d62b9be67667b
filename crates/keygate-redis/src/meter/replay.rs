//! The statuses of a decision the script made, computed in Rust with the core's own GCRA
//! and window arithmetic from the counters' stored values the script reports.
//!
//! The script decides with additions and comparisons only (exact in Lua's doubles below
//! 2^53); everything with a division (remaining, reset, retry-after) is computed here, by
//! the same functions the memory and SQL meters use, so every header agrees with theirs.

use keygate_core::meter::{Charge, ChargeStatus, Limit, RateLimitStatus, gcra, window};
use time::OffsetDateTime;

/// A counter's stored value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counter {
    /// A GCRA theoretical arrival time, Unix µs.
    Tat(i64),
    /// A window's end (Unix s) and the requests admitted in it.
    Window { end: i64, used: u32 },
}

impl Counter {
    fn tat(counter: Option<Self>) -> Option<i64> {
        match counter {
            Some(Self::Tat(tat)) => Some(tat),
            _ => None,
        }
    }

    fn window(counter: Option<Self>) -> Option<(i64, u32)> {
        match counter {
            Some(Self::Window { end, used }) => Some((end, used)),
            _ => None,
        }
    }
}

/// One charge's step from `prior`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step {
    pub(crate) allowed: bool,
    pub(crate) after: Counter,
    pub(crate) status: RateLimitStatus,
}

fn step(limit: Limit, prior: Option<Counter>, now: OffsetDateTime) -> Step {
    match limit {
        Limit::Rate(rate) => {
            let decision = gcra::check(rate, Counter::tat(prior), now);
            Step {
                allowed: decision.allowed,
                after: Counter::Tat(decision.new_tat),
                status: decision.status,
            }
        }
        Limit::Window(quota) => {
            let decision = window::check(quota, Counter::window(prior), now);
            let (end, used) = decision.new_counter;
            Step {
                allowed: decision.allowed,
                after: Counter::Window { end, used },
                status: decision.status,
            }
        }
    }
}

/// The charges of one request with what the script found stored for each, and which
/// charges share a counter (`first[i]`: the first charge on charge `i`'s key).
pub(crate) struct Replay<'r, 'a> {
    pub(crate) charges: &'r [Charge<'a>],
    pub(crate) stored: Vec<Option<Counter>>,
    pub(crate) first: &'r [usize],
    pub(crate) now: OffsetDateTime,
}

impl Replay<'_, '_> {
    /// The steps of charges `0..=upto` in order, each from the state the charges before
    /// it on the same counter leave (as the script and the core's `RateTable` do).
    pub(crate) fn steps(&self, upto: usize) -> Vec<Step> {
        let mut steps: Vec<Step> = Vec::with_capacity(upto + 1);
        for (index, charge) in self.charges.iter().enumerate().take(upto + 1) {
            let own = self.first.get(index).copied();
            let prior = steps
                .iter()
                .enumerate()
                .rev()
                .find(|(earlier, _)| self.first.get(*earlier).copied() == own)
                .map(|(_, step)| step.after)
                .or_else(|| self.stored.get(index).copied().flatten());
            steps.push(step(charge.limit, prior, self.now));
        }
        steps
    }

    /// The tightest charge as stored, taking nothing.
    pub(crate) fn peek(&self) -> Option<ChargeStatus> {
        ChargeStatus::tightest(self.charges.iter().enumerate().map(|(index, charge)| {
            let stored = self.stored.get(index).copied().flatten();
            match charge.limit {
                Limit::Rate(rate) => gcra::peek(rate, Counter::tat(stored), self.now),
                Limit::Window(quota) => window::peek(quota, Counter::window(stored), self.now),
            }
        }))
    }
}
