-- Facilities serving several municipalities (issue 22: 広域消防, a hospital of a 二次医療圏). A
-- facility belongs to one municipality (facilities.municipality_id, its home); a row here says it
-- also serves `municipality_id`, as that municipality's admin approved (`active`) or suspended.
-- The row is the serving municipality's (its tenant column is that municipality).
CREATE TABLE facility_municipalities (
    facility_id TEXT NOT NULL REFERENCES facilities (id),
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    application_id TEXT REFERENCES facility_applications (id),
    approved_by TEXT REFERENCES accounts (id),
    approved_at BIGINT,
    suspended_by TEXT REFERENCES accounts (id),
    suspended_at BIGINT,
    PRIMARY KEY (facility_id, municipality_id)
);
CREATE INDEX facility_municipalities_served ON facility_municipalities (municipality_id, status);
