-- A resident's face photo for identity confirmation (issue 19; docs/api.md *Identity photo*): at most
-- one per resident, a JPEG the server re-encoded itself (no EXIF or other metadata), kept only while
-- the consent in force includes `photo` (a consent version without it deletes the row in the same
-- transaction). Never on the card, the tag, the printables or FHIR.
CREATE TABLE resident_photos (
    resident_id TEXT PRIMARY KEY NOT NULL REFERENCES residents (id),
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    jpeg BLOB NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_by TEXT NOT NULL REFERENCES accounts (id),
    updated_at BIGINT NOT NULL
);
