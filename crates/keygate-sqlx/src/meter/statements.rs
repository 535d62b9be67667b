//! The SQL the meter runs, one statement per decision, the same text on SQLite and
//! Postgres.

// The balance of the row as it stands at `$now`: a refill that is due sets it back to the
// refill's amount. `{now}` is replaced with the statement's parameter for the time.
macro_rules! effective {
    ($now:literal) => {
        concat!(
            "CASE WHEN kg_credits.refill_amount IS NOT NULL AND kg_credits.refill_at <= ",
            $now,
            " THEN kg_credits.refill_amount ELSE kg_credits.balance END"
        )
    };
}
// The row's next refill boundary once a due refill is applied: `$day` or `$month`, the
// first boundary of each interval after now.
macro_rules! next_refill_at {
    ($now:literal, $day:literal, $month:literal) => {
        concat!(
            "CASE WHEN kg_credits.refill_amount IS NOT NULL AND kg_credits.refill_at <= ",
            $now,
            " THEN (CASE kg_credits.refill_interval WHEN 'daily' THEN ",
            $day,
            " ELSE ",
            $month,
            " END) ELSE kg_credits.refill_at END"
        )
    };
}

// Takes `$3` credits from account `$1`, a due refill applied first (`$8` now, `$9`/`$10`
// the next daily/monthly boundary); a new row (only where `$7`: a key lineage) is seeded
// with `$2` and the refill rule `$4`/`$5`/`$6`. Returns the new balance, or no row when
// the balance is short (or an owner account has none). One statement: the refill, the
// conditional update and the seed are one atomic step on both backends, so a refill
// applies once however many requests cross the boundary together. The insert is
// attempted whenever the row exists (rows are never deleted), so a balance topped up
// above the allowance can pay a cost above the allowance; the proposed row is never
// negative, so the balance check constraint holds for it too.
pub(super) const DEBIT: &str = concat!(
    "INSERT INTO kg_credits (account, balance, refill_amount, refill_interval, refill_at) \
     SELECT $1, CASE WHEN $2 >= $3 THEN $2 - $3 ELSE 0 END, $4, $5, $6 \
     WHERE ($7 AND $2 >= $3) OR EXISTS (SELECT 1 FROM kg_credits WHERE account = $1) \
     ON CONFLICT (account) DO UPDATE SET balance = ",
    effective!("$8"),
    " - $3, refill_at = ",
    next_refill_at!("$8", "$9", "$10"),
    " WHERE ",
    effective!("$8"),
    " >= $3 RETURNING balance"
);
// The balance of `$1` at `$2` (a due refill counted) and its refill rule.
pub(super) const BALANCE: &str = "SELECT CASE WHEN refill_amount IS NOT NULL AND refill_at <= $2 \
     THEN refill_amount ELSE balance END, refill_amount, refill_interval \
     FROM kg_credits WHERE account = $1";
// Adds `$3` to account `$1`, a due refill applied first (`$8` now, `$9`/`$10` the next
// boundaries), saturating at `$4`; a new row (only where `$11`) is seeded with `$2` and
// the refill rule `$5`/`$6`/`$7`.
pub(super) const CREDIT: &str = concat!(
    "INSERT INTO kg_credits (account, balance, refill_amount, refill_interval, refill_at) \
     SELECT $1, $2, $5, $6, $7 \
     WHERE $11 OR EXISTS (SELECT 1 FROM kg_credits WHERE account = $1) \
     ON CONFLICT (account) DO UPDATE SET balance = CASE WHEN ",
    effective!("$8"),
    " > $4 - $3 THEN $4 ELSE ",
    effective!("$8"),
    " + $3 END, refill_at = ",
    next_refill_at!("$8", "$9", "$10"),
    " RETURNING balance"
);
// Sets the refill rule of `$1` to `$2` every `$3`, next at `$4`, a due refill of the old
// rule applied first (`$5` now); a new row starts at `$2`.
pub(super) const SET_REFILL: &str = concat!(
    "INSERT INTO kg_credits (account, balance, refill_amount, refill_interval, refill_at) \
     VALUES ($1, $2, $2, $3, $4) \
     ON CONFLICT (account) DO UPDATE SET balance = ",
    effective!("$5"),
    ", refill_amount = $2, refill_interval = $3, refill_at = $4 RETURNING balance"
);
// Clears the refill rule of `$1`, a due refill applied first (`$2` now).
pub(super) const CLEAR_REFILL: &str = concat!(
    "UPDATE kg_credits SET balance = ",
    effective!("$2"),
    ", refill_amount = NULL, refill_interval = NULL, refill_at = NULL \
     WHERE account = $1 RETURNING balance"
);
// Records a one-time token's use; no row changes when it was used before.
pub(super) const USE_TOKEN: &str = "INSERT INTO kg_used_tokens (token_id, expires_at) VALUES ($1, $2) \
     ON CONFLICT (token_id) DO NOTHING";
// Gives a one-time token's use back (the request that took it was refused after all).
pub(super) const RELEASE_TOKEN: &str = "DELETE FROM kg_used_tokens WHERE token_id = $1";
pub(super) const PURGE_TOKENS: &str = "DELETE FROM kg_used_tokens WHERE expires_at < $1";
// Takes one from the fixed window `$1` (period ending `$2`, Unix seconds) of `$3` per
// period at `$4` (Unix seconds): a row whose period has ended starts again from one.
// Returns the count and period end after the take, or no row when the window is used up.
// One statement: concurrent requests on any number of instances never exceed the count.
pub(super) const TAKE_WINDOW: &str = "INSERT INTO kg_windows (counter, period_end, used) VALUES ($1, $2, 1) \
     ON CONFLICT (counter) DO UPDATE SET \
     used = CASE WHEN kg_windows.period_end <= $4 THEN 1 ELSE kg_windows.used + 1 END, \
     period_end = CASE WHEN kg_windows.period_end <= $4 THEN $2 ELSE kg_windows.period_end END \
     WHERE kg_windows.period_end <= $4 OR kg_windows.used < $3 \
     RETURNING used, period_end";
pub(super) const PURGE_WINDOWS: &str = "DELETE FROM kg_windows WHERE period_end <= $1";
