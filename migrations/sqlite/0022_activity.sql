-- What happened to repositories, for the activity feed: tags pushed or moved, tags deleted,
-- stars, comments, finished builds. Each row is written in the transaction of the event it
-- tells of, and deleted with its repository, namespace or actor. The feed joins
-- repository_settings, so visibility is read when the feed is, never copied here.

CREATE TABLE activity (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    repository  TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    actor       TEXT NOT NULL DEFAULT '',
    tag         TEXT NOT NULL DEFAULT '',
    digest      TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX activity_repository ON activity (repository, id);
CREATE INDEX activity_namespace ON activity (namespace, id);
CREATE INDEX activity_actor ON activity (actor);
