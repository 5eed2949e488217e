-- Bulk onboarding from a city's paper-kit register (issue 26; docs/operations.md *Importing a
-- paper-kit register*). One row per run of `kyukit residents import` (not for a dry run).
CREATE TABLE resident_imports (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    file_sha256 TEXT NOT NULL,
    imported_by TEXT NOT NULL REFERENCES accounts (id),
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    rows_total INTEGER NOT NULL,
    rows_imported INTEGER NOT NULL,
    rows_already INTEGER NOT NULL,
    rows_rejected INTEGER NOT NULL
);
-- Which import made a resident, with the row's natural key (SHA-256 over the person's normalised
-- names, kana, date of birth and address): a re-run finds the key and imports nothing twice. The
-- row is deleted when the resident is purged after 支援中止.
CREATE TABLE imported_residents (
    resident_id TEXT PRIMARY KEY NOT NULL REFERENCES residents (id),
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    import_id TEXT NOT NULL REFERENCES resident_imports (id),
    import_key TEXT NOT NULL,
    line INTEGER NOT NULL
);
CREATE UNIQUE INDEX imported_residents_key ON imported_residents (municipality_id, import_key);
CREATE INDEX imported_residents_import ON imported_residents (import_id);
-- A consent version given on the paper kit's form ("paper consent on file"): the form's number,
-- the date it was signed, and whether the resident or their family signed it.
CREATE TABLE paper_consents (
    consent_id TEXT PRIMARY KEY NOT NULL REFERENCES consents (id),
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    resident_id TEXT NOT NULL REFERENCES residents (id),
    form_number TEXT NOT NULL,
    signed_on TEXT NOT NULL,
    signed_by TEXT NOT NULL,
    import_id TEXT REFERENCES resident_imports (id)
);
CREATE INDEX paper_consents_resident ON paper_consents (resident_id);
