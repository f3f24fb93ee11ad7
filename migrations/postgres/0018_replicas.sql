-- What several Berth processes on one database must agree on.
--
-- Failed logins, counted here rather than in each process's memory so that a client guessing
-- through several replicas gets no more guesses than through one. One row per failure (or
-- attempt being verified) under a key: `pair:<address> <account>`, `ip:<address>` or
-- `user:<account>`; `at_ms` in milliseconds. Rows older than the throttling window are pruned.
CREATE TABLE login_failures (
    id     BIGSERIAL PRIMARY KEY,
    key    TEXT NOT NULL,
    at_ms  BIGINT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at_ms);
CREATE INDEX login_failures_at ON login_failures (at_ms);

-- The fingerprints (SHA-256, hex: never the secrets) of the token-signing key and the content
-- trust secret, recorded by the first process to start: one that starts with other keys is
-- refused, since its tokens and sealed trust keys would not work on the others.
CREATE TABLE secret_fingerprints (
    name         TEXT PRIMARY KEY,
    fingerprint  TEXT NOT NULL,
    recorded_at  BIGINT NOT NULL
);
