//! Repositories as account objects: namespace, visibility, descriptions, counters.

use berth_registry::coherence::{self, Topic};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow};

use crate::error::{Error, Result};
use crate::Db;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RepoSettings {
    pub repository: String,
    pub namespace: String,
    pub private: bool,
    pub description: String,
    pub full_description: String,
    pub pull_count: i64,
    pub created_at: i64,
    pub last_pushed_at: Option<i64>,
    pub star_count: i64,
    pub comment_count: i64,
}

pub const COLUMNS: &str = "repository, namespace, private, description, full_description, pull_count, created_at, last_pushed_at, star_count, comment_count";

/// [`COLUMNS`] qualified by a table alias, for queries that join `repository_settings`. Each
/// keeps its bare name (`rs.private AS private`): [`settings`] reads them by name.
pub fn columns_of(alias: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c} AS {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A row of [`COLUMNS`]: `private` is an integer in both schemas.
#[derive(sqlx::FromRow)]
struct SettingsRow {
    repository: String,
    namespace: String,
    private: i64,
    description: String,
    full_description: String,
    pull_count: i64,
    created_at: i64,
    last_pushed_at: Option<i64>,
    star_count: i64,
    comment_count: i64,
}

impl From<SettingsRow> for RepoSettings {
    fn from(r: SettingsRow) -> Self {
        RepoSettings {
            repository: r.repository,
            namespace: r.namespace,
            private: r.private != 0,
            description: r.description,
            full_description: r.full_description,
            pull_count: r.pull_count,
            created_at: r.created_at,
            last_pushed_at: r.last_pushed_at,
            star_count: r.star_count,
            comment_count: r.comment_count,
        }
    }
}

/// The settings in a row that selected [`COLUMNS`] (or [`columns_of`]), read by column name.
pub fn settings(row: &AnyRow) -> Result<RepoSettings> {
    Ok(SettingsRow::from_row(row)?.into())
}

pub async fn get(db: &Db, repository: &str) -> Result<Option<RepoSettings>> {
    let pool = &db.pool;
    let row = sqlx::query_as::<_, SettingsRow>(&format!(
        "SELECT {COLUMNS} FROM repository_settings WHERE repository = $1"
    ))
    .bind(repository)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(RepoSettings::from))
}

/// Whether a repository is private, `None` if it does not exist as an account object: what
/// access decisions need, from memory when it was read a moment ago.
pub async fn privacy(db: &Db, repository: &str) -> Result<Option<bool>> {
    if let Some(hit) = db.privacy.get(repository) {
        return Ok(hit);
    }
    let generation = db.privacy.generation();
    let private: Option<i64> =
        sqlx::query_scalar("SELECT private FROM repository_settings WHERE repository = $1")
            .bind(repository)
            .fetch_optional(&db.pool)
            .await?;
    let private = private.map(|p| p != 0);
    db.privacy.put(repository.to_owned(), generation, private);
    Ok(private)
}

/// A repository's existence or visibility changed (the write has committed): this process
/// forgets what it kept at once, and the others when PostgreSQL delivers the announcement.
async fn changed(db: &Db) {
    if let Err(e) = coherence::announce_on(&db.pool, Topic::Repositories).await {
        tracing::warn!(error = %e, "announcing a repository change");
    }
    db.forget_visibility();
}

/// Creates the account side of a repository on its first push; `true` if it was new.
pub async fn ensure(db: &Db, repository: &str, private: bool, actor: &str) -> Result<bool> {
    let pool = &db.pool;
    // Every push request lands here: a read settles the common case without taking SQLite's
    // write lock; the insert below stays idempotent for two first pushes racing.
    let exists = sqlx::query("SELECT namespace FROM repository_settings WHERE repository = $1")
        .bind(repository)
        .fetch_optional(pool)
        .await?
        .is_some();
    if exists {
        return Ok(false);
    }
    let namespace = berth_registry::names::namespace_of(repository).unwrap_or("");
    let created = sqlx::query(
        "INSERT INTO repository_settings (repository, namespace, private, created_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (repository) DO NOTHING",
    )
    .bind(repository)
    .bind(namespace)
    .bind(i64::from(private))
    .bind(crate::now())
    .execute(pool)
    .await?
    .rows_affected()
        > 0;
    if created {
        changed(db).await;
        crate::audit::record(
            db,
            actor,
            "repository.create",
            repository,
            if private { "private" } else { "public" },
        )
        .await?;
    }
    Ok(created)
}

pub async fn set_visibility(db: &Db, actor: &str, repository: &str, private: bool) -> Result<()> {
    let pool = &db.pool;
    let done = sqlx::query("UPDATE repository_settings SET private = $2 WHERE repository = $1")
        .bind(repository)
        .bind(i64::from(private))
        .execute(pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("repository {repository}")));
    }
    changed(db).await;
    crate::audit::record(
        db,
        actor,
        "repository.visibility",
        repository,
        if private { "private" } else { "public" },
    )
    .await
}

pub async fn record_push(db: &Db, repository: &str) -> Result<()> {
    let pool = &db.pool;
    sqlx::query("UPDATE repository_settings SET last_pushed_at = $2 WHERE repository = $1")
        .bind(repository)
        .bind(crate::now())
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn record_pulls(db: &Db, repository: &str, pulls: i64) -> Result<()> {
    let pool = &db.pool;
    sqlx::query(
        "UPDATE repository_settings SET pull_count = pull_count + $2 WHERE repository = $1",
    )
    .bind(repository)
    .bind(pulls)
    .execute(pool)
    .await?;
    Ok(())
}

/// Settings of several repositories at once (for filtering a catalog page).
pub async fn get_many(db: &Db, names: &[String]) -> Result<Vec<RepoSettings>> {
    let pool = &db.pool;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM repository_settings WHERE repository IN ({})",
        berth_registry::meta::placeholders(1, names.len())
    );
    let mut q = sqlx::query_as::<_, SettingsRow>(&sql);
    for n in names {
        q = q.bind(n.as_str());
    }
    Ok(q.fetch_all(pool)
        .await?
        .into_iter()
        .map(RepoSettings::from)
        .collect())
}

/// Changes to a repository's settings; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct Changes {
    pub private: Option<bool>,
    pub description: Option<String>,
    pub full_description: Option<String>,
}

/// A repository to create before its first push.
#[derive(Debug, Clone, Default)]
pub struct NewRepository {
    pub namespace: String,
    pub name: String,
    /// `None`: the registry's default visibility.
    pub private: Option<bool>,
    pub description: String,
    pub full_description: Option<String>,
}

pub const MAX_DESCRIPTION: usize = 100;
pub const MAX_FULL_DESCRIPTION: usize = 25_000;

/// Checks changes against the limits before anything is written.
pub fn validate(changes: &Changes) -> Result<()> {
    if changes
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
    {
        return Err(Error::Invalid(format!(
            "the description is limited to {MAX_DESCRIPTION} characters"
        )));
    }
    // A one-line description has no control characters; neither text may hold a NUL, which
    // not every database can store.
    if changes
        .description
        .as_ref()
        .is_some_and(|d| d.chars().any(char::is_control))
        || changes
            .full_description
            .as_ref()
            .is_some_and(|d| d.contains('\0'))
    {
        return Err(Error::Invalid(
            "descriptions cannot contain NUL or other control characters".into(),
        ));
    }
    if changes
        .full_description
        .as_ref()
        .is_some_and(|d| d.len() > MAX_FULL_DESCRIPTION)
    {
        return Err(Error::Invalid(format!(
            "the full description is limited to {MAX_FULL_DESCRIPTION} bytes"
        )));
    }
    Ok(())
}

pub async fn update(db: &Db, actor: &str, repository: &str, changes: Changes) -> Result<()> {
    let pool = &db.pool;
    validate(&changes)?;
    if let Some(private) = changes.private {
        set_visibility(db, actor, repository, private).await?;
    }
    if let Some(d) = &changes.description {
        sqlx::query("UPDATE repository_settings SET description = $2 WHERE repository = $1")
            .bind(repository)
            .bind(d.as_str())
            .execute(pool)
            .await?;
    }
    if let Some(d) = &changes.full_description {
        sqlx::query("UPDATE repository_settings SET full_description = $2 WHERE repository = $1")
            .bind(repository)
            .bind(d.as_str())
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// How many repositories of a namespace have settings, inside the caller's transaction.
pub async fn count_in_namespace(conn: &mut AnyConnection, namespace: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM repository_settings WHERE namespace = $1",
    )
    .bind(namespace)
    .fetch_one(conn)
    .await?)
}

/// Removes the settings of every repository of a namespace (a user or an organization going
/// away), inside the caller's transaction; returns how many there were.
pub async fn delete_of_namespace(conn: &mut AnyConnection, namespace: &str) -> Result<u64> {
    coherence::announce(conn, Topic::Repositories).await?;
    Ok(
        sqlx::query("DELETE FROM repository_settings WHERE namespace = $1")
            .bind(namespace)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// Removes the settings of a repository, inside the caller's transaction.
pub async fn delete_of_repository(conn: &mut AnyConnection, repository: &str) -> Result<()> {
    coherence::announce(conn, Topic::Repositories).await?;
    sqlx::query("DELETE FROM repository_settings WHERE repository = $1")
        .bind(repository)
        .execute(conn)
        .await?;
    Ok(())
}
