//! Comments on repositories: Markdown written by signed-in users who can read the repository,
//! edited and deleted by their authors, deleted by the repository's administrators.

use serde::Serialize;
use sqlx::AnyConnection;

use crate::{Error, Hub, Result};
use berth_accounts::activity;
use berth_accounts::users::User;

/// Longest comment, in bytes.
pub const MAX_BODY: usize = 10_000;

#[derive(Debug, Clone, Serialize, PartialEq, Eq, sqlx::FromRow)]
pub struct Comment {
    pub id: i64,
    pub repository: String,
    pub author: String,
    /// The Markdown source as written.
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str =
    "SELECT c.id, c.repository, a.name AS author, c.body, c.created_at, c.updated_at
     FROM comments c JOIN accounts a ON a.id = c.author_id";

fn validate(body: &str) -> Result<&str> {
    let body = body.trim();
    if body.is_empty() {
        return Err(Error::Invalid("a comment cannot be empty".into()));
    }
    if body.contains('\0') {
        return Err(Error::Invalid(
            "a comment cannot contain NUL characters".into(),
        ));
    }
    if body.len() > MAX_BODY {
        return Err(Error::Invalid(format!(
            "a comment is limited to {MAX_BODY} bytes"
        )));
    }
    Ok(body)
}

/// A page of a repository's comments, newest first, and how many there are in all.
pub async fn list(
    hub: &Hub,
    repository: &str,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Comment>)> {
    let pool = &hub.pool;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM comments WHERE repository = $1")
        .bind(repository)
        .fetch_one(pool)
        .await?;
    let comments = sqlx::query_as(&format!(
        "{SELECT} WHERE c.repository = $1 ORDER BY c.id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(repository)
    .bind(limit.clamp(1, 100))
    .bind(offset.max(0))
    .fetch_all(pool)
    .await?;
    Ok((total, comments))
}

pub async fn get(hub: &Hub, repository: &str, id: i64) -> Result<Comment> {
    let pool = &hub.pool;
    sqlx::query_as(&format!("{SELECT} WHERE c.repository = $1 AND c.id = $2"))
        .bind(repository)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| Error::NotFound(format!("comment {id}")))
}

pub async fn create(hub: &Hub, repository: &str, author: &User, body: &str) -> Result<Comment> {
    let body = validate(body)?;
    let now = berth_accounts::now();
    let mut tx = hub.pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO comments (repository, author_id, body, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(repository)
    .bind(author.id)
    .bind(body)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    // The feed names the comment, never quotes it: its text stays where it can be edited.
    let new = activity::New {
        repository,
        actor: &author.name,
        detail: &id.to_string(),
        ..activity::New::default()
    };
    activity::record(&mut tx, activity::Kind::Comment, &new).await?;
    tx.commit().await?;
    get(hub, repository, id).await
}

/// Changes a comment's text; only its author may.
pub async fn update(
    hub: &Hub,
    repository: &str,
    id: i64,
    author: &User,
    body: &str,
) -> Result<Comment> {
    let pool = &hub.pool;
    let body = validate(body)?;
    let existing = get(hub, repository, id).await?;
    if existing.author != author.name {
        return Err(Error::Forbidden);
    }
    sqlx::query("UPDATE comments SET body = $3, updated_at = $4 WHERE repository = $1 AND id = $2")
        .bind(repository)
        .bind(id)
        .bind(body)
        .bind(berth_accounts::now())
        .execute(pool)
        .await?;
    get(hub, repository, id).await
}

/// Deletes a comment: its author may, and so may a repository administrator
/// (`repository_admin`), which is audited.
pub async fn delete(
    hub: &Hub,
    repository: &str,
    id: i64,
    actor: &User,
    repository_admin: bool,
) -> Result<()> {
    let pool = &hub.pool;
    let existing = get(hub, repository, id).await?;
    let own = existing.author == actor.name;
    if !own && !repository_admin {
        return Err(Error::Forbidden);
    }
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM comments WHERE repository = $1 AND id = $2")
        .bind(repository)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM activity WHERE repository = $1 AND kind = $2 AND detail = $3")
        .bind(repository)
        .bind(activity::Kind::Comment.as_str())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if !own {
        berth_accounts::audit::record(
            &hub.accounts.db,
            &actor.name,
            "comment.delete",
            repository,
            &format!("comment {id} by {}", existing.author),
        )
        .await?;
    }
    Ok(())
}

/// Removes the comments on a repository, inside the caller's transaction.
pub async fn delete_of_repository(conn: &mut AnyConnection, repository: &str) -> Result<()> {
    sqlx::query("DELETE FROM comments WHERE repository = $1")
        .bind(repository)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes the comments on every repository of a namespace, inside the caller's transaction.
pub async fn delete_of_namespace(conn: &mut AnyConnection, namespace: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM comments WHERE repository IN
         (SELECT repository FROM repository_settings WHERE namespace = $1)",
    )
    .bind(namespace)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes the comments a user wrote, inside the caller's transaction.
pub async fn delete_of_user(conn: &mut AnyConnection, user_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM comments WHERE author_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}
