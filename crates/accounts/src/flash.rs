//! Flashes: what a form's response hands the page it redirects to, such as a new token's
//! secret, so that the secret is shown by a `GET` (which a reload repeats harmlessly) rather
//! than by the `POST` that made it. Kept in the database, not in a cookie or the address, so
//! that any replica can show it and nothing secret travels in a URL; tied to the session that
//! made it, deleted when shown, and gone after a few minutes anyway.

use crate::error::Result;
use crate::tokens::{digest, new_secret};
use crate::Db;

/// How long a flash waits for the page that shows it.
pub const TTL: i64 = 5 * 60;

/// Keeps `body` for the session whose cookie value is `session`; returns the flash's id, for
/// the address of the page that shows it.
pub async fn put(db: &Db, session: &str, kind: &str, body: &str) -> Result<String> {
    let pool = &db.pool;
    let now = crate::now();
    // The ones nobody came back for.
    sqlx::query("DELETE FROM flashes WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    let id = new_secret("")?;
    sqlx::query(
        "INSERT INTO flashes (id, session_hash, kind, body, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(digest(session))
    .bind(kind)
    .bind(body)
    .bind(now + TTL)
    .execute(pool)
    .await?;
    Ok(id)
}

#[derive(sqlx::FromRow)]
struct Taken {
    body: String,
    expires_at: i64,
}

/// The body of the flash `id` of this kind for this session, once: deleting and reading are
/// one statement, so two requests racing for it cannot both have it.
pub async fn take(db: &Db, session: &str, kind: &str, id: &str) -> Result<Option<String>> {
    let pool = &db.pool;
    let row = sqlx::query_as::<_, Taken>(
        "DELETE FROM flashes WHERE id = $1 AND session_hash = $2 AND kind = $3
         RETURNING body, expires_at",
    )
    .bind(id)
    .bind(digest(session))
    .bind(kind)
    .fetch_optional(pool)
    .await?;
    let Some(Taken { body, expires_at }) = row else {
        return Ok(None);
    };
    if expires_at <= crate::now() {
        return Ok(None);
    }
    Ok(Some(body))
}
