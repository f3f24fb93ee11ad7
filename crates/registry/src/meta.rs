//! Registry metadata in the database: with the storage lifecycle's rules (`lifecycle`), the
//! only SQL of this crate.
//!
//! Queries are portable between SQLite and PostgreSQL (`$n` parameters, `RETURNING`,
//! `ON CONFLICT`). Write transactions start with a write so that SQLite takes its write lock
//! up front instead of failing to upgrade a read lock.

use std::sync::Arc;

use bytes::Bytes;
use sqlx::{Any, AnyPool, Transaction};

use crate::backend::Backend;
use crate::coherence::{self, Coherence, Topic};
use crate::digest::Digest;
use crate::error::{Code, Error, Result};
use crate::events::{Event, EventSink};
use crate::lifecycle::immutable;
use crate::lifecycle::quota::{self, Quotas};
use crate::metrics::Metrics;

pub(crate) mod cache;
mod pulls;
mod tag_index;
mod usage;

pub use cache::Cached;
use cache::ManifestCache;

// Other crates ask the time here.
pub use crate::clock::now;
use crate::sql::any_of;
pub use crate::sql::placeholders;

/// A manifest as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ManifestRow {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
    pub content: Vec<u8>,
}

/// A manifest about to be stored, with everything it references.
#[derive(Debug)]
pub struct NewManifest<'a> {
    pub repository: &'a str,
    pub digest: &'a Digest,
    pub media_type: &'a str,
    pub artifact_type: Option<&'a str>,
    pub subject: Option<&'a Digest>,
    pub annotations: Option<String>,
    pub content: &'a [u8],
    /// The config blob: always required.
    pub config: Option<&'a Digest>,
    /// Layers (or an artifact's blobs): required unless `sparse`.
    pub layers: &'a [Digest],
    /// An index's child manifests: required unless `sparse`.
    pub children: &'a [Digest],
    /// Whether layers and children may be absent (a mirror holding only some platforms).
    pub sparse: bool,
    /// The tags to point at it (valid, distinct).
    pub tags: &'a [String],
    /// Who pushed it (shown beside the tags).
    pub pusher: Option<&'a str>,
}

/// A tag with its manifest, for pages that show what a tag is.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TagDetail {
    pub name: String,
    pub digest: String,
    pub media_type: String,
    pub content: Vec<u8>,
    pub updated_at: i64,
    pub pushed_by: Option<String>,
    /// When it was last pulled (by name or digest), as of the last flush of pulls.
    pub last_pulled_at: Option<i64>,
}

const TAG_DETAIL: &str =
    "SELECT t.name, m.digest, m.media_type, m.content, t.updated_at, t.pushed_by,
            t.last_pulled_at
     FROM repositories r
     JOIN tags t ON t.repository_id = r.id
     JOIN manifests m ON m.repository_id = r.id AND m.digest = t.manifest_digest";

/// A manifest that refers to a subject, as listed by the referrers API.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Referrer {
    pub digest: String,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub annotations: Option<String>,
    pub size: i64,
}

/// A manifest that may carry signatures ([`Meta::signature_artifacts`]).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ArtifactRow {
    /// 0: found under a tag; 1: found as a referrer of a subject.
    pub via: i64,
    /// The tag, or the subject's digest.
    pub key: String,
    pub digest: String,
    pub content: Vec<u8>,
    pub id: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Upload {
    pub id: String,
    pub repository: String,
    pub owner: String,
    pub size: i64,
    /// The running hash over the first `size` bytes ([`crate::digest::Hasher::save`]).
    pub hash_state: Option<Vec<u8>>,
}

#[derive(Clone)]
pub struct Meta {
    pub(crate) pool: AnyPool,
    pub(crate) cache: Arc<ManifestCache>,
    /// Repositories' tags for the tags tab, each under its repository's `tags_version`.
    pub(crate) tag_indexes: Arc<tag_index::TagIndexCache>,
    pub(crate) quotas: Arc<Quotas>,
    /// Counts manifest cache hits, and is the registry's handle for its other counters.
    pub(crate) metrics: Metrics,
    /// Pulls noted since the last flush.
    pub(crate) pulls: Arc<pulls::PullLog>,
}

/// How the tags tab orders a repository's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TagOrder {
    /// Most recently pushed first.
    #[default]
    Newest,
    /// By name, A to Z (byte order, as the registry's tag list).
    Name,
}

/// A page of the tags tab: the tags whose name holds `filter` (ignoring case).
#[derive(Debug, Clone, Default)]
pub struct TagFilter<'a> {
    pub filter: &'a str,
    pub order: TagOrder,
    pub offset: i64,
    pub limit: i64,
}

/// What [`Meta::tag_page`] found.
#[derive(Debug, Clone, Default)]
pub struct TagPage {
    /// Tags of the repository in all.
    pub total: i64,
    /// Tags matching the filter (all of them without one).
    pub matching: i64,
    pub tags: Vec<TagDetail>,
}

async fn ensure_repository(tx: &mut Transaction<'_, Any>, name: &str) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO repositories (name, created_at) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
    )
    .bind(name)
    .bind(now())
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

/// Marks the tags of repository `repo` changed (a tag added, moved or removed), for whoever
/// keeps them in memory ([`tag_index`]).
async fn tags_changed(tx: &mut Transaction<'_, Any>, repo: i64) -> Result<()> {
    sqlx::query("UPDATE repositories SET tags_version = tags_version + 1 WHERE id = $1")
        .bind(repo)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Begins a change to the tags of repository `name` (raising its `tags_version` as
/// [`tags_changed`] does), and returns its id; `None` if there is no such repository. The
/// repository's row is locked first, as a push locks it before its tags
/// ([`ensure_repository`]): taken the other way round, a push and a delete of one tag would
/// each hold what the other waits for.
async fn tags_changing(tx: &mut Transaction<'_, Any>, name: &str) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "UPDATE repositories SET tags_version = tags_version + 1 WHERE name = $1 RETURNING id",
    )
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Links a blob into a repository, or stamps the link that is there.
async fn link(tx: &mut Transaction<'_, Any>, repo: i64, digest: &Digest, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO repository_blobs (repository_id, digest, created_at, linked_at)
         VALUES ($1, $2, $3, $3)
         ON CONFLICT (repository_id, digest) DO UPDATE SET linked_at = excluded.linked_at",
    )
    .bind(repo)
    .bind(digest.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A blob's link being written, begun by [`Meta::begin_blob_link`]; rolled back if dropped.
pub struct BlobLink {
    tx: Transaction<'static, Any>,
}

impl BlobLink {
    /// Commits the link, and in the same transaction forgets the upload session it came from
    /// (if it had a row): one commit, so one `fsync`, per blob pushed.
    pub async fn commit(mut self, upload: &str) -> Result<()> {
        sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(upload)
            .execute(&mut *self.tx)
            .await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// Stamps the rows of `digests` (distinct) in `table` for the repository as used now, and
/// returns those that exist: `repository_blobs` (a manifest push relying on its blobs' links)
/// or `manifests` (an index relying on its children). Being an update, it also waits for a
/// collection deleting one of them, and then no longer finds it.
async fn touch(
    tx: &mut Transaction<'_, Any>,
    table: &'static str,
    repository: i64,
    digests: &[Digest],
    now: i64,
) -> Result<Vec<Digest>> {
    let column = match table {
        "repository_blobs" => "linked_at",
        _ => "touched_at",
    };
    let mut found = Vec::with_capacity(digests.len());
    for chunk in digests.chunks(500) {
        let sql = format!(
            "UPDATE {table} SET {column} = $2 WHERE repository_id = $1 AND digest IN ({})
             RETURNING digest",
            placeholders(3, chunk.len())
        );
        let mut q = sqlx::query_scalar::<_, String>(&sql)
            .bind(repository)
            .bind(now);
        for d in chunk {
            q = q.bind(d.to_string());
        }
        let rows = q.fetch_all(&mut **tx).await?;
        found.extend(
            chunk
                .iter()
                .filter(|d| rows.contains(&d.to_string()))
                .cloned(),
        );
    }
    Ok(found)
}

/// Inserts a manifest, or stamps it as pushed again when it is already stored (which also
/// waits for a collection deleting it): its id, and whether it is new. A collection that
/// deleted it meanwhile leaves nothing to stamp, and it is inserted again.
async fn store_manifest(
    tx: &mut Transaction<'_, Any>,
    repo: i64,
    m: &NewManifest<'_>,
    now: i64,
) -> Result<(i64, bool)> {
    for _ in 0..3 {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, subject,
                                    annotations, size, content, created_at, touched_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
             ON CONFLICT (repository_id, digest) DO NOTHING RETURNING id",
        )
        .bind(repo)
        .bind(m.digest.to_string())
        .bind(m.media_type)
        .bind(m.artifact_type)
        .bind(m.subject.map(|s| s.to_string()))
        .bind(m.annotations.as_deref())
        .bind(m.content.len() as i64)
        .bind(m.content.to_vec())
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(id) = inserted {
            return Ok((id, true));
        }
        let stamped: Option<i64> = sqlx::query_scalar(
            "UPDATE manifests SET touched_at = $3 WHERE repository_id = $1 AND digest = $2
             RETURNING id",
        )
        .bind(repo)
        .bind(m.digest.to_string())
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(id) = stamped {
            return Ok((id, false));
        }
    }
    Err(Error::internal(format!(
        "manifest {} kept changing while it was stored",
        m.digest
    )))
}

/// `MANIFEST_BLOB_UNKNOWN` naming the first of `wanted` missing from `found`, if any is.
fn first_missing(wanted: &[Digest], found: &[Digest], what: &str) -> Result<()> {
    match wanted.iter().find(|d| !found.contains(d)) {
        None => Ok(()),
        Some(d) => Err(Error::new(
            Code::ManifestBlobUnknown,
            format!("the manifest references {what} {d}, which is not in this repository"),
        )),
    }
}

/// A repository holding a blob, as [`Meta::repositories_holding`] selects it.
#[derive(sqlx::FromRow)]
struct Holding {
    name: String,
    size: i64,
}

/// Whether the registry holds anything under `namespace/`: repositories (with their manifests
/// and tags) or upload sessions. A name that holds content cannot be
/// claimed by signing up or creating an organization (see the accounts crate).
pub async fn namespace_holds_content(
    conn: &mut sqlx::AnyConnection,
    namespace: &str,
) -> std::result::Result<bool, sqlx::Error> {
    let prefix = format!("{namespace}/");
    for (table, column) in [("repositories", "name"), ("uploads", "repository")] {
        let found = sqlx::query(&format!(
            "SELECT 1 FROM {table} WHERE substr({column}, 1, length($1)) = $1 LIMIT 1"
        ))
        .bind(&prefix)
        .fetch_optional(&mut *conn)
        .await?;
        if found.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One transaction for a deletion, begun by [`Meta::begin_deletion`]. Rolled back when dropped
/// uncommitted; the manifest cache forgets what it held once the transaction has ended.
pub struct Deletion<'a> {
    tx: Transaction<'static, Any>,
    _fresh: cache::Invalidate<'a>,
}

impl Deletion<'_> {
    /// The transaction's connection, for the other stores' `delete_*` functions.
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// Deletes a repository's manifests, tags and blob links. Blobs stay for garbage
    /// collection.
    pub async fn delete_repository(&mut self, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM repositories WHERE name = $1")
            .bind(name)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes every repository under `namespace/` (an organization or user going away), as
    /// [`Deletion::delete_repository`] does; returns how many there were.
    pub async fn delete_namespace(&mut self, namespace: &str) -> Result<u64> {
        let prefix = format!("{namespace}/");
        let done = sqlx::query("DELETE FROM repositories WHERE substr(name, 1, length($1)) = $1")
            .bind(&prefix)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected())
    }

    /// Whether any repository lives under `namespace/`, as this transaction sees it.
    pub async fn namespace_in_use(&mut self, namespace: &str) -> Result<bool> {
        namespace_in_use(&mut self.tx, namespace).await
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

async fn namespace_in_use(conn: &mut sqlx::AnyConnection, namespace: &str) -> Result<bool> {
    let prefix = format!("{namespace}/");
    let row =
        sqlx::query("SELECT id FROM repositories WHERE substr(name, 1, length($1)) = $1 LIMIT 1")
            .bind(&prefix)
            .fetch_optional(conn)
            .await?;
    Ok(row.is_some())
}

impl Meta {
    /// The database this store runs on.
    pub fn backend(&self) -> Backend {
        Backend::of_pool(&self.pool)
    }

    /// Changes with every write to tags, manifests or repositories: what was worked
    /// out from them under an older generation may be stale.
    pub fn generation(&self) -> u64 {
        self.cache.generation()
    }

    pub fn new(pool: AnyPool) -> Self {
        Meta {
            quotas: Arc::new(Quotas::new(Backend::of_pool(&pool))),
            pool,
            cache: Arc::new(cache::manifest_cache()),
            tag_indexes: Arc::new(tag_index::tag_index_cache()),
            metrics: Metrics::default(),
            pulls: Arc::default(),
        }
    }

    /// Counts into `metrics` (the handle the server serves) instead of a private one.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// How long manifests and the quota set are served from memory at most.
    pub fn set_cache_ttl(&self, ttl: std::time::Duration) {
        self.cache.set_ttl(ttl);
        self.quotas.set_ttl(ttl);
    }

    /// Has this process's caches forget what other processes change.
    pub fn follow(&self, coherence: &Coherence) {
        let cache = self.cache.clone();
        coherence.on(Topic::Manifests, move || cache.invalidate());
        let quotas = self.quotas.clone();
        coherence.on(Topic::Quotas, move || quotas.forget());
    }

    /// Begins a write to tags, manifests or repositories; the other processes hear of it when
    /// it commits.
    async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        let mut tx = self.pool.begin().await?;
        coherence::announce(&mut tx, Topic::Manifests).await?;
        Ok(tx)
    }

    /// The pool, for the storage lifecycle's own tables.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn repository_exists(&self, name: &str) -> Result<bool> {
        let row = sqlx::query("SELECT id FROM repositories WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Size of a blob if it is linked into the repository.
    pub async fn blob_in_repository(&self, name: &str, digest: &Digest) -> Result<Option<i64>> {
        let size = sqlx::query_scalar(
            "SELECT b.size FROM repositories r
             JOIN repository_blobs rb ON rb.repository_id = r.id
             JOIN blobs b ON b.digest = rb.digest
             WHERE r.name = $1 AND rb.digest = $2",
        )
        .bind(name)
        .bind(digest.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(size)
    }

    /// The repositories a blob is linked into, with its size: those of `namespace` first, then
    /// by name; `limit` at most.
    pub async fn repositories_holding(
        &self,
        digest: &Digest,
        namespace: &str,
        limit: i64,
    ) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query_as::<_, Holding>(
            "SELECT r.name, b.size FROM repository_blobs rb
             JOIN repositories r ON r.id = rb.repository_id
             JOIN blobs b ON b.digest = rb.digest
             WHERE rb.digest = $1
             ORDER BY CASE WHEN substr(r.name, 1, length($2)) = $2 THEN 0 ELSE 1 END, r.name
             LIMIT $3",
        )
        .bind(digest.to_string())
        .bind(format!("{namespace}/"))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|h| (h.name, h.size)).collect())
    }

    /// Begins linking a blob just uploaded into a repository (creating the repository): the
    /// blob's row is written (or stamped) first, which waits for any collection deleting it, so
    /// once this returns no collection can take the blob's file until the link is committed or
    /// rolled back. The caller makes sure the file is in place before [`BlobLink::commit`].
    pub async fn begin_blob_link(
        &self,
        name: &str,
        digest: &Digest,
        size: i64,
    ) -> Result<BlobLink> {
        let mut tx = self.pool.begin().await?;
        let now = now();
        sqlx::query(
            "INSERT INTO blobs (digest, size, created_at, last_linked) VALUES ($1, $2, $3, $3)
             ON CONFLICT (digest) DO UPDATE SET last_linked = excluded.last_linked",
        )
        .bind(digest.to_string())
        .bind(size)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let repo = ensure_repository(&mut tx, name).await?;
        link(&mut tx, repo, digest, now).await?;
        Ok(BlobLink { tx })
    }

    /// Mounts a blob the registry holds into a repository, stamping it as linked; its size, or
    /// `None` when the blob is gone (a collection took it since the caller looked).
    pub async fn mount_blob(&self, name: &str, digest: &Digest) -> Result<Option<i64>> {
        let mut tx = self.pool.begin().await?;
        let now = now();
        let size: Option<i64> = sqlx::query_scalar(
            "UPDATE blobs SET last_linked = $2 WHERE digest = $1 RETURNING size",
        )
        .bind(digest.to_string())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(size) = size else {
            return Ok(None);
        };
        let repo = ensure_repository(&mut tx, name).await?;
        link(&mut tx, repo, digest, now).await?;
        tx.commit().await?;
        Ok(Some(size))
    }

    /// Unlinks a blob from a repository. The bytes stay for garbage collection.
    pub async fn unlink_blob(&self, name: &str, digest: &Digest) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM repository_blobs WHERE digest = $2
             AND repository_id = (SELECT id FROM repositories WHERE name = $1)",
        )
        .bind(name)
        .bind(digest.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A manifest by tag or digest, from memory when it was read a moment ago.
    pub async fn manifest(
        &self,
        name: &str,
        reference: &str,
        by_digest: bool,
    ) -> Result<Option<Cached>> {
        let key = (name.to_owned(), reference.to_owned(), by_digest);
        if let Some(hit) = self.cache.get(&key) {
            self.metrics.manifest_cache(true);
            return Ok(Some(hit));
        }
        self.metrics.manifest_cache(false);
        let generation = self.cache.generation();
        let sql = if by_digest {
            "SELECT m.digest, m.media_type, m.size, m.content FROM repositories r
             JOIN manifests m ON m.repository_id = r.id
             WHERE r.name = $1 AND m.digest = $2"
        } else {
            "SELECT m.digest, m.media_type, m.size, m.content FROM repositories r
             JOIN tags t ON t.repository_id = r.id
             JOIN manifests m ON m.repository_id = r.id AND m.digest = t.manifest_digest
             WHERE r.name = $1 AND t.name = $2"
        };
        let row = sqlx::query_as::<_, ManifestRow>(sql)
            .bind(name)
            .bind(reference)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let value = Cached {
            digest: row.digest,
            media_type: row.media_type,
            size: row.size,
            content: Bytes::from(row.content),
        };
        self.cache.put(key, generation, value.clone());
        Ok(Some(value))
    }

    /// Stores a manifest (and its tags) after checking, in the same transaction, that what it
    /// needs is in the repository, and records its links to the blobs it holds here: those are
    /// what garbage collection keeps and what the consistency checker expects to find. A layer
    /// that is absent (a sparse manifest's, or an external one, which the parser never lists)
    /// has no link; pushing the same manifest again once the layer is here adds it.
    /// The push `events` are staged with `sink` in that transaction.
    pub async fn put_manifest(
        &self,
        m: NewManifest<'_>,
        sink: &dyn EventSink,
        events: &[Event],
    ) -> Result<()> {
        let _fresh = self.cache.on_write();
        let mut tx = self.begin_write().await?;
        let repo = ensure_repository(&mut tx, m.repository).await?;
        immutable::guard_push(&mut tx, m.repository, repo, m.tags, m.digest).await?;
        let now = now();

        let mut blobs: Vec<Digest> = m.config.into_iter().cloned().collect();
        blobs.extend_from_slice(m.layers);
        // Stamping the links and children this manifest needs keeps a collection running now
        // from taking them (see lifecycle::gc).
        let held = touch(&mut tx, "repository_blobs", repo, &blobs, now).await?;
        // The config comes first, and a sparse manifest needs only that.
        let required = if m.sparse {
            &blobs[..usize::from(m.config.is_some())]
        } else {
            &blobs[..]
        };
        first_missing(required, &held, "blob")?;
        let children = touch(&mut tx, "manifests", repo, m.children, now).await?;
        if !m.sparse {
            first_missing(m.children, &children, "manifest")?;
        }
        quota::check_push(&self.quotas, &mut tx, m.repository, &held).await?;

        let (id, inserted) = store_manifest(&mut tx, repo, &m, now).await?;
        // A manifest pushed again needs no new links unless it is sparse: only then can a
        // blob have arrived since.
        let linking = (inserted || (m.sparse && !held.is_empty())).then_some(id);
        let inserted = inserted.then_some(id);
        if let Some(id) = linking {
            for d in &held {
                sqlx::query(
                    "INSERT INTO manifest_blobs (manifest_id, digest) VALUES ($1, $2)
                     ON CONFLICT (manifest_id, digest) DO NOTHING",
                )
                .bind(id)
                .bind(d.to_string())
                .execute(&mut *tx)
                .await?;
            }
        }
        if let Some(id) = inserted {
            // Every child is listed, here or not: the index names it, so a child pushed later
            // is kept for it and counts as signed by it.
            for d in m.children {
                sqlx::query(
                    "INSERT INTO manifest_children (manifest_id, child_digest) VALUES ($1, $2)
                     ON CONFLICT (manifest_id, child_digest) DO NOTHING",
                )
                .bind(id)
                .bind(d.to_string())
                .execute(&mut *tx)
                .await?;
            }
        }

        for tag in m.tags {
            sqlx::query(
                "INSERT INTO tags (repository_id, name, manifest_digest, updated_at, pushed_by)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (repository_id, name)
                 DO UPDATE SET manifest_digest = excluded.manifest_digest,
                               updated_at = excluded.updated_at,
                               pushed_by = excluded.pushed_by",
            )
            .bind(repo)
            .bind(tag)
            .bind(m.digest.to_string())
            .bind(now)
            .bind(m.pusher)
            .execute(&mut *tx)
            .await?;
        }
        if !m.tags.is_empty() {
            tags_changed(&mut tx, repo).await?;
        }
        for event in events {
            sink.stage(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a manifest and every tag pointing at it, staging the delete `event` with `sink`.
    /// Blobs stay for garbage collection.
    pub async fn delete_manifest(
        &self,
        name: &str,
        digest: &Digest,
        sink: &dyn EventSink,
        event: &Event,
    ) -> Result<bool> {
        let _fresh = self.cache.on_write();
        let mut tx = self.begin_write().await?;
        let Some(repo) = tags_changing(&mut tx, name).await? else {
            return Ok(false);
        };
        let deleted = sqlx::query("DELETE FROM manifests WHERE repository_id = $1 AND digest = $2")
            .bind(repo)
            .bind(digest.to_string())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Ok(false);
        }
        immutable::guard_manifest_delete(&mut tx, name, repo, digest).await?;
        sqlx::query("DELETE FROM tags WHERE repository_id = $1 AND manifest_digest = $2")
            .bind(repo)
            .bind(digest.to_string())
            .execute(&mut *tx)
            .await?;
        sink.stage(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes one tag (the manifest stays), staging the delete event that `event_for` makes of
    /// the digest the tag pointed at; returns that event, or `None` if there was no such tag.
    pub async fn delete_tag(
        &self,
        name: &str,
        tag: &str,
        sink: &dyn EventSink,
        event_for: impl FnOnce(String) -> Event,
    ) -> Result<Option<Event>> {
        let _fresh = self.cache.on_write();
        let mut tx = self.begin_write().await?;
        let Some(repo) = tags_changing(&mut tx, name).await? else {
            return Ok(None);
        };
        let digest: Option<String> = sqlx::query_scalar(
            "DELETE FROM tags WHERE repository_id = $1 AND name = $2 RETURNING manifest_digest",
        )
        .bind(repo)
        .bind(tag)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(digest) = digest else {
            return Ok(None);
        };
        immutable::guard_tag_delete(&mut tx, name, tag).await?;
        let event = event_for(digest);
        sink.stage(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(Some(event))
    }

    /// Tags in lexical order after `last`; `limit` rows at most. `None` if the repository is
    /// unknown.
    pub async fn tags(
        &self,
        name: &str,
        last: Option<&str>,
        limit: i64,
    ) -> Result<Option<Vec<String>>> {
        // One row for the whole page: tags cannot contain a comma, and a row per tag would cost
        // a hand-off from the database driver each.
        // No row: no such repository; a NULL page: no tags after `last`.
        let page: Option<Option<String>> = sqlx::query_scalar(
            "SELECT (SELECT string_agg(page.name, ',' ORDER BY page.name)
                     FROM (SELECT name FROM tags WHERE repository_id = r.id AND name > $2
                           ORDER BY name LIMIT $3) AS page)
             FROM repositories r WHERE r.name = $1",
        )
        .bind(name)
        .bind(last.unwrap_or(""))
        .bind(limit)
        .fetch_optional(&self.pool)
        .await?;
        let Some(joined) = page else {
            return Ok(None);
        };
        Ok(Some(
            joined
                .map(|j| j.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
        ))
    }

    /// A page of a repository's tags, most recently pushed first, with their manifests, and
    /// the number of tags in all. `None` if the repository is unknown.
    pub async fn tag_details(
        &self,
        name: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Option<(i64, Vec<TagDetail>)>> {
        let page = self
            .tag_page(
                name,
                TagFilter {
                    filter: "",
                    order: TagOrder::Newest,
                    offset,
                    limit,
                },
            )
            .await?;
        Ok(page.map(|p| (p.total, p.tags)))
    }

    /// A page of a repository's tags with their manifests, filtered by name and ordered as
    /// asked, with the number of tags in all and of those matching. The repository's tag
    /// index ([`tag_index`]) gives the page's names; only those tags are read, by their key.
    /// `None` if the repository is unknown.
    pub async fn tag_page(&self, name: &str, q: TagFilter<'_>) -> Result<Option<TagPage>> {
        let Some(index) = self.tag_index(name).await? else {
            return Ok(None);
        };
        let page = index.page(q.filter.trim(), q.order, q.offset, q.limit);
        let tags = self.tags_named(index.repository_id, &page.names).await?;
        Ok(Some(TagPage {
            total: page.total,
            matching: page.matching,
            tags,
        }))
    }

    /// The tags `names` of the repository `repo` with their manifests, in the order of
    /// `names`; those gone since the names were read are left out.
    async fn tags_named(&self, repo: i64, names: &[&str]) -> Result<Vec<TagDetail>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let sql = any_of(
            self.backend(),
            "SELECT t.name, m.digest, m.media_type, m.content, t.updated_at, t.pushed_by,
                    t.last_pulled_at
             FROM tags t JOIN manifests m
               ON m.repository_id = t.repository_id AND m.digest = t.manifest_digest
             WHERE t.repository_id = $1 AND t.name = {key}",
            2,
            names.len(),
        );
        let mut query = sqlx::query_as(&sql).bind(repo);
        for name in names {
            query = query.bind(*name);
        }
        let mut rows: Vec<TagDetail> = query.fetch_all(&self.pool).await?;
        let position = |name: &str| names.iter().position(|n| *n == name);
        rows.sort_by_key(|r| position(&r.name));
        Ok(rows)
    }

    /// One tag with its manifest.
    pub async fn tag_detail(&self, name: &str, tag: &str) -> Result<Option<TagDetail>> {
        // Nothing is stored under a tag the grammar refuses (and the database may not even
        // hold it: PostgreSQL's text cannot contain a NUL).
        if !crate::names::is_tag(tag) {
            return Ok(None);
        }
        Ok(
            sqlx::query_as(&format!("{TAG_DETAIL} WHERE r.name = $1 AND t.name = $2"))
                .bind(name)
                .bind(tag)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Manifests of a repository by digest (e.g. an index's children), in no particular order.
    pub async fn manifests_by_digest(
        &self,
        name: &str,
        digests: &[String],
    ) -> Result<Vec<ManifestRow>> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT m.digest, m.media_type, m.size, m.content FROM repositories r
             JOIN manifests m ON m.repository_id = r.id
             WHERE r.name = $1 AND m.digest IN ({})",
            placeholders(2, digests.len())
        );
        let mut q = sqlx::query_as(&sql).bind(name);
        for d in digests {
            q = q.bind(d.as_str());
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// Repository names in lexical order after `last`.
    pub async fn catalog(&self, last: Option<&str>, limit: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT $2",
        )
        .bind(last.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Manifests in the repository whose subject is `digest`, optionally of one artifact type.
    pub async fn referrers(
        &self,
        name: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>> {
        Ok(sqlx::query_as(
            "SELECT m.digest, m.media_type, m.artifact_type, m.annotations, m.size
             FROM repositories r JOIN manifests m ON m.repository_id = r.id
             WHERE r.name = $1 AND m.subject = $2
               AND ($3 = '' OR m.artifact_type = $3)
             ORDER BY m.id",
        )
        .bind(name)
        .bind(subject.to_string())
        .bind(artifact_type.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?)
    }

    /// The manifests that may hold signatures of several manifests of `name` at once, in one
    /// query: those tagged with one of `tags` (cosign's `sha256-<hex>.sig`), keyed by that tag,
    /// then those whose subject is one of `subjects`, keyed by the subject, oldest first.
    pub async fn signature_artifacts(
        &self,
        name: &str,
        tags: &[String],
        subjects: &[String],
    ) -> Result<Vec<ArtifactRow>> {
        if tags.is_empty() && subjects.is_empty() {
            return Ok(Vec::new());
        }
        // Most repositories hold no signatures at all: whether this one holds any under a
        // cosign tag (`sha256-…`, `sha512-…`) or as a referrer is two probes of an index.
        let repo: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT r.id,
                    CASE WHEN EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = r.id
                                      AND t.name >= 'sha' AND t.name < 'shb')
                         THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END,
                    CASE WHEN EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id
                                      AND m.subject IS NOT NULL)
                         THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END
             FROM repositories r WHERE r.name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        let Some((repo, cosign_tags, referrers)) = repo else {
            return Ok(Vec::new());
        };
        let tags = if cosign_tags == 1 { tags } else { &[] };
        let subjects = if referrers == 1 { subjects } else { &[] };
        if tags.is_empty() && subjects.is_empty() {
            return Ok(Vec::new());
        }
        let by_tag = any_of(
            self.backend(),
            "SELECT CAST(0 AS BIGINT) AS via, t.name AS key, m.digest, m.content, m.id
             FROM tags t JOIN manifests m
               ON m.repository_id = t.repository_id AND m.digest = t.manifest_digest
             WHERE t.repository_id = $1 AND t.name = {key}",
            2,
            tags.len(),
        );
        let by_subject = any_of(
            self.backend(),
            "SELECT CAST(1 AS BIGINT) AS via, m.subject AS key, m.digest, m.content, m.id
             FROM manifests m WHERE m.repository_id = $1 AND m.subject = {key}",
            2 + tags.len(),
            subjects.len(),
        );
        let parts: Vec<String> = [by_tag, by_subject]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        let sql = format!("{} ORDER BY via, id", parts.join(" UNION ALL "));
        let mut q = sqlx::query_as(&sql).bind(repo);
        for value in tags.iter().chain(subjects) {
            q = q.bind(value.as_str());
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// The indexes of `name` that list the manifest `child` (a platform of a multi-arch image).
    pub async fn indexes_listing(&self, name: &str, child: &Digest) -> Result<Vec<String>> {
        let digests = sqlx::query_scalar(
            "SELECT m.digest FROM repositories r
             JOIN manifests m ON m.repository_id = r.id
             JOIN manifest_children c ON c.manifest_id = m.id
             WHERE r.name = $1 AND c.child_digest = $2
             ORDER BY m.id LIMIT 16",
        )
        .bind(name)
        .bind(child.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(digests)
    }

    /// Begins a deletion that spans Berth's stores: every store deletes its part on this one
    /// transaction, so a deletion happens completely or not at all.
    pub async fn begin_deletion(&self) -> Result<Deletion<'_>> {
        let fresh = self.cache.on_write();
        let tx = self.begin_write().await?;
        Ok(Deletion { tx, _fresh: fresh })
    }

    /// Whether any repository lives under `namespace/`.
    pub async fn namespace_in_use(&self, namespace: &str) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        namespace_in_use(&mut conn, namespace).await
    }

    pub async fn create_upload(&self, id: &str, repository: &str, owner: &str) -> Result<()> {
        let now = now();
        sqlx::query(
            "INSERT INTO uploads (id, repository, owner, size, created_at, updated_at)
             VALUES ($1, $2, $3, 0, $4, $4)",
        )
        .bind(id)
        .bind(repository)
        .bind(owner)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn upload(&self, id: &str) -> Result<Option<Upload>> {
        Ok(sqlx::query_as(
            "SELECT id, repository, owner, size, hash_state FROM uploads WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Claims an upload for one request, wherever it is served, until `until_ms` at most: the
    /// session as it is now, or `None` when it is gone, is not `owner`'s upload to
    /// `repository`, or another request holds it ([`Meta::upload`] tells which).
    pub async fn claim_upload(
        &self,
        id: &str,
        repository: &str,
        owner: &str,
        token: &str,
        until_ms: i64,
    ) -> Result<Option<Upload>> {
        Ok(sqlx::query_as(
            "UPDATE uploads SET lease_owner = $2, lease_until_ms = $3
             WHERE id = $1 AND (lease_owner IS NULL OR lease_until_ms < $4)
               AND repository = $5 AND owner = $6
             RETURNING id, repository, owner, size, hash_state",
        )
        .bind(id)
        .bind(token)
        .bind(until_ms)
        .bind(crate::clock::now_ms())
        .bind(repository)
        .bind(owner)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Gives up a claim taken by [`Meta::claim_upload`] (no effect once another holds it).
    pub async fn release_upload(&self, id: &str, owner: &str) -> Result<()> {
        sqlx::query("UPDATE uploads SET lease_owner = NULL WHERE id = $1 AND lease_owner = $2")
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records how much an upload holds and the running hash over it.
    pub async fn set_upload_size(
        &self,
        id: &str,
        size: i64,
        hash_state: Option<Vec<u8>>,
    ) -> Result<()> {
        sqlx::query("UPDATE uploads SET size = $2, hash_state = $3, updated_at = $4 WHERE id = $1")
            .bind(id)
            .bind(size)
            .bind(hash_state)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_upload(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
