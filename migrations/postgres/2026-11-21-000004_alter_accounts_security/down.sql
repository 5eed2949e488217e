ALTER TABLE accounts DROP COLUMN suspended_reason;
ALTER TABLE accounts DROP COLUMN replaced_by;
ALTER TABLE accounts DROP COLUMN profession;
ALTER TABLE accounts DROP COLUMN locked_until;
ALTER TABLE accounts DROP COLUMN failed_logins;
ALTER TABLE accounts DROP COLUMN totp_last_step;
ALTER TABLE accounts DROP COLUMN totp_secret;
