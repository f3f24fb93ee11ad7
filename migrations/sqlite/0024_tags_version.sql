-- The tags tab keeps each repository's tag names in memory; this counter, raised in the
-- transaction of every write that adds, moves or removes a tag, tells every replica (and
-- every other process on the database) when what it keeps is out of date.

ALTER TABLE repositories ADD COLUMN tags_version BIGINT NOT NULL DEFAULT 0;
