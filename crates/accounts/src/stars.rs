//! Stars: a user's bookmark of a repository, counted on the repository (by triggers, so the
//! count follows the rows however they come and go).

use sqlx::AnyPool;

use crate::error::Result;
use crate::repos::{self, RepoSettings};
use crate::users::User;
use crate::visibility::Viewer;

/// Stars `repository` for `user`; starring twice is the same as once.
pub async fn star(pool: &AnyPool, user: &User, repository: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO stars (account_id, repository, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (account_id, repository) DO NOTHING",
    )
    .bind(user.id)
    .bind(repository)
    .bind(crate::now())
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn unstar(pool: &AnyPool, user: &User, repository: &str) -> Result<()> {
    sqlx::query("DELETE FROM stars WHERE account_id = $1 AND repository = $2")
        .bind(user.id)
        .bind(repository)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn is_starred(pool: &AnyPool, user: &User, repository: &str) -> Result<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM stars WHERE account_id = $1 AND repository = $2")
            .bind(user.id)
            .bind(repository)
            .fetch_optional(pool)
            .await?
            .is_some(),
    )
}

/// The repositories `user_id` starred that `viewer` may see, most recently starred first.
pub async fn starred(
    pool: &AnyPool,
    user_id: i64,
    viewer: &Viewer,
    limit: i64,
) -> Result<Vec<RepoSettings>> {
    let (visible, binds) = viewer.condition("rs", 2);
    let columns = repos::columns_of("rs");
    let sql = format!(
        "SELECT {columns} FROM stars s JOIN repository_settings rs ON rs.repository = s.repository
         WHERE s.account_id = $1 AND {visible}
         ORDER BY s.created_at DESC, rs.repository LIMIT ${}",
        binds.len() + 2
    );
    let mut q = sqlx::query(&sql).bind(user_id);
    for b in &binds {
        q = q.bind(b.as_str());
    }
    q.bind(limit.clamp(1, 100))
        .fetch_all(pool)
        .await?
        .iter()
        .map(repos::settings)
        .collect()
}
