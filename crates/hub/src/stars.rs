//! Stars: a user's bookmark of a repository, counted on the repository (by triggers, so the
//! count follows the rows however they come and go).

use sqlx::AnyConnection;

use crate::{Hub, Result};
use berth_accounts::activity;
use berth_accounts::repos::{self, RepoSettings};
use berth_accounts::users::User;
use berth_accounts::visibility::Viewer;

/// Stars `repository` for `user`; starring twice is the same as once. A new star is a line of
/// the activity feed, written with it.
pub async fn star(hub: &Hub, user: &User, repository: &str) -> Result<()> {
    let mut tx = hub.pool.begin().await?;
    let added = sqlx::query(
        "INSERT INTO stars (account_id, repository, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (account_id, repository) DO NOTHING",
    )
    .bind(user.id)
    .bind(repository)
    .bind(berth_accounts::now())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    if added {
        let new = activity::New {
            repository,
            actor: &user.name,
            ..activity::New::default()
        };
        activity::record(&mut tx, activity::Kind::Star, &new).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Takes a star back, and its line of the feed with it.
pub async fn unstar(hub: &Hub, user: &User, repository: &str) -> Result<()> {
    let mut tx = hub.pool.begin().await?;
    let removed = sqlx::query("DELETE FROM stars WHERE account_id = $1 AND repository = $2")
        .bind(user.id)
        .bind(repository)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        > 0;
    if removed {
        sqlx::query("DELETE FROM activity WHERE repository = $1 AND actor = $2 AND kind = $3")
            .bind(repository)
            .bind(&user.name)
            .bind(activity::Kind::Star.as_str())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn is_starred(hub: &Hub, user: &User, repository: &str) -> Result<bool> {
    let pool = &hub.pool;
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
    hub: &Hub,
    user_id: i64,
    viewer: &Viewer,
    limit: i64,
) -> Result<Vec<RepoSettings>> {
    let pool = &hub.pool;
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

/// Removes the stars of a repository, inside the caller's transaction.
pub async fn delete_of_repository(conn: &mut AnyConnection, repository: &str) -> Result<()> {
    sqlx::query("DELETE FROM stars WHERE repository = $1")
        .bind(repository)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes the stars of every repository of a namespace, inside the caller's transaction.
pub async fn delete_of_namespace(conn: &mut AnyConnection, namespace: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM stars WHERE repository IN
         (SELECT repository FROM repository_settings WHERE namespace = $1)",
    )
    .bind(namespace)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes the stars a user gave, inside the caller's transaction.
pub async fn delete_of_user(conn: &mut AnyConnection, user_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM stars WHERE account_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}
