-- The escalation chain (issue 24): how far each asked hospital's alert has escalated. One row per
-- (incident, hospital, asked_at), so a hospital asked again starts over. `level` counts re-alerts
-- while unacknowledged (1 at `--escalate-after-secs`, one more every `--escalation-repeat-secs`);
-- `realerts` counts re-alerts of an acknowledged but unanswered inquiry.
CREATE TABLE target_escalations (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    hospital_id TEXT NOT NULL,
    asked_at BIGINT NOT NULL,
    level INTEGER NOT NULL DEFAULT 0,
    realerts INTEGER NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (incident_id, hospital_id, asked_at)
);

-- Who an escalation reaches (docs/api.md "Escalation chain"): tier 1 = the devices ED staff
-- registered for first call (the default), tier 2 = ED staff devices registered as backup (called
-- from escalation level 2), tier 3 = the facility manager's devices (from level 3).
ALTER TABLE push_subscriptions ADD COLUMN tier INTEGER NOT NULL DEFAULT 1;
