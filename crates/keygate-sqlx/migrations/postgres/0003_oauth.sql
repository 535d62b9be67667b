-- keygate schema v3 (Postgres): the OAuth 2.0 authorization server (keygate-oauth). Codes
-- and tokens are kept as the SHA-256 of their text, client secrets as argon2id. Times
-- are Unix microseconds.

CREATE TABLE IF NOT EXISTS kg_oauth_clients (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    tenant        TEXT,
    redirect_uris TEXT NOT NULL, -- a JSON array of exact URIs
    scopes        TEXT NOT NULL, -- space-separated
    secret_hash   TEXT,          -- argon2id PHC string; NULL for a public client
    created_at    BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS kg_oauth_clients_tenant ON kg_oauth_clients (tenant, created_at, id);

-- One approval, and every token issued from it: revoking it ends them all.
CREATE TABLE IF NOT EXISTS kg_oauth_grants (
    id         TEXT PRIMARY KEY NOT NULL,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    tenant     TEXT,
    scopes     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX IF NOT EXISTS kg_oauth_grants_client ON kg_oauth_grants (client_id);

CREATE TABLE IF NOT EXISTS kg_oauth_codes (
    digest             BYTEA PRIMARY KEY NOT NULL,
    grant_id           TEXT NOT NULL,
    client_id          TEXT NOT NULL,
    redirect_uri       TEXT NOT NULL,
    redirect_uri_given BOOLEAN NOT NULL,
    challenge          TEXT NOT NULL,
    subject            TEXT NOT NULL,
    tenant             TEXT,
    scopes             TEXT NOT NULL,
    expires_at         BIGINT NOT NULL,
    used               BOOLEAN NOT NULL
);
CREATE INDEX IF NOT EXISTS kg_oauth_codes_expiry ON kg_oauth_codes (expires_at);
CREATE INDEX IF NOT EXISTS kg_oauth_codes_client ON kg_oauth_codes (client_id);

-- Access and refresh tokens.
CREATE TABLE IF NOT EXISTS kg_oauth_tokens (
    digest     BYTEA PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL, -- 'access' or 'refresh'
    grant_id   TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used       BOOLEAN NOT NULL
);
CREATE INDEX IF NOT EXISTS kg_oauth_tokens_grant ON kg_oauth_tokens (grant_id);
CREATE INDEX IF NOT EXISTS kg_oauth_tokens_expiry ON kg_oauth_tokens (expires_at);
