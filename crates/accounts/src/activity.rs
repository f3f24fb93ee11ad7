//! The activity feed: what happened to repositories (tags pushed or moved, tags deleted, stars,
//! comments, finished builds), newest first.
//!
//! Each store writes its row with [`record`] inside the transaction of the event itself, so the
//! feed never tells of something that rolled back. Rows keep the repository's name but never
//! its visibility: [`feed`] joins `repository_settings` and filters with the reader's
//! [`Viewer`] in SQL, so a repository made private leaves every outsider's feed at once, and a
//! deleted one (whose rows go in its deletion's transaction) leaves no name behind.

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::error::Result;
use crate::visibility::Viewer;
use crate::Db;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A tag was pushed or moved to another manifest (or a manifest pushed by digest).
    Push,
    TagDelete,
    Star,
    Comment,
    /// A build finished (`detail` says how).
    Build,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Push => "push",
            Kind::TagDelete => "tag_delete",
            Kind::Star => "star",
            Kind::Comment => "comment",
            Kind::Build => "build",
        }
    }
}

/// One event, as [`record`] writes it.
#[derive(Debug, Clone, Default)]
pub struct New<'a> {
    pub repository: &'a str,
    pub actor: &'a str,
    pub tag: &'a str,
    pub digest: &'a str,
    pub detail: &'a str,
}

/// One line of the feed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub kind: String,
    pub repository: String,
    pub actor: String,
    pub tag: String,
    pub digest: String,
    pub detail: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// The most lines one page of the feed holds.
pub const MAX_PAGE: i64 = 100;

/// Writes one event, inside the caller's transaction (the event's own).
pub async fn record(conn: &mut AnyConnection, kind: Kind, new: &New<'_>) -> Result<()> {
    let namespace = berth_registry::names::namespace_of(new.repository).unwrap_or("");
    sqlx::query(
        "INSERT INTO activity (created_at, kind, repository, namespace, actor, tag, digest, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(crate::now())
    .bind(kind.as_str())
    .bind(new.repository)
    .bind(namespace)
    .bind(new.actor)
    .bind(new.tag)
    .bind(new.digest)
    .bind(new.detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// A page of what `viewer` may see, newest first: at most `limit` lines older than `before`
/// (an [`Entry::id`]; `None` for the newest). Walks the table's key backwards and stops when
/// the page is full, so its cost follows the page, not the table.
pub async fn feed(db: &Db, viewer: &Viewer, before: Option<i64>, limit: i64) -> Result<Vec<Entry>> {
    let (visible, binds) = viewer.condition("rs", 3);
    let sql = format!(
        "SELECT a.id, a.kind, a.repository, a.actor, a.tag, a.digest, a.detail, a.created_at
         FROM activity a JOIN repository_settings rs ON rs.repository = a.repository
         WHERE a.id < $1 AND {visible}
         ORDER BY a.id DESC LIMIT $2"
    );
    let mut q = sqlx::query(&sql)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit.clamp(1, MAX_PAGE));
    for b in &binds {
        q = q.bind(b.as_str());
    }
    q.fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Entry {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                repository: r.try_get("repository")?,
                actor: r.try_get("actor")?,
                tag: r.try_get("tag")?,
                digest: r.try_get("digest")?,
                detail: r.try_get("detail")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Removes a repository's lines, inside its deletion's transaction.
pub async fn delete_of_repository(conn: &mut AnyConnection, repository: &str) -> Result<()> {
    sqlx::query("DELETE FROM activity WHERE repository = $1")
        .bind(repository)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes the lines of every repository of a namespace, inside its deletion's transaction.
pub async fn delete_of_namespace(conn: &mut AnyConnection, namespace: &str) -> Result<()> {
    sqlx::query("DELETE FROM activity WHERE namespace = $1")
        .bind(namespace)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes what an account did anywhere (a user going away), inside the deletion's
/// transaction: a name that can be signed up again must not inherit a history.
pub async fn delete_of_actor(conn: &mut AnyConnection, actor: &str) -> Result<()> {
    sqlx::query("DELETE FROM activity WHERE actor = $1")
        .bind(actor)
        .execute(conn)
        .await?;
    Ok(())
}
