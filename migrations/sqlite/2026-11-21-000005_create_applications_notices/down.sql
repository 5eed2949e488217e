-- Drops the governance tables and narrows `facilities` back (withdrawn → suspended). Facilities of
-- the new kinds (clinic, pharmacy, care_provider, support_center) cannot go back: their rows fail
-- the old CHECK and the whole migration is refused, leaving everything as it was.

PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

DROP TABLE IF EXISTS notices;
DROP TABLE IF EXISTS application_notifications;
DROP TABLE IF EXISTS facility_applications;
DROP TABLE IF EXISTS facility_contacts;

DROP TABLE IF EXISTS facilities_old;
CREATE TABLE facilities_old (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    kind TEXT NOT NULL CHECK (kind IN ('fire_department', 'hospital')),
    name_ja TEXT NOT NULL,
    name_en TEXT NOT NULL,
    address TEXT NOT NULL,
    phone TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    listed BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO facilities_old (id, municipality_id, kind, name_ja, name_en, address, phone, status, listed, created_at)
    SELECT id, municipality_id, kind, name_ja, name_en, address, phone,
           CASE status WHEN 'withdrawn' THEN 'suspended' ELSE status END, listed, created_at
    FROM facilities;
DROP TABLE facilities;
ALTER TABLE facilities_old RENAME TO facilities;
CREATE INDEX IF NOT EXISTS facilities_municipality ON facilities (municipality_id, kind);

CREATE TEMP TABLE governance_fk_guard (violations INTEGER NOT NULL CHECK (violations = 0));
INSERT INTO governance_fk_guard SELECT COUNT(*) FROM pragma_foreign_key_check WHERE parent = 'facilities';
DROP TABLE governance_fk_guard;

COMMIT;
PRAGMA foreign_keys = ON;
