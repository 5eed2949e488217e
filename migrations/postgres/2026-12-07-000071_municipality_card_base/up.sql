-- Many municipalities per deployment (issue 22): each municipality may have its own card URL
-- base (the https prefix its cards' QR codes carry); NULL = the deployment's (`--public-url`).
ALTER TABLE municipalities ADD COLUMN card_base_url TEXT;
-- The deployment's default municipality (the one made on first start): explicit, never inferred
-- from creation times (two municipalities made within one second would tie).
ALTER TABLE municipalities ADD COLUMN is_default BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE municipalities SET is_default = TRUE
    WHERE id = (SELECT id FROM municipalities ORDER BY created_at, id LIMIT 1);
CREATE UNIQUE INDEX municipalities_one_default ON municipalities (is_default) WHERE is_default;
CREATE INDEX municipalities_created ON municipalities (created_at);
-- A card names its key (`kid`), never its issuer: the key's owner is the card's municipality.
CREATE INDEX issuer_keys_kid ON issuer_keys (kid);
