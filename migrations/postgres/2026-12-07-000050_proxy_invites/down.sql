ALTER TABLE proxies DROP COLUMN removed_by;
ALTER TABLE proxies DROP COLUMN removed_at;
DROP TABLE proxy_invites;
