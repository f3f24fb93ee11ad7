-- Webhooks may hear of automated builds (queued, succeeded, failed): `on_build` is 0 or 1, like
-- on_push, on_delete and on_pull, and a delivery's event may be 'build'. SQLite cannot change a
-- CHECK constraint in place, so webhook_deliveries is rebuilt with the wider one (nothing
-- references it; its rows and its sequence are copied as they are).

ALTER TABLE webhooks ADD COLUMN on_build BIGINT NOT NULL DEFAULT 0;

CREATE TABLE webhook_deliveries_new (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    id                    TEXT NOT NULL UNIQUE,
    webhook_id            BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event                 TEXT NOT NULL CHECK (event IN ('push', 'delete', 'pull', 'build')),
    repository            TEXT NOT NULL,
    payload               TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'refused')),
    attempts              BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms       BIGINT NOT NULL,
    lease_until_ms        BIGINT NOT NULL DEFAULT 0,
    created_at            BIGINT NOT NULL,
    last_attempt_at       BIGINT,
    response_status       BIGINT,
    duration_ms           BIGINT,
    response_excerpt      TEXT NOT NULL DEFAULT '',
    error                 TEXT NOT NULL DEFAULT '',
    redelivery_of         TEXT,
    callback_token_hash   TEXT NOT NULL,
    callback_state        TEXT,
    callback_description  TEXT,
    callback_context      TEXT,
    callback_target_url   TEXT,
    callback_at           BIGINT
);
INSERT INTO webhook_deliveries_new (
    seq, id, webhook_id, event, repository, payload, status, attempts, next_attempt_ms,
    lease_until_ms, created_at, last_attempt_at, response_status, duration_ms, response_excerpt,
    error, redelivery_of, callback_token_hash, callback_state, callback_description,
    callback_context, callback_target_url, callback_at)
SELECT
    seq, id, webhook_id, event, repository, payload, status, attempts, next_attempt_ms,
    lease_until_ms, created_at, last_attempt_at, response_status, duration_ms, response_excerpt,
    error, redelivery_of, callback_token_hash, callback_state, callback_description,
    callback_context, callback_target_url, callback_at
FROM webhook_deliveries;
-- Sequence numbers of deleted deliveries stay used, as AUTOINCREMENT promises.
DELETE FROM sqlite_sequence WHERE name = 'webhook_deliveries_new';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'webhook_deliveries_new', seq FROM sqlite_sequence WHERE name = 'webhook_deliveries';
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_new RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_ms) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, seq);
