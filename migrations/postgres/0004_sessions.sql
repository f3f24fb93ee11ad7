-- Web sessions: server-side, named by a random secret in an HttpOnly cookie; only its SHA-256
-- is stored. Each carries the CSRF token that state-changing requests must echo.

CREATE TABLE sessions (
    id_hash       TEXT PRIMARY KEY,
    account_id    BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf_token    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);
