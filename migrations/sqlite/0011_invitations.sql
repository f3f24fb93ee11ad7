-- Invitations to an organization (team_id NULL) or to one of its teams. Nobody joins an
-- organization or a team without accepting: until then the invitation grants nothing. An
-- answered or cancelled invitation is deleted (the audit log keeps its story); one past
-- expires_at counts as gone. `role` is the role in the organization the invitee gets on
-- accepting ('member' for a team invitation); 'admin' is allowed ahead of that role so
-- adding it needs no table rebuild on SQLite. `invited_by` is a name, as in the audit log,
-- so an invitation outlives its sender's account.

CREATE TABLE org_invitations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id      BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    team_id     BIGINT REFERENCES teams (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    invited_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
-- One invitation per person to the organization, and one per team.
CREATE UNIQUE INDEX org_invitations_one ON org_invitations (org_id, user_id, COALESCE(team_id, 0));
CREATE INDEX org_invitations_user ON org_invitations (user_id);
