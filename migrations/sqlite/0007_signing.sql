-- Content trust: the public keys a namespace trusts to sign its images, and where only signed
-- images may be pulled (a namespace, or one repository; a row means the policy is on).

CREATE TABLE signing_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace    TEXT NOT NULL,
    name         TEXT NOT NULL,
    algorithm    TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (namespace, name),
    UNIQUE (namespace, fingerprint)
);

CREATE TABLE signed_only (
    scope       TEXT PRIMARY KEY,
    namespace   TEXT NOT NULL,
    set_by      TEXT NOT NULL,
    set_at      BIGINT NOT NULL
);
CREATE INDEX signed_only_namespace ON signed_only (namespace);
