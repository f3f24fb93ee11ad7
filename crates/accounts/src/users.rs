//! Users: sign-up, lookup, password changes, deactivation.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::error::{Error, Result};
use crate::{audit, names, password};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
    pub active: bool,
    pub created_at: i64,
}

const COLUMNS: &str = "id, name, COALESCE(email, ''), is_admin, active, created_at";

fn user(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        email: row.try_get(2)?,
        is_admin: row.try_get::<i64, _>(3)? != 0,
        active: row.try_get::<i64, _>(4)? != 0,
        created_at: row.try_get(5)?,
    })
}

/// What sign-up takes. Privileged fields (admin) are not part of it: only the command line
/// creates administrators.
pub struct NewUser<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub password: &'a str,
}

pub async fn create(pool: &AnyPool, new: NewUser<'_>, admin: bool) -> Result<User> {
    names::validate(new.name)?;
    names::validate_email(new.email)?;
    password::check_strength(new.password)?;
    let hash = password::hash_async(new.password).await?;
    // The write comes first, so the transaction holds the write lock before it reads (SQLite
    // cannot upgrade a read snapshot that a concurrent writer overtook).
    let mut tx = pool.begin().await?;
    let row = sqlx::query(&format!(
        "INSERT INTO accounts (name, kind, email, password_hash, is_admin, active, created_at)
         VALUES ($1, 'user', $2, $3, $4, 1, $5)
         ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(new.name)
    .bind(new.email.to_lowercase())
    .bind(hash)
    .bind(i64::from(admin))
    .bind(crate::now())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(Error::Conflict("an account with that name or email".into()));
    };
    let user = user(&row)?;
    names::ensure_unclaimed(&mut tx, new.name).await?;
    tx.commit().await?;
    audit::record(
        pool,
        &user.name,
        "user.create",
        &user.name,
        if admin { "admin" } else { "" },
    )
    .await?;
    Ok(user)
}

pub async fn by_name(pool: &AnyPool, name: &str) -> Result<Option<User>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM accounts WHERE name = $1 AND kind = 'user'"
    ))
    .bind(name)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(user).transpose()
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<User>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM accounts WHERE id = $1 AND kind = 'user'"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(user).transpose()
}

/// Checks a user's password. Costs the same whether or not the user exists.
pub async fn check_password(pool: &AnyPool, name: &str, given: &str) -> Result<Option<User>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS}, password_hash FROM accounts WHERE name = $1 AND kind = 'user'"
    ))
    .bind(name)
    .fetch_optional(pool)
    .await?;
    let found = match &row {
        Some(r) => Some((
            user(r)?,
            r.try_get::<Option<String>, _>(6)?.unwrap_or_default(),
        )),
        None => None,
    };
    let stored = found
        .as_ref()
        .map(|(_, h)| h.clone())
        .unwrap_or_else(|| password::dummy_hash().to_owned());
    let ok = password::verify_async(given, &stored).await?;
    Ok(match found {
        Some((u, _)) if ok && u.active => Some(u),
        _ => None,
    })
}

/// Changes the user's own password. The caller has checked the new one's strength and the
/// current one, through the login throttle ([`crate::Accounts::change_password`]). Every other session and every
/// refresh token ends; `keep_session` (the cookie secret of the session that asked) stays.
pub(crate) async fn change_password(
    pool: &AnyPool,
    user: &User,
    new: &str,
    keep_session: Option<&str>,
) -> Result<()> {
    replace_password(pool, user, new, keep_session).await?;
    audit::record(pool, &user.name, "user.password", &user.name, "").await
}

/// An administrator's reset of a user's password: every session and refresh token of the user
/// ends.
pub async fn reset_password(pool: &AnyPool, actor: &str, name: &str, new: &str) -> Result<()> {
    password::check_strength(new)?;
    let Some(user) = by_name(pool, name).await? else {
        return Err(Error::NotFound(format!("user {name}")));
    };
    replace_password(pool, &user, new, None).await?;
    audit::record(pool, actor, "user.password_reset", name, "").await
}

/// Stores a new password hash and ends what logged in with the old one, in one transaction.
/// Personal access tokens stay (as on Docker Hub and GitHub); the settings page asks the user
/// to review them.
async fn replace_password(
    pool: &AnyPool,
    user: &User,
    new: &str,
    keep_session: Option<&str>,
) -> Result<()> {
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
    crate::sessions::end_all(&mut tx, user.id, keep_session).await?;
    crate::tokens::revoke_refresh(&mut tx, user.id).await?;
    tx.commit().await?;
    Ok(())
}

/// When the user's password last changed (by them or by an administrator), if ever.
pub async fn password_changed_at(pool: &AnyPool, user: &User) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT password_changed_at FROM accounts WHERE id = $1")
            .bind(user.id)
            .fetch_optional(pool)
            .await?
            .flatten(),
    )
}

/// Deactivates or reactivates a user. Deactivation ends every session and refresh token.
pub async fn set_active(pool: &AnyPool, actor: &str, name: &str, active: bool) -> Result<()> {
    let Some(user) = by_name(pool, name).await? else {
        return Err(Error::NotFound(format!("user {name}")));
    };
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE accounts SET active = $2 WHERE id = $1 AND kind = 'user'")
        .bind(user.id)
        .bind(i64::from(active))
        .execute(&mut *tx)
        .await?;
    if !active {
        crate::sessions::end_all(&mut tx, user.id, None).await?;
        crate::tokens::revoke_refresh(&mut tx, user.id).await?;
    }
    tx.commit().await?;
    audit::record(
        pool,
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

/// Whether an account (user or organization) has this name.
pub async fn namespace_exists(pool: &AnyPool, name: &str) -> Result<bool> {
    Ok(sqlx::query("SELECT id FROM accounts WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?
        .is_some())
}

/// Changes a user's email address. Emails are unique across accounts.
pub async fn set_email(pool: &AnyPool, user: &User, email: &str) -> Result<User> {
    let email = email.trim();
    names::validate_email(email)?;
    let email = email.to_lowercase();
    let taken: Option<i64> =
        sqlx::query_scalar("SELECT id FROM accounts WHERE email = $1 AND id <> $2")
            .bind(&email)
            .bind(user.id)
            .fetch_optional(pool)
            .await?;
    if taken.is_some() {
        return Err(Error::Conflict("an account with that email".into()));
    }
    // The unique index settles a race between two changes to the same address.
    sqlx::query("UPDATE accounts SET email = $2 WHERE id = $1 AND kind = 'user'")
        .bind(user.id)
        .bind(&email)
        .execute(pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                Error::Conflict("an account with that email".into())
            }
            _ => Error::Database(e),
        })?;
    audit::record(pool, &user.name, "user.email", &user.name, "").await?;
    Ok(User {
        email,
        ..user.clone()
    })
}

/// The organizations in which `user` is the only owner: they must be handed over or deleted
/// before the user can go, or nobody could manage them any more.
pub async fn sole_owned_orgs(pool: &AnyPool, user: &User) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT a.name FROM org_members m JOIN accounts a ON a.id = m.org_id
         WHERE m.user_id = $1 AND m.role = 'owner'
           AND (SELECT COUNT(*) FROM org_members o
                WHERE o.org_id = m.org_id AND o.role = 'owner') = 1
         ORDER BY a.name",
    )
    .bind(user.id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Deletes a user: sessions, tokens, memberships, the settings of the repositories in their
/// namespace, and the account. Refused while they are the only owner of an organization. The
/// registry's own data for their repositories is the caller's to remove first, so nobody who
/// later takes the name inherits the old content. Returns how many repositories went with it.
pub async fn delete(pool: &AnyPool, user: &User) -> Result<u64> {
    let sole = sole_owned_orgs(pool, user).await?;
    if !sole.is_empty() {
        return Err(Error::Conflict(format!(
            "{} is the only owner of {}: another owner",
            user.name,
            sole.join(", ")
        )));
    }
    let mut tx = pool.begin().await?;
    let repositories = crate::repos::delete_namespace(&mut tx, &user.name).await?;
    // Children first: nothing here relies on the database enforcing foreign keys.
    for sql in [
        "DELETE FROM sessions WHERE account_id = $1",
        "DELETE FROM stars WHERE account_id = $1",
        "DELETE FROM comments WHERE author_id = $1",
        "DELETE FROM access_tokens WHERE account_id = $1",
        "DELETE FROM team_members WHERE user_id = $1",
        "DELETE FROM org_members WHERE user_id = $1",
        "DELETE FROM org_invitations WHERE user_id = $1",
        "DELETE FROM accounts WHERE id = $1 AND kind = 'user'",
    ] {
        sqlx::query(sql).bind(user.id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    audit::record(
        pool,
        &user.name,
        "user.delete",
        &user.name,
        &format!("{repositories} repositories"),
    )
    .await?;
    Ok(repositories)
}
