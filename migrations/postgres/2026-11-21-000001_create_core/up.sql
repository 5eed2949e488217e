-- Core tables. Every table carries municipality_id (the tenant), so PostgreSQL can later be sharded
-- by municipality. Ids are 128-bit random values as 32 lower-case hex characters; times are Unix
-- seconds (UTC); dates are ISO 8601 text; JSON is text.

CREATE TABLE municipalities (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name_ja TEXT NOT NULL,
    name_en TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK (municipality_id = id)
);

CREATE TABLE issuer_keys (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    kid TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'retired', 'compromised')),
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    PRIMARY KEY (municipality_id, kid)
);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    login_id TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('resident', 'proxy', 'paramedic', 'ed_staff', 'facility_manager', 'city_admin', 'disaster_responder')),
    display_name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at BIGINT NOT NULL,
    UNIQUE (municipality_id, login_id)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE residents (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    account_id TEXT REFERENCES accounts (id),
    family_name TEXT NOT NULL,
    given_name TEXT NOT NULL,
    family_name_kana TEXT,
    given_name_kana TEXT,
    date_of_birth TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('female', 'male', 'other', 'unknown')),
    address TEXT NOT NULL,
    district TEXT,
    phone TEXT,
    preferred_language TEXT NOT NULL CHECK (preferred_language IN ('ja', 'en')),
    status TEXT NOT NULL CHECK (status IN ('active', 'withdrawn', 'purged')),
    withdrawn_at BIGINT,
    purge_after BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX residents_lookup ON residents (municipality_id, date_of_birth);
CREATE UNIQUE INDEX residents_account ON residents (account_id);

CREATE TABLE proxies (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    resident_id TEXT NOT NULL REFERENCES residents (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    relation TEXT NOT NULL CHECK (relation IN ('family', 'relative', 'care_manager', 'guardian', 'other')),
    relation_detail TEXT,
    consent_statement TEXT NOT NULL,
    consented_at BIGINT NOT NULL,
    UNIQUE (resident_id, account_id)
);

CREATE TABLE dataset_items (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    resident_id TEXT NOT NULL REFERENCES residents (id),
    category TEXT NOT NULL,
    body TEXT NOT NULL,
    provenance TEXT NOT NULL CHECK (provenance IN ('self', 'proxy', 'clinician')),
    last_verified TEXT,
    updated_by TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX dataset_items_resident ON dataset_items (resident_id, category);

CREATE TABLE consents (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    resident_id TEXT NOT NULL REFERENCES residents (id),
    version INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('granted', 'withdrawn')),
    categories TEXT NOT NULL,
    disaster_use BOOLEAN NOT NULL,
    triage_on_card BOOLEAN NOT NULL,
    name_on_print BOOLEAN NOT NULL,
    given_by TEXT NOT NULL CHECK (given_by IN ('self', 'proxy')),
    proxy_id TEXT REFERENCES proxies (id),
    recorded_by TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    UNIQUE (resident_id, version)
);

CREATE TABLE cards (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    resident_id TEXT NOT NULL REFERENCES residents (id),
    kid TEXT NOT NULL,
    cose BYTEA NOT NULL,
    triage BOOLEAN NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    revoked_at BIGINT,
    revoke_reason TEXT,
    FOREIGN KEY (municipality_id, kid) REFERENCES issuer_keys (municipality_id, kid)
);
CREATE INDEX cards_resident ON cards (resident_id);
CREATE INDEX cards_revoked ON cards (municipality_id, kid, status);
