-- Disaster mode (RULES R11): the city's declarations, and the disaster responders' reads.
--
-- A declaration covers some districts (`districts`: a JSON array of `residents.district` values;
-- `[]` = the whole municipality) for at most 14 days. It is in force while
-- starts_at <= now < min(ends_at, ended_at): it ends by itself at `ends_at`, or earlier when the
-- city ends it (`ended_at`). A renewal is a new row (`renewed_from` = the renewed one, starting
-- when the renewal is made), and the renewed row is ended at that moment, so every row's period
-- stays within 14 days.
--
-- Disaster reads are recorded in their own table, not in `accesses`: an access row needs a device
-- and a facility, and disaster responders log in with a password and belong to no facility.

CREATE TABLE disaster_declarations (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    districts TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    reason TEXT NOT NULL,
    declared_by TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    renewed_from TEXT REFERENCES disaster_declarations (id),
    ended_at BIGINT,
    CHECK (ends_at > starts_at AND ends_at - starts_at <= 1209600)
);
CREATE INDEX disaster_declarations_period ON disaster_declarations (municipality_id, ends_at);
CREATE UNIQUE INDEX disaster_declarations_renewal ON disaster_declarations (renewed_from);

CREATE TABLE disaster_accesses (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    declaration_id TEXT NOT NULL REFERENCES disaster_declarations (id),
    resident_id TEXT NOT NULL REFERENCES residents (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    categories TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX disaster_accesses_resident ON disaster_accesses (resident_id, created_at);
