-- Yearly re-confirmation (issue 26; docs/operations.md *Yearly re-confirmation*): when the
-- resident's record was last confirmed as still true — at registration, import, any edit of the
-- profile, dataset or consent, or an explicit "nothing has changed" — and when its people were
-- last reminded by Web Push. A record is stale once `--reconfirm-after-months` have passed.
CREATE TABLE resident_confirmations (
    resident_id TEXT PRIMARY KEY NOT NULL REFERENCES residents (id),
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    confirmed_at BIGINT NOT NULL,
    -- `registration`, `import`, `edit`, `reconfirm` (or `backfill` for records made before this).
    how TEXT NOT NULL,
    reminded_at BIGINT
);
CREATE INDEX resident_confirmations_due ON resident_confirmations (municipality_id, confirmed_at);
-- Records made before this migration: their last change is the best we know.
INSERT INTO resident_confirmations (resident_id, municipality_id, confirmed_at, how, reminded_at)
    SELECT id, municipality_id, updated_at, 'backfill', NULL FROM residents;
