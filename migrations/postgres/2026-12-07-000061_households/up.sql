-- Issue 27, the household sticker (玄関): one signed pointer at a home's entrance
-- (docs/card-format.md §9). `id` is the sticker's household id (its CWT cti, 128 random bits);
-- `cose` the exact bytes signed. The members are residents who consented to be listed (each
-- by themself or a proxy); a member who leaves has `left_at` and is listed no more. A revoked
-- sticker lists nobody.
CREATE TABLE households (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    created_by TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    kid TEXT NOT NULL,
    cose BYTEA NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    revoked_at BIGINT,
    revoked_by TEXT REFERENCES accounts (id)
);

CREATE TABLE household_members (
    household_id TEXT NOT NULL REFERENCES households (id),
    resident_id TEXT NOT NULL REFERENCES residents (id),
    added_by TEXT NOT NULL REFERENCES accounts (id),
    consented_at BIGINT NOT NULL,
    left_at BIGINT,
    left_by TEXT REFERENCES accounts (id),
    PRIMARY KEY (household_id, resident_id)
);
CREATE INDEX household_members_resident ON household_members (resident_id);
