//! The audit log: who did what to which account, token or repository, and when.

use sqlx::{Any, AnyConnection, Executor};

use crate::error::Result;
use crate::Db;

pub async fn record(db: &Db, actor: &str, action: &str, target: &str, detail: &str) -> Result<()> {
    let pool = &db.pool;
    insert(pool, actor, action, target, detail).await
}

/// Records an entry inside the caller's transaction, so it is written exactly when the change
/// it tells of is.
pub async fn record_in(
    conn: &mut AnyConnection,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<()> {
    insert(conn, actor, action, target, detail).await
}

async fn insert<'e>(
    executor: impl Executor<'e, Database = Any>,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, detail, namespace)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(crate::now())
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(detail)
    .bind(namespace_of(target))
    .execute(executor)
    .await?;
    Ok(())
}

/// The namespace an entry belongs to: the account its target names first (`acme` for `acme`,
/// `acme/app`, `acme:devs`, `acme:bob`, `acme+ci` and `org acme`). An organization's owners
/// see the entries of theirs. Migration 0021 gives older entries theirs the same way.
pub fn namespace_of(target: &str) -> &str {
    let target = target.strip_prefix("org ").unwrap_or(target);
    let end = target.find(['/', ':', '+', ' ']).unwrap_or(target.len());
    &target[..end]
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// The newest entries first.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<Entry>> {
    let pool = &db.pool;
    Ok(sqlx::query_as::<_, Entry>(
        "SELECT id, at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// What to look for in the log; every field narrows it. Each runs in SQL on an index.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Exactly this actor.
    pub actor: Option<String>,
    /// Exactly this action (`user.deactivate`), or every action under a prefix ending in a
    /// dot (`user.`).
    pub action: Option<String>,
    /// This target and everything under it (`acme` also finds `acme/app`).
    pub target: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
    /// Only entries of this namespace (an organization's own log).
    pub namespace: Option<String>,
}

/// The most entries one page holds.
pub const MAX_PAGE: i64 = 200;

/// One page of the entries `filter` finds, newest first: at most `limit` (capped at
/// [`MAX_PAGE`]) after skipping `offset`.
pub async fn search(db: &Db, filter: &Filter, offset: i64, limit: i64) -> Result<Vec<Entry>> {
    let mut clauses: Vec<String> = Vec::new();
    let mut binds: Vec<Bound> = Vec::new();
    let mut next = |clauses: &mut Vec<String>, sql: &str, values: Vec<Bound>| {
        let mut sql = sql.to_owned();
        for v in values {
            binds.push(v);
            sql = sql.replacen('?', &format!("${}", binds.len()), 1);
        }
        clauses.push(sql);
    };
    if let Some(actor) = filter.actor.as_deref() {
        next(
            &mut clauses,
            "actor = ?",
            vec![Bound::Text(actor.to_owned())],
        );
    }
    if let Some(action) = filter.action.as_deref() {
        if let Some(stem) = action.strip_suffix('.') {
            // Every action under the prefix: a range the index serves ('/' follows '.').
            let upper = format!("{stem}/");
            next(
                &mut clauses,
                "action >= ? AND action < ?",
                vec![Bound::Text(action.to_owned()), Bound::Text(upper)],
            );
        } else {
            next(
                &mut clauses,
                "action = ?",
                vec![Bound::Text(action.to_owned())],
            );
        }
    }
    if let Some(target) = filter.target.as_deref() {
        // The target itself, and `target/...` as the range `[target/, target0)`.
        next(
            &mut clauses,
            "(target = ? OR (target >= ? AND target < ?))",
            vec![
                Bound::Text(target.to_owned()),
                Bound::Text(format!("{target}/")),
                Bound::Text(format!("{target}0")),
            ],
        );
    }
    if let Some(namespace) = filter.namespace.as_deref() {
        next(
            &mut clauses,
            "namespace = ?",
            vec![Bound::Text(namespace.to_owned())],
        );
    }
    if let Some(since) = filter.since {
        next(&mut clauses, "at >= ?", vec![Bound::Int(since)]);
    }
    if let Some(until) = filter.until {
        next(&mut clauses, "at < ?", vec![Bound::Int(until)]);
    }
    let mut sql = "SELECT id, at, actor, action, target, detail FROM audit_log".to_owned();
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    let n = binds.len();
    sql.push_str(&format!(
        " ORDER BY id DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    ));
    let mut query = sqlx::query_as::<_, Entry>(&sql);
    for b in binds {
        query = match b {
            Bound::Text(t) => query.bind(t),
            Bound::Int(i) => query.bind(i),
        };
    }
    let pool = &db.pool;
    Ok(query
        .bind(limit.clamp(1, MAX_PAGE))
        .bind(offset.max(0))
        .fetch_all(pool)
        .await?)
}

enum Bound {
    Text(String),
    Int(i64),
}

#[cfg(test)]
mod tests {
    use super::namespace_of;

    #[test]
    fn an_entry_belongs_to_its_targets_first_segment() {
        assert_eq!(namespace_of("acme"), "acme");
        assert_eq!(namespace_of("acme/app"), "acme");
        assert_eq!(namespace_of("acme/team/x"), "acme");
        assert_eq!(namespace_of("acme:devs"), "acme");
        assert_eq!(namespace_of("acme+ci"), "acme");
        assert_eq!(namespace_of("org acme"), "acme");
        assert_eq!(namespace_of("token:12"), "token");
        assert_eq!(namespace_of(""), "");
    }
}
