-- Retention rules: which tags of a repository are deleted by age and count. A policy belongs
-- to one repository (scope_kind 'repository', scope its full name) or to a namespace
-- (scope_kind 'namespace', scope the namespace: every repository under `scope/` that has no
-- policy of its own). `namespace` is the scope's namespace, so a namespace going away takes
-- every policy under it. `enabled` is 0 or 1; a policy is saved disabled until switched on.
-- keep_most_recent and delete_older_than_days are NULL when unset; keep_patterns holds the
-- globs joined by single spaces (a pattern cannot contain one). untagged_days: NULL = the
-- garbage collector's default, 0 = keep untagged manifests forever, n = delete them after n days.

CREATE TABLE retention_policies (
    scope_kind              TEXT NOT NULL CHECK (scope_kind IN ('repository', 'namespace')),
    scope                   TEXT NOT NULL,
    namespace               TEXT NOT NULL,
    enabled                 BIGINT NOT NULL DEFAULT 0,
    keep_most_recent        BIGINT,
    keep_patterns           TEXT NOT NULL DEFAULT '',
    delete_older_than_days  BIGINT,
    untagged_days           BIGINT,
    updated_by              TEXT NOT NULL,
    updated_at              BIGINT NOT NULL,
    PRIMARY KEY (scope_kind, scope)
);
CREATE INDEX retention_policies_namespace ON retention_policies (namespace);
