-- Refresh tokens (what `docker login` keeps, from `offline_token=true`) are access tokens of
-- their own kind: a password change ends them, while personal access tokens stay.
ALTER TABLE access_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'personal';
UPDATE access_tokens SET kind = 'refresh'
 WHERE name LIKE 'login from %' AND expires_at IS NOT NULL AND scope = 'read-write-delete';

-- A user's live personal access tokens have distinct names (older duplicates get their id).
UPDATE access_tokens SET name = name || ' (' || id || ')'
 WHERE kind = 'personal' AND revoked_at IS NULL
   AND EXISTS (SELECT 1 FROM access_tokens o
               WHERE o.account_id = access_tokens.account_id AND o.name = access_tokens.name
                 AND o.kind = 'personal' AND o.revoked_at IS NULL AND o.id < access_tokens.id);
CREATE UNIQUE INDEX access_tokens_name ON access_tokens (account_id, name)
 WHERE kind = 'personal' AND revoked_at IS NULL;

-- When the password last changed, so the settings page can ask the user to review their tokens.
ALTER TABLE accounts ADD COLUMN password_changed_at BIGINT;
