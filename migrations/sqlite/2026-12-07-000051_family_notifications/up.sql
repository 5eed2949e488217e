-- Issue 27, family told of a scan: two consent choices, versioned with the others — whether the
-- resident's proxies (family, care manager) get a Web Push when the card is scanned and when a
-- hospital accepts (`notify_family`), and whether that push names the hospital
-- (`family_hospital_name`). Earlier versions said neither.
ALTER TABLE consents ADD COLUMN notify_family BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE consents ADD COLUMN family_hospital_name BOOLEAN NOT NULL DEFAULT 0;

-- Push subscriptions of residents and proxies (their browsers) live beside ED staff's, so the
-- one outbox and worker deliver both: `facility_id` is NULL for such a resident-side
-- subscription. SQLite cannot drop a NOT NULL: the table is rebuilt (nothing references it).
CREATE TABLE push_subscriptions_new (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    facility_id TEXT REFERENCES facilities (id),
    endpoint TEXT NOT NULL UNIQUE,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    label TEXT,
    created_at BIGINT NOT NULL,
    -- the escalation tier (2026-12-07-000024_escalation_chain), kept through the rebuild
    tier INTEGER NOT NULL DEFAULT 1
);
INSERT INTO push_subscriptions_new
    SELECT id, municipality_id, account_id, facility_id, endpoint, p256dh, auth, label, created_at,
        tier
    FROM push_subscriptions;
DROP TABLE push_subscriptions;
ALTER TABLE push_subscriptions_new RENAME TO push_subscriptions;
CREATE INDEX push_subscriptions_facility ON push_subscriptions (facility_id);
CREATE INDEX push_subscriptions_account ON push_subscriptions (account_id);
