DROP INDEX issuer_keys_kid;
DROP INDEX municipalities_created;
ALTER TABLE municipalities DROP COLUMN card_base_url;
