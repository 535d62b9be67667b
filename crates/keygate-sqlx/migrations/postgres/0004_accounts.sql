-- keygate schema v4 (Postgres): accounts and refills. A key may belong to an owner (a
-- user id) of its tenant, the account `<tenant>/<owner>`; a key may carry its own refill
-- rule. Balances (kg_credits) carry their refill rule and the next boundary (Unix
-- microseconds) at which it sets the balance back to its amount. Existing rows get NULLs:
-- no owner, no refill, as before.
ALTER TABLE kg_keys ADD COLUMN IF NOT EXISTS owner TEXT;
ALTER TABLE kg_keys ADD COLUMN IF NOT EXISTS refill_amount BIGINT CHECK (refill_amount > 0);
ALTER TABLE kg_keys ADD COLUMN IF NOT EXISTS refill_interval TEXT
    CHECK (refill_interval IN ('daily', 'monthly'));
CREATE INDEX IF NOT EXISTS kg_keys_account
    ON kg_keys (tenant COLLATE "C", owner COLLATE "C", created_at, id COLLATE "C");

ALTER TABLE kg_credits ADD COLUMN IF NOT EXISTS refill_amount BIGINT CHECK (refill_amount > 0);
ALTER TABLE kg_credits ADD COLUMN IF NOT EXISTS refill_interval TEXT
    CHECK (refill_interval IN ('daily', 'monthly'));
ALTER TABLE kg_credits ADD COLUMN IF NOT EXISTS refill_at BIGINT;
