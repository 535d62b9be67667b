-- keygate schema v1 (SQLite). Times are Unix microseconds (INTEGER); digests are the
-- 32-byte HMAC-SHA256 of a key under the pepper named in `pepper`.

-- Key records (KeyStore). Only the digest of a key is stored, never its text.
CREATE TABLE IF NOT EXISTS kg_keys (
    id          TEXT PRIMARY KEY NOT NULL,
    lineage     TEXT NOT NULL,
    pepper      TEXT NOT NULL,
    digest      BLOB NOT NULL,
    prefix      TEXT NOT NULL,
    start       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    environment TEXT NOT NULL,
    tenant      TEXT,
    name        TEXT,
    scopes      TEXT NOT NULL,
    rate_limit  INTEGER,
    rate_window INTEGER,
    credits     INTEGER,
    metadata    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER,
    valid_until INTEGER,
    UNIQUE (pepper, digest)
);
CREATE INDEX IF NOT EXISTS kg_keys_tenant ON kg_keys (tenant, created_at, id);
CREATE INDEX IF NOT EXISTS kg_keys_created ON kg_keys (created_at, id);

-- Credit balances (Meter), one per key lineage.
CREATE TABLE IF NOT EXISTS kg_credits (
    account TEXT PRIMARY KEY NOT NULL,
    balance INTEGER NOT NULL CHECK (balance >= 0)
);

-- One-time tokens already used (Meter), kept until shortly after they expire.
CREATE TABLE IF NOT EXISTS kg_used_tokens (
    token_id   TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS kg_used_tokens_expiry ON kg_used_tokens (expires_at);

-- Settings shared by every instance: written once, then read.
CREATE TABLE IF NOT EXISTS kg_settings (
    name       TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Key changes (revoke, rotate), for caches of other processes on the same file to poll.
CREATE TABLE IF NOT EXISTS kg_key_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    message    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
