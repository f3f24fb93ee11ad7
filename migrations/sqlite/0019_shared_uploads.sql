-- Uploads that any replica can go on with: the running hash saved after each chunk, and a claim
-- on the session held by the one request writing to it, wherever that request is served.
ALTER TABLE uploads ADD COLUMN hash_state BLOB;
ALTER TABLE uploads ADD COLUMN lease_owner TEXT;
ALTER TABLE uploads ADD COLUMN lease_until_ms BIGINT NOT NULL DEFAULT 0;
