DROP INDEX issuer_keys_kid;
DROP INDEX municipalities_created;
DROP INDEX municipalities_one_default;
ALTER TABLE municipalities DROP COLUMN is_default;
ALTER TABLE municipalities DROP COLUMN card_base_url;
