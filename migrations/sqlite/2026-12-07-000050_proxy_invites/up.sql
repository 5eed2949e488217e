-- Issue 27, proxies added later: a resident invites a family member or care manager with a
-- one-time code (128 random bits, shown once; only its SHA-256 is kept) that expires; the
-- invitee, logged in as a proxy account (or registering one), accepts the proxy statement and
-- becomes a proxy. `used_at`/`used_by` mark the one use; `cancelled_at` a code the resident
-- withdrew before it was used.
CREATE TABLE proxy_invites (
    code_hash TEXT PRIMARY KEY NOT NULL,
    id TEXT NOT NULL UNIQUE,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    resident_id TEXT NOT NULL REFERENCES residents (id),
    created_by TEXT NOT NULL REFERENCES accounts (id),
    relation TEXT NOT NULL CHECK (relation IN ('family', 'relative', 'care_manager', 'guardian', 'other')),
    relation_detail TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    used_by TEXT REFERENCES accounts (id),
    cancelled_at BIGINT
);
CREATE INDEX proxy_invites_resident ON proxy_invites (resident_id, created_at);

-- A proxy the resident removed (or who stepped down) keeps its row — a consent version it gave
-- names it — but acts for nobody from `removed_at` on.
ALTER TABLE proxies ADD COLUMN removed_at BIGINT;
ALTER TABLE proxies ADD COLUMN removed_by TEXT REFERENCES accounts (id);
