-- Issue 21, biometric unlock: a paramedic's platform authenticator (WebAuthn, ES256, user
-- verification required), registered per account and device. Only the public key is kept (COSE
-- x and y as an uncompressed SEC1 point, base64url); `sign_count` is the authenticator's counter
-- (0 for authenticators without one). Rows go with the device's revocation and the account's
-- suspension (service::webauthn).
CREATE TABLE webauthn_credentials (
    credential_id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    device_id TEXT NOT NULL REFERENCES devices (id),
    public_key TEXT NOT NULL,
    sign_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX webauthn_credentials_device ON webauthn_credentials (device_id, account_id);

-- A challenge handed out by a begin step, spent by its finish (once, before `expires_at`), for
-- the device that asked (and, for a registration, the account whose session asked).
CREATE TABLE webauthn_challenges (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    device_id TEXT NOT NULL REFERENCES devices (id),
    account_id TEXT REFERENCES accounts (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('register', 'unlock')),
    challenge TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges (expires_at);
