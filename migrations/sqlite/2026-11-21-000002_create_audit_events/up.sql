-- The audit log: one hash chain per municipality. `audit_heads` holds the chain's last sequence
-- number and hash; appending first updates the head row (which locks it in PostgreSQL), so
-- concurrent appends are serialised and the chain cannot fork.

CREATE TABLE audit_heads (
    municipality_id TEXT PRIMARY KEY NOT NULL REFERENCES municipalities (id),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE audit_events (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor_account_id TEXT,
    actor_role TEXT,
    device_id TEXT,
    facility_id TEXT,
    resident_id TEXT,
    action TEXT NOT NULL,
    purpose TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (municipality_id, seq)
);
CREATE INDEX audit_events_resident ON audit_events (resident_id, at);
