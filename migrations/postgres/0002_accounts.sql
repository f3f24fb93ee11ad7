-- Accounts: users and organizations share one namespace of names.

CREATE TABLE accounts (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT COLLATE "C" NOT NULL UNIQUE,
    kind           TEXT NOT NULL CHECK (kind IN ('user', 'org')),
    email          TEXT UNIQUE,
    password_hash  TEXT,
    is_admin       BIGINT NOT NULL DEFAULT 0,
    active         BIGINT NOT NULL DEFAULT 1,
    created_at     BIGINT NOT NULL
);

-- Personal access tokens. Only a SHA-256 of the secret is kept.
CREATE TABLE access_tokens (
    id            BIGSERIAL PRIMARY KEY,
    account_id    BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    scope         TEXT NOT NULL CHECK (scope IN ('read', 'read-write', 'read-write-delete')),
    expires_at    BIGINT,
    last_used_at  BIGINT,
    revoked_at    BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX access_tokens_account ON access_tokens (account_id);

-- Repositories as account objects: who owns them and who may see them.
CREATE TABLE repository_settings (
    repository        TEXT COLLATE "C" PRIMARY KEY,
    namespace         TEXT NOT NULL,
    private           BIGINT NOT NULL DEFAULT 0,
    description       TEXT NOT NULL DEFAULT '',
    full_description  TEXT NOT NULL DEFAULT '',
    pull_count        BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    last_pushed_at    BIGINT
);
CREATE INDEX repository_settings_namespace ON repository_settings (namespace);

CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
