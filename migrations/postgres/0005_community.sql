-- Stars, comments, who pushed each tag, and search (full text + pg_trgm over names and
-- descriptions).

CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE tags ADD COLUMN pushed_by TEXT;
CREATE INDEX tags_recent ON tags (repository_id, updated_at);

ALTER TABLE repository_settings ADD COLUMN star_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE repository_settings ADD COLUMN comment_count BIGINT NOT NULL DEFAULT 0;
CREATE INDEX repository_settings_stars ON repository_settings (star_count DESC, repository);
CREATE INDEX repository_settings_pulls ON repository_settings (pull_count DESC, repository);
CREATE INDEX repository_settings_pushed ON repository_settings (last_pushed_at DESC NULLS LAST, repository);

CREATE TABLE stars (
    account_id  BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    repository  TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, repository)
);
CREATE INDEX stars_repository ON stars (repository);

CREATE TABLE comments (
    id          BIGSERIAL PRIMARY KEY,
    repository  TEXT COLLATE "C" NOT NULL,
    author_id   BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX comments_repository ON comments (repository, id);

-- The counters follow the rows, whoever writes or cascades them.
CREATE FUNCTION berth_count_community() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF TG_TABLE_NAME = 'stars' THEN
            UPDATE repository_settings SET star_count = star_count + 1 WHERE repository = NEW.repository;
        ELSE
            UPDATE repository_settings SET comment_count = comment_count + 1 WHERE repository = NEW.repository;
        END IF;
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'stars' THEN
        UPDATE repository_settings SET star_count = star_count - 1 WHERE repository = OLD.repository;
    ELSE
        UPDATE repository_settings SET comment_count = comment_count - 1 WHERE repository = OLD.repository;
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER stars_counted AFTER INSERT OR DELETE ON stars
    FOR EACH ROW EXECUTE FUNCTION berth_count_community();
CREATE TRIGGER comments_counted AFTER INSERT OR DELETE ON comments
    FOR EACH ROW EXECUTE FUNCTION berth_count_community();

-- Search: a weighted tsvector over names and short descriptions (as Docker Hub searches; name
-- words weigh more), and a trigram index on the name for partial words.
ALTER TABLE repository_settings ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', translate(repository, '/-_.', '    ')), 'A') ||
    setweight(to_tsvector('simple', description), 'B')
) STORED;
CREATE INDEX repository_settings_search ON repository_settings USING GIN (search);
CREATE INDEX repository_settings_name_trgm ON repository_settings USING GIN (repository gin_trgm_ops);
