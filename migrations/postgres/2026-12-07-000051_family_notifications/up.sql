-- Issue 27, family told of a scan: two consent choices, versioned with the others — whether the
-- resident's proxies (family, care manager) get a Web Push when the card is scanned and when a
-- hospital accepts (`notify_family`), and whether that push names the hospital
-- (`family_hospital_name`). Earlier versions said neither.
ALTER TABLE consents ADD COLUMN notify_family BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE consents ADD COLUMN family_hospital_name BOOLEAN NOT NULL DEFAULT FALSE;

-- Push subscriptions of residents and proxies (their browsers) live beside ED staff's, so the
-- one outbox and worker deliver both: `facility_id` is NULL for such a resident-side
-- subscription.
ALTER TABLE push_subscriptions ALTER COLUMN facility_id DROP NOT NULL;
