-- Issue 22: federation between deployments (docs/federation.md).
-- A peer deployment, added by the operator with its pinned trust-list key (a JWK). The peer's
-- last verified trust list is kept as signed (base64url COSE): its issuers, their keys with
-- status and the peer's server keys come from it; `list_version` refuses a rollback.
CREATE TABLE federation_peers (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    deployment_id TEXT NOT NULL,
    base_url TEXT NOT NULL,
    trust_list_url TEXT NOT NULL,
    trust_key TEXT NOT NULL,
    list_version BIGINT NOT NULL,
    trust_list TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    refreshed_at BIGINT NOT NULL,
    PRIMARY KEY (municipality_id, deployment_id)
);
-- Per municipality: a counter that grows with every change of the peers (added, refreshed with a
-- new list, removed), added to the trust list's version so that it only grows; and whether this
-- municipality's residents may be found by a peer's break-glass (default off).
CREATE TABLE federation_settings (
    municipality_id TEXT PRIMARY KEY NOT NULL REFERENCES municipalities (id),
    peers_epoch BIGINT NOT NULL,
    allow_break_glass BOOLEAN NOT NULL
);
-- The nonces of the peers' signed requests (replay), by the `created` they signed.
CREATE TABLE federation_nonces (
    created BIGINT NOT NULL,
    deployment_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    PRIMARY KEY (created, deployment_id, nonce)
);
-- A disclosure to a peer deployment's fire department (the home side's record; the audit event
-- names the access): who (the peer's fire department, names as the peer sent them), which card.
CREATE TABLE federated_accesses (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    resident_id TEXT NOT NULL REFERENCES residents (id),
    card_id TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    facility_id TEXT NOT NULL,
    facility_name_ja TEXT NOT NULL,
    facility_name_en TEXT NOT NULL,
    purpose TEXT NOT NULL,
    incident_ref TEXT NOT NULL,
    categories TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX federated_accesses_resident ON federated_accesses (resident_id, created_at);
