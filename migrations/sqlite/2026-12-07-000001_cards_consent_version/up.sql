-- The consent version a card was issued under: its triage core came from that version's
-- categories, so a later version that drops one of them revokes the card (service::cards).
ALTER TABLE cards ADD COLUMN consent_version INTEGER;

-- Cards issued before this column: the latest version recorded at or before the card.
UPDATE cards SET consent_version = (
    SELECT MAX(consents.version) FROM consents
    WHERE consents.resident_id = cards.resident_id AND consents.created_at <= cards.issued_at
);
