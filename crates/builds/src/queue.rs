//! Builds in the database: queued by triggers, claimed by a worker under a lease, finished with
//! a result; and their logs. The queue is the `builds` table itself, so it survives restarts
//! and is shared by every replica: a worker claims the oldest queued build with one guarded
//! `UPDATE`, renews its lease while the build runs, and a build whose lease ran out (its
//! process died) is failed by the next worker that looks.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{AnyConnection, Row};

use berth_accounts::{activity, audit};
use berth_registry::metrics::BuildOutcome;
use berth_webhooks::payload::BuildEvent;

use crate::rules::{self, RefKind, Rule};
use berth_webhooks::deliveries::now_ms;

use crate::{sources, Builds, Error, Result};

/// How long a claim lasts without renewal, in milliseconds.
pub(crate) const LEASE_MS: i64 = 15_000;

/// Where a build stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Cloning,
    Building,
    Pushing,
    Success,
    Failed,
    Cancelled,
}

impl Status {
    pub const RUNNING: [Status; 3] = [Status::Cloning, Status::Building, Status::Pushing];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Cloning => "cloning",
            Status::Building => "building",
            Status::Pushing => "pushing",
            Status::Success => "success",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Queued,
            Status::Cloning,
            Status::Building,
            Status::Pushing,
            Status::Success,
            Status::Failed,
            Status::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    pub fn is_running(self) -> bool {
        Status::RUNNING.contains(&self)
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Status::Success | Status::Failed | Status::Cancelled)
    }
}

/// What queued a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A push event from the git host.
    Push,
    /// "Build now", on the page or through the API.
    Manual,
    /// A push of an image the last build was built FROM.
    BaseImage,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Push => "push",
            Trigger::Manual => "manual",
            Trigger::BaseImage => "base_image",
        }
    }

    fn parse(s: &str) -> Trigger {
        match s {
            "push" => Trigger::Push,
            "base_image" => Trigger::BaseImage,
            _ => Trigger::Manual,
        }
    }
}

/// One build.
#[derive(Debug, Clone, Serialize)]
pub struct Build {
    pub id: i64,
    pub repository: String,
    pub status: Status,
    pub trigger: Trigger,
    /// Who queued it: a user, or the git host for push events.
    pub triggered_by: String,
    pub ref_kind: RefKind,
    pub ref_name: String,
    /// The commit built; `None` until the clone resolves a ref queued by name.
    pub commit: Option<String>,
    /// The Docker tags it pushes.
    pub tags: Vec<String>,
    pub dockerfile: String,
    pub context: String,
    pub build_args: BTreeMap<String, String>,
    /// The digest of the image pushed.
    pub digest: Option<String>,
    /// Why it failed or was cancelled.
    pub error: String,
    pub cancel_requested: bool,
    pub queued_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Seconds from start to finish (or to now, while it runs).
    pub duration_seconds: Option<i64>,
    pub log_bytes: i64,
    /// Whether the log reached its cap and was cut (the build itself went on).
    pub log_truncated: bool,
}

const COLUMNS: &str = "id, repository, status, trigger_kind, triggered_by, ref_kind, ref_name, \
    commit_sha, tags, dockerfile, context, build_args, digest, error, cancel_requested, \
    queued_at, started_at, finished_at, log_bytes, log_truncated";

fn build(row: &sqlx::any::AnyRow) -> Result<Build> {
    let bad = |what: &str| Error::Internal(format!("a stored build has a bad {what}"));
    let status: String = row.try_get("status")?;
    let kind: String = row.try_get("ref_kind")?;
    let tags: String = row.try_get("tags")?;
    let args: String = row.try_get("build_args")?;
    let started_at: Option<i64> = row.try_get("started_at")?;
    let finished_at: Option<i64> = row.try_get("finished_at")?;
    let status = Status::parse(&status).ok_or_else(|| bad("status"))?;
    let duration_seconds = match (started_at, finished_at) {
        (Some(s), Some(f)) => Some((f - s).max(0)),
        (Some(s), None) if status.is_running() => Some((berth_accounts::now() - s).max(0)),
        _ => None,
    };
    Ok(Build {
        id: row.try_get("id")?,
        repository: row.try_get("repository")?,
        status,
        trigger: Trigger::parse(&row.try_get::<String, _>("trigger_kind")?),
        triggered_by: row.try_get("triggered_by")?,
        ref_kind: RefKind::parse(&kind).ok_or_else(|| bad("ref kind"))?,
        ref_name: row.try_get("ref_name")?,
        commit: row.try_get("commit_sha")?,
        tags: serde_json::from_str(&tags).map_err(|_| bad("tag list"))?,
        dockerfile: row.try_get("dockerfile")?,
        context: row.try_get("context")?,
        build_args: serde_json::from_str(&args).map_err(|_| bad("build argument list"))?,
        digest: row.try_get("digest")?,
        error: row.try_get("error")?,
        cancel_requested: row.try_get::<i64, _>("cancel_requested")? != 0,
        queued_at: row.try_get("queued_at")?,
        started_at,
        finished_at,
        duration_seconds,
        log_bytes: row.try_get("log_bytes")?,
        log_truncated: row.try_get::<i64, _>("log_truncated")? != 0,
    })
}

/// What to build: a ref (at a known commit, or its tip) under one rule.
#[derive(Debug, Clone)]
pub struct Wanted<'a> {
    pub kind: RefKind,
    pub name: &'a str,
    pub commit: Option<&'a str>,
    pub rule: &'a Rule,
    pub tag: String,
}

/// The webhook `build_data` of a build.
pub(crate) fn news(public_url: &str, b: &Build) -> Value {
    json!({
        "build_id": b.id,
        "status": b.status,
        "trigger": b.trigger,
        "source_ref": format!(
            "refs/{}/{}",
            if b.ref_kind == RefKind::Tag { "tags" } else { "heads" },
            b.ref_name
        ),
        "commit": b.commit,
        "tags": b.tags,
        "digest": b.digest,
        "queued_at": b.queued_at,
        "finished_at": b.finished_at,
        "duration_seconds": b.duration_seconds,
        "build_url": format!("{public_url}/r/{}/builds/{}", b.repository, b.id),
        "error": b.error,
    })
}

/// Reads one build inside a transaction.
pub(crate) async fn read(conn: &mut AnyConnection, id: i64) -> Result<Build> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM builds WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::NotFound(format!("build {id}")))?;
    build(&row)
}

/// Stages the webhook deliveries of `event` about build `id`, in the caller's transaction.
pub(crate) async fn announce(
    builds: &Builds,
    conn: &mut AnyConnection,
    id: i64,
    event: BuildEvent,
) -> Result<()> {
    let b = read(conn, id).await?;
    // A finished build is a line of the activity feed; a queued one is not news yet.
    let outcome = match event {
        BuildEvent::Queued => None,
        BuildEvent::Success => Some("succeeded"),
        BuildEvent::Failure => Some("failed"),
    };
    if let Some(outcome) = outcome {
        let new = activity::New {
            repository: &b.repository,
            actor: &b.triggered_by,
            tag: b.tags.first().map_or("", String::as_str),
            digest: b.digest.as_deref().unwrap_or(""),
            detail: outcome,
        };
        activity::record(conn, activity::Kind::Build, &new).await?;
    }
    let data = news(&builds.config.public_url, &b);
    berth_webhooks::deliveries::stage_build(
        conn,
        &builds.webhooks.config,
        &b.repository,
        event,
        data,
    )
    .await?;
    Ok(())
}

/// Inserts one queued build in the caller's transaction; returns its id.
async fn insert(
    conn: &mut AnyConnection,
    repository: &str,
    trigger: Trigger,
    by: &str,
    wanted: &Wanted<'_>,
) -> Result<i64> {
    let namespace = berth_registry::names::namespace_of(repository).unwrap_or(repository);
    let tags = serde_json::to_string(&[&wanted.tag]).map_err(|e| Error::Internal(e.to_string()))?;
    let args = serde_json::to_string(&wanted.rule.build_args)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO builds (repository, namespace, status, trigger_kind, triggered_by, ref_kind,
                             ref_name, commit_sha, tags, dockerfile, context, build_args,
                             queued_at)
         VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         RETURNING id",
    )
    .bind(repository)
    .bind(namespace)
    .bind(trigger.as_str())
    .bind(by)
    .bind(wanted.kind.as_str())
    .bind(wanted.name)
    .bind(wanted.commit)
    .bind(tags)
    .bind(&wanted.rule.dockerfile)
    .bind(&wanted.rule.context)
    .bind(args)
    .bind(berth_accounts::now())
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// Queues one build per wanted (rule, tag) in one transaction, with their `build_queued`
/// webhooks; returns them.
pub(crate) async fn enqueue(
    builds: &Builds,
    repository: &str,
    trigger: Trigger,
    by: &str,
    wanted: &[Wanted<'_>],
) -> Result<Vec<Build>> {
    if !builds.config.enabled() {
        return Err(Error::InUse(
            "builds are off on this server: its operator has not configured a Docker host \
             ([builds] docker_host)"
                .into(),
        ));
    }
    let mut tx = builds.pool.begin().await?;
    let mut queued = Vec::new();
    for w in wanted {
        let id = insert(&mut tx, repository, trigger, by, w).await?;
        announce(builds, &mut tx, id, BuildEvent::Queued).await?;
        queued.push(read(&mut tx, id).await?);
    }
    if trigger == Trigger::Manual {
        let what = wanted.first().map_or("", |w| w.name);
        audit::record_in(&mut tx, by, "build.trigger", repository, what).await?;
    }
    tx.commit().await?;
    if !queued.is_empty() {
        builds.webhooks.wake();
        builds.wake();
    }
    Ok(queued)
}

/// "Build now": queues a build of `git_ref` (a branch name, `refs/heads/…` or `refs/tags/…`)
/// under every rule that matches it, autobuild or not.
pub async fn build_now(
    builds: &Builds,
    actor: &str,
    repository: &str,
    git_ref: &str,
) -> Result<Vec<Build>> {
    let source = sources::get(builds, repository).await?.ok_or_else(|| {
        Error::NotFound(format!("a build source for {repository} (link one first)"))
    })?;
    let git_ref = git_ref.trim();
    if git_ref.is_empty() || git_ref.len() > 255 || git_ref.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "ref must be a branch or tag name of at most 255 characters".into(),
        ));
    }
    let candidates: Vec<(RefKind, &str)> = if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
        vec![(RefKind::Tag, tag)]
    } else if let Some(branch) = git_ref.strip_prefix("refs/heads/") {
        vec![(RefKind::Branch, branch)]
    } else {
        vec![(RefKind::Branch, git_ref), (RefKind::Tag, git_ref)]
    };
    for (kind, name) in candidates {
        let matched = rules::matching(&source.rules, kind, name, false);
        if matched.is_empty() {
            continue;
        }
        let wanted: Vec<Wanted> = matched
            .into_iter()
            .map(|(rule, tag)| Wanted {
                kind,
                name,
                commit: None,
                rule,
                tag,
            })
            .collect();
        return enqueue(builds, repository, Trigger::Manual, actor, &wanted).await;
    }
    Err(Error::Invalid(format!(
        "no build rule of {repository} matches {git_ref:?}"
    )))
}

/// A page of `repository`'s builds, newest first, and how many there are.
pub async fn list(
    builds: &Builds,
    repository: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Build>, i64)> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM builds WHERE repository = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(repository)
    .bind(limit.clamp(1, 100))
    .bind(offset.max(0))
    .fetch_all(&builds.pool)
    .await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM builds WHERE repository = $1")
        .bind(repository)
        .fetch_one(&builds.pool)
        .await?;
    Ok((rows.iter().map(build).collect::<Result<_>>()?, total))
}

/// One build of `repository`.
pub async fn get(builds: &Builds, repository: &str, id: i64) -> Result<Build> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM builds WHERE repository = $1 AND id = $2"
    ))
    .bind(repository)
    .bind(id)
    .fetch_optional(&builds.pool)
    .await?
    .ok_or_else(|| Error::NotFound(format!("build {id} of {repository}")))?;
    build(&row)
}

/// How many builds wait for a worker, over every server.
pub async fn queued_count(builds: &Builds) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM builds WHERE status = 'queued'")
            .fetch_one(&builds.pool)
            .await?,
    )
}

/// The status of `repository`'s latest build, for its badge.
pub async fn latest_status(builds: &Builds, repository: &str) -> Result<Option<Status>> {
    let status: Option<String> = sqlx::query_scalar(
        "SELECT status FROM builds WHERE repository = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(repository)
    .fetch_optional(&builds.pool)
    .await?;
    Ok(status.as_deref().and_then(Status::parse))
}

/// Cancels a build: a queued one at once, a running one as soon as its worker sees it (within
/// a few seconds). Cancelling a finished build is an error.
pub async fn cancel(builds: &Builds, actor: &str, repository: &str, id: i64) -> Result<Build> {
    let mut tx = builds.pool.begin().await?;
    let b = get(builds, repository, id).await?;
    if b.status.is_finished() {
        return Err(Error::Invalid(format!(
            "build {id} already finished ({})",
            b.status.as_str()
        )));
    }
    // A queued build ends here; a running one ends when its worker sees the request.
    let ended = sqlx::query(
        "UPDATE builds SET status = 'cancelled', finished_at = $2,
                error = 'cancelled by ' || $3
         WHERE id = $1 AND status = 'queued'",
    )
    .bind(id)
    .bind(berth_accounts::now())
    .bind(actor)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("UPDATE builds SET cancel_requested = 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::record_in(&mut tx, actor, "build.cancel", repository, &id.to_string()).await?;
    tx.commit().await?;
    builds
        .metrics
        .builds_finished(BuildOutcome::Cancelled, ended);
    builds.wake();
    get(builds, repository, id).await
}

/// A piece of a build's log.
#[derive(Debug, Clone, Serialize)]
pub struct LogChunk {
    pub seq: i64,
    pub data: String,
}

/// The pieces of build `id`'s log after `after` (`-1` for all), oldest first, at most 500.
pub async fn log_since(builds: &Builds, id: i64, after: i64) -> Result<Vec<LogChunk>> {
    let rows = sqlx::query(
        "SELECT seq, data FROM build_logs WHERE build_id = $1 AND seq > $2
         ORDER BY seq LIMIT 500",
    )
    .bind(id)
    .bind(after)
    .fetch_all(&builds.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LogChunk {
                seq: r.try_get("seq")?,
                data: r.try_get("data")?,
            })
        })
        .collect()
}

/// Build `id`'s whole stored log.
pub async fn log_text(builds: &Builds, id: i64) -> Result<String> {
    Ok(log_snapshot(builds, id).await?.0)
}

/// Build `id`'s whole stored log and the `seq` of its last piece (`-1` for none), where a live
/// view of it goes on from ([`log_since`]).
pub async fn log_snapshot(builds: &Builds, id: i64) -> Result<(String, i64)> {
    let mut text = String::new();
    let mut after = -1;
    loop {
        let chunks = log_since(builds, id, after).await?;
        let Some(last) = chunks.last() else {
            return Ok((text, after));
        };
        after = last.seq;
        for c in &chunks {
            text.push_str(&c.data);
        }
    }
}

/// Claims the oldest queued build for this worker; `None` when none waits.
pub(crate) async fn claim(builds: &Builds) -> Result<Option<Build>> {
    let now = berth_accounts::now();
    let row = sqlx::query(&format!(
        "UPDATE builds SET status = 'cloning', worker = $1, lease_until = $2, started_at = $3
         WHERE id = (SELECT id FROM builds WHERE status = 'queued' ORDER BY id LIMIT 1)
           AND status = 'queued'
         RETURNING {COLUMNS}"
    ))
    .bind(&builds.worker_id)
    .bind(now_ms() + LEASE_MS)
    .bind(now)
    .fetch_optional(&builds.pool)
    .await?;
    row.map(|r| build(&r)).transpose()
}

/// Renews this worker's lease on build `id` and moves it to `status`; returns whether a cancel
/// was asked for. `Err(NotFound)` when the build is no longer this worker's.
pub(crate) async fn renew(builds: &Builds, id: i64, status: Option<Status>) -> Result<bool> {
    let row = sqlx::query(
        "UPDATE builds SET lease_until = $3, status = COALESCE($4, status)
         WHERE id = $1 AND worker = $2 AND status IN ('cloning', 'building', 'pushing')
         RETURNING cancel_requested",
    )
    .bind(id)
    .bind(&builds.worker_id)
    .bind(now_ms() + LEASE_MS)
    .bind(status.map(Status::as_str))
    .fetch_optional(&builds.pool)
    .await?
    .ok_or_else(|| Error::NotFound(format!("build {id} under this worker")))?;
    Ok(row.try_get::<i64, _>("cancel_requested")? != 0)
}

/// Records the commit a build resolved its ref to.
pub(crate) async fn set_commit(builds: &Builds, id: i64, commit: &str) -> Result<()> {
    sqlx::query("UPDATE builds SET commit_sha = $2 WHERE id = $1")
        .bind(id)
        .bind(commit)
        .execute(&builds.pool)
        .await?;
    Ok(())
}

/// How a build ended.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// Pushed: the image's digest and the images in this registry it was built FROM.
    Success {
        digest: String,
        bases: Vec<(String, String)>,
    },
    Failed(String),
    Cancelled(String),
}

/// Finishes build `id` with its outcome, the webhooks it fires and, on success, the base
/// images a push of which rebuilds it.
pub(crate) async fn finish(builds: &Builds, b: &Build, outcome: &Outcome) -> Result<()> {
    let mut tx = builds.pool.begin().await?;
    let (status, digest, error) = match outcome {
        Outcome::Success { digest, .. } => (Status::Success, Some(digest.as_str()), ""),
        Outcome::Failed(e) => (Status::Failed, None, e.as_str()),
        Outcome::Cancelled(e) => (Status::Cancelled, None, e.as_str()),
    };
    let changed = sqlx::query(
        "UPDATE builds SET status = $3, digest = $4, error = $5, finished_at = $6,
                worker = NULL, lease_until = NULL
         WHERE id = $1 AND worker = $2 AND status IN ('cloning', 'building', 'pushing')",
    )
    .bind(b.id)
    .bind(&builds.worker_id)
    .bind(status.as_str())
    .bind(digest)
    .bind(truncate(error, 4000))
    .bind(berth_accounts::now())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        // Another worker failed it as interrupted meanwhile: its record stands.
        return Ok(());
    }
    if let Outcome::Success { bases, .. } = outcome {
        sqlx::query(
            "DELETE FROM build_bases WHERE repository = $1 AND ref_kind = $2 AND ref_name = $3",
        )
        .bind(&b.repository)
        .bind(b.ref_kind.as_str())
        .bind(&b.ref_name)
        .execute(&mut *tx)
        .await?;
        let namespace = berth_registry::names::namespace_of(&b.repository).unwrap_or("");
        let mut seen = std::collections::BTreeSet::new();
        for (repo, tag) in bases {
            if repo == &b.repository || !seen.insert((repo, tag)) {
                continue;
            }
            sqlx::query(
                "INSERT INTO build_bases (repository, namespace, ref_kind, ref_name,
                                          base_repository, base_tag, build_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&b.repository)
            .bind(namespace)
            .bind(b.ref_kind.as_str())
            .bind(&b.ref_name)
            .bind(repo)
            .bind(tag)
            .bind(b.id)
            .execute(&mut *tx)
            .await?;
        }
    }
    match status {
        Status::Success => announce(builds, &mut tx, b.id, BuildEvent::Success).await?,
        Status::Failed => announce(builds, &mut tx, b.id, BuildEvent::Failure).await?,
        _ => {}
    }
    tx.commit().await?;
    let ended = match status {
        Status::Success => BuildOutcome::Success,
        Status::Cancelled => BuildOutcome::Cancelled,
        _ => BuildOutcome::Failed,
    };
    builds.metrics.builds_finished(ended, 1);
    builds.webhooks.wake();
    Ok(())
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Fails every running build whose lease ran out: its server stopped or died while it ran.
/// Returns how many.
pub(crate) async fn fail_interrupted(builds: &Builds) -> Result<usize> {
    let mut tx = builds.pool.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "UPDATE builds SET status = 'failed', finished_at = $2, worker = NULL,
                lease_until = NULL,
                error = 'interrupted: the server running this build stopped before it finished'
         WHERE status IN ('cloning', 'building', 'pushing') AND lease_until < $1
         RETURNING id",
    )
    .bind(now_ms())
    .bind(berth_accounts::now())
    .fetch_all(&mut *tx)
    .await?;
    for id in &ids {
        append_in(
            &mut tx,
            *id,
            "\nInterrupted: the server running this build stopped before it finished.\n",
        )
        .await?;
        announce(builds, &mut tx, *id, BuildEvent::Failure).await?;
    }
    tx.commit().await?;
    builds
        .metrics
        .builds_finished(BuildOutcome::Failed, ids.len() as u64);
    if !ids.is_empty() {
        builds.webhooks.wake();
    }
    Ok(ids.len())
}

/// Appends `text` to build `id`'s log in the caller's transaction (no cap: for Berth's own
/// short notes).
async fn append_in(conn: &mut AnyConnection, id: i64, text: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO build_logs (build_id, seq, data)
         VALUES ($1, (SELECT COALESCE(MAX(seq), -1) + 1 FROM build_logs WHERE build_id = $1), $2)",
    )
    .bind(id)
    .bind(text)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE builds SET log_bytes = log_bytes + $2 WHERE id = $1")
        .bind(id)
        .bind(text.len() as i64)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Appends a piece to build `id`'s log (the caller keeps to the cap).
pub(crate) async fn append_log(
    builds: &Builds,
    id: i64,
    text: &str,
    truncated: bool,
) -> Result<()> {
    let mut tx = builds.pool.begin().await?;
    append_in(&mut tx, id, text).await?;
    if truncated {
        sqlx::query("UPDATE builds SET log_truncated = 1 WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Queues, in the transaction of a push of `repository:tag`, a rebuild of every build made
/// FROM that image whose source asks for base-image rebuilds (and has none of that ref queued
/// already); returns how many.
pub(crate) async fn stage_rebuilds(
    builds: &Builds,
    conn: &mut AnyConnection,
    repository: &str,
    tag: &str,
) -> Result<usize> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO builds (repository, namespace, status, trigger_kind, triggered_by, ref_kind,
                             ref_name, commit_sha, tags, dockerfile, context, build_args,
                             queued_at)
         SELECT old.repository, old.namespace, 'queued', 'base_image', $3, old.ref_kind,
                old.ref_name, NULL, old.tags, old.dockerfile, old.context, old.build_args, $4
         FROM build_bases b
         JOIN builds old ON old.id = b.build_id
         JOIN build_sources s ON s.repository = b.repository AND s.base_rebuild = 1
         WHERE b.base_repository = $1 AND b.base_tag = $2 AND b.repository <> $1
           AND NOT EXISTS (SELECT 1 FROM builds q
                           WHERE q.repository = b.repository AND q.ref_kind = b.ref_kind
                             AND q.ref_name = b.ref_name AND q.status = 'queued')
         RETURNING id",
    )
    .bind(repository)
    .bind(tag)
    .bind(format!("{repository}:{tag}"))
    .bind(berth_accounts::now())
    .fetch_all(&mut *conn)
    .await?;
    for id in &ids {
        announce(builds, conn, *id, BuildEvent::Queued).await?;
    }
    Ok(ids.len())
}
