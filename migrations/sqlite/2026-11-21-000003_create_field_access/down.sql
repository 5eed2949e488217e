DROP TABLE accesses;
DROP TABLE request_nonces;
DROP TABLE enrollment_codes;
ALTER TABLE sessions DROP COLUMN device_id;
DROP TABLE devices;
ALTER TABLE accounts DROP COLUMN facility_id;
DROP TABLE facilities;
