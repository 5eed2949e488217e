ALTER TABLE push_subscriptions DROP COLUMN tier;
DROP TABLE target_escalations;
