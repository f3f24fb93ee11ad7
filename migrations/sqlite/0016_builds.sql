-- Automated builds. A repository links at most one git source (`build_sources`, keyed by the
-- repository's full name, with the namespace for deleting a whole namespace). Secrets are sealed
-- with the data directory's trust.secret (AES-256-GCM, the repository's name as associated
-- data): the https password or token, the ssh deploy key's private half and the push-event
-- secret. `hook_id` names the push-event URL. `rules` is the JSON list of build rules.
-- `linked_by` is the user whose permissions a build pushes with.
CREATE TABLE build_sources (
    repository       TEXT PRIMARY KEY,
    namespace        TEXT NOT NULL,
    url              TEXT NOT NULL,
    username         TEXT NOT NULL DEFAULT '',
    sealed_password  BLOB,
    deploy_public    TEXT NOT NULL DEFAULT '',
    sealed_deploy    BLOB,
    hook_id          TEXT NOT NULL UNIQUE,
    sealed_hook      BLOB NOT NULL,
    rules            TEXT NOT NULL DEFAULT '[]',
    base_rebuild     BIGINT NOT NULL DEFAULT 0,
    linked_by        TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX build_sources_namespace ON build_sources (namespace);

-- One build: what it builds (a snapshot of its rule, so editing rules never changes a queued
-- build), where it stands and what it made. `commit_sha` is NULL until the clone resolves the
-- ref when a build was queued by name. A running build holds a lease (`worker`, `lease_until`
-- in milliseconds) that its worker renews; a build whose lease ran out was interrupted.
CREATE TABLE builds (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    repository        TEXT NOT NULL,
    namespace         TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('queued', 'cloning', 'building', 'pushing',
                                                      'success', 'failed', 'cancelled')),
    trigger_kind      TEXT NOT NULL,
    triggered_by      TEXT NOT NULL,
    ref_kind          TEXT NOT NULL,
    ref_name          TEXT NOT NULL,
    commit_sha        TEXT,
    tags              TEXT NOT NULL,
    dockerfile        TEXT NOT NULL,
    context           TEXT NOT NULL,
    build_args        TEXT NOT NULL DEFAULT '{}',
    digest            TEXT,
    error             TEXT NOT NULL DEFAULT '',
    cancel_requested  BIGINT NOT NULL DEFAULT 0,
    worker            TEXT,
    lease_until       BIGINT,
    queued_at         BIGINT NOT NULL,
    started_at        BIGINT,
    finished_at       BIGINT,
    log_bytes         BIGINT NOT NULL DEFAULT 0,
    log_truncated     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX builds_repository ON builds (repository, id);
CREATE INDEX builds_status ON builds (status, id);
CREATE INDEX builds_namespace ON builds (namespace);

-- A build's log, in the order it was written.
CREATE TABLE build_logs (
    build_id  BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (build_id, seq)
);

-- The images in this registry that a repository's last successful build of a ref was built
-- FROM (`build_id`), so a push of one of them can queue that build again.
CREATE TABLE build_bases (
    repository       TEXT NOT NULL,
    namespace        TEXT NOT NULL,
    ref_kind         TEXT NOT NULL,
    ref_name         TEXT NOT NULL,
    base_repository  TEXT NOT NULL,
    base_tag         TEXT NOT NULL,
    build_id         BIGINT NOT NULL,
    PRIMARY KEY (repository, ref_kind, ref_name, base_repository, base_tag)
);
CREATE INDEX build_bases_base ON build_bases (base_repository, base_tag);
