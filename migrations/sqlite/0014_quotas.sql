-- Storage quotas per namespace (every repository under `namespace/`), set by site
-- administrators. A namespace without a row falls back to the configured default quota
-- (`[registry] default_quota_bytes`), or none. Usage is not stored: it is summed from
-- manifest_blobs when asked (see crates/registry/src/lifecycle/quota.rs).

CREATE TABLE namespace_quotas (
    namespace   TEXT PRIMARY KEY,
    bytes       BIGINT NOT NULL CHECK (bytes >= 0),
    updated_at  BIGINT NOT NULL
);
