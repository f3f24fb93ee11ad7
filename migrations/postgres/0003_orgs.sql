-- Organizations are accounts of kind 'org'; these tables hold who belongs to them and what
-- their teams and robot accounts may do. Repository names are full names (`acme/app`).

CREATE TABLE org_members (
    org_id      BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

CREATE TABLE teams (
    id          BIGSERIAL PRIMARY KEY,
    org_id      BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE team_members (
    team_id  BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE team_repositories (
    team_id     BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    repository  TEXT COLLATE "C" NOT NULL,
    permission  TEXT NOT NULL CHECK (permission IN ('read', 'write', 'admin')),
    PRIMARY KEY (team_id, repository)
);
CREATE INDEX team_repositories_repository ON team_repositories (repository);

-- Robot accounts (`org+name`) live here rather than in `accounts`: SQLite cannot widen that
-- table's CHECK on `kind`. Only a SHA-256 of the secret is kept.
CREATE TABLE robots (
    id            BIGSERIAL PRIMARY KEY,
    org_id        BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name          TEXT COLLATE "C" NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
-- One live robot per name; a revoked one's name may be reused.
CREATE UNIQUE INDEX robots_live_name ON robots (org_id, name) WHERE revoked_at IS NULL;

CREATE TABLE robot_permissions (
    robot_id    BIGINT NOT NULL REFERENCES robots (id) ON DELETE CASCADE,
    repository  TEXT COLLATE "C" NOT NULL,
    permission  TEXT NOT NULL CHECK (permission IN ('read', 'write', 'admin')),
    PRIMARY KEY (robot_id, repository)
);
