DELETE FROM push_subscriptions WHERE facility_id IS NULL;
CREATE TABLE push_subscriptions_old (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    facility_id TEXT NOT NULL REFERENCES facilities (id),
    endpoint TEXT NOT NULL UNIQUE,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    label TEXT,
    created_at BIGINT NOT NULL,
    tier INTEGER NOT NULL DEFAULT 1
);
INSERT INTO push_subscriptions_old SELECT * FROM push_subscriptions;
DROP TABLE push_subscriptions;
ALTER TABLE push_subscriptions_old RENAME TO push_subscriptions;
CREATE INDEX push_subscriptions_facility ON push_subscriptions (facility_id);
CREATE INDEX push_subscriptions_account ON push_subscriptions (account_id);
ALTER TABLE consents DROP COLUMN family_hospital_name;
ALTER TABLE consents DROP COLUMN notify_family;
