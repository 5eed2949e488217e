-- Issue 19, "no silent duplicate person": a registration (self or proxy) whose person matches an
-- active resident — same name in kana (or, without kana, in kanji), date of birth and address,
-- compared without spaces or case — creates no second record. The registrant's account is
-- created and answered exactly as for a new record; what they entered is held here until the
-- city decides (docs/registration.md): `linked` (a proxy becomes a proxy of the existing record)
-- or `rejected`. `matched_resident_id` is the active record it matched; `profile` is what was
-- typed (JSON), kept only while the hold is open and erased on decision.
CREATE TABLE registration_holds (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL CHECK (kind IN ('self', 'proxy')),
    matched_resident_id TEXT NOT NULL REFERENCES residents (id),
    relation TEXT,
    relation_detail TEXT,
    consent_statement TEXT,
    profile TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'linked', 'rejected')),
    created_at BIGINT NOT NULL,
    decided_by TEXT REFERENCES accounts (id),
    decided_at BIGINT
);
CREATE INDEX registration_holds_status ON registration_holds (municipality_id, status, created_at);
CREATE INDEX registration_holds_account ON registration_holds (account_id);
