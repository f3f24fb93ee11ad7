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
    let hash = password::hash(new.password)?;
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
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Err(Error::Conflict("an account with that name or email".into()));
    };
    let user = user(&row)?;
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
    let given = given.to_owned();
    let ok = tokio::task::spawn_blocking(move || password::verify(&given, &stored))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(match found {
        Some((u, _)) if ok && u.active => Some(u),
        _ => None,
    })
}

pub async fn change_password(pool: &AnyPool, name: &str, current: &str, new: &str) -> Result<()> {
    password::check_strength(new)?;
    if check_password(pool, name, current).await?.is_none() {
        return Err(Error::BadCredentials);
    }
    let hash = password::hash(new)?;
    sqlx::query("UPDATE accounts SET password_hash = $2 WHERE name = $1 AND kind = 'user'")
        .bind(name)
        .bind(hash)
        .execute(pool)
        .await?;
    audit::record(pool, name, "user.password", name, "").await
}

pub async fn set_active(pool: &AnyPool, actor: &str, name: &str, active: bool) -> Result<()> {
    let done = sqlx::query("UPDATE accounts SET active = $2 WHERE name = $1 AND kind = 'user'")
        .bind(name)
        .bind(i64::from(active))
        .execute(pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("user {name}")));
    }
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
