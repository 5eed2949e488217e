-- Spent request nonces keyed by the request's signed time first (docs/device-protocol.md, step 5).
-- A replay carries the signed `created` of the request it copies, so (created, device_id, nonce)
-- catches every replay that (device_id, nonce) caught, while new keys land at the right edge of
-- one b-tree (one page per group commit instead of one random page per request), and purging
-- (created older than 10 minutes; a replay is refused by the ±60 s signature window long before)
-- is a range at the left edge, with no second index.
CREATE TABLE spent_nonces (
    created BIGINT NOT NULL,
    device_id TEXT NOT NULL REFERENCES devices (id),
    nonce TEXT NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    PRIMARY KEY (created, device_id, nonce)
) WITHOUT ROWID;

-- The old table did not keep `created`, only the acceptance time (expires_at − 600 s), and an
-- accepted request's created was within ±60 s of it. So each nonce a replay could still use is
-- carried over under all 121 created values it may have signed: those the old server would
-- still have kept (accepted at most 600 s before the newest one).
INSERT INTO spent_nonces (created, device_id, nonce, municipality_id)
WITH RECURSIVE offsets (d) AS (SELECT -60 UNION ALL SELECT d + 1 FROM offsets WHERE d < 60)
SELECT n.expires_at - 600 + o.d, n.device_id, n.nonce, n.municipality_id
FROM request_nonces n CROSS JOIN offsets o
WHERE n.expires_at >= (SELECT MAX(expires_at) FROM request_nonces) - 600;

DROP TABLE request_nonces;
