-- Stars, comments, who pushed each tag, and search (FTS5 over names and descriptions).

ALTER TABLE tags ADD COLUMN pushed_by TEXT;
CREATE INDEX tags_recent ON tags (repository_id, updated_at);

ALTER TABLE repository_settings ADD COLUMN star_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE repository_settings ADD COLUMN comment_count BIGINT NOT NULL DEFAULT 0;
CREATE INDEX repository_settings_stars ON repository_settings (star_count DESC, repository);
CREATE INDEX repository_settings_pulls ON repository_settings (pull_count DESC, repository);
CREATE INDEX repository_settings_pushed ON repository_settings (last_pushed_at DESC, repository);

CREATE TABLE stars (
    account_id  BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    repository  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, repository)
);
CREATE INDEX stars_repository ON stars (repository);

CREATE TABLE comments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    repository  TEXT NOT NULL,
    author_id   BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX comments_repository ON comments (repository, id);

-- The counters follow the rows, whoever writes or cascades them.
CREATE TRIGGER stars_counted AFTER INSERT ON stars BEGIN
    UPDATE repository_settings SET star_count = star_count + 1 WHERE repository = new.repository;
END;
CREATE TRIGGER stars_uncounted AFTER DELETE ON stars BEGIN
    UPDATE repository_settings SET star_count = star_count - 1 WHERE repository = old.repository;
END;
CREATE TRIGGER comments_counted AFTER INSERT ON comments BEGIN
    UPDATE repository_settings SET comment_count = comment_count + 1 WHERE repository = new.repository;
END;
CREATE TRIGGER comments_uncounted AFTER DELETE ON comments BEGIN
    UPDATE repository_settings SET comment_count = comment_count - 1 WHERE repository = old.repository;
END;

-- Search: an FTS5 index over names and short descriptions (as Docker Hub searches), whose
-- content is repository_settings, kept in step by triggers. Prefix indexes make "ngi" cheap;
-- rank weighs a name match above a description match.
CREATE VIRTUAL TABLE repository_search USING fts5 (
    repository, description,
    content = 'repository_settings', content_rowid = 'rowid', prefix = '2 3'
);
INSERT INTO repository_search (repository_search, rank) VALUES ('rank', 'bm25(10.0, 3.0)');
CREATE TRIGGER repository_search_insert AFTER INSERT ON repository_settings BEGIN
    INSERT INTO repository_search (rowid, repository, description)
    VALUES (new.rowid, new.repository, new.description);
END;
CREATE TRIGGER repository_search_delete AFTER DELETE ON repository_settings BEGIN
    INSERT INTO repository_search (repository_search, rowid, repository, description)
    VALUES ('delete', old.rowid, old.repository, old.description);
END;
CREATE TRIGGER repository_search_update AFTER UPDATE OF repository, description
ON repository_settings BEGIN
    INSERT INTO repository_search (repository_search, rowid, repository, description)
    VALUES ('delete', old.rowid, old.repository, old.description);
    INSERT INTO repository_search (rowid, repository, description)
    VALUES (new.rowid, new.repository, new.description);
END;
INSERT INTO repository_search (repository_search) VALUES ('rebuild');
