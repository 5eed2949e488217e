DROP TABLE hospital_capacity;
DROP TABLE inquiry_history;
ALTER TABLE inquiry_targets DROP COLUMN reason_code;
