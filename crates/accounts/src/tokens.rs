//! Personal access tokens: shown once, stored as a SHA-256, scoped, revocable, with the time
//! they were last used.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::access::Scope;
use crate::audit;
use crate::error::{Error, Result};
use crate::users::{self, User};
use crate::Db;

/// Every token starts with this, so a leaked one is easy to recognise (and to scan for).
pub const PREFIX: &str = "berth_pat_";

/// What is stored of a secret: its SHA-256, in hex.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new secret: `prefix` and 256 random bits in hex.
pub fn new_secret(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| Error::Internal(format!("random: {e}")))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub kind: Kind,
    pub scope: Scope,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    name: String,
    scope: String,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    created_at: i64,
    kind: String,
}

impl TokenRow {
    fn info(self) -> Result<TokenInfo> {
        Ok(TokenInfo {
            id: self.id,
            name: self.name,
            scope: Scope::parse(&self.scope)?,
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
            created_at: self.created_at,
            kind: if self.kind == "refresh" {
                Kind::Refresh
            } else {
                Kind::Personal
            },
        })
    }
}

/// What [`check`] needs of a live token.
#[derive(sqlx::FromRow)]
struct LiveToken {
    id: i64,
    account_id: i64,
    scope: String,
}

/// A newly created token: the only time its secret is seen.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: TokenInfo,
    pub token: String,
}

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Made by its owner, with a name unique among their live tokens; survives password changes.
    Personal,
    /// Handed out by the token service to a client that logged in with the password
    /// (`offline_token=true`, what `docker login` keeps); ended by a password change.
    Refresh,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Personal => "personal",
            Kind::Refresh => "refresh",
        }
    }
}

/// Creates a personal access token. Its name must be unique among the user's live tokens.
pub async fn create(
    db: &Db,
    user: &User,
    name: &str,
    scope: Scope,
    expires_at: Option<i64>,
) -> Result<CreatedToken> {
    create_kind(db, user, name, scope, expires_at, Kind::Personal).await
}

/// Creates a refresh token for a client that logged in with the password.
pub async fn create_refresh(
    db: &Db,
    user: &User,
    name: &str,
    expires_at: i64,
) -> Result<CreatedToken> {
    create_kind(
        db,
        user,
        name,
        Scope::ReadWriteDelete,
        Some(expires_at),
        Kind::Refresh,
    )
    .await
}

async fn create_kind(
    db: &Db,
    user: &User,
    name: &str,
    scope: Scope,
    expires_at: Option<i64>,
    kind: Kind,
) -> Result<CreatedToken> {
    let pool = &db.pool;
    let name = name.trim();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "a token needs a name of at most 100 bytes, without control characters".into(),
        ));
    }
    let now = crate::now();
    if expires_at.is_some_and(|e| e <= now) {
        return Err(Error::Invalid("the expiry must be in the future".into()));
    }
    let secret = new_secret(PREFIX)?;
    if kind == Kind::Personal {
        // An expired token no longer holds its name.
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = $3
             WHERE account_id = $1 AND name = $2 AND kind = 'personal' AND revoked_at IS NULL
               AND expires_at IS NOT NULL AND expires_at <= $3",
        )
        .bind(user.id)
        .bind(name)
        .bind(now)
        .execute(pool)
        .await?;
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO access_tokens (account_id, name, token_hash, scope, expires_at, created_at, kind)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(user.id)
    .bind(name)
    .bind(digest(&secret))
    .bind(scope.as_str())
    .bind(expires_at)
    .bind(now)
    .bind(kind.as_str())
    .fetch_one(pool)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            Error::Conflict(format!("a token named {name:?}"))
        }
        _ => Error::Database(e),
    })?;
    audit::record(db, &user.name, "token.create", &format!("token:{id}"), name).await?;
    Ok(CreatedToken {
        info: TokenInfo {
            id,
            name: name.to_owned(),
            kind,
            scope,
            expires_at,
            last_used_at: None,
            created_at: now,
        },
        token: secret,
    })
}

pub async fn list(db: &Db, user: &User) -> Result<Vec<TokenInfo>> {
    let pool = &db.pool;
    let rows = sqlx::query_as::<_, TokenRow>(
        "SELECT id, name, scope, expires_at, last_used_at, created_at, kind FROM access_tokens
         WHERE account_id = $1 AND revoked_at IS NULL ORDER BY id",
    )
    .bind(user.id)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(TokenRow::info).collect()
}

pub async fn revoke(db: &Db, user: &User, id: i64) -> Result<()> {
    let pool = &db.pool;
    let done = sqlx::query(
        "UPDATE access_tokens SET revoked_at = $3
         WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(user.id)
    .bind(crate::now())
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("token {id}")));
    }
    audit::record(db, &user.name, "token.revoke", &format!("token:{id}"), "").await
}

/// Revokes every refresh token of an account (a password change, a reset or a deactivation
/// ends what logged in with the old password). Part of the caller's transaction.
pub async fn revoke_refresh(conn: &mut sqlx::AnyConnection, account_id: i64) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE access_tokens SET revoked_at = $2
         WHERE account_id = $1 AND kind = 'refresh' AND revoked_at IS NULL",
    )
    .bind(account_id)
    .bind(crate::now())
    .execute(conn)
    .await?
    .rows_affected())
}

/// The user and scope a token secret stands for, if it is live; records its use.
/// `name` must match the token's owner (it is what `docker login -u` sent).
pub async fn check(db: &Db, name: &str, secret: &str) -> Result<Option<(User, Scope)>> {
    let pool = &db.pool;
    if !secret.starts_with(PREFIX) {
        return Ok(None);
    }
    let now = crate::now();
    let row = sqlx::query_as::<_, LiveToken>(
        "SELECT t.id, t.account_id, t.scope FROM access_tokens t
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL
           AND (t.expires_at IS NULL OR t.expires_at > $2)",
    )
    .bind(digest(secret))
    .bind(now)
    .fetch_optional(pool)
    .await?;
    let Some(LiveToken {
        id,
        account_id,
        scope,
    }) = row
    else {
        return Ok(None);
    };
    let scope = Scope::parse(&scope)?;
    let Some(user) = users::by_id(db, account_id).await? else {
        return Ok(None);
    };
    if !user.active || user.name != name {
        return Ok(None);
    }
    // When a token was last used is worth knowing, not worth refusing a request over (a full
    // disk must not stop pulls).
    if let Err(e) = sqlx::query("UPDATE access_tokens SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
    {
        tracing::warn!(error = %e, "recording when an access token was last used");
    }
    Ok(Some((user, scope)))
}

/// The name of the account a live token belongs to (for `Authorization: Bearer <token>`).
pub async fn owner(db: &Db, secret: &str) -> Result<Option<String>> {
    let pool = &db.pool;
    if !secret.starts_with(PREFIX) {
        return Ok(None);
    }
    let name = sqlx::query_scalar(
        "SELECT a.name FROM access_tokens t JOIN accounts a ON a.id = t.account_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
    )
    .bind(digest(secret))
    .fetch_optional(pool)
    .await?;
    Ok(name)
}
