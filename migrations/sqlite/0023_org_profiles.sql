-- What an organization says about itself: a short description and a web address (http or
-- https only), one row per organization that filled them in.

CREATE TABLE org_profiles (
    org_id       BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    description  TEXT NOT NULL DEFAULT '',
    url          TEXT NOT NULL DEFAULT '',
    updated_at   BIGINT NOT NULL
);
