//! Web sessions: server-side, named by a random secret carried in an HttpOnly cookie, stored as
//! a SHA-256, each with its own CSRF token. Signing out deletes the row; deactivating the user
//! ends every session at the next request.

use crate::audit;
use crate::error::Result;
use crate::tokens::{digest, new_secret};
use crate::users::{self, User};
use crate::Db;

/// How long a session lasts without being used again.
pub const IDLE_TTL: i64 = 14 * 24 * 3600;

pub struct NewSession {
    /// The cookie value; seen only here.
    pub secret: String,
    pub csrf_token: String,
}

pub async fn create(db: &Db, user: &User) -> Result<NewSession> {
    let pool = &db.pool;
    let secret = new_secret("berth_session_")?;
    let csrf_token = new_secret("")?;
    let now = crate::now();
    sqlx::query(
        "INSERT INTO sessions (id_hash, account_id, csrf_token, created_at, expires_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $4)",
    )
    .bind(digest(&secret))
    .bind(user.id)
    .bind(&csrf_token)
    .bind(now)
    .bind(now + IDLE_TTL)
    .execute(pool)
    .await?;
    audit::record(db, &user.name, "session.create", &user.name, "").await?;
    Ok(NewSession { secret, csrf_token })
}

#[derive(sqlx::FromRow)]
struct LiveSession {
    account_id: i64,
    csrf_token: String,
}

/// The user and CSRF token of a live session; extends its life.
pub async fn get(db: &Db, secret: &str) -> Result<Option<(User, String)>> {
    let pool = &db.pool;
    let now = crate::now();
    let row = sqlx::query_as::<_, LiveSession>(
        "SELECT account_id, csrf_token FROM sessions WHERE id_hash = $1 AND expires_at > $2",
    )
    .bind(digest(secret))
    .bind(now)
    .fetch_optional(pool)
    .await?;
    let Some(LiveSession {
        account_id,
        csrf_token: csrf,
    }) = row
    else {
        return Ok(None);
    };
    let Some(user) = users::by_id(db, account_id).await? else {
        return Ok(None);
    };
    if !user.active {
        return Ok(None);
    }
    sqlx::query("UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id_hash = $1")
        .bind(digest(secret))
        .bind(now)
        .bind(now + IDLE_TTL)
        .execute(pool)
        .await?;
    Ok(Some((user, csrf)))
}

pub async fn delete(db: &Db, secret: &str) -> Result<()> {
    let pool = &db.pool;
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(digest(secret))
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends every session of an account but `keep` (the cookie secret of the session that asked,
/// if any). Part of the caller's transaction.
pub async fn end_all(
    conn: &mut sqlx::AnyConnection,
    account_id: i64,
    keep: Option<&str>,
) -> Result<u64> {
    let keep = keep.map(digest).unwrap_or_default();
    Ok(
        sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id_hash <> $2")
            .bind(account_id)
            .bind(keep)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// "Sign out everywhere": ends every session of the user, this one included, and every refresh
/// token (`docker login` on other machines). Personal access tokens stay.
pub async fn sign_out_everywhere(db: &Db, user: &User) -> Result<()> {
    let pool = &db.pool;
    let mut tx = pool.begin().await?;
    let sessions = end_all(&mut tx, user.id, None).await?;
    let refresh = crate::tokens::revoke_refresh(&mut tx, user.id).await?;
    tx.commit().await?;
    audit::record(
        db,
        &user.name,
        "session.end_all",
        &user.name,
        &format!("{sessions} sessions, {refresh} refresh tokens"),
    )
    .await
}
