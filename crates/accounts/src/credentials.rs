//! Changes to a user's password and standing that end what logged in before: every session
//! and refresh token goes with the old password, or with the account's deactivation.

use crate::error::{Error, Result};
use crate::users::{by_name, User};
use crate::{audit, password, sessions, tokens, Db};

/// Changes the user's own password. The caller has checked the new one's strength and the
/// current one, through the login throttle ([`crate::Accounts::change_password`]). Every other session and every
/// refresh token ends; `keep_session` (the cookie secret of the session that asked) stays.
pub(crate) async fn change_password(
    db: &Db,
    user: &User,
    new: &str,
    keep_session: Option<&str>,
) -> Result<()> {
    replace_password(db, user, new, keep_session).await?;
    audit::record(db, &user.name, "user.password", &user.name, "").await
}

/// An administrator's reset of a user's password: every session and refresh token of the user
/// ends.
pub async fn reset_password(db: &Db, actor: &str, name: &str, new: &str) -> Result<()> {
    password::check_strength(new)?;
    let Some(user) = by_name(db, name).await? else {
        return Err(Error::NotFound(format!("user {name}")));
    };
    replace_password(db, &user, new, None).await?;
    audit::record(db, actor, "user.password_reset", name, "").await
}

/// Stores a new password hash and ends what logged in with the old one, in one transaction.
/// Personal access tokens stay (as on Docker Hub and GitHub); the settings page asks the user
/// to review them.
async fn replace_password(
    db: &Db,
    user: &User,
    new: &str,
    keep_session: Option<&str>,
) -> Result<()> {
    let pool = &db.pool;
    let hash = password::hash_async(new).await?;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE accounts SET password_hash = $2, password_changed_at = $3
         WHERE id = $1 AND kind = 'user'",
    )
    .bind(user.id)
    .bind(hash)
    .bind(crate::now())
    .execute(&mut *tx)
    .await?;
    sessions::end_all(&mut tx, user.id, keep_session).await?;
    tokens::revoke_refresh(&mut tx, user.id).await?;
    tx.commit().await?;
    Ok(())
}

/// Deactivates or reactivates a user. Deactivation ends every session and refresh token.
pub async fn set_active(db: &Db, actor: &str, name: &str, active: bool) -> Result<()> {
    let pool = &db.pool;
    let Some(user) = by_name(db, name).await? else {
        return Err(Error::NotFound(format!("user {name}")));
    };
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE accounts SET active = $2 WHERE id = $1 AND kind = 'user'")
        .bind(user.id)
        .bind(i64::from(active))
        .execute(&mut *tx)
        .await?;
    if !active {
        sessions::end_all(&mut tx, user.id, None).await?;
        tokens::revoke_refresh(&mut tx, user.id).await?;
    }
    tx.commit().await?;
    audit::record(
        db,
        actor,
        if active {
            "user.activate"
        } else {
            "user.deactivate"
        },
        name,
        "",
    )
    .await
}
