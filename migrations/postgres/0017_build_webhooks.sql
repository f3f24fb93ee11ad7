-- Webhooks may hear of automated builds (queued, succeeded, failed): `on_build` is 0 or 1, like
-- on_push, on_delete and on_pull, and a delivery's event may be 'build'.

ALTER TABLE webhooks ADD COLUMN on_build BIGINT NOT NULL DEFAULT 0;

ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_check;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_check
    CHECK (event IN ('push', 'delete', 'pull', 'build'));
