-- keygate schema v2 (Postgres): key listings order ids bytewise (COLLATE "C", as SQLite
-- and the memory store do), and page through them with a cursor. Indexes in the same
-- collation let a page be read from the index instead of sorting the table each time.
CREATE INDEX IF NOT EXISTS kg_keys_tenant_c ON kg_keys (tenant, created_at, id COLLATE "C");
CREATE INDEX IF NOT EXISTS kg_keys_created_c ON kg_keys (created_at, id COLLATE "C");
DROP INDEX IF EXISTS kg_keys_tenant;
DROP INDEX IF EXISTS kg_keys_created;
