-- Flashes: what a form's response hands the page it redirects to (a new token's or robot's
-- secret, shown once), kept here rather than in a cookie or the address so that any replica can
-- show it. Each belongs to one session, is deleted when shown, and lives a few minutes at most.

CREATE TABLE flashes (
    id            TEXT PRIMARY KEY,
    session_hash  TEXT NOT NULL REFERENCES sessions (id_hash) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    body          TEXT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX flashes_session ON flashes (session_hash);
CREATE INDEX flashes_expiry ON flashes (expires_at);
