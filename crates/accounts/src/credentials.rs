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

/// A site administrator makes another user an administrator, or takes it back. Nobody changes
/// their own role (a slip could lock the site out), and the last active administrator stays.
pub async fn set_admin(db: &Db, actor: &User, name: &str, admin: bool) -> Result<()> {
    if !actor.is_admin || !actor.active {
        return Err(Error::Forbidden);
    }
    if actor.name == name {
        return Err(Error::Invalid(
            "you cannot change your own administrator role: ask another administrator".into(),
        ));
    }
    let Some(user) = by_name(db, name).await? else {
        return Err(Error::NotFound(format!("user {name}")));
    };
    let pool = &db.pool;
    // The write comes first, so the transaction holds the write lock before it counts.
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE accounts SET is_admin = $2 WHERE id = $1 AND kind = 'user'")
        .bind(user.id)
        .bind(i64::from(admin))
        .execute(&mut *tx)
        .await?;
    if !admin {
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM accounts WHERE kind = 'user' AND is_admin = 1 AND active = 1",
        )
        .fetch_one(&mut *tx)
        .await?;
        if left == 0 {
            return Err(Error::Invalid(format!(
                "{name} is the last administrator: make someone else one first"
            )));
        }
    }
    let action = if admin {
        "user.admin.grant"
    } else {
        "user.admin.revoke"
    };
    audit::record_in(&mut tx, &actor.name, action, name, "").await?;
    tx.commit().await?;
    Ok(())
}

/// A site administrator forces a user to choose a new password at their next web log-in.
/// Every session and refresh token (`docker login` with the password) ends now, and until the
/// new password is chosen the old one logs in nowhere else. Personal access tokens stay: each
/// is listed and revocable on its own, and an account thought compromised is deactivated.
pub async fn force_reset(db: &Db, actor: &User, name: &str) -> Result<()> {
    if !actor.is_admin || !actor.active {
        return Err(Error::Forbidden);
    }
    if actor.name == name {
        return Err(Error::Invalid(
            "change your own password on your settings page".into(),
        ));
    }
    let Some(user) = by_name(db, name).await? else {
        return Err(Error::NotFound(format!("user {name}")));
    };
    let pool = &db.pool;
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE accounts SET must_change_password = 1 WHERE id = $1 AND kind = 'user'")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    let sessions = sessions::end_all(&mut tx, user.id, None).await?;
    let refresh = tokens::revoke_refresh(&mut tx, user.id).await?;
    audit::record_in(
        &mut tx,
        &actor.name,
        "user.password_force_reset",
        name,
        &format!("{sessions} sessions, {refresh} refresh tokens ended"),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How long a ticket to choose a new password lasts, in seconds.
pub const TICKET_TTL: i64 = 3600;

/// A single-use ticket for `user` to choose a new password within [`TICKET_TTL`]; only its
/// SHA-256 is kept.
pub async fn issue_ticket(db: &Db, user: &User) -> Result<String> {
    let secret = tokens::new_secret("berth_pwt_")?;
    let now = crate::now();
    sqlx::query(
        "INSERT INTO password_tickets (token_hash, account_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(tokens::digest(&secret))
    .bind(user.id)
    .bind(now)
    .bind(now + TICKET_TTL)
    .execute(&db.pool)
    .await?;
    Ok(secret)
}

/// The user a live (unused, unexpired) ticket is for.
pub async fn ticket_user(db: &Db, secret: &str) -> Result<Option<User>> {
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT account_id FROM password_tickets
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(tokens::digest(secret))
    .bind(crate::now())
    .fetch_optional(&db.pool)
    .await?;
    match id {
        Some(id) => crate::users::by_id(db, id).await,
        None => Ok(None),
    }
}

/// Spends a ticket on a new password: the password is replaced, every ticket, session and
/// refresh token of the user ends, and a forced reset is done. Returns the user, to sign in.
pub async fn redeem_ticket(db: &Db, secret: &str, new: &str) -> Result<User> {
    spend_ticket(db, secret, new, "user.password", "new password chosen").await
}

/// Spends a ticket mailed by "Forgot password?" ([`crate::Accounts::request_password_reset`])
/// on a new password, as [`redeem_ticket`] does; audited as `password.reset`.
pub async fn reset_with_ticket(db: &Db, secret: &str, new: &str) -> Result<User> {
    spend_ticket(
        db,
        secret,
        new,
        "password.reset",
        "new password chosen from a mailed link",
    )
    .await
}

async fn spend_ticket(
    db: &Db,
    secret: &str,
    new: &str,
    action: &str,
    detail: &str,
) -> Result<User> {
    let expired = || Error::Invalid("this link has expired or was used already".into());
    password::check_strength(new)?;
    let Some(user) = ticket_user(db, secret).await? else {
        return Err(expired());
    };
    if !user.active {
        return Err(expired());
    }
    let hash = password::hash_async(new).await?;
    let now = crate::now();
    let mut tx = db.pool.begin().await?;
    // Spent first: of two uses racing, one finds it gone.
    let spent = sqlx::query(
        "UPDATE password_tickets SET used_at = $2
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(tokens::digest(secret))
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if spent != 1 {
        return Err(expired());
    }
    sqlx::query(
        "UPDATE password_tickets SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL",
    )
    .bind(user.id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE accounts SET password_hash = $2, password_changed_at = $3, must_change_password = 0
         WHERE id = $1 AND kind = 'user'",
    )
    .bind(user.id)
    .bind(hash)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sessions::end_all(&mut tx, user.id, None).await?;
    tokens::revoke_refresh(&mut tx, user.id).await?;
    audit::record_in(&mut tx, &user.name, action, &user.name, detail).await?;
    tx.commit().await?;
    Ok(user)
}

/// Tickets mailed to one account within [`TICKET_TTL`], at most: more requests send nothing,
/// so nobody can fill a mailbox by asking from many addresses.
pub const MAILED_TICKETS_PER_TTL: i64 = 3;

/// How many tickets `user` was given within the last [`TICKET_TTL`].
pub async fn recent_tickets(db: &Db, user: &User) -> Result<i64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM password_tickets WHERE account_id = $1 AND created_at > $2",
    )
    .bind(user.id)
    .bind(crate::now() - TICKET_TTL)
    .fetch_one(&db.pool)
    .await?;
    Ok(n)
}
