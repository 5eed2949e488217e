-- Governance (RULES R1, R6, R15, R17): facility applications, change and withdrawal requests, the
-- notifications of the city's decisions, facilities' contacts and system managers, and notices.
-- Also widens `facilities`: kinds clinic, pharmacy, care_provider, support_center; status
-- `withdrawn` (an approved withdrawal). PostgreSQL alters the CHECK constraints in place (the
-- SQLite migration rebuilds the table to the same definition); the whole migration is one
-- transaction.

ALTER TABLE facilities DROP CONSTRAINT facilities_kind_check;
ALTER TABLE facilities ADD CONSTRAINT facilities_kind_check
    CHECK (kind IN ('fire_department', 'hospital', 'clinic', 'pharmacy', 'care_provider', 'support_center'));
ALTER TABLE facilities DROP CONSTRAINT facilities_status_check;
ALTER TABLE facilities ADD CONSTRAINT facilities_status_check
    CHECK (status IN ('active', 'suspended', 'withdrawn'));

-- Contact details and the system manager (R6) of a facility that came in by application.
CREATE TABLE IF NOT EXISTS facility_contacts (
    facility_id TEXT PRIMARY KEY NOT NULL REFERENCES facilities (id),
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    contact_email TEXT NOT NULL,
    manager_name TEXT NOT NULL,
    manager_phone TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Applications to join (request_type 'application'), and a facility's change and withdrawal
-- requests, in one table: the city decides them all the same way. The fields are the applied
-- values (for a change: only the fields to change; NULL = unchanged). The status token is stored
-- as its SHA-256 (hex); the token itself is shown once.
CREATE TABLE IF NOT EXISTS facility_applications (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    request_type TEXT NOT NULL CHECK (request_type IN ('application', 'change', 'withdrawal')),
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    facility_id TEXT REFERENCES facilities (id),
    kind TEXT CHECK (kind IN ('fire_department', 'hospital', 'clinic', 'pharmacy', 'care_provider', 'support_center')),
    name_ja TEXT,
    name_en TEXT,
    address TEXT,
    phone TEXT,
    contact_email TEXT,
    manager_name TEXT,
    manager_phone TEXT,
    listed BOOLEAN,
    note TEXT,
    status_token_hash TEXT NOT NULL UNIQUE,
    submitted_by TEXT REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT REFERENCES accounts (id),
    reason TEXT,
    CHECK (request_type = 'application' OR facility_id IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS facility_applications_queue ON facility_applications (municipality_id, status, created_at);
CREATE INDEX IF NOT EXISTS facility_applications_facility ON facility_applications (facility_id, status);

-- The applicant's notification of the decision, read through the status endpoint. E-mail is not
-- sent (email_sent_at stays NULL); a delivery worker would set it.
CREATE TABLE IF NOT EXISTS application_notifications (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    application_id TEXT NOT NULL UNIQUE REFERENCES facility_applications (id),
    status TEXT NOT NULL CHECK (status IN ('approved', 'rejected')),
    reason TEXT,
    facility_id TEXT REFERENCES facilities (id),
    recipient_email TEXT,
    created_at BIGINT NOT NULL,
    email_sent_at BIGINT
);

-- Notices to facilities and users (R17). Withdrawn notices are kept, no longer shown.
CREATE TABLE IF NOT EXISTS notices (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    kind TEXT NOT NULL CHECK (kind IN ('service_change', 'planned_suspension', 'incident')),
    title_ja TEXT NOT NULL,
    title_en TEXT NOT NULL,
    body_ja TEXT NOT NULL,
    body_en TEXT NOT NULL,
    starts_at BIGINT,
    ends_at BIGINT,
    termination BOOLEAN NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('published', 'withdrawn')),
    created_by TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    withdrawn_by TEXT REFERENCES accounts (id),
    withdrawn_at BIGINT,
    CHECK (NOT termination OR kind = 'planned_suspension')
);
CREATE INDEX IF NOT EXISTS notices_published ON notices (municipality_id, status, created_at);
