-- Facilities (fire departments, hospitals), enrolled field devices, one-time enrollment codes,
-- the replay cache of signed requests, and access grants (card scans and break-glass searches).

CREATE TABLE facilities (
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
CREATE INDEX facilities_municipality ON facilities (municipality_id, kind);

ALTER TABLE accounts ADD COLUMN facility_id TEXT REFERENCES facilities (id);

CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    facility_id TEXT NOT NULL REFERENCES facilities (id),
    label TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    enrolled_at BIGINT NOT NULL,
    enrolled_by TEXT NOT NULL REFERENCES accounts (id),
    revoked_at BIGINT,
    revoked_by TEXT REFERENCES accounts (id),
    revoke_reason TEXT
);
CREATE INDEX devices_facility ON devices (facility_id);

-- The session of a paramedic is bound to the device that signed the login.
ALTER TABLE sessions ADD COLUMN device_id TEXT REFERENCES devices (id);

CREATE TABLE enrollment_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    facility_id TEXT NOT NULL REFERENCES facilities (id),
    label TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    device_id TEXT REFERENCES devices (id)
);

CREATE TABLE request_nonces (
    device_id TEXT NOT NULL REFERENCES devices (id),
    nonce TEXT NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, nonce)
);
CREATE INDEX request_nonces_expiry ON request_nonces (expires_at);

CREATE TABLE accesses (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    kind TEXT NOT NULL CHECK (kind IN ('scan', 'break_glass')),
    resident_id TEXT NOT NULL REFERENCES residents (id),
    card_id TEXT,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    device_id TEXT NOT NULL REFERENCES devices (id),
    facility_id TEXT NOT NULL REFERENCES facilities (id),
    incident_ref TEXT NOT NULL,
    reason TEXT,
    categories TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    review_status TEXT CHECK (review_status IN ('pending', 'justified', 'unjustified')),
    reviewed_by TEXT REFERENCES accounts (id),
    reviewed_at BIGINT,
    review_note TEXT
);
CREATE INDEX accesses_resident ON accesses (resident_id, created_at);
CREATE INDEX accesses_review ON accesses (municipality_id, review_status);
