-- Garbage collection. Every write that makes something reachable stamps it with the time in
-- the same transaction: a blob when it is linked into a repository (last_linked), a link when a
-- manifest push relies on it (linked_at), a manifest when it is pushed again, tagged or listed
-- by an index (touched_at). A collection deletes only rows whose stamp is older than its own
-- start, re-checked in the deleting statement, so nothing made reachable while it runs is
-- lost (see crates/registry/src/lifecycle/gc.rs).

ALTER TABLE blobs ADD COLUMN last_linked BIGINT NOT NULL DEFAULT 0;
UPDATE blobs SET last_linked = created_at;

ALTER TABLE repository_blobs ADD COLUMN linked_at BIGINT NOT NULL DEFAULT 0;
UPDATE repository_blobs SET linked_at = created_at;

ALTER TABLE manifests ADD COLUMN touched_at BIGINT NOT NULL DEFAULT 0;
UPDATE manifests SET touched_at = created_at;

CREATE INDEX uploads_updated ON uploads (updated_at);

-- One row per collection, dry runs included: what it freed, how long it took, how it ended
-- ('running', 'done', 'failed', or 'interrupted' when its process died mid-way).
CREATE TABLE gc_runs (
    id                 BIGSERIAL PRIMARY KEY,
    trigger            TEXT NOT NULL,
    actor              TEXT NOT NULL,
    dry_run            BIGINT NOT NULL,
    status             TEXT NOT NULL,
    error              TEXT,
    started_at         BIGINT NOT NULL,
    finished_at        BIGINT,
    duration_ms        BIGINT,
    tags_deleted       BIGINT NOT NULL DEFAULT 0,
    manifests_deleted  BIGINT NOT NULL DEFAULT 0,
    links_deleted      BIGINT NOT NULL DEFAULT 0,
    blobs_deleted      BIGINT NOT NULL DEFAULT 0,
    bytes_freed        BIGINT NOT NULL DEFAULT 0,
    uploads_deleted    BIGINT NOT NULL DEFAULT 0,
    files_deleted      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX gc_runs_started ON gc_runs (started_at);
