DELETE FROM push_subscriptions WHERE facility_id IS NULL;
ALTER TABLE push_subscriptions ALTER COLUMN facility_id SET NOT NULL;
ALTER TABLE consents DROP COLUMN family_hospital_name;
ALTER TABLE consents DROP COLUMN notify_family;
