-- Docker Content Trust: each collection's TUF metadata, every version as uploaded or signed,
-- and the timestamp and snapshot keys Berth holds for it (sealed with the data directory's
-- trust.secret). A collection (GUN) is "<registry host>/<repository>"; `repository` says
-- which, so the trust data goes when the repository does.

CREATE TABLE tuf_files (
    gun          TEXT NOT NULL,
    repository   TEXT NOT NULL,
    role         TEXT NOT NULL,
    version      BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    expires      BIGINT NOT NULL,
    data         BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (gun, role, version)
);
CREATE INDEX tuf_files_checksum ON tuf_files (gun, role, sha256);
CREATE INDEX tuf_files_repository ON tuf_files (repository);

-- Rotating a key adds a version; the newest is the one handed out, and Berth signs with
-- whichever the collection's current root names.
CREATE TABLE tuf_keys (
    gun          TEXT NOT NULL,
    repository   TEXT NOT NULL,
    role         TEXT NOT NULL,
    version      BIGINT NOT NULL,
    sealed       BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (gun, role, version)
);
CREATE INDEX tuf_keys_repository ON tuf_keys (repository);
