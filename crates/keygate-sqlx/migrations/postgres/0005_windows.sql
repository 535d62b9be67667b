-- keygate schema v5 (Postgres): fixed-window counters (quotas per UTC day or month), shared
-- by every instance on the database. One row per account and period:
-- `<kind>:<day|month>:<id>`; `period_end` is the end of the counted period (Unix seconds),
-- `used` the requests admitted in it. A row whose period has ended counts as zero and is
-- overwritten by the next request.
CREATE TABLE IF NOT EXISTS kg_windows (
    counter    TEXT PRIMARY KEY,
    period_end BIGINT NOT NULL,
    used       BIGINT NOT NULL CHECK (used >= 0)
);
