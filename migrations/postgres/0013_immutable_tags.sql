-- Immutable tags: glob patterns (`*` any run of characters, `?` one) naming tags that, once
-- they exist, may not be moved to another manifest or deleted. A rule belongs to a repository
-- (`scope_kind` 'repository', `scope` its full name) or to a namespace ('namespace', `scope`
-- the namespace: every repository under `scope/`). `position` keeps the order the patterns
-- were given in. The registry checks them inside its manifest and tag write transactions; the
-- primary key serves the one lookup a push makes.

CREATE TABLE immutable_tag_rules (
    scope_kind  TEXT NOT NULL CHECK (scope_kind IN ('repository', 'namespace')),
    scope       TEXT NOT NULL,
    pattern     TEXT NOT NULL,
    position    BIGINT NOT NULL,
    set_by      TEXT NOT NULL,
    set_at      BIGINT NOT NULL,
    PRIMARY KEY (scope_kind, scope, pattern)
);
