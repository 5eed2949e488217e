ALTER TABLE cards DROP COLUMN consent_version;
