-- Many municipalities per deployment (issue 22): each municipality may have its own card URL
-- base (the https prefix its cards' QR codes carry); NULL = the deployment's (`--public-url`).
ALTER TABLE municipalities ADD COLUMN card_base_url TEXT;
CREATE INDEX municipalities_created ON municipalities (created_at);
-- A card names its key (`kid`), never its issuer: the key's owner is the card's municipality.
CREATE INDEX issuer_keys_kid ON issuer_keys (kid);
