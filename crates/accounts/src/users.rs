//! Users: sign-up, lookup, password changes, deactivation.

use serde::Serialize;
use sqlx::AnyConnection;

use crate::error::{Error, Result};
use crate::Db;
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

const COLUMNS: &str = "id, name, COALESCE(email, '') AS email, is_admin, active, created_at";

/// A row of [`COLUMNS`]: the flags are integers in both schemas.
#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    name: String,
    email: String,
    is_admin: i64,
    active: i64,
    created_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            name: r.name,
            email: r.email,
            is_admin: r.is_admin != 0,
            active: r.active != 0,
            created_at: r.created_at,
        }
    }
}

/// A row of [`COLUMNS`] and the password hash, for [`check_password`].
#[derive(sqlx::FromRow)]
struct UserWithHash {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: Option<String>,
}

/// What sign-up takes. Privileged fields (admin) are not part of it: only the command line
/// creates administrators.
pub struct NewUser<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub password: &'a str,
}

pub async fn create(db: &Db, new: NewUser<'_>, admin: bool) -> Result<User> {
    let pool = &db.pool;
    names::validate(new.name)?;
    names::validate_email(new.email)?;
    password::check_strength(new.password)?;
    let hash = password::hash_async(new.password).await?;
    // The write comes first, so the transaction holds the write lock before it reads (SQLite
    // cannot upgrade a read snapshot that a concurrent writer overtook).
    let mut tx = pool.begin().await?;
    let row = sqlx::query_as::<_, UserRow>(&format!(
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
    let user = User::from(row);
    names::ensure_unclaimed(&mut tx, new.name).await?;
    tx.commit().await?;
    audit::record(
        db,
        &user.name,
        "user.create",
        &user.name,
        if admin { "admin" } else { "" },
    )
    .await?;
    Ok(user)
}

pub async fn by_name(db: &Db, name: &str) -> Result<Option<User>> {
    let pool = &db.pool;
    let row = sqlx::query_as::<_, UserRow>(&format!(
        "SELECT {COLUMNS} FROM accounts WHERE name = $1 AND kind = 'user'"
    ))
    .bind(name)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(User::from))
}

/// The user with this e-mail address (addresses are kept in lower case, unique).
pub async fn by_email(db: &Db, email: &str) -> Result<Option<User>> {
    let row = sqlx::query_as::<_, UserRow>(&format!(
        "SELECT {COLUMNS} FROM accounts WHERE email = $1 AND kind = 'user'"
    ))
    .bind(email.to_lowercase())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(User::from))
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<User>> {
    let pool = &db.pool;
    let row = sqlx::query_as::<_, UserRow>(&format!(
        "SELECT {COLUMNS} FROM accounts WHERE id = $1 AND kind = 'user'"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(User::from))
}

/// Most names [`complete`] offers.
pub const COMPLETIONS: i64 = 10;

/// Names of active users that start with `prefix` (lower case, as names are), in order, at
/// most [`COMPLETIONS`]: what a member form offers as someone types. It reads the unique name
/// index from `prefix` on, never the whole table; organizations and inactive users are not
/// offered.
pub async fn complete(db: &Db, prefix: &str) -> Result<Vec<String>> {
    let prefix = prefix.trim().to_ascii_lowercase();
    if prefix.is_empty() || prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_graphic()) {
        return Ok(Vec::new());
    }
    // Names starting with `prefix` sort together right from `prefix` on: the first rows of
    // the index from there hold every match there is room for, and whatever follows them
    // (names past the prefix) is dropped below.
    let names = sqlx::query_scalar(
        "SELECT name FROM accounts
         WHERE name >= $1 AND kind = 'user' AND active = 1
         ORDER BY name LIMIT $2",
    )
    .bind(&prefix)
    .bind(COMPLETIONS)
    .fetch_all(&db.pool)
    .await?;
    Ok(names
        .into_iter()
        .filter(|n: &String| n.starts_with(&prefix))
        .collect())
}

/// Checks a user's password. Costs the same whether or not the user exists.
pub async fn check_password(db: &Db, name: &str, given: &str) -> Result<Option<User>> {
    let pool = &db.pool;
    let row = sqlx::query_as::<_, UserWithHash>(&format!(
        "SELECT {COLUMNS}, password_hash FROM accounts WHERE name = $1 AND kind = 'user'"
    ))
    .bind(name)
    .fetch_optional(pool)
    .await?;
    let found = row.map(|r| (User::from(r.user), r.password_hash.unwrap_or_default()));
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

/// When the user's password last changed (by them or by an administrator), if ever.
pub async fn password_changed_at(db: &Db, user: &User) -> Result<Option<i64>> {
    let pool = &db.pool;
    Ok(
        sqlx::query_scalar("SELECT password_changed_at FROM accounts WHERE id = $1")
            .bind(user.id)
            .fetch_optional(pool)
            .await?
            .flatten(),
    )
}

/// Whether a site administrator forced a reset the user has not done yet.
pub async fn must_change_password(db: &Db, user_id: i64) -> Result<bool> {
    let flag: Option<i64> =
        sqlx::query_scalar("SELECT must_change_password FROM accounts WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(flag.unwrap_or(0) != 0)
}

/// One page of users, by name, for site administrators: those whose name or email starts with
/// `query` (lowercased), or everyone for an empty one. Both are ranges the unique indexes
/// on name and email serve.
pub async fn search(db: &Db, query: &str, offset: i64, limit: i64) -> Result<Vec<User>> {
    let q = query.trim().to_lowercase();
    let rows = if q.is_empty() {
        sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {COLUMNS} FROM accounts WHERE kind = 'user'
             ORDER BY name LIMIT $1 OFFSET $2"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&db.pool)
        .await?
    } else {
        // `[q, q with its last character raised)`: every text that starts with `q`.
        let upper = prefix_end(&q);
        sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {COLUMNS} FROM accounts
             WHERE kind = 'user'
               AND ((name >= $1 AND name < $2) OR (email >= $1 AND email < $2))
             ORDER BY name LIMIT $3 OFFSET $4"
        ))
        .bind(&q)
        .bind(upper)
        .bind(limit)
        .bind(offset)
        .fetch_all(&db.pool)
        .await?
    };
    Ok(rows.into_iter().map(User::from).collect())
}

/// The first text after every text that starts with `prefix` (not empty): its last character
/// raised by one.
fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(u32::from(last) + 1) {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    // Only the highest characters: nothing sorts after them.
    String::from(char::MAX)
}

/// One page of every namespace (user and organization names), by name.
pub async fn namespaces(db: &Db, offset: i64, limit: i64) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as::<_, (String, String)>(
        "SELECT name, kind FROM accounts ORDER BY name LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.pool)
    .await?)
}

/// Whether an account (user or organization) has this name.
pub async fn namespace_exists(db: &Db, name: &str) -> Result<bool> {
    let pool = &db.pool;
    Ok(sqlx::query("SELECT id FROM accounts WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?
        .is_some())
}

/// Changes a user's email address. Emails are unique across accounts.
pub async fn set_email(db: &Db, user: &User, email: &str) -> Result<User> {
    let pool = &db.pool;
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
    audit::record(db, &user.name, "user.email", &user.name, "").await?;
    Ok(User {
        email,
        ..user.clone()
    })
}

/// The organizations in which `user` is the only owner: they must be handed over or deleted
/// before the user can go, or nobody could manage them any more.
pub async fn sole_owned_orgs(db: &Db, user: &User) -> Result<Vec<String>> {
    let pool = &db.pool;
    sole_owned_orgs_in(pool, user).await
}

async fn sole_owned_orgs_in<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    user: &User,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT a.name FROM org_members m JOIN accounts a ON a.id = m.org_id
         WHERE m.user_id = $1 AND m.role = 'owner'
           AND (SELECT COUNT(*) FROM org_members o
                WHERE o.org_id = m.org_id AND o.role = 'owner') = 1
         ORDER BY a.name",
    )
    .bind(user.id)
    .fetch_all(executor)
    .await?)
}

/// Removes a user's account, sessions, tokens, memberships and invitations, inside the
/// caller's transaction (the Hub's deletion, which removes the rest). Refused while they are
/// the only owner of an organization.
pub async fn delete_of_user(conn: &mut AnyConnection, user: &User) -> Result<()> {
    let sole = sole_owned_orgs_in(&mut *conn, user).await?;
    if !sole.is_empty() {
        return Err(Error::Conflict(format!(
            "{} is the only owner of {}: another owner",
            user.name,
            sole.join(", ")
        )));
    }
    // Children first: nothing here relies on the database enforcing foreign keys.
    for sql in [
        "DELETE FROM sessions WHERE account_id = $1",
        "DELETE FROM password_tickets WHERE account_id = $1",
        "DELETE FROM access_tokens WHERE account_id = $1",
        "DELETE FROM team_members WHERE user_id = $1",
        "DELETE FROM org_members WHERE user_id = $1",
        "DELETE FROM org_invitations WHERE user_id = $1",
        "DELETE FROM accounts WHERE id = $1 AND kind = 'user'",
    ] {
        sqlx::query(sql).bind(user.id).execute(&mut *conn).await?;
    }
    Ok(())
}
