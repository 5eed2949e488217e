DROP TABLE push_outbox;
DROP TABLE push_subscriptions;
DROP TABLE feed_events;
DROP TABLE feed_heads;
DROP TABLE inquiry_targets;
DROP TABLE incident_attachments;
DROP TABLE incident_reports;
DROP TABLE incidents;
