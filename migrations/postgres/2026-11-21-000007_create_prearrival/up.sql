-- Pre-arrival (DESIGN §4, RULES R20): incidents opened by paramedic devices, their versioned
-- reports and attachments, the acceptance inquiry (受入照会) to hospitals, the live feed per
-- facility, and Web Push subscriptions with their delivery outbox.
--
-- `incidents.version` is the latest report version (0 = none yet); a report is accepted only if
-- its base version equals it (optimistic concurrency). `incidents.destination_id` is the accepting
-- (or assigned) hospital. `incidents.seed` (JSON) is what the linked scan disclosed, reduced to what
-- a report needs (age, sex, medications, allergies, conditions, …): it pre-fills every report.
--
-- `inquiry_targets`: one row per hospital asked. status: pending → accepted | declined |
-- superseded (another hospital accepted) | released (the destination moved away) | withdrawn
-- (the crew stopped asking); `assigned` = made the destination by the crew without an inquiry.
-- The first acceptance wins: a conditional UPDATE of `incidents` (status 'open' → 'accepted').
--
-- `feed_events` is the live feed of one facility (a hospital or a fire department), numbered by
-- `feed_heads.seq`: the writer increments its facility's head row, so on PostgreSQL the row lock
-- orders commits and a reader never sees seq n+1 before seq n (SSE `Last-Event-ID` resumes from it).
--
-- `push_outbox`: one row per (delivery, subscription), written in the transaction that caused it;
-- workers lease due rows (PostgreSQL: FOR UPDATE SKIP LOCKED) so no two instances send one row.

CREATE TABLE incidents (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    facility_id TEXT NOT NULL REFERENCES facilities (id),
    device_id TEXT NOT NULL REFERENCES devices (id),
    opened_by TEXT NOT NULL REFERENCES accounts (id),
    access_id TEXT REFERENCES accesses (id),
    incident_ref TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'accepted', 'arrived', 'cancelled')),
    destination_id TEXT REFERENCES facilities (id),
    version INTEGER NOT NULL DEFAULT 0,
    activation TEXT,
    eta_at BIGINT,
    seed TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE INDEX incidents_facility ON incidents (facility_id, status);

CREATE TABLE incident_reports (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    version INTEGER NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    body TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES accounts (id),
    device_id TEXT NOT NULL REFERENCES devices (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (incident_id, version)
);

CREATE TABLE incident_attachments (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    data BYTEA NOT NULL,
    created_by TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX incident_attachments_incident ON incident_attachments (incident_id);

CREATE TABLE inquiry_targets (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    hospital_id TEXT NOT NULL REFERENCES facilities (id),
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    status TEXT NOT NULL CHECK (status IN
        ('pending', 'accepted', 'declined', 'superseded', 'released', 'withdrawn', 'assigned')),
    reason TEXT,
    asked_at BIGINT NOT NULL,
    answered_by TEXT REFERENCES accounts (id),
    answered_at BIGINT,
    acknowledged_by TEXT REFERENCES accounts (id),
    acknowledged_at BIGINT,
    escalated_at BIGINT,
    PRIMARY KEY (incident_id, hospital_id)
);
CREATE INDEX inquiry_targets_hospital ON inquiry_targets (hospital_id, status);
CREATE INDEX inquiry_targets_unacknowledged ON inquiry_targets (acknowledged_at, escalated_at, asked_at);

CREATE TABLE feed_heads (
    facility_id TEXT PRIMARY KEY NOT NULL REFERENCES facilities (id),
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    seq BIGINT NOT NULL
);

CREATE TABLE feed_events (
    facility_id TEXT NOT NULL REFERENCES facilities (id),
    seq BIGINT NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (facility_id, seq)
);

CREATE TABLE push_subscriptions (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    facility_id TEXT NOT NULL REFERENCES facilities (id),
    endpoint TEXT NOT NULL UNIQUE,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    label TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_facility ON push_subscriptions (facility_id);
CREATE INDEX push_subscriptions_account ON push_subscriptions (account_id);

CREATE TABLE push_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    subscription_id TEXT NOT NULL,
    incident_id TEXT REFERENCES incidents (id),
    payload TEXT NOT NULL,
    ttl_secs INTEGER NOT NULL,
    urgency TEXT NOT NULL CHECK (urgency IN ('very-low', 'low', 'normal', 'high')),
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'gone', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_status INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    done_at BIGINT
);
CREATE INDEX push_outbox_due ON push_outbox (status, next_attempt_at);
