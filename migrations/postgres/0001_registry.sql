-- Registry metadata: repositories, blobs and their links, manifests, tags, uploads.
-- Times are Unix seconds.

CREATE TABLE repositories (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

-- Blobs whose bytes are in the blob store.
CREATE TABLE blobs (
    digest      TEXT PRIMARY KEY,
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Which repositories a blob was pushed or mounted into (a blob is only served through them).
CREATE TABLE repository_blobs (
    repository_id  BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest         TEXT NOT NULL REFERENCES blobs (digest),
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_blobs_digest ON repository_blobs (digest);

CREATE TABLE manifests (
    id             BIGSERIAL PRIMARY KEY,
    repository_id  BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest         TEXT NOT NULL,
    media_type     TEXT NOT NULL,
    artifact_type  TEXT,
    subject        TEXT,
    annotations    TEXT,
    size           BIGINT NOT NULL,
    content        BYTEA NOT NULL,
    created_at     BIGINT NOT NULL,
    UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_subject ON manifests (repository_id, subject) WHERE subject IS NOT NULL;

-- Manifest -> blob references (config, layers): what garbage collection keeps.
CREATE TABLE manifest_blobs (
    manifest_id  BIGINT NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    digest       TEXT NOT NULL,
    PRIMARY KEY (manifest_id, digest)
);
CREATE INDEX manifest_blobs_digest ON manifest_blobs (digest);

-- Index -> child manifest references.
CREATE TABLE manifest_children (
    manifest_id   BIGINT NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    child_digest  TEXT NOT NULL,
    PRIMARY KEY (manifest_id, child_digest)
);
CREATE INDEX manifest_children_child ON manifest_children (child_digest);

CREATE TABLE tags (
    repository_id    BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name             TEXT COLLATE "C" NOT NULL,
    manifest_digest  TEXT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (repository_id, name)
);
CREATE INDEX tags_manifest ON tags (repository_id, manifest_digest);

-- Uploads in progress. The bytes are in the blob store under the same id.
CREATE TABLE uploads (
    id          TEXT PRIMARY KEY,
    repository  TEXT NOT NULL,
    owner       TEXT NOT NULL,
    size        BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
