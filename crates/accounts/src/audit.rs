//! The audit log: who did what to which account, token or repository, and when.

use sqlx::AnyPool;

use crate::error::Result;

pub async fn record(
    pool: &AnyPool,
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
    .execute(pool)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// The newest entries first.
pub async fn recent(pool: &AnyPool, limit: i64) -> Result<Vec<Entry>> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Entry {
                at: r.try_get(0)?,
                actor: r.try_get(1)?,
                action: r.try_get(2)?,
                target: r.try_get(3)?,
                detail: r.try_get(4)?,
            })
        })
        .collect()
}
