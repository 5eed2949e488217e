CREATE TABLE request_nonces (
    device_id TEXT NOT NULL REFERENCES devices (id),
    nonce TEXT NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, nonce)
);
CREATE INDEX request_nonces_expiry ON request_nonces (expires_at);

-- Kept 600 s after acceptance, which was within 60 s of created.
INSERT INTO request_nonces (device_id, nonce, municipality_id, expires_at)
SELECT device_id, nonce, MIN(municipality_id), MAX(created) + 660
FROM spent_nonces GROUP BY device_id, nonce;

DROP TABLE spent_nonces;
