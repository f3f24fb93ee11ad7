-- Webhooks on a repository (repository set) or on an organization (repository NULL: all its
-- repositories), and their deliveries: an outbox written in the same transaction as the event,
-- and the delivery log once sent.

CREATE TABLE webhooks (
    id          BIGSERIAL PRIMARY KEY,
    namespace   TEXT COLLATE "C" NOT NULL,
    repository  TEXT COLLATE "C",
    name        TEXT NOT NULL,
    url         TEXT NOT NULL,
    on_push     BIGINT NOT NULL DEFAULT 0,
    on_delete   BIGINT NOT NULL DEFAULT 0,
    on_pull     BIGINT NOT NULL DEFAULT 0,
    secret      TEXT NOT NULL DEFAULT '',
    active      BIGINT NOT NULL DEFAULT 1,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX webhooks_name ON webhooks (namespace, COALESCE(repository, ''), name);
CREATE INDEX webhooks_repository ON webhooks (repository);

CREATE TABLE webhook_deliveries (
    seq                   BIGSERIAL PRIMARY KEY,
    id                    TEXT NOT NULL UNIQUE,
    webhook_id            BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event                 TEXT NOT NULL CHECK (event IN ('push', 'delete', 'pull')),
    repository            TEXT COLLATE "C" NOT NULL,
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
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_ms) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, seq);
