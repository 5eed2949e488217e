-- Issue 21: a crew's POST that creates or changes something (opening an incident, a report
-- version, an inquiry) may carry an `Idempotency-Key`; the first answer is kept here so a repeat
-- from the same device and account (the PWA's offline queue sending again after a lost answer)
-- gets that answer and writes nothing new. The row is claimed (response NULL) and completed in the
-- request's own transaction, so it exists exactly when the change does. Keys expire after 24 h
-- (lookups ignore older rows; they are pruned by later claims).
CREATE TABLE idempotency_keys (
    device_id TEXT NOT NULL REFERENCES devices (id),
    idem_key TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    request_hash TEXT NOT NULL,
    response TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
