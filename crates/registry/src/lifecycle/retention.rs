//! Retention rules: which tags of a repository go once they are old or many.
//!
//! A policy belongs to one repository or to a namespace. A namespace's policy governs every
//! repository under `namespace/` that has no policy of its own; a repository's own policy, even
//! a disabled one, replaces its namespace's (a disabled own policy is how one repository opts
//! out). A policy is saved disabled until switched on, so that its preview can come first.
//!
//! Like Harbor's and Docker Hub's rules, a tag is deleted when all of these hold:
//! - no keep pattern matches its whole name (`*` any run of characters, `?` one character);
//! - `keep_most_recent` is unset, or the tag is not among that many most recently pushed tags
//!   of the repository (every tag counts towards the N, kept by a pattern or not);
//! - `delete_older_than_days` is unset, or the tag was last pushed more than that many days ago;
//!
//! and at least one of `keep_most_recent` and `delete_older_than_days` is set: a policy with
//! neither deletes nothing. A protected (immutable) tag is never deleted.
//!
//! `untagged_days` tells garbage collection how long a manifest no tag points at is kept:
//! `None` means the collector's default, `0` keeps them forever, `n` deletes them after `n`
//! days ([`untagged_policy`]). It counts only while the policy is enabled.
//!
//! [`plan`] is a pure function over a repository's tags; [`dry_run`] plans every governed
//! repository and [`apply`] deletes what it plans through [`Registry::delete_tag`], so each
//! deletion is staged, announced and sent to webhooks exactly as a manual one.

use std::collections::HashSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::Any;

use crate::auth::Principal;
use crate::error::{Code, Result};
use crate::meta::Meta;
use crate::names::namespace_of;
use crate::Registry;

/// Most tags a policy may keep by count.
pub const MAX_KEEP_MOST_RECENT: i64 = 10_000;
/// Most days an age limit may name (about a hundred years).
pub const MAX_DAYS: i64 = 36_500;
pub use super::{glob_matches, Scope, MAX_PATTERNS, MAX_PATTERN_LEN};

const DAY: i64 = 86_400;

/// A retention policy as the API and the forms speak it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub enabled: bool,
    /// Keep this many most recently pushed tags.
    #[serde(default)]
    pub keep_most_recent: Option<i64>,
    /// Tags matching any of these globs are always kept.
    #[serde(default)]
    pub keep_patterns: Vec<String>,
    /// Only tags last pushed more than this many days ago may be deleted.
    #[serde(default)]
    pub delete_older_than_days: Option<i64>,
    /// How long untagged manifests are kept: `None` the collector's default, `0` forever.
    #[serde(default)]
    pub untagged_days: Option<i64>,
}

/// Why a policy was refused, in words for the person who wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

/// A policy that passed [`Policy::validate`]: the only kind that is stored or planned with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valid(Policy);

impl Valid {
    pub fn policy(&self) -> &Policy {
        &self.0
    }
}

impl Policy {
    /// Checks the limits: `keep_most_recent` 0..=10000, the day counts 0..=36500, at most 50
    /// patterns of 1 to 128 characters among `A-Z a-z 0-9 _ . - * ?`.
    pub fn validate(self) -> std::result::Result<Valid, Invalid> {
        let range = |what: &str, value: Option<i64>, max: i64| match value {
            Some(v) if !(0..=max).contains(&v) => Err(Invalid(format!(
                "{what} must be between 0 and {max}, not {v}"
            ))),
            _ => Ok(()),
        };
        range(
            "keep_most_recent",
            self.keep_most_recent,
            MAX_KEEP_MOST_RECENT,
        )?;
        range(
            "delete_older_than_days",
            self.delete_older_than_days,
            MAX_DAYS,
        )?;
        range("untagged_days", self.untagged_days, MAX_DAYS)?;
        if self.keep_patterns.len() > MAX_PATTERNS {
            return Err(Invalid(format!(
                "a policy may have at most {MAX_PATTERNS} keep patterns, not {}",
                self.keep_patterns.len()
            )));
        }
        for p in &self.keep_patterns {
            if let Some(problem) = super::pattern_problem(p) {
                // "keep pattern "v 1" may only hold …", "keep patterns: a pattern cannot be …"
                let problem = match problem.strip_prefix("pattern ") {
                    Some(rest) => format!("keep pattern {rest}"),
                    None => format!("keep patterns: {problem}"),
                };
                return Err(Invalid(problem));
            }
        }
        Ok(Valid(self))
    }
}

/// A saved policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stored {
    /// `repository` or `namespace`.
    pub kind: String,
    /// The repository's full name, or the namespace.
    pub scope: String,
    pub policy: Policy,
    pub updated_by: String,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    scope_kind: String,
    scope: String,
    enabled: i64,
    keep_most_recent: Option<i64>,
    keep_patterns: String,
    delete_older_than_days: Option<i64>,
    untagged_days: Option<i64>,
    updated_by: String,
    updated_at: i64,
}

const COLUMNS: &str = "scope_kind, scope, enabled, keep_most_recent, keep_patterns, \
                       delete_older_than_days, untagged_days, updated_by, updated_at";

impl From<Row> for Stored {
    fn from(r: Row) -> Self {
        Stored {
            kind: r.scope_kind,
            scope: r.scope,
            policy: Policy {
                enabled: r.enabled != 0,
                keep_most_recent: r.keep_most_recent,
                // Patterns never contain a space (see `validate`).
                keep_patterns: r
                    .keep_patterns
                    .split(' ')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
                delete_older_than_days: r.delete_older_than_days,
                untagged_days: r.untagged_days,
            },
            updated_by: r.updated_by,
            updated_at: r.updated_at,
        }
    }
}

/// The policy saved for exactly `scope`, if any.
pub async fn get(meta: &Meta, scope: Scope<'_>) -> Result<Option<Stored>> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM retention_policies WHERE scope_kind = $1 AND scope = $2"
    ))
    .bind(scope.kind())
    .bind(scope.name())
    .fetch_optional(meta.pool())
    .await?;
    Ok(row.map(Stored::from))
}

/// The policy that governs `repository`: its own, else its namespace's; enabled or not.
async fn effective_in<'e, E>(db: E, repository: &str) -> Result<Option<Stored>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM retention_policies
         WHERE (scope_kind = 'repository' AND scope = $1)
            OR (scope_kind = 'namespace' AND scope = $2)"
    ))
    .bind(repository)
    // A one-component repository has no namespace, and no namespace is named "".
    .bind(namespace_of(repository).unwrap_or(""))
    .fetch_all(db)
    .await?;
    let mut rows: Vec<Stored> = rows.into_iter().map(Stored::from).collect();
    rows.sort_by_key(|s| s.kind != "repository");
    Ok(rows.into_iter().next())
}

/// The policy that governs `repository` (its own, else its namespace's), enabled or not.
pub async fn effective(meta: &Meta, repository: &str) -> Result<Option<Stored>> {
    effective_in(meta.pool(), repository).await
}

/// Saves the policy of `scope`, replacing any, for `actor` (who the caller has checked may).
pub async fn put(meta: &Meta, scope: Scope<'_>, policy: &Valid, actor: &str) -> Result<Stored> {
    let p = policy.policy();
    let row: Row = sqlx::query_as(&format!(
        "INSERT INTO retention_policies ({COLUMNS}, namespace)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (scope_kind, scope) DO UPDATE SET
             enabled = excluded.enabled,
             keep_most_recent = excluded.keep_most_recent,
             keep_patterns = excluded.keep_patterns,
             delete_older_than_days = excluded.delete_older_than_days,
             untagged_days = excluded.untagged_days,
             updated_by = excluded.updated_by,
             updated_at = excluded.updated_at
         RETURNING {COLUMNS}"
    ))
    .bind(scope.kind())
    .bind(scope.name())
    .bind(i64::from(p.enabled))
    .bind(p.keep_most_recent)
    .bind(p.keep_patterns.join(" "))
    .bind(p.delete_older_than_days)
    .bind(p.untagged_days)
    .bind(actor)
    .bind(crate::clock::now())
    .bind(scope.namespace())
    .fetch_one(meta.pool())
    .await?;
    Ok(row.into())
}

/// Removes the policy of `scope`; a repository then follows its namespace's again. `false` if
/// there was none.
pub async fn remove(meta: &Meta, scope: Scope<'_>) -> Result<bool> {
    let done = sqlx::query("DELETE FROM retention_policies WHERE scope_kind = $1 AND scope = $2")
        .bind(scope.kind())
        .bind(scope.name())
        .execute(meta.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Forgets the policy of a repository that goes away (on the deletion's transaction).
pub async fn delete_of_repository(conn: &mut sqlx::AnyConnection, name: &str) -> Result<()> {
    sqlx::query("DELETE FROM retention_policies WHERE scope_kind = 'repository' AND scope = $1")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets the namespace's policy and those of its repositories (on the deletion's
/// transaction).
pub async fn delete_of_namespace(conn: &mut sqlx::AnyConnection, namespace: &str) -> Result<()> {
    sqlx::query("DELETE FROM retention_policies WHERE namespace = $1")
        .bind(namespace)
        .execute(conn)
        .await?;
    Ok(())
}

/// What garbage collection does with the manifests of a repository that no tag points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untagged {
    /// No enabled policy says: the collector's own default applies.
    GcDefault,
    /// Keep them forever (`untagged_days` 0).
    KeepForever,
    /// Delete them once untagged for this long (`untagged_days` n ≥ 1, as n × 24 hours).
    After(Duration),
}

/// What the enabled policy governing `repository` says of its untagged manifests. Takes a
/// pool (`&AnyPool`) or a connection (`&mut AnyConnection`, e.g. inside a transaction).
pub async fn untagged_policy<'e, E>(db: E, repository: &str) -> Result<Untagged>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let policy = effective_in(db, repository)
        .await?
        .map(|s| s.policy)
        .filter(|p| p.enabled);
    Ok(untagged_of(policy.and_then(|p| p.untagged_days)))
}

/// What every policy says of untagged manifests, read at once: for a collection, which asks
/// of every repository.
#[derive(Debug, Default)]
pub struct UntaggedPolicies {
    /// (scope kind, scope) → (enabled, untagged_days).
    policies: std::collections::HashMap<(String, String), (bool, Option<i64>)>,
}

impl UntaggedPolicies {
    pub async fn load<'e, E>(db: E) -> Result<UntaggedPolicies>
    where
        E: sqlx::Executor<'e, Database = Any>,
    {
        let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT scope_kind, scope, enabled, untagged_days FROM retention_policies",
        )
        .fetch_all(db)
        .await?;
        Ok(UntaggedPolicies {
            policies: rows
                .into_iter()
                .map(|(kind, scope, enabled, days)| ((kind, scope), (enabled != 0, days)))
                .collect(),
        })
    }

    /// As [`untagged_policy`] answers for `repository`: its own policy, else its namespace's.
    pub fn of(&self, repository: &str) -> Untagged {
        let own = self
            .policies
            .get(&("repository".to_owned(), repository.to_owned()));
        let governing = own.or_else(|| {
            let namespace = namespace_of(repository).unwrap_or("");
            self.policies
                .get(&("namespace".to_owned(), namespace.to_owned()))
        });
        untagged_of(governing.filter(|(enabled, _)| *enabled).and_then(|p| p.1))
    }
}

fn untagged_of(days: Option<i64>) -> Untagged {
    match days {
        None => Untagged::GcDefault,
        Some(days) if days <= 0 => Untagged::KeepForever,
        Some(days) => Untagged::After(Duration::from_secs(days.unsigned_abs() * DAY as u64)),
    }
}

/// A tag as retention weighs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TagInfo {
    pub tag: String,
    pub digest: String,
    /// When the tag was last pushed (Unix seconds).
    pub pushed_at: i64,
}

/// What a policy would do to a repository's tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The tags to delete, most recently pushed first.
    pub delete: Vec<TagInfo>,
    /// How many tags stay.
    pub keep: usize,
}

/// Which of `tags` `policy` deletes at `now` (Unix seconds), whether the policy is enabled or
/// not; `protected` tags (immutable ones) always stay.
pub fn plan(
    mut tags: Vec<TagInfo>,
    policy: &Policy,
    now: i64,
    protected: &dyn Fn(&str) -> bool,
) -> Plan {
    if policy.keep_most_recent.is_none() && policy.delete_older_than_days.is_none() {
        return Plan {
            keep: tags.len(),
            delete: Vec::new(),
        };
    }
    // Most recent first; a tie goes by name, as the tags page lists them.
    tags.sort_by(|a, b| {
        b.pushed_at
            .cmp(&a.pushed_at)
            .then_with(|| a.tag.cmp(&b.tag))
    });
    let recent = policy
        .keep_most_recent
        .map_or(0, |n| usize::try_from(n).unwrap_or(0));
    let cutoff = policy
        .delete_older_than_days
        .map(|d| now.saturating_sub(d.saturating_mul(DAY)));
    let mut result = Plan::default();
    for (i, t) in tags.into_iter().enumerate() {
        let kept = protected(&t.tag)
            || policy.keep_patterns.iter().any(|p| glob_matches(p, &t.tag))
            || (policy.keep_most_recent.is_some() && i < recent)
            || cutoff.is_some_and(|c| t.pushed_at >= c);
        if kept {
            result.keep += 1;
        } else {
            result.delete.push(t);
        }
    }
    result
}

/// Every tag of `repository` (none if it does not exist).
pub async fn tags_of(meta: &Meta, repository: &str) -> Result<Vec<TagInfo>> {
    Ok(sqlx::query_as(
        "SELECT t.name AS tag, t.manifest_digest AS digest, t.updated_at AS pushed_at
         FROM repositories r JOIN tags t ON t.repository_id = r.id
         WHERE r.name = $1",
    )
    .bind(repository)
    .fetch_all(meta.pool())
    .await?)
}

/// The tags of `repository` retention must never delete: those its immutable tag rules
/// protect. Every plan (previews, dry runs and runs) asks here.
async fn protection(meta: &Meta, repository: &str) -> Result<impl Fn(&str) -> bool> {
    let mut conn = meta.pool().acquire().await?;
    let matcher = super::immutable::immutable_matcher(&mut conn, repository).await?;
    Ok(move |tag: &str| matcher.is_immutable(tag).is_some())
}

async fn plan_repository(meta: &Meta, repository: &str, policy: &Policy, now: i64) -> Result<Plan> {
    let protected = protection(meta, repository).await?;
    Ok(plan(
        tags_of(meta, repository).await?,
        policy,
        now,
        &protected,
    ))
}

/// What `policy` (saved or not, enabled or not) would delete from `repository` at `now`.
pub async fn preview(meta: &Meta, repository: &str, policy: &Valid, now: i64) -> Result<Plan> {
    plan_repository(meta, repository, policy.policy(), now).await
}

/// One repository's part of a namespace preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositoryPlan {
    pub repository: String,
    #[serde(flatten)]
    pub plan: Plan,
}

/// The repositories under `namespace/` that its policy governs: those without one of their own.
async fn governed_by_namespace(meta: &Meta, namespace: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT r.name FROM repositories r
         WHERE substr(r.name, 1, length($1)) = $1
           AND NOT EXISTS (SELECT 1 FROM retention_policies p
                           WHERE p.scope_kind = 'repository' AND p.scope = r.name)
         ORDER BY r.name",
    )
    .bind(format!("{namespace}/"))
    .fetch_all(meta.pool())
    .await?)
}

/// What `policy` as the namespace's would delete from each repository it would govern.
pub async fn preview_namespace(
    meta: &Meta,
    namespace: &str,
    policy: &Valid,
    now: i64,
) -> Result<Vec<RepositoryPlan>> {
    let mut plans = Vec::new();
    for repository in governed_by_namespace(meta, namespace).await? {
        let plan = plan_repository(meta, &repository, policy.policy(), now).await?;
        plans.push(RepositoryPlan { repository, plan });
    }
    Ok(plans)
}

/// A tag retention deleted (or, from [`dry_run`], would delete).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletedTag {
    pub repository: String,
    pub tag: String,
    /// The manifest the tag pointed at (it stays, for garbage collection).
    pub digest: String,
    pub pushed_at: i64,
}

/// Every repository with an enabled policy governing it, with that policy.
async fn governed(meta: &Meta) -> Result<Vec<(String, Policy)>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM retention_policies WHERE enabled <> 0 ORDER BY scope_kind, scope"
    ))
    .fetch_all(meta.pool())
    .await?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for stored in rows.into_iter().map(Stored::from) {
        if stored.kind == "repository" {
            if seen.insert(stored.scope.clone()) {
                out.push((stored.scope, stored.policy));
            }
            continue;
        }
        for repository in governed_by_namespace(meta, &stored.scope).await? {
            if seen.insert(repository.clone()) {
                out.push((repository, stored.policy.clone()));
            }
        }
    }
    Ok(out)
}

/// The plan of every repository an enabled policy governs, at `now` (Unix seconds): what
/// [`apply`] would delete.
pub async fn dry_run(registry: &Registry, now: i64) -> Result<Vec<DeletedTag>> {
    let mut planned = Vec::new();
    for (repository, policy) in governed(&registry.meta).await? {
        let plan = plan_repository(&registry.meta, &repository, &policy, now).await?;
        planned.extend(plan.delete.into_iter().map(|t| DeletedTag {
            repository: repository.clone(),
            tag: t.tag,
            digest: t.digest,
            pushed_at: t.pushed_at,
        }));
    }
    Ok(planned)
}

/// Whether the tag still is what it was when planned: a tag pushed again since is not old.
async fn unchanged(meta: &Meta, repository: &str, planned: &TagInfo) -> Result<bool> {
    let now: Option<TagInfo> = sqlx::query_as(
        "SELECT t.name AS tag, t.manifest_digest AS digest, t.updated_at AS pushed_at
         FROM repositories r JOIN tags t ON t.repository_id = r.id
         WHERE r.name = $1 AND t.name = $2",
    )
    .bind(repository)
    .bind(&planned.tag)
    .fetch_optional(meta.pool())
    .await?;
    Ok(now.as_ref() == Some(planned))
}

/// Deletes, at `now` (Unix seconds), the tags the enabled policies plan to delete, each through
/// [`Registry::delete_tag`] as [`Principal::system`]; returns what was deleted, for the caller
/// to audit. A tag the registry refuses to delete (`DENIED`: an immutable tag) or that was
/// pushed again since planning is skipped. A repository whose deletion fails is logged and
/// left for the next run, so that what was already deleted is still returned; only failing to
/// read the policies fails the whole run. Nothing happens where deletion is disabled.
pub async fn apply(registry: &Registry, now: i64) -> Result<Vec<DeletedTag>> {
    if !registry.config.delete_enabled {
        tracing::warn!("retention rules not applied: deletion is disabled on this registry");
        return Ok(Vec::new());
    }
    let meta = &registry.meta;
    let mut deleted = Vec::new();
    for (repository, policy) in governed(meta).await? {
        if let Err(e) = apply_to(registry, &repository, &policy, now, &mut deleted).await {
            tracing::error!(%repository, error = %e, "applying the retention policy");
        }
    }
    Ok(deleted)
}

async fn apply_to(
    registry: &Registry,
    repository: &str,
    policy: &Policy,
    now: i64,
    deleted: &mut Vec<DeletedTag>,
) -> Result<()> {
    let plan = plan_repository(&registry.meta, repository, policy, now).await?;
    for t in plan.delete {
        if !unchanged(&registry.meta, repository, &t).await? {
            continue;
        }
        match registry
            .delete_tag(repository, &t.tag, Principal::system())
            .await
        {
            Ok(true) => deleted.push(DeletedTag {
                repository: repository.to_owned(),
                tag: t.tag,
                digest: t.digest,
                pushed_at: t.pushed_at,
            }),
            // Deleted meanwhile by someone else.
            Ok(false) => {}
            Err(e) if e.code() == Code::Denied => {
                tracing::info!(%repository, tag = %t.tag, reason = %e, "retention skips a protected tag");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn tag(name: &str, days_ago: i64) -> TagInfo {
        TagInfo {
            tag: name.to_owned(),
            digest: format!("sha256:{name}"),
            pushed_at: NOW - days_ago * DAY,
        }
    }

    /// Ten tags `t0` (today) … `t9` (nine days ago), plus `latest` and `v1.0` pushed long ago.
    fn tags() -> Vec<TagInfo> {
        let mut tags: Vec<TagInfo> = (0..10).map(|i| tag(&format!("t{i}"), i)).collect();
        tags.push(tag("latest", 100));
        tags.push(tag("v1.0", 200));
        tags
    }

    fn deleted(plan: &Plan) -> Vec<&str> {
        plan.delete.iter().map(|t| t.tag.as_str()).collect()
    }

    fn none(_: &str) -> bool {
        false
    }

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_matches("latest", "latest"));
        assert!(!glob_matches("latest", "latest2"));
        assert!(glob_matches("v*", "v1.2.3"));
        assert!(glob_matches("v*", "v"));
        assert!(!glob_matches("v*", "1v"));
        assert!(glob_matches("release-*-final", "release-2024-01-final"));
        assert!(!glob_matches("release-*-final", "release-2024-01-finals"));
        assert!(glob_matches("v?", "v1"));
        assert!(!glob_matches("v?", "v10"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("*a*b*", "xxaxxbxx"));
        assert!(!glob_matches("*a*b*", "xxbxxaxx"));
        assert!(!glob_matches("V*", "v1"), "tags are case-sensitive");
    }

    #[test]
    fn a_policy_without_a_count_or_an_age_deletes_nothing() {
        let policy = Policy {
            enabled: true,
            keep_patterns: vec!["latest".into()],
            ..Policy::default()
        };
        let plan = plan(tags(), &policy, NOW, &none);
        assert!(plan.delete.is_empty());
        assert_eq!(plan.keep, 12);
        assert_eq!(
            super::plan(Vec::new(), &Policy::default(), NOW, &none),
            Plan::default()
        );
    }

    #[test]
    fn keep_most_recent_keeps_that_many_by_push_time() {
        let policy = Policy {
            keep_most_recent: Some(3),
            ..Policy::default()
        };
        let plan = plan(tags(), &policy, NOW, &none);
        assert_eq!(
            deleted(&plan),
            ["t3", "t4", "t5", "t6", "t7", "t8", "t9", "latest", "v1.0"]
        );
        assert_eq!(plan.keep, 3);
        let zero = Policy {
            keep_most_recent: Some(0),
            ..Policy::default()
        };
        assert_eq!(super::plan(tags(), &zero, NOW, &none).delete.len(), 12);
        let many = Policy {
            keep_most_recent: Some(100),
            ..Policy::default()
        };
        assert!(super::plan(tags(), &many, NOW, &none).delete.is_empty());
    }

    #[test]
    fn ties_in_push_time_go_by_name() {
        let tags = vec![tag("b", 1), tag("a", 1), tag("c", 1)];
        let policy = Policy {
            keep_most_recent: Some(1),
            ..Policy::default()
        };
        assert_eq!(deleted(&plan(tags, &policy, NOW, &none)), ["b", "c"]);
    }

    #[test]
    fn patterns_keep_tags_whatever_their_age() {
        let policy = Policy {
            keep_most_recent: Some(3),
            keep_patterns: vec!["latest".into(), "v*".into(), "t?".into()],
            ..Policy::default()
        };
        let plan = plan(tags(), &policy, NOW, &none);
        assert!(plan.delete.is_empty(), "{:?}", deleted(&plan));
        let policy = Policy {
            keep_most_recent: Some(3),
            keep_patterns: vec!["latest".into(), "v*".into()],
            ..Policy::default()
        };
        // The pattern-kept tags are old, so they do not take any of the three places.
        let plan = super::plan(tags(), &policy, NOW, &none);
        assert_eq!(deleted(&plan), ["t3", "t4", "t5", "t6", "t7", "t8", "t9"]);
        assert_eq!(plan.keep, 5);
    }

    #[test]
    fn an_age_limit_deletes_only_older_tags() {
        let policy = Policy {
            delete_older_than_days: Some(7),
            ..Policy::default()
        };
        // Exactly seven days old is not older than seven days.
        let plan = plan(tags(), &policy, NOW, &none);
        assert_eq!(deleted(&plan), ["t8", "t9", "latest", "v1.0"]);
        let today = Policy {
            delete_older_than_days: Some(0),
            ..Policy::default()
        };
        assert_eq!(super::plan(tags(), &today, NOW, &none).delete.len(), 11);
    }

    #[test]
    fn count_age_and_patterns_must_all_let_a_tag_go() {
        let policy = Policy {
            keep_most_recent: Some(2),
            delete_older_than_days: Some(5),
            keep_patterns: vec!["latest".into()],
            ..Policy::default()
        };
        // t0, t1: most recent; t2..t5: young enough; latest: by name.
        let plan = plan(tags(), &policy, NOW, &none);
        assert_eq!(deleted(&plan), ["t6", "t7", "t8", "t9", "v1.0"]);
        assert_eq!(plan.keep, 7);
        let policy = Policy {
            keep_most_recent: Some(8),
            delete_older_than_days: Some(1),
            ..Policy::default()
        };
        assert_eq!(
            deleted(&super::plan(tags(), &policy, NOW, &none)),
            ["t8", "t9", "latest", "v1.0"]
        );
    }

    #[test]
    fn protected_tags_always_stay() {
        let policy = Policy {
            keep_most_recent: Some(0),
            ..Policy::default()
        };
        let protected = |t: &str| t == "v1.0" || t == "t9";
        let plan = plan(tags(), &policy, NOW, &protected);
        assert_eq!(plan.delete.len(), 10);
        assert!(!deleted(&plan).contains(&"v1.0"));
        assert_eq!(plan.keep, 2);
    }

    #[test]
    fn policies_are_checked_against_their_limits() {
        let ok = Policy {
            enabled: true,
            keep_most_recent: Some(10_000),
            keep_patterns: vec!["release-*".into(), "v?.*".into(), "a_b.c-d".into()],
            delete_older_than_days: Some(36_500),
            untagged_days: Some(0),
        };
        assert_eq!(ok.clone().validate().map(|v| v.policy().clone()), Ok(ok));
        let bad = [
            Policy {
                keep_most_recent: Some(10_001),
                ..Policy::default()
            },
            Policy {
                keep_most_recent: Some(-1),
                ..Policy::default()
            },
            Policy {
                delete_older_than_days: Some(36_501),
                ..Policy::default()
            },
            Policy {
                untagged_days: Some(-3),
                ..Policy::default()
            },
            Policy {
                keep_patterns: vec![String::new()],
                ..Policy::default()
            },
            Policy {
                keep_patterns: vec!["a b".into()],
                ..Policy::default()
            },
            Policy {
                keep_patterns: vec!["x".repeat(129)],
                ..Policy::default()
            },
            Policy {
                keep_patterns: vec!["v[0-9]".into()],
                ..Policy::default()
            },
            Policy {
                keep_patterns: vec!["v*".into(); 51],
                ..Policy::default()
            },
        ];
        for p in bad {
            let shown = format!("{p:?}");
            let e = p.validate().expect_err(&shown);
            assert!(!e.0.is_empty());
        }
    }
}
