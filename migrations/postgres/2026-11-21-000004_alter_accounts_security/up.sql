-- Staff login security (RULES R2, R3, R4, R7): a TOTP second factor, consecutive-failure lockout,
-- the user's profession, and the link from a stopped ID to the one issued in its place.
ALTER TABLE accounts ADD COLUMN totp_secret TEXT;
ALTER TABLE accounts ADD COLUMN totp_last_step BIGINT;
ALTER TABLE accounts ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN locked_until BIGINT;
ALTER TABLE accounts ADD COLUMN profession TEXT;
ALTER TABLE accounts ADD COLUMN replaced_by TEXT;
ALTER TABLE accounts ADD COLUMN suspended_reason TEXT;
