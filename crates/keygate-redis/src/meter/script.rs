//! The two Lua scripts and how a request is laid out for them.
//!
//! **`take.lua`**, the one call of every metered request:
//!
//! - `KEYS[1]` the ledger epoch `{p}:epoch`, `KEYS[2]` the token's use `{p}:t:<jti>` (a
//!   placeholder without a token), `KEYS[3..]` one counter per charge, in the request's
//!   order: `{p}:r:<kind>:<id>` (a GCRA TAT, a string of Unix µs), `{p}:d:<kind>:<id>` and
//!   `{p}:m:<kind>:<id>` (a day's or a month's window, a hash `e` = end in Unix s, `u` =
//!   used). `{p}` is the prefix in braces: the hash tag all of them share.
//! - `ARGV`: `now` (Unix µs), `now` (Unix s), `1` if there is a token, its `iat` (µs), the
//!   token key's TTL (ms), the skew margin (µs); then per charge `r, T, L` (emission
//!   interval in µs and limit) or `w, count, end` (the end of the period `now` falls in).
//! - Reply: `[code, index, (present, a, b) per charge read]`, code 0 allowed, 1 limited by
//!   charge `index`, 2 token used, 3 token issued before the epoch; `a, b` the counter's
//!   stored value before the request (`tat, 0` or `end, used`).
//!
//! All or nothing holds because a script runs atomically in Redis, and this one writes
//! nothing until every charge and the token allowed (the epoch, written when missing,
//! is not a charge). Refused: nothing changed.
//!
//! **`give_back.lua`**, only when the credit ledger refused (or failed) after an
//! allowed take: `KEYS[1]` the token's use (deleted), `KEYS[2..]` each counter the take
//! wrote, once; `ARGV`: `1` to release the token, then per counter `r, written, restore,
//! ttl` (restore the value before the take, `""` to delete, if the TAT is still the one
//! written) or `w, end, units, 0` (take `units` back while the window is that period).

use std::sync::LazyLock;

use keygate_core::StoreError;
use keygate_core::meter::{Limit, MeterRequest, Period, gcra, window};
use redis::{Script, ScriptInvocation};

use super::replay::{Counter, Step};
use super::{LEDGER_SKEW, USED_TOKEN_MARGIN};
use crate::error::bad_reply;

static TAKE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("take.lua")));
static GIVE_BACK: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("give_back.lua")));

/// The latest window end the script is given: Lua computes with doubles, exact below
/// 2^53 µs (the year 2255; the core clamps clocks there too).
const MAX_END_SECS: i64 = gcra::MAX_MICROS / 1_000_000;

/// The Redis keys of one request.
pub(crate) struct Keys {
    pub(crate) epoch: String,
    pub(crate) token: String,
    pub(crate) counters: Vec<String>,
    /// For each charge, the index of the first charge on the same counter.
    pub(crate) first: Vec<usize>,
}

fn counter_letter(limit: &Limit) -> Result<char, StoreError> {
    match limit {
        Limit::Rate(_) => Ok('r'),
        Limit::Window(quota) => match quota.period() {
            Period::Day => Ok('d'),
            Period::Month => Ok('m'),
            _ => Err(StoreError::corrupt(
                "this keygate-redis does not know the quota's period: upgrade keygate-redis",
            )),
        },
    }
}

/// The key of a one-time token's use.
pub(crate) fn token_key(prefix: &str, token_id: &str) -> String {
    format!("{{{prefix}}}:t:{token_id}")
}

impl Keys {
    pub(crate) fn new(prefix: &str, request: &MeterRequest<'_>) -> Result<Self, StoreError> {
        let mut counters = Vec::with_capacity(request.charges.len());
        let mut first = Vec::with_capacity(request.charges.len());
        for charge in request.charges {
            let key = format!(
                "{{{prefix}}}:{}:{}:{}",
                counter_letter(&charge.limit)?,
                charge.account.kind.as_str(),
                charge.account.id
            );
            let same = counters.iter().position(|seen: &String| *seen == key);
            first.push(same.unwrap_or(counters.len()));
            counters.push(key);
        }
        Ok(Self {
            epoch: format!("{{{prefix}}}:epoch"),
            token: token_key(prefix, request.one_time.map_or("", |use_| use_.token_id)),
            counters,
            first,
        })
    }
}

/// What the take script decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Allowed,
    Limited(usize),
    Used,
    BeforeEpoch,
}

/// The take script's reply: its decision and the counters' stored values it read.
pub(crate) struct Taken {
    pub(crate) outcome: Outcome,
    pub(crate) stored: Vec<Option<Counter>>,
}

/// How long a counter key outlives its idle time (the skew margin, as take.lua does).
fn counter_margin_millis() -> i64 {
    i64::try_from(LEDGER_SKEW.as_millis()).unwrap_or(i64::MAX) + 1
}

fn millis_between(from_micros: i64, to_micros: i64) -> i64 {
    (to_micros - from_micros).div_euclid(1000).max(1)
}

/// The take call for `request`.
pub(crate) fn take(keys: &Keys, request: &MeterRequest<'_>) -> ScriptInvocation<'static> {
    let now = gcra::micros(request.now);
    let mut call = TAKE.prepare_invoke();
    call.key(&keys.epoch).key(&keys.token);
    for key in &keys.counters {
        call.key(key);
    }
    let skew = i64::try_from(LEDGER_SKEW.as_micros()).unwrap_or(i64::MAX);
    let margin = i64::try_from(USED_TOKEN_MARGIN.as_micros()).unwrap_or(i64::MAX);
    call.arg(now).arg(request.now.unix_timestamp());
    match request.one_time {
        Some(use_) => {
            let expires = gcra::micros(use_.expires_at).saturating_add(margin);
            call.arg(1)
                .arg(gcra::micros(use_.issued_at))
                .arg(millis_between(now, expires))
        }
        None => call.arg(0).arg(0).arg(1),
    };
    call.arg(skew);
    for charge in request.charges {
        match charge.limit {
            Limit::Rate(rate) => {
                call.arg("r")
                    .arg(gcra::emission_interval(rate))
                    .arg(rate.limit());
            }
            Limit::Window(quota) => {
                let end = window::period_end(quota.period(), request.now).min(MAX_END_SECS);
                call.arg("w").arg(quota.count()).arg(end);
            }
        }
    }
    call
}

/// Reads the take script's reply for `request`.
pub(crate) fn read_take(reply: &[i64], request: &MeterRequest<'_>) -> Result<Taken, StoreError> {
    let (code, index, rest) = match reply {
        [code, index, rest @ ..] => (*code, *index, rest),
        _ => return Err(bad_reply("too short a reply")),
    };
    if rest.len() % 3 != 0 || rest.len() / 3 > request.charges.len() {
        return Err(bad_reply("a reply of the wrong length"));
    }
    let stored = rest
        .chunks_exact(3)
        .zip(request.charges)
        .map(|(value, charge)| match (value, charge.limit) {
            ([0, _, _], _) => Ok(None),
            ([1, tat, _], Limit::Rate(_)) => Ok(Some(Counter::Tat(*tat))),
            ([1, end, used], Limit::Window(_)) => Ok(Some(Counter::Window {
                end: *end,
                used: u32::try_from(*used).map_err(|_| bad_reply("a negative count"))?,
            })),
            _ => Err(bad_reply("a counter flag that is neither 0 nor 1")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let outcome = match code {
        0 if stored.len() == request.charges.len() => Outcome::Allowed,
        1 => {
            let index = usize::try_from(index).map_err(|_| bad_reply("a negative index"))?;
            if index >= stored.len() {
                return Err(bad_reply("a refusing charge it did not read"));
            }
            Outcome::Limited(index)
        }
        2 => Outcome::Used,
        3 => Outcome::BeforeEpoch,
        _ => return Err(bad_reply("an unknown decision")),
    };
    Ok(Taken { outcome, stored })
}

/// The give-back call undoing an allowed take of `request`: `steps` are its charges'
/// steps (see [`Replay::steps`](super::replay::Replay::steps)).
pub(crate) fn give_back(
    keys: &Keys,
    request: &MeterRequest<'_>,
    stored: &[Option<Counter>],
    steps: &[Step],
) -> ScriptInvocation<'static> {
    let now = gcra::micros(request.now);
    let mut call = GIVE_BACK.prepare_invoke();
    call.key(&keys.token)
        .arg(if request.one_time.is_some() { 1 } else { 0 });
    for (index, key) in keys.counters.iter().enumerate() {
        if keys.first.get(index) != Some(&index) {
            continue;
        }
        // The last step on this counter is what the take wrote.
        let last = keys
            .first
            .iter()
            .zip(steps)
            .filter(|(first, _)| **first == index)
            .map(|(_, step)| step.after)
            .next_back();
        let units = keys.first.iter().filter(|first| **first == index).count();
        match (last, stored.get(index).copied().flatten()) {
            (Some(Counter::Tat(written)), before) => {
                call.key(key).arg("r").arg(written);
                match before {
                    Some(Counter::Tat(tat)) if tat > now => call
                        .arg(tat)
                        .arg(millis_between(now, tat) + counter_margin_millis()),
                    _ => call.arg("").arg(0),
                };
            }
            (Some(Counter::Window { end, .. }), _) => {
                call.key(key).arg("w").arg(end).arg(units).arg(0);
            }
            (None, _) => {}
        }
    }
    call
}
