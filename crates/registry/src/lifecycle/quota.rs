//! Storage usage and quotas per namespace.
//!
//! **Usage.** What a namespace uses is the sum of the sizes of the distinct blobs that the
//! manifests of its repositories (every repository under `ns/`) reference through
//! `manifest_blobs`: a layer shared by two repositories of the namespace, or by two images of
//! one repository, counts once. A repository's usage is the same sum over its own manifests.
//! Manifest bodies are not counted (a few KiB each, capped by `max_manifest_bytes`), and
//! neither are blobs no manifest references: uploaded but not pushed in a manifest yet, or
//! left behind by a deletion, they are garbage collection's to free after its grace period.
//! Usage is summed when asked, by one aggregate query over indexed columns (the repository
//! name range `ns/`…`ns0`, then `manifests (repository_id, …)`, `manifest_blobs (manifest_id,
//! …)` and `blobs (digest)`), so there is no counter that could drift from the truth.
//!
//! **Quotas.** A site administrator sets a namespace's quota (a `namespace_quotas` row);
//! a namespace without one has the configured default (`[registry] default_quota_bytes`), or
//! no quota at all. A manifest `PUT` that would take the namespace past its quota is refused
//! with `DENIED`; what a push adds is the size of the manifest's blobs that no manifest of the
//! namespace references yet, so a push that adds nothing (a re-tag, the same image pushed to
//! another repository of the namespace) is always allowed, even at or over the limit. A blob
//! upload is refused when it is completed into a namespace that is already full (its usage at
//! or past the quota) and the blob is not already counted there; its bytes are discarded.
//!
//! **Concurrency.** The check runs inside [`crate::meta::Meta::put_manifest`]'s transaction,
//! so what it counts is what the push commits with. Two pushes into one namespace must not
//! both fit under the quota on their own and pass it together, so checks of one namespace
//! happen one after another: on PostgreSQL the check takes a transaction-scoped advisory lock
//! on the namespace (`pg_advisory_xact_lock`), held until the push commits or rolls back; the
//! next check's queries, run after it gets the lock, see what the previous push committed
//! (read committed takes a new snapshot per statement). On SQLite, write transactions are
//! already serialised: `put_manifest` starts with a write, which takes the database's write
//! lock before the check reads anything. Deletions only lower usage and take no lock.
//!
//! **Cost when no quota applies.** The manifest `PUT` path is benchmarked, so a namespace
//! with neither its own quota nor a default costs no query at all: this process keeps the set
//! of namespaces that have a row, reloaded (one small query) at most once every [`TTL`] (or the
//! configured cache time-to-live). A quota set through this process is seen at once; one set
//! through another replica sharing the database as soon as its notification arrives (see
//! [`crate::coherence`]), and within the time-to-live should it be lost. When a quota does apply, the check costs the
//! lock, the quota row, and two aggregate queries (only one when the push adds nothing).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::AnyConnection;

use crate::backend::Backend;
use crate::coherence::{self, Topic};
use crate::digest::Digest;
use crate::error::{Code, Error, Result};
use crate::names::namespace_of;
use crate::sql::placeholders;

/// How long the set of namespaces with a quota row is trusted before it is read again.
pub const TTL: Duration = Duration::from_secs(1);

/// Marks "no default quota" in [`Quotas::default`].
const NO_DEFAULT: u64 = u64::MAX;

/// First key of the advisory locks quota checks take (the second is the namespace's hash),
/// so they cannot collide with any other use of advisory locks.
const LOCK_CLASS: i32 = 0x5155_4f54; // "QUOT"

/// What this process knows about quotas: the configured default and which namespaces have
/// their own. Shared by every clone of the registry's metadata store.
pub struct Quotas {
    backend: Backend,
    default: AtomicU64,
    /// How long the set of namespaces with a row is trusted, in milliseconds.
    ttl_ms: AtomicU64,
    known: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    namespaces: HashSet<String>,
    /// When `namespaces` was read; `None`: never.
    loaded: Option<Instant>,
    /// When this process last changed a quota row.
    changed: Option<Instant>,
    /// When another process last said it changed one.
    forgotten: Option<Instant>,
}

impl Quotas {
    pub(crate) fn new(backend: Backend) -> Self {
        Quotas {
            backend,
            default: AtomicU64::new(NO_DEFAULT),
            ttl_ms: AtomicU64::new(TTL.as_millis() as u64),
            known: Mutex::default(),
        }
    }

    pub(crate) fn set_ttl(&self, ttl: Duration) {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.ttl_ms.store(ms, Ordering::Relaxed);
    }

    /// Reads the set of namespaces with a row again before the next check: another process
    /// changed one.
    pub fn forget(&self) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known.loaded = None;
        known.forgotten = Some(Instant::now());
    }

    /// Sets the default quota of namespaces without their own (`None`: unlimited).
    pub fn set_default(&self, bytes: Option<u64>) {
        let stored = bytes.map_or(NO_DEFAULT, |b| b.min(i64::MAX as u64));
        self.default.store(stored, Ordering::Relaxed);
    }

    /// The default quota, in bytes.
    pub fn default_bytes(&self) -> Option<i64> {
        match self.default.load(Ordering::Relaxed) {
            NO_DEFAULT => None,
            b => Some(b as i64),
        }
    }

    /// Whether `namespace` may have its own quota row: from memory while that is fresh,
    /// otherwise after reading the set of namespaces with rows again.
    async fn may_have_row(&self, conn: &mut AnyConnection, namespace: &str) -> Result<bool> {
        {
            let ttl = Duration::from_millis(self.ttl_ms.load(Ordering::Relaxed));
            let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
            if known.loaded.is_some_and(|at| at.elapsed() < ttl) {
                return Ok(known.namespaces.contains(namespace));
            }
        }
        let read_at = Instant::now();
        let rows: Vec<String> = sqlx::query_scalar("SELECT namespace FROM namespace_quotas")
            .fetch_all(&mut *conn)
            .await?;
        let has = rows.iter().any(|n| n == namespace);
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        // What was read may predate a change this process made meanwhile: then the set in
        // memory (which has the change) stays, and the next check reads again.
        if known.changed.is_none_or(|at| at < read_at) {
            known.namespaces = rows.into_iter().collect();
            // A read that raced another process's change is used once, not kept.
            known.loaded = known
                .forgotten
                .is_none_or(|at| at < read_at)
                .then_some(read_at);
            return Ok(has);
        }
        Ok(has || known.namespaces.contains(namespace))
    }

    /// Notes that a committed change gave `namespace` a quota row or took it away.
    pub fn remember(&self, namespace: &str, has_row: bool) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known.changed = Some(Instant::now());
        if has_row {
            known.namespaces.insert(namespace.to_owned());
        } else {
            known.namespaces.remove(namespace);
        }
    }
}

/// A namespace's quota and usage.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Quota {
    pub namespace: String,
    /// The namespace's own quota, in bytes.
    pub bytes: Option<i64>,
    /// The configured default, which applies when the namespace has no quota of its own.
    pub default_bytes: Option<i64>,
    /// What it uses, in bytes.
    pub used: i64,
}

impl Quota {
    /// The quota that applies: its own, else the default.
    pub fn limit(&self) -> Option<i64> {
        self.bytes.or(self.default_bytes)
    }
}

/// `[ns/, ns0)`: the names of every repository under `ns/` ('0' follows '/'), as a range the
/// unique index on `repositories.name` serves (byte order on both backends).
fn name_range(namespace: &str) -> (String, String) {
    (format!("{namespace}/"), format!("{namespace}0"))
}

/// Distinct blobs referenced by the manifests of the repositories in `$1 <= name < $2`.
///
/// `CROSS JOIN` is SQLite's way of fixing the join order (PostgreSQL plans it as the inner
/// join it is): without statistics SQLite would otherwise walk every row of `manifest_blobs`
/// in digest order to skip the `DISTINCT` sort, which costs the whole registry instead of the
/// namespace.
const NAMESPACE_BLOBS: &str = "SELECT DISTINCT mb.digest AS digest
     FROM repositories r CROSS JOIN manifests m CROSS JOIN manifest_blobs mb
     WHERE r.name >= $1 AND r.name < $2
       AND m.repository_id = r.id AND mb.manifest_id = m.id";

pub(crate) async fn namespace_usage(conn: &mut AnyConnection, namespace: &str) -> Result<i64> {
    let (from, to) = name_range(namespace);
    // PostgreSQL's SUM of a BIGINT is a NUMERIC, which the Any driver cannot read.
    let used: i64 = sqlx::query_scalar(&format!(
        "SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT)
         FROM ({NAMESPACE_BLOBS}) AS d JOIN blobs b ON b.digest = d.digest"
    ))
    .bind(from)
    .bind(to)
    .fetch_one(conn)
    .await?;
    Ok(used)
}

/// The size of those of `digests` (distinct) that no manifest of the namespace references.
async fn new_to_namespace(
    conn: &mut AnyConnection,
    namespace: &str,
    digests: &[Digest],
) -> Result<i64> {
    let (from, to) = name_range(namespace);
    let mut adds = 0;
    for chunk in digests.chunks(500) {
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM blobs b
             WHERE b.digest IN ({})
               AND NOT EXISTS (
                   SELECT 1 FROM manifest_blobs mb
                   JOIN manifests m ON m.id = mb.manifest_id
                   JOIN repositories r ON r.id = m.repository_id
                   WHERE mb.digest = b.digest AND r.name >= $1 AND r.name < $2)",
            placeholders(3, chunk.len())
        );
        let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(&from).bind(&to);
        for d in chunk {
            q = q.bind(d.to_string());
        }
        adds += q.fetch_one(&mut *conn).await?;
    }
    Ok(adds)
}

pub(crate) async fn own_quota(conn: &mut AnyConnection, namespace: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT bytes FROM namespace_quotas WHERE namespace = $1")
            .bind(namespace)
            .fetch_optional(conn)
            .await?,
    )
}

/// The quota that applies to `namespace`, or `None` without a query when none can.
async fn applying(
    quotas: &Quotas,
    conn: &mut AnyConnection,
    namespace: &str,
) -> Result<Option<i64>> {
    let default = quotas.default_bytes();
    if !quotas.may_have_row(conn, namespace).await? {
        return Ok(default);
    }
    Ok(own_quota(conn, namespace).await?.or(default))
}

/// Serialises quota checks of one namespace until the transaction ends (see the module doc).
async fn lock(quotas: &Quotas, conn: &mut AnyConnection, namespace: &str) -> Result<()> {
    if quotas.backend == Backend::Postgres {
        // The function returns `void`, which the Any driver cannot read: read it as text.
        sqlx::query("SELECT CAST(pg_advisory_xact_lock($1, hashtext($2)) AS TEXT)")
            .bind(LOCK_CLASS)
            .bind(namespace)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Refuses a manifest push into `repository` whose `blobs` (those it will reference, present
/// and distinct) would take its namespace past its quota. Runs inside the push's transaction,
/// after its first write.
pub(crate) async fn check_push(
    quotas: &Quotas,
    conn: &mut AnyConnection,
    repository: &str,
    blobs: &[Digest],
) -> Result<()> {
    let Some(namespace) = namespace_of(repository) else {
        return Ok(());
    };
    if blobs.is_empty() {
        return Ok(());
    }
    if quotas.default_bytes().is_none() && !quotas.may_have_row(conn, namespace).await? {
        return Ok(());
    }
    lock(quotas, conn, namespace).await?;
    let Some(limit) = applying(quotas, conn, namespace).await? else {
        return Ok(());
    };
    let adds = new_to_namespace(conn, namespace, blobs).await?;
    if adds == 0 {
        return Ok(());
    }
    let used = namespace_usage(conn, namespace).await?;
    if used.saturating_add(adds) > limit {
        return Err(Error::new(
            Code::Denied,
            format!(
                "quota of {} exceeded: {} used, this push adds {}",
                human_size(limit),
                human_size(used),
                human_size(adds)
            ),
        )
        .explained());
    }
    Ok(())
}

/// Refuses a blob upload into `repository` when its namespace is already full (its usage at
/// or past its quota), unless the blob is one it already counts.
pub(crate) async fn check_upload(
    quotas: &Quotas,
    pool: &sqlx::AnyPool,
    repository: &str,
    digest: &Digest,
) -> Result<()> {
    let Some(namespace) = namespace_of(repository) else {
        return Ok(());
    };
    let mut conn = pool.acquire().await?;
    if quotas.default_bytes().is_none() && !quotas.may_have_row(&mut conn, namespace).await? {
        return Ok(());
    }
    let Some(limit) = applying(quotas, &mut conn, namespace).await? else {
        return Ok(());
    };
    let used = namespace_usage(&mut conn, namespace).await?;
    if used < limit || blob_counted(&mut conn, namespace, digest).await? {
        return Ok(());
    }
    Err(Error::new(
        Code::Denied,
        format!(
            "quota of {} exceeded: {namespace} uses {}; delete images to push new content",
            human_size(limit),
            human_size(used)
        ),
    )
    .explained())
}

/// Whether a manifest of the namespace references the blob.
async fn blob_counted(conn: &mut AnyConnection, namespace: &str, digest: &Digest) -> Result<bool> {
    let (from, to) = name_range(namespace);
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM manifest_blobs mb
         JOIN manifests m ON m.id = mb.manifest_id
         JOIN repositories r ON r.id = m.repository_id
         WHERE mb.digest = $3 AND r.name >= $1 AND r.name < $2 LIMIT 1",
    )
    .bind(from)
    .bind(to)
    .bind(digest.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Sets (`Some`) or removes (`None`) the namespace's own quota inside the caller's
/// transaction (which audits it); returns the quota it had. The caller tells
/// [`Quotas::remember`] once the transaction has committed.
pub async fn set_in(
    conn: &mut AnyConnection,
    namespace: &str,
    bytes: Option<i64>,
) -> Result<Option<i64>> {
    if bytes.is_some_and(|b| b < 0) {
        return Err(Error::new(Code::SizeInvalid, "a quota cannot be negative"));
    }
    // A write first (see meta.rs), which also reads the quota it replaces.
    let before: Option<i64> =
        sqlx::query_scalar("DELETE FROM namespace_quotas WHERE namespace = $1 RETURNING bytes")
            .bind(namespace)
            .fetch_optional(&mut *conn)
            .await?;
    coherence::announce(conn, Topic::Quotas).await?;
    if let Some(b) = bytes {
        sqlx::query(
            "INSERT INTO namespace_quotas (namespace, bytes, updated_at) VALUES ($1, $2, $3)",
        )
        .bind(namespace)
        .bind(b)
        .bind(crate::clock::now())
        .execute(&mut *conn)
        .await?;
    }
    Ok(before)
}

/// Removes the quota of a namespace going away (an organization or a user deleted), inside
/// the deletion's transaction: whoever takes the name later starts without it.
pub async fn delete_of_namespace(conn: &mut AnyConnection, namespace: &str) -> Result<()> {
    sqlx::query("DELETE FROM namespace_quotas WHERE namespace = $1")
        .bind(namespace)
        .execute(&mut *conn)
        .await?;
    coherence::announce(conn, Topic::Quotas).await?;
    Ok(())
}

/// A size for people: `512 B`, `1.5 KiB`, `10.0 GiB`.
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes.unsigned_abs() < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(10 << 30), "10.0 GiB");
        assert_eq!(human_size(i64::MAX), "8.0 EiB");
    }

    #[test]
    fn a_namespace_range_holds_its_repositories_only() {
        let (from, to) = name_range("acme");
        for inside in ["acme/app", "acme/a/b", "acme/~"] {
            assert!(from.as_str() <= inside && inside < to.as_str(), "{inside}");
        }
        for outside in [
            "acme",
            "acme-corp/app",
            "acme.x/app",
            "acme0/app",
            "acmf/app",
            "acm/x",
        ] {
            assert!(
                !(from.as_str() <= outside && outside < to.as_str()),
                "{outside}"
            );
        }
    }
}
