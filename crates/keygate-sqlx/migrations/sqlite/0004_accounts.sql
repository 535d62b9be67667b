-- keygate schema v4 (SQLite): accounts and refills. A key may belong to an owner (a user
-- id) of its tenant, the account `<tenant>/<owner>`; a key may carry its own refill rule.
-- Balances (kg_credits) carry their refill rule and the next boundary (Unix microseconds)
-- at which it sets the balance back to its amount. Existing rows get NULLs: no owner, no
-- refill, as before.
ALTER TABLE kg_keys ADD COLUMN owner TEXT;
ALTER TABLE kg_keys ADD COLUMN refill_amount INTEGER CHECK (refill_amount > 0);
ALTER TABLE kg_keys ADD COLUMN refill_interval TEXT CHECK (refill_interval IN ('daily', 'monthly'));
CREATE INDEX IF NOT EXISTS kg_keys_account ON kg_keys (tenant, owner, created_at, id);

ALTER TABLE kg_credits ADD COLUMN refill_amount INTEGER CHECK (refill_amount > 0);
ALTER TABLE kg_credits ADD COLUMN refill_interval TEXT CHECK (refill_interval IN ('daily', 'monthly'));
ALTER TABLE kg_credits ADD COLUMN refill_at INTEGER;
