//! Immutable tags: glob patterns (`v*`, `release-?.?`) of a repository or of a whole
//! namespace naming tags that, once they exist, always point at the manifest they were first
//! pushed with and cannot be deleted.
//!
//! The guards ([`guard_push`], [`guard_tag_delete`], [`guard_manifest_delete`]) run inside the
//! registry's own write transactions, on their connection, after those have taken their write
//! (SQLite's database lock; PostgreSQL's lock on the repository row or on the deleted row), so
//! what they read of tags cannot change before the write commits. A rule change reads no tags,
//! so whichever order it and a push commit in is one the rules allow. A push without tags, and
//! every pull, reads nothing here; a push with tags to a repository without rules costs one
//! lookup by primary key.

use std::fmt;

use serde::Serialize;
use sqlx::AnyConnection;

use crate::clock::now;
use crate::digest::Digest;
use crate::error::{Code, Error, Result};
use crate::names::namespace_of;
use crate::sql::placeholders;
use crate::Registry;

pub use super::{glob_matches, Scope, MAX_PATTERNS, MAX_PATTERN_LEN};

/// Whether a rule belongs to one repository or to every repository of a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeKind {
    Repository,
    Namespace,
}

impl ScopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Repository => "repository",
            ScopeKind::Namespace => "namespace",
        }
    }
}

/// One pattern and where it was set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub kind: ScopeKind,
    pub scope: String,
    pub pattern: String,
}

/// `rule "v*" of namespace acme`: how refusals name the rule.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rule \"{}\" of {} {}",
            self.pattern,
            self.kind.as_str(),
            self.scope
        )
    }
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    scope_kind: String,
    scope: String,
    pattern: String,
}

impl From<RuleRow> for Rule {
    fn from(r: RuleRow) -> Self {
        Rule {
            kind: if r.scope_kind == "namespace" {
                ScopeKind::Namespace
            } else {
                ScopeKind::Repository
            },
            scope: r.scope,
            pattern: r.pattern,
        }
    }
}

/// The rules in force for one repository: its own patterns, then its namespace's.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    rules: Vec<Rule>,
}

impl Matcher {
    /// The first rule that makes `tag` immutable, if any does.
    pub fn is_immutable(&self, tag: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| glob_matches(&r.pattern, tag))
    }

    /// Whether no rule applies (nothing is immutable).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

/// Why a list of patterns was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPatterns(String);

/// A checked list of patterns: each 1 to [`MAX_PATTERN_LEN`] characters of letters, digits,
/// `_`, `.`, `-`, `*` and `?`; at most [`MAX_PATTERNS`]; no repeats (a repeat is dropped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patterns(Vec<String>);

impl Patterns {
    /// Checks patterns exactly as given (the JSON API's).
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Patterns, InvalidPatterns> {
        let mut kept: Vec<String> = Vec::new();
        for item in items {
            let p = item.as_ref();
            check_pattern(p)?;
            if !kept.iter().any(|k| k == p) {
                kept.push(p.to_owned());
            }
        }
        if kept.len() > MAX_PATTERNS {
            return Err(InvalidPatterns(format!(
                "at most {MAX_PATTERNS} patterns per repository or namespace, not {}",
                kept.len()
            )));
        }
        Ok(Patterns(kept))
    }

    /// Patterns one a line (a form's text area): surrounding blanks and empty lines are
    /// ignored.
    pub fn from_lines(text: &str) -> Result<Patterns, InvalidPatterns> {
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        Patterns::parse(&lines)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The patterns separated by spaces, or `no patterns`: as the audit log tells of a change.
impl fmt::Display for Patterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("no patterns")
        } else {
            f.write_str(&self.0.join(" "))
        }
    }
}

fn check_pattern(p: &str) -> Result<(), InvalidPatterns> {
    match super::pattern_problem(p) {
        Some(problem) => Err(InvalidPatterns(problem)),
        None => Ok(()),
    }
}

/// The rules of `repository` and of its namespace, repository rules first.
const RULES_OF: &str = "SELECT scope_kind, scope, pattern FROM immutable_tag_rules
     WHERE (scope_kind = 'repository' AND scope = $1)
        OR (scope_kind = 'namespace' AND scope = $2)
     ORDER BY scope_kind DESC, position";

/// The rules in force for `repository` (its own and its namespace's), read on `conn`: inside a
/// transaction, as that transaction sees them. Retention uses it to leave immutable tags alone.
pub async fn immutable_matcher(conn: &mut AnyConnection, repository: &str) -> Result<Matcher> {
    let rows: Vec<RuleRow> = sqlx::query_as(RULES_OF)
        .bind(repository)
        // A name of one component has no namespace, and no namespace is empty.
        .bind(namespace_of(repository).unwrap_or(""))
        .fetch_all(conn)
        .await?;
    Ok(Matcher {
        rules: rows.into_iter().map(Rule::from).collect(),
    })
}

/// [`immutable_matcher`] on a connection of its own, for pages and the API.
pub async fn matcher(reg: &Registry, repository: &str) -> Result<Matcher> {
    let mut conn = reg.meta.pool().acquire().await?;
    immutable_matcher(&mut conn, repository).await
}

/// The patterns set on exactly `scope`, in the order they were given.
pub async fn patterns(reg: &Registry, scope: Scope<'_>) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT pattern FROM immutable_tag_rules WHERE scope_kind = $1 AND scope = $2
         ORDER BY position",
    )
    .bind(scope.kind())
    .bind(scope.name())
    .fetch_all(reg.meta.pool())
    .await?)
}

/// Replaces the patterns of `scope` with `patterns` (none: the scope has no rules). The caller
/// has checked that `actor` administers the scope, and audits the change.
pub async fn replace(
    reg: &Registry,
    scope: Scope<'_>,
    patterns: &Patterns,
    actor: &str,
) -> Result<()> {
    let mut tx = reg.meta.pool().begin().await?;
    sqlx::query("DELETE FROM immutable_tag_rules WHERE scope_kind = $1 AND scope = $2")
        .bind(scope.kind())
        .bind(scope.name())
        .execute(&mut *tx)
        .await?;
    let now = now();
    for (position, pattern) in patterns.as_slice().iter().enumerate() {
        sqlx::query(
            "INSERT INTO immutable_tag_rules (scope_kind, scope, pattern, position, set_by, set_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(scope.kind())
        .bind(scope.name())
        .bind(pattern)
        .bind(position as i64)
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn denied(message: String) -> Error {
    // Explained: docker prints only the message, and this one says which rule to change.
    Error::new(Code::Denied, message).explained()
}

#[derive(sqlx::FromRow)]
struct TagRow {
    name: String,
    manifest_digest: String,
}

/// Refuses a push that would point an existing immutable tag of the repository (row
/// `repository_id`) at another manifest than `digest`. Pushing the same manifest again, and
/// creating a tag, are allowed. Runs in the push's transaction after the repository row is
/// written, so no other push to the repository can move a tag meanwhile.
pub async fn guard_push(
    conn: &mut AnyConnection,
    repository: &str,
    repository_id: i64,
    tags: &[String],
    digest: &Digest,
) -> Result<()> {
    if tags.is_empty() {
        return Ok(());
    }
    let matcher = immutable_matcher(conn, repository).await?;
    let protected: Vec<&String> = tags
        .iter()
        .filter(|t| matcher.is_immutable(t).is_some())
        .collect();
    if protected.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT name, manifest_digest FROM tags WHERE repository_id = $1 AND name IN ({})
         ORDER BY name",
        placeholders(2, protected.len())
    );
    let mut q = sqlx::query_as::<_, TagRow>(&sql).bind(repository_id);
    for t in &protected {
        q = q.bind(t.as_str());
    }
    let digest = digest.to_string();
    for row in q.fetch_all(&mut *conn).await? {
        if row.manifest_digest != digest {
            if let Some(rule) = matcher.is_immutable(&row.name) {
                return Err(denied(format!(
                    "tag {} is immutable ({rule}): it points at {} and cannot be moved to {digest}",
                    row.name, row.manifest_digest
                )));
            }
        }
    }
    Ok(())
}

/// Refuses deleting `tag` of `repository` if a rule makes it immutable.
pub async fn guard_tag_delete(conn: &mut AnyConnection, repository: &str, tag: &str) -> Result<()> {
    let matcher = immutable_matcher(conn, repository).await?;
    match matcher.is_immutable(tag) {
        Some(rule) => Err(denied(format!(
            "tag {tag} is immutable ({rule}): it cannot be deleted"
        ))),
        None => Ok(()),
    }
}

/// Refuses deleting the manifest `digest` of the repository (row `repository_id`) while an
/// immutable tag points at it. Runs before the deletion removes those tags.
pub async fn guard_manifest_delete(
    conn: &mut AnyConnection,
    repository: &str,
    repository_id: i64,
    digest: &Digest,
) -> Result<()> {
    let matcher = immutable_matcher(conn, repository).await?;
    if matcher.is_empty() {
        return Ok(());
    }
    let tags: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM tags WHERE repository_id = $1 AND manifest_digest = $2 ORDER BY name",
    )
    .bind(repository_id)
    .bind(digest.to_string())
    .fetch_all(&mut *conn)
    .await?;
    for tag in &tags {
        if let Some(rule) = matcher.is_immutable(tag) {
            return Err(denied(format!(
                "manifest {digest} is tagged {tag}, which is immutable ({rule}): it cannot be \
                 deleted"
            )));
        }
    }
    Ok(())
}

/// Forgets the rules of a repository that goes away, inside the deletion's transaction.
pub async fn delete_of_repository(conn: &mut AnyConnection, repository: &str) -> Result<()> {
    sqlx::query("DELETE FROM immutable_tag_rules WHERE scope_kind = 'repository' AND scope = $1")
        .bind(repository)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets the rules of a namespace that goes away and of every repository under it, inside
/// the deletion's transaction.
pub async fn delete_of_namespace(conn: &mut AnyConnection, namespace: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM immutable_tag_rules
         WHERE (scope_kind = 'namespace' AND scope = $1)
            OR (scope_kind = 'repository' AND substr(scope, 1, length($2)) = $2)",
    )
    .bind(namespace)
    .bind(format!("{namespace}/"))
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_runs_and_single_characters() {
        for (pattern, tag) in [
            ("v*", "v1.0"),
            ("v*", "v"),
            ("*", "latest"),
            ("release-*", "release-2024.01"),
            ("v?.?", "v1.2"),
            ("*-stable", "1.2-stable"),
            ("a*b*c", "aXXbYYc"),
            ("a*b*c", "abc"),
            ("**", "x"),
            ("latest", "latest"),
        ] {
            assert!(glob_matches(pattern, tag), "{pattern} matches {tag}");
        }
        for (pattern, tag) in [
            ("v*", "1.0"),
            ("v*", "V1"),
            ("v?.?", "v1.20"),
            ("release-*", "release"),
            ("a*b*c", "aXXbYY"),
            ("latest", "latest2"),
            ("?", ""),
        ] {
            assert!(
                !glob_matches(pattern, tag),
                "{pattern} does not match {tag}"
            );
        }
    }

    #[test]
    fn a_long_pattern_of_stars_stays_cheap() {
        let pattern = "*a".repeat(64);
        let tag = "a".repeat(127) + "b";
        assert!(!glob_matches(&pattern, &tag));
    }

    #[test]
    fn patterns_are_checked_and_repeats_dropped() {
        let ok = Patterns::parse(&["v*", "release-?", "v*"]).expect("valid");
        assert_eq!(ok.as_slice(), ["v*", "release-?"]);
        assert!(Patterns::parse::<&str>(&[]).expect("none").is_empty());
        for bad in ["", "v 1", "v/1", "ü*", &"x".repeat(129)] {
            assert!(Patterns::parse(&[bad]).is_err(), "{bad:?} is refused");
        }
        let many: Vec<String> = (0..51).map(|i| format!("p{i}")).collect();
        let e = Patterns::parse(&many).expect_err("51 patterns");
        assert!(e.to_string().contains("at most 50"), "{e}");
        let lines = Patterns::from_lines("v*\r\n\n  release-*  \n").expect("lines");
        assert_eq!(lines.as_slice(), ["v*", "release-*"]);
    }

    #[test]
    fn rules_are_named_in_refusals() {
        let rule = Rule {
            kind: ScopeKind::Namespace,
            scope: "acme".into(),
            pattern: "v*".into(),
        };
        assert_eq!(rule.to_string(), "rule \"v*\" of namespace acme");
    }
}
