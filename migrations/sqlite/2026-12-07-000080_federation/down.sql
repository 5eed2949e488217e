DROP TABLE federated_accesses;
DROP TABLE federation_nonces;
DROP TABLE federation_settings;
DROP TABLE federation_peers;
