-- Issue 25, 受入照会 as 搬送困難事案 reporting needs it:
--
-- `inquiry_targets.reason_code`: a decline's coded reason (the categories of the FDMA survey of
-- difficult transports): `treatment_difficult` (処置困難), `busy` (手術中・患者対応中),
-- `beds_full` (ベッド満床), `outside_specialty` (専門外), `no_physician` (医師不在), `first_visit`
-- (初診（かかりつけ医なし）), `other`
-- (その他, with the free-text `reason`).
--
-- `inquiry_history`: a hospital's earlier answer for an incident, kept when the crew asks it
-- again (or assigns it) and its `inquiry_targets` row starts over; so the number of inquiries and
-- declines per incident counts every ask, and no answer is erased.
--
-- `hospital_capacity`: what an ED publishes now per category (応需情報), shown to crews choosing
-- whom to ask: `available` (受入可), `limited` (条件付き), `unavailable` (受入不可).
ALTER TABLE inquiry_targets ADD COLUMN reason_code TEXT;

CREATE TABLE inquiry_history (
    id TEXT PRIMARY KEY NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    hospital_id TEXT NOT NULL REFERENCES facilities (id),
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    status TEXT NOT NULL CHECK (status IN
        ('pending', 'accepted', 'declined', 'superseded', 'released', 'withdrawn', 'assigned')),
    reason_code TEXT,
    reason TEXT,
    asked_at BIGINT NOT NULL,
    answered_by TEXT REFERENCES accounts (id),
    answered_at BIGINT,
    archived_at BIGINT NOT NULL
);
CREATE INDEX inquiry_history_incident ON inquiry_history (incident_id, hospital_id, asked_at);

CREATE TABLE hospital_capacity (
    facility_id TEXT NOT NULL REFERENCES facilities (id),
    category TEXT NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    status TEXT NOT NULL CHECK (status IN ('available', 'limited', 'unavailable')),
    note TEXT,
    updated_by TEXT NOT NULL REFERENCES accounts (id),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (facility_id, category)
);
