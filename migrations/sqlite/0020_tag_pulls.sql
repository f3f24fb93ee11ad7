-- The tags tab: when each tag was last pulled (by its name, or by the digest it points at),
-- written in batches from memory, never by the pull itself; and the repository's tags newest
-- first with the name breaking ties, the tab's default order, straight from an index.

ALTER TABLE tags ADD COLUMN last_pulled_at BIGINT;

DROP INDEX tags_recent;
CREATE INDEX tags_newest ON tags (repository_id, updated_at DESC, name);
