-- Drops the governance tables and narrows `facilities` back (withdrawn → suspended). Facilities of
-- the new kinds (clinic, pharmacy, care_provider, support_center) cannot go back: they fail the old
-- CHECK and the whole migration is refused, leaving everything as it was.

DROP TABLE IF EXISTS notices;
DROP TABLE IF EXISTS application_notifications;
DROP TABLE IF EXISTS facility_applications;
DROP TABLE IF EXISTS facility_contacts;

UPDATE facilities SET status = 'suspended' WHERE status = 'withdrawn';
ALTER TABLE facilities DROP CONSTRAINT facilities_status_check;
ALTER TABLE facilities ADD CONSTRAINT facilities_status_check
    CHECK (status IN ('active', 'suspended'));
ALTER TABLE facilities DROP CONSTRAINT facilities_kind_check;
ALTER TABLE facilities ADD CONSTRAINT facilities_kind_check
    CHECK (kind IN ('fire_department', 'hospital'));
