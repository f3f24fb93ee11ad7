//! Online garbage collection: frees the manifests, blob links, blobs and upload sessions that
//! nothing reaches any more, while pushes and pulls go on, on one Berth process or several
//! sharing one database.
//!
//! # What is kept
//! A manifest is reachable when a tag points at it, a trust collection signs it, a cosign
//! signature's tag names it (`sha256-<hex>.sig`, `.att`, `.sbom`), a reachable index lists it,
//! or it names a reachable subject (a signature, SBOM or other referrer). An unreachable
//! manifest is deleted once it has been untouched for its repository's untagged period
//! (7 days unless a policy says otherwise; a policy may also keep them forever). A blob is kept
//! in a repository while a manifest of that repository references it; a link no manifest
//! references, and a blob no link or manifest references, are freed once older than the grace
//! period. Upload sessions untouched for a day are removed with their bytes, and so are stored
//! files no row names, after the same day.
//!
//! # Why a concurrent push is never lost
//! Every write that makes something reachable stamps it, in its own transaction, with the
//! time: linking a blob stamps the blob's row and its link ([`crate::meta::Meta::begin_blob_link`],
//! `mount_blob`); a manifest push stamps the links of the blobs it needs, the child manifests
//! it lists, and the manifest itself when it is stored already (`put_manifest`). Those stamps
//! are updates of the very rows a collection would delete.
//!
//! A collection first works out, from what it reads, which rows are unreachable and older than
//! their period. It then deletes them in small batches, each `DELETE` re-checking in the same
//! statement that the row's stamp is still older than the collection's own start and that
//! nothing references it. A write that stamped a row after the collection began therefore
//! keeps it. The two cannot interleave badly: on PostgreSQL the stamp and the delete take the
//! same row lock, and the loser re-reads the row (a delete re-checks the new stamp; a stamp
//! finds the row gone and the push fails cleanly: `MANIFEST_BLOB_UNKNOWN`, or a fresh insert);
//! on SQLite write transactions run one at a time.
//!
//! A blob's file is deleted inside the transaction that deletes its row, before the commit.
//! A push linking the same digest writes the row first, so it waits until the file is gone,
//! then finds no file and puts its upload in place (see `upload_sessions::complete`): a row
//! never outlives its file for anyone reachable. If the process dies between the file and the
//! commit, the row stays without its file, unreachable and unlinked, and the next collection
//! deletes it. A file no row names is only deleted after a day, and under a row the collection
//! inserts itself, so a push placing that file waits for it.
//!
//! # One at a time
//! A collection runs under a lock: a PostgreSQL advisory lock held by its connection (freed if
//! the process dies), or on SQLite an exclusive lock on `gc.lock` in the data directory. Runs
//! are recorded in `gc_runs`; a run whose process died is marked `interrupted` by the next.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool};

use super::retention;
use crate::backend::Backend;
use crate::coherence::{self, Topic};
use crate::digest::Digest;
use crate::error::Result;
use crate::meta::{now, placeholders};
use crate::Registry;

/// Rows deleted per statement (and files per blob transaction): small enough that a push
/// waiting on one of them waits little.
const BATCH: usize = 100;

/// The key of the PostgreSQL advisory lock a collection holds.
const LOCK_KEY: i64 = 0x6265_7274_6867_6301;

/// What a collection does.
#[derive(Debug, Clone)]
pub struct Options {
    /// Work out and report what would be freed, deleting nothing.
    pub dry_run: bool,
    /// How old an unreferenced link or blob must be before it is freed.
    pub grace: Duration,
    /// How long unreachable manifests are kept where no retention policy says otherwise;
    /// `None` keeps them forever.
    pub untagged_after: Option<Duration>,
    /// How long an upload session (or a stored file no row names) may sit untouched.
    pub uploads_after: Duration,
    /// Manifests that trust data signs, as (repository, digest): always kept.
    pub pinned: Vec<(String, String)>,
    /// What started it (`schedule`, `cli`, `api`) and who, for the record.
    pub trigger: String,
    pub actor: String,
    /// Tags the caller deleted under retention rules before collecting, for the record.
    pub tags_deleted: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dry_run: false,
            grace: Duration::from_secs(3600),
            untagged_after: Some(Duration::from_secs(7 * 24 * 3600)),
            uploads_after: Duration::from_secs(24 * 3600),
            pinned: Vec::new(),
            trigger: "cli".to_owned(),
            actor: "system".to_owned(),
            tags_deleted: 0,
        }
    }
}

/// What a collection freed (or, in a dry run, would free).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub tags_deleted: u64,
    pub manifests_deleted: u64,
    pub links_deleted: u64,
    pub blobs_deleted: u64,
    pub bytes_freed: u64,
    pub uploads_deleted: u64,
    pub files_deleted: u64,
    pub duration_ms: u64,
}

/// A step of a collection, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Mark,
    Manifests,
    Links,
    Blobs,
    Uploads,
    Files,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Mark => "marking",
            Phase::Manifests => "manifests",
            Phase::Links => "blob links",
            Phase::Blobs => "blobs",
            Phase::Uploads => "uploads",
            Phase::Files => "stray files",
        }
    }
}

/// Where a collection is: `done` of `total` in `phase`.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub phase: Phase,
    pub done: u64,
    pub total: u64,
}

/// A past or running collection, as recorded.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Run {
    pub id: i64,
    pub trigger: String,
    pub actor: String,
    #[serde(serialize_with = "as_bool")]
    pub dry_run: i64,
    pub status: String,
    pub error: Option<String>,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub tags_deleted: i64,
    pub manifests_deleted: i64,
    pub links_deleted: i64,
    pub blobs_deleted: i64,
    pub bytes_freed: i64,
    pub uploads_deleted: i64,
    pub files_deleted: i64,
}

fn as_bool<S: serde::Serializer>(v: &i64, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_bool(*v != 0)
}

/// The right to collect: one collection at a time across every process on the database.
pub struct Lock {
    held: Held,
}

enum Held {
    /// The connection holding the advisory lock; closed rather than pooled if dropped
    /// unreleased, which frees the lock.
    Postgres(Option<PoolConnection<Any>>),
    File(#[allow(dead_code)] std::fs::File),
}

impl Lock {
    /// Takes the lock, or `None` when another collection holds it. `lock_file` is used on
    /// SQLite, where the database is one machine's file anyway.
    pub async fn try_acquire(reg: &Registry, lock_file: &Path) -> Result<Option<Lock>> {
        let pool = &reg.meta.pool;
        match Backend::of_pool(pool) {
            Backend::Postgres => {
                let mut conn = pool.acquire().await?;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(LOCK_KEY)
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(got.then(|| Lock {
                    held: Held::Postgres(Some(conn)),
                }))
            }
            Backend::Sqlite => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(lock_file)?;
                match file.try_lock() {
                    Ok(()) => Ok(Some(Lock {
                        held: Held::File(file),
                    })),
                    Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                    Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
                }
            }
        }
    }

    /// Gives the lock back.
    pub async fn release(mut self) {
        if let Held::Postgres(conn) = &mut self.held {
            if let Some(mut conn) = conn.take() {
                let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(LOCK_KEY)
                    .execute(&mut *conn)
                    .await;
                if unlocked.is_err() {
                    // Closing the session frees it as well.
                    drop(conn.detach());
                }
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if let Held::Postgres(conn) = &mut self.held {
            if let Some(conn) = conn.take() {
                drop(conn.detach());
            }
        }
    }
}

/// The most recent collections, newest first.
pub async fn recent_runs(reg: &Registry, limit: i64) -> Result<Vec<Run>> {
    Ok(sqlx::query_as(
        "SELECT id, trigger, actor, dry_run, status, error, started_at, finished_at, duration_ms,
                tags_deleted, manifests_deleted, links_deleted, blobs_deleted, bytes_freed,
                uploads_deleted, files_deleted
         FROM gc_runs ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&reg.meta.pool)
    .await?)
}

/// When the last collection that was not a dry run finished, if one did.
pub async fn last_finished(reg: &Registry) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT MAX(finished_at) FROM gc_runs WHERE dry_run = 0 AND status = 'done'",
    )
    .fetch_one(&reg.meta.pool)
    .await?)
}

/// Collects garbage under `lock`, reporting progress to `progress`; the run is recorded.
pub async fn collect(
    reg: &Registry,
    _lock: &mut Lock,
    options: &Options,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report> {
    let started = Instant::now();
    let start = now();
    let pool = &reg.meta.pool;
    // Whatever is still marked running died with its process: the lock is ours.
    sqlx::query("UPDATE gc_runs SET status = 'interrupted' WHERE status = 'running'")
        .execute(pool)
        .await?;
    let run: i64 = sqlx::query_scalar(
        "INSERT INTO gc_runs (trigger, actor, dry_run, status, started_at, tags_deleted)
         VALUES ($1, $2, $3, 'running', $4, $5) RETURNING id",
    )
    .bind(&options.trigger)
    .bind(&options.actor)
    .bind(i64::from(options.dry_run))
    .bind(start)
    .bind(options.tags_deleted as i64)
    .fetch_one(pool)
    .await?;

    let result = Collection {
        reg,
        options,
        start,
        progress,
    }
    .run()
    .await;
    let elapsed = started.elapsed().as_millis() as u64;
    reg.metrics().gc_run(
        options.dry_run,
        result.is_ok(),
        result.as_ref().map_or(0, |r| r.bytes_freed),
    );
    match &result {
        Ok(report) => {
            sqlx::query(
                "UPDATE gc_runs SET status = 'done', finished_at = $2, duration_ms = $3,
                        manifests_deleted = $4, links_deleted = $5, blobs_deleted = $6,
                        bytes_freed = $7, uploads_deleted = $8, files_deleted = $9
                 WHERE id = $1",
            )
            .bind(run)
            .bind(now())
            .bind(elapsed as i64)
            .bind(report.manifests_deleted as i64)
            .bind(report.links_deleted as i64)
            .bind(report.blobs_deleted as i64)
            .bind(report.bytes_freed as i64)
            .bind(report.uploads_deleted as i64)
            .bind(report.files_deleted as i64)
            .execute(pool)
            .await?;
        }
        Err(e) => {
            sqlx::query(
                "UPDATE gc_runs SET status = 'failed', error = $2, finished_at = $3,
                        duration_ms = $4 WHERE id = $1",
            )
            .bind(run)
            .bind(e.to_string())
            .bind(now())
            .bind(elapsed as i64)
            .execute(pool)
            .await
            .ok();
        }
    }
    result.map(|report| Report {
        duration_ms: elapsed,
        tags_deleted: options.tags_deleted,
        ..report
    })
}

#[derive(sqlx::FromRow)]
struct ManifestNode {
    id: i64,
    repository_id: i64,
    digest: String,
    subject: Option<String>,
    touched_at: i64,
}

#[derive(sqlx::FromRow)]
struct TagRow {
    repository_id: i64,
    name: String,
    manifest_digest: String,
}

#[derive(sqlx::FromRow)]
struct Edge {
    manifest_id: i64,
    digest: String,
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    repository_id: i64,
    digest: String,
    linked_at: i64,
}

#[derive(sqlx::FromRow)]
struct BlobRow {
    digest: String,
    size: i64,
    last_linked: i64,
}

#[derive(sqlx::FromRow)]
struct RepositoryRow {
    id: i64,
    name: String,
}

/// What a collection found to free.
struct Plan {
    manifests: Vec<i64>,
    /// By repository.
    links: HashMap<i64, Vec<String>>,
    blobs: Vec<(String, i64)>,
}

struct Collection<'a> {
    reg: &'a Registry,
    options: &'a Options,
    start: i64,
    progress: &'a (dyn Fn(Progress) + Sync),
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The digest a cosign tag (`sha256-<hex>.sig`, `.att`, `.sbom`) is about.
fn cosign_subject(tag: &str) -> Option<String> {
    let (stem, suffix) = tag.rsplit_once('.')?;
    if !matches!(suffix, "sig" | "att" | "sbom") {
        return None;
    }
    let (algorithm, hex) = stem.split_once('-')?;
    let digest = format!("{algorithm}:{hex}");
    digest.parse::<Digest>().ok().map(|_| digest)
}

impl Collection<'_> {
    fn pool(&self) -> &AnyPool {
        &self.reg.meta.pool
    }

    fn report(&self, phase: Phase, done: usize, total: usize) {
        (self.progress)(Progress {
            phase,
            done: done as u64,
            total: total as u64,
        });
    }

    async fn run(&self) -> Result<Report> {
        let plan = self.plan().await?;
        let mut report = Report {
            dry_run: self.options.dry_run,
            ..Report::default()
        };
        let uploads = self.abandoned_uploads().await?;
        let strays = self.stray_files().await?;
        if self.options.dry_run {
            report.manifests_deleted = plan.manifests.len() as u64;
            report.links_deleted = plan.links.values().map(Vec::len).sum::<usize>() as u64;
            report.blobs_deleted = plan.blobs.len() as u64;
            report.bytes_freed = plan.blobs.iter().map(|(_, s)| *s as u64).sum();
            report.uploads_deleted = uploads.len() as u64;
            report.files_deleted = strays.len() as u64;
            return Ok(report);
        }
        report.manifests_deleted = self.delete_manifests(&plan.manifests).await?;
        report.links_deleted = self.delete_links(&plan.links).await?;
        (report.blobs_deleted, report.bytes_freed) = self.delete_blobs(&plan.blobs).await?;
        report.uploads_deleted = self.delete_uploads(&uploads).await?;
        report.files_deleted = self.delete_strays(&strays).await?;
        Ok(report)
    }

    /// Marks what is reachable and plans the rest, as the database is now.
    async fn plan(&self) -> Result<Plan> {
        let pool = self.pool();
        self.report(Phase::Mark, 0, 1);
        let repositories: Vec<RepositoryRow> = sqlx::query_as("SELECT id, name FROM repositories")
            .fetch_all(pool)
            .await?;

        let ids: HashMap<&str, i64> = repositories
            .iter()
            .map(|r| (r.name.as_str(), r.id))
            .collect();
        let manifests: Vec<ManifestNode> =
            sqlx::query_as("SELECT id, repository_id, digest, subject, touched_at FROM manifests")
                .fetch_all(pool)
                .await?;
        let tags: Vec<TagRow> =
            sqlx::query_as("SELECT repository_id, name, manifest_digest FROM tags")
                .fetch_all(pool)
                .await?;
        let children: Vec<Edge> =
            sqlx::query_as("SELECT manifest_id, child_digest AS digest FROM manifest_children")
                .fetch_all(pool)
                .await?;

        let by_digest: HashMap<(i64, &str), usize> = manifests
            .iter()
            .enumerate()
            .map(|(i, m)| ((m.repository_id, m.digest.as_str()), i))
            .collect();
        let mut children_of: HashMap<i64, Vec<&str>> = HashMap::new();
        for c in &children {
            children_of
                .entry(c.manifest_id)
                .or_default()
                .push(c.digest.as_str());
        }
        let mut referrers_of: HashMap<(i64, &str), Vec<usize>> = HashMap::new();
        for (i, m) in manifests.iter().enumerate() {
            if let Some(subject) = &m.subject {
                referrers_of
                    .entry((m.repository_id, subject.as_str()))
                    .or_default()
                    .push(i);
            }
        }

        let mut marked = vec![false; manifests.len()];
        let mut queue = VecDeque::new();
        let mut root = |key: (i64, &str), queue: &mut VecDeque<usize>| {
            if let Some(&i) = by_digest.get(&key) {
                if !marked[i] {
                    marked[i] = true;
                    queue.push_back(i);
                }
            }
        };
        let subjects: Vec<(i64, String)> = tags
            .iter()
            .filter_map(|t| cosign_subject(&t.name).map(|d| (t.repository_id, d)))
            .collect();
        for t in &tags {
            root((t.repository_id, t.manifest_digest.as_str()), &mut queue);
        }
        for (repo, digest) in &subjects {
            root((*repo, digest.as_str()), &mut queue);
        }
        for (repo, digest) in &self.options.pinned {
            if let Some(&id) = ids.get(repo.as_str()) {
                root((id, digest.as_str()), &mut queue);
            }
        }
        // Manifests within their repository's untagged period are roots: what they reach is
        // kept with them. A repository's retention policy may set its own period.
        let policies = retention::UntaggedPolicies::load(pool).await?;
        let mut periods: HashMap<i64, Option<i64>> = HashMap::new();
        for r in &repositories {
            let period = match policies.of(&r.name) {
                retention::Untagged::GcDefault => self.options.untagged_after,
                retention::Untagged::KeepForever => None,
                retention::Untagged::After(d) => Some(d),
            };
            periods.insert(r.id, period.map(secs));
        }
        for m in &manifests {
            let young = match periods.get(&m.repository_id).copied().flatten() {
                None => true,
                Some(period) => m.touched_at >= self.start.saturating_sub(period),
            };
            if young {
                root((m.repository_id, m.digest.as_str()), &mut queue);
            }
        }
        while let Some(i) = queue.pop_front() {
            let m = &manifests[i];
            let mut reached: Vec<usize> = children_of
                .get(&m.id)
                .into_iter()
                .flatten()
                .filter_map(|d| by_digest.get(&(m.repository_id, *d)).copied())
                .collect();
            if let Some(referrers) = referrers_of.get(&(m.repository_id, m.digest.as_str())) {
                reached.extend(referrers);
            }
            for j in reached {
                if !marked[j] {
                    marked[j] = true;
                    queue.push_back(j);
                }
            }
        }
        let doomed: Vec<i64> = manifests
            .iter()
            .zip(&marked)
            .filter(|(_, kept)| !**kept)
            .map(|(m, _)| m.id)
            .collect();
        let doomed_set: HashSet<i64> = doomed.iter().copied().collect();
        let repository_of: HashMap<i64, i64> =
            manifests.iter().map(|m| (m.id, m.repository_id)).collect();
        drop(by_digest);
        drop(referrers_of);

        // Blobs: what the surviving manifests reference, per repository and anywhere.
        let references: Vec<Edge> =
            sqlx::query_as("SELECT manifest_id, digest FROM manifest_blobs")
                .fetch_all(pool)
                .await?;
        let mut referenced_in: HashSet<(i64, String)> = HashSet::new();
        let mut referenced: HashSet<String> = HashSet::new();
        for r in references {
            if doomed_set.contains(&r.manifest_id) {
                continue;
            }
            // A reference whose manifest came after the manifests were read still counts.
            let repo = repository_of.get(&r.manifest_id).copied().unwrap_or(-1);
            referenced.insert(r.digest.clone());
            referenced_in.insert((repo, r.digest));
        }
        let cutoff = self.start.saturating_sub(secs(self.options.grace));
        let links: Vec<LinkRow> =
            sqlx::query_as("SELECT repository_id, digest, linked_at FROM repository_blobs")
                .fetch_all(pool)
                .await?;
        let mut linked: HashSet<String> = HashSet::new();
        let mut doomed_links: HashMap<i64, Vec<String>> = HashMap::new();
        for l in links {
            let in_use = referenced_in.contains(&(l.repository_id, l.digest.clone()))
                || referenced_in.contains(&(-1, l.digest.clone()));
            if !in_use && l.linked_at < cutoff {
                doomed_links
                    .entry(l.repository_id)
                    .or_default()
                    .push(l.digest);
            } else {
                linked.insert(l.digest);
            }
        }
        let blobs: Vec<BlobRow> = sqlx::query_as("SELECT digest, size, last_linked FROM blobs")
            .fetch_all(pool)
            .await?;
        let doomed_blobs = blobs
            .into_iter()
            .filter(|b| {
                b.last_linked < cutoff
                    && !linked.contains(&b.digest)
                    && !referenced.contains(&b.digest)
            })
            .map(|b| (b.digest, b.size))
            .collect();
        self.report(Phase::Mark, 1, 1);
        Ok(Plan {
            manifests: doomed,
            links: doomed_links,
            blobs: doomed_blobs,
        })
    }

    /// Deletes the planned manifests that are still untagged and untouched since the start.
    async fn delete_manifests(&self, ids: &[i64]) -> Result<u64> {
        let mut deleted = 0;
        for (n, batch) in ids.chunks(BATCH).enumerate() {
            self.report(Phase::Manifests, n * BATCH, ids.len());
            let _fresh = self.reg.meta.cache.on_write();
            let sql = format!(
                "DELETE FROM manifests WHERE id IN ({}) AND touched_at < $1
                 AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = manifests.repository_id
                                 AND t.manifest_digest = manifests.digest)
                 RETURNING id",
                placeholders(2, batch.len())
            );
            let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(self.start);
            for id in batch {
                q = q.bind(*id);
            }
            deleted += q.fetch_all(self.pool()).await?.len() as u64;
        }
        if deleted > 0 {
            coherence::announce_on(self.pool(), Topic::Manifests).await?;
        }
        self.report(Phase::Manifests, ids.len(), ids.len());
        Ok(deleted)
    }

    /// Deletes the planned links that no manifest of their repository references and that
    /// nothing stamped since the start.
    async fn delete_links(&self, links: &HashMap<i64, Vec<String>>) -> Result<u64> {
        let total: usize = links.values().map(Vec::len).sum();
        let mut done = 0;
        let mut deleted = 0;
        for (repo, digests) in links {
            for batch in digests.chunks(BATCH) {
                self.report(Phase::Links, done, total);
                let sql = format!(
                    "DELETE FROM repository_blobs WHERE repository_id = $1 AND linked_at < $2
                     AND digest IN ({})
                     AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb
                                     JOIN manifests m ON m.id = mb.manifest_id
                                     WHERE mb.digest = repository_blobs.digest
                                       AND m.repository_id = repository_blobs.repository_id)
                     RETURNING digest",
                    placeholders(3, batch.len())
                );
                let mut q = sqlx::query_scalar::<_, String>(&sql)
                    .bind(*repo)
                    .bind(self.start);
                for d in batch {
                    q = q.bind(d.as_str());
                }
                deleted += q.fetch_all(self.pool()).await?.len() as u64;
                done += batch.len();
            }
        }
        self.report(Phase::Links, total, total);
        Ok(deleted)
    }

    /// Deletes the planned blobs nothing links or references, each file inside the
    /// transaction that deletes its row; the count and bytes freed.
    async fn delete_blobs(&self, blobs: &[(String, i64)]) -> Result<(u64, u64)> {
        let (mut count, mut bytes) = (0, 0);
        for (n, batch) in blobs.chunks(BATCH).enumerate() {
            self.report(Phase::Blobs, n * BATCH, blobs.len());
            let mut tx = self.pool().begin().await?;
            let sql = format!(
                "DELETE FROM blobs WHERE digest IN ({}) AND last_linked < $1
                 AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = blobs.digest)
                 AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = blobs.digest)
                 RETURNING digest, size",
                placeholders(2, batch.len())
            );
            let mut q = sqlx::query_as::<_, (String, i64)>(&sql).bind(self.start);
            for (d, _) in batch {
                q = q.bind(d.as_str());
            }
            let gone = q.fetch_all(&mut *tx).await?;
            for (digest, size) in &gone {
                let digest: Digest = digest.parse()?;
                self.reg.store.delete(&digest).await?;
                count += 1;
                bytes += *size as u64;
            }
            tx.commit().await?;
        }
        self.report(Phase::Blobs, blobs.len(), blobs.len());
        Ok((count, bytes))
    }

    fn uploads_cutoff(&self) -> i64 {
        self.start.saturating_sub(secs(self.options.uploads_after))
    }

    /// Upload sessions untouched for longer than allowed, and upload files no session names.
    async fn abandoned_uploads(&self) -> Result<Vec<String>> {
        let cutoff = self.uploads_cutoff();
        let mut ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM uploads WHERE updated_at < $1")
                .bind(cutoff)
                .fetch_all(self.pool())
                .await?;
        let sessions: HashSet<String> = sqlx::query_scalar("SELECT id FROM uploads")
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .collect();
        for file in self.reg.store.list_uploads().await? {
            if file.modified < cutoff && !sessions.contains(&file.name) {
                ids.push(file.name);
            }
        }
        Ok(ids)
    }

    async fn delete_uploads(&self, ids: &[String]) -> Result<u64> {
        let cutoff = self.uploads_cutoff();
        let mut deleted = 0;
        for (n, id) in ids.iter().enumerate() {
            self.report(Phase::Uploads, n, ids.len());
            // Still abandoned (or never a session): a session touched since keeps its bytes.
            let row: Option<i64> =
                sqlx::query_scalar("SELECT updated_at FROM uploads WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.pool())
                    .await?;
            if row.is_some_and(|t| t >= cutoff) {
                continue;
            }
            if row.is_some() {
                sqlx::query("DELETE FROM uploads WHERE id = $1 AND updated_at < $2")
                    .bind(id)
                    .bind(cutoff)
                    .execute(self.pool())
                    .await?;
            }
            self.reg.store.delete_upload(id).await?;
            deleted += 1;
        }
        self.report(Phase::Uploads, ids.len(), ids.len());
        Ok(deleted)
    }

    /// Stored files older than the uploads' limit whose digest has no row (left by a process
    /// that died between placing a blob and recording it).
    async fn stray_files(&self) -> Result<Vec<(String, u64)>> {
        let cutoff = self.uploads_cutoff();
        let old: Vec<(String, u64)> = self
            .reg
            .store
            .list_blobs()
            .await?
            .into_iter()
            .filter(|f| f.modified < cutoff)
            .map(|f| (f.name, f.size))
            .collect();
        let mut strays = Vec::new();
        for batch in old.chunks(500) {
            let sql = format!(
                "SELECT digest FROM blobs WHERE digest IN ({})",
                placeholders(1, batch.len())
            );
            let mut q = sqlx::query_scalar::<_, String>(&sql);
            for (d, _) in batch {
                q = q.bind(d.as_str());
            }
            let rows: HashSet<String> = q.fetch_all(self.pool()).await?.into_iter().collect();
            strays.extend(batch.iter().filter(|(d, _)| !rows.contains(d)).cloned());
        }
        Ok(strays)
    }

    /// Deletes stray files, each under a row the collection inserts for the purpose and
    /// deletes with it, so a push recording that digest meanwhile waits and then re-places it.
    async fn delete_strays(&self, strays: &[(String, u64)]) -> Result<u64> {
        let mut deleted = 0;
        for (n, (digest, size)) in strays.iter().enumerate() {
            self.report(Phase::Files, n, strays.len());
            let parsed: Digest = digest.parse()?;
            let mut tx = self.pool().begin().await?;
            let claimed: Option<String> = sqlx::query_scalar(
                "INSERT INTO blobs (digest, size, created_at, last_linked) VALUES ($1, $2, 0, 0)
                 ON CONFLICT (digest) DO NOTHING RETURNING digest",
            )
            .bind(digest)
            .bind(*size as i64)
            .fetch_optional(&mut *tx)
            .await?;
            if claimed.is_none() {
                continue;
            }
            self.reg.store.delete(&parsed).await?;
            sqlx::query("DELETE FROM blobs WHERE digest = $1")
                .bind(digest)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            deleted += 1;
        }
        self.report(Phase::Files, strays.len(), strays.len());
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosign_tags_name_their_subject() {
        let hex = "a".repeat(64);
        assert_eq!(
            cosign_subject(&format!("sha256-{hex}.sig")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(
            cosign_subject(&format!("sha256-{hex}.att")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(cosign_subject("v1.sig"), None);
        assert_eq!(cosign_subject(&format!("sha256-{hex}.txt")), None);
        assert_eq!(cosign_subject("sha256-abc.sig"), None);
    }
}
