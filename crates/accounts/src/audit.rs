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
        "INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(crate::now())
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(detail)
    .execute(executor)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Entry {
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
        "SELECT at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
