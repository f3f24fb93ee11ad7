-- Site administration.
--
-- The audit log is filtered by actor, action, target and time (site administrators) and by
-- namespace (an organization's owners). An entry's namespace is the account its target
-- names first: `acme` for `acme`, `acme/app`, `acme:devs` (a team), `acme:bob` (a member),
-- `acme+ci` (a robot) and `org acme` (its webhooks). It is filled in when the entry is recorded
-- (crates/accounts/src/audit.rs), so an organization's log stays its own after a repository
-- or team of that name is gone; here the entries written before are given theirs.
ALTER TABLE audit_log ADD COLUMN namespace TEXT NOT NULL DEFAULT '';
UPDATE audit_log SET namespace = CASE WHEN target LIKE 'org %' THEN substr(target, 5) ELSE target END;
UPDATE audit_log SET namespace = substr(namespace, 1, strpos(namespace, '/') - 1) WHERE strpos(namespace, '/') > 0;
UPDATE audit_log SET namespace = substr(namespace, 1, strpos(namespace, ':') - 1) WHERE strpos(namespace, ':') > 0;
UPDATE audit_log SET namespace = substr(namespace, 1, strpos(namespace, '+') - 1) WHERE strpos(namespace, '+') > 0;
UPDATE audit_log SET namespace = substr(namespace, 1, strpos(namespace, ' ') - 1) WHERE strpos(namespace, ' ') > 0;
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_target ON audit_log (target, id);
CREATE INDEX audit_log_namespace ON audit_log (namespace, id);

-- A reset forced by a site administrator: the user chooses a new password at their next web
-- log-in, and until then the old one opens nothing else.
ALTER TABLE accounts ADD COLUMN must_change_password BIGINT NOT NULL DEFAULT 0;

-- Single-use tickets to choose a new password, kept as a SHA-256 of the secret: the one a
-- forced reset hands out at log-in. `used_at` is set when it is spent.
CREATE TABLE password_tickets (
    id          BIGSERIAL PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    account_id  BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX password_tickets_account ON password_tickets (account_id);
