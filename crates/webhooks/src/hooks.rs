//! Webhooks as their owners manage them: create, list, change, delete, and how they are
//! delivered ([`Config`]).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use berth_accounts::audit;
use berth_registry::coherence::{self, Topic};

use crate::guard;
use crate::{Error, Result, Webhooks};

/// How webhooks are delivered.
#[derive(Debug, Clone)]
pub struct Config {
    /// Berth's own address, for `repo_url` and `callback_url` in payloads.
    pub public_url: String,
    /// Targets allowed despite the SSRF guard.
    pub allowed_targets: Arc<guard::Allowlist>,
    /// Attempts per delivery before it is marked failed.
    pub max_attempts: u32,
    /// Wait before the second attempt; each later wait is three times the one before.
    pub retry_base: Duration,
    /// Time allowed for one attempt (connect, send, response head).
    pub timeout: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

impl Config {
    /// Defaults for a Berth reachable at `public_url`: 5 attempts over about 27 minutes
    /// (waits of 40 s, 2 min, 6 min, 18 min), 10 s per attempt, 8 at once.
    pub fn for_url(public_url: &str) -> Config {
        Config {
            public_url: public_url.trim_end_matches('/').to_owned(),
            allowed_targets: Arc::new(guard::Allowlist::default()),
            max_attempts: 5,
            retry_base: Duration::from_secs(40),
            timeout: Duration::from_secs(10),
            concurrency: 8,
        }
    }

    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 3u32.saturating_pow(attempt.saturating_sub(1)).min(10_000);
        self.retry_base.saturating_mul(factor)
    }
}

/// The events a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Push,
    Delete,
    Pull,
    /// An automated build was queued, succeeded or failed (which one is the body's `event`:
    /// [`crate::payload::BuildEvent`]).
    Build,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Push, Kind::Delete, Kind::Pull, Kind::Build];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Push => "push",
            Kind::Delete => "delete",
            Kind::Pull => "pull",
            Kind::Build => "build",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The column that says whether a webhook subscribes to this event.
    pub(crate) fn column(self) -> &'static str {
        match self {
            Kind::Push => "on_push",
            Kind::Delete => "on_delete",
            Kind::Pull => "on_pull",
            Kind::Build => "on_build",
        }
    }
}

/// What a webhook is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// One repository, by its full name.
    Repository(String),
    /// Every repository of an organization.
    Org(String),
}

impl Owner {
    fn namespace(&self) -> &str {
        match self {
            Owner::Repository(r) => berth_registry::names::namespace_of(r).unwrap_or(r),
            Owner::Org(o) => o,
        }
    }

    fn repository(&self) -> Option<&str> {
        match self {
            Owner::Repository(r) => Some(r),
            Owner::Org(_) => None,
        }
    }

    /// How the audit log names it.
    pub(crate) fn label(&self) -> String {
        match self {
            Owner::Repository(r) => r.clone(),
            Owner::Org(o) => format!("org {o}"),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub events: Vec<Kind>,
    /// Whether deliveries are signed; the secret itself is never shown again.
    pub has_secret: bool,
    pub active: bool,
    /// The organization for an organization's webhook, or the repository's namespace.
    pub namespace: String,
    /// The repository, or `None` for an organization's webhook.
    pub repository: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, url, on_push, on_delete, on_pull, on_build, secret, active, \
                       namespace, repository, created_by, created_at, updated_at";

/// A `webhooks` row as [`COLUMNS`] selects it; the flags are integers (0 or 1) on both backends.
#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: i64,
    name: String,
    url: String,
    on_push: i64,
    on_delete: i64,
    on_pull: i64,
    on_build: i64,
    secret: String,
    active: i64,
    namespace: String,
    repository: Option<String>,
    created_by: String,
    created_at: i64,
    updated_at: i64,
}

fn webhook(row: WebhookRow) -> Webhook {
    let events = [
        (Kind::Push, row.on_push),
        (Kind::Delete, row.on_delete),
        (Kind::Pull, row.on_pull),
        (Kind::Build, row.on_build),
    ]
    .into_iter()
    .filter(|&(_, on)| on != 0)
    .map(|(k, _)| k)
    .collect();
    Webhook {
        id: row.id,
        name: row.name,
        url: row.url,
        events,
        has_secret: !row.secret.is_empty(),
        active: row.active != 0,
        namespace: row.namespace,
        repository: row.repository,
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// A webhook as created or replaced: `{"name", "url", "events", "secret", "active"}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub name: String,
    pub url: String,
    pub events: Vec<Kind>,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A partial update; absent fields stay as they are. An empty `secret` removes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<Kind>>,
    pub secret: Option<String>,
    pub active: Option<bool>,
}

pub const MAX_NAME: usize = 100;
pub const MAX_URL: usize = 2048;
pub const MAX_SECRET: usize = 256;
/// Webhooks per repository or organization.
pub const MAX_PER_OWNER: i64 = 50;

fn validate(input: &Input, allow: &guard::Allowlist) -> Result<()> {
    let name = input.name.trim();
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "a webhook needs a name of 1 to {MAX_NAME} characters"
        )));
    }
    if input.url.len() > MAX_URL {
        return Err(Error::Invalid(format!(
            "a webhook URL may be at most {MAX_URL} bytes"
        )));
    }
    guard::check_url(&input.url, allow).map_err(Error::Invalid)?;
    if input.events.is_empty() {
        return Err(Error::Invalid(
            "choose at least one event: push, delete, pull or build".into(),
        ));
    }
    if input.secret.as_ref().is_some_and(|s| s.len() > MAX_SECRET) {
        return Err(Error::Invalid(format!(
            "a webhook secret may be at most {MAX_SECRET} bytes"
        )));
    }
    Ok(())
}

/// The webhooks of `owner`, by name.
pub async fn list(hooks: &Webhooks, owner: &Owner) -> Result<Vec<Webhook>> {
    let pool = &hooks.pool;
    let rows = sqlx::query_as::<_, WebhookRow>(&format!(
        "SELECT {COLUMNS} FROM webhooks
         WHERE namespace = $1 AND COALESCE(repository, '') = $2 ORDER BY name"
    ))
    .bind(owner.namespace())
    .bind(owner.repository().unwrap_or(""))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(webhook).collect())
}

/// One webhook of `owner`.
pub async fn get(hooks: &Webhooks, owner: &Owner, id: i64) -> Result<Webhook> {
    let pool = &hooks.pool;
    let row = sqlx::query_as::<_, WebhookRow>(&format!(
        "SELECT {COLUMNS} FROM webhooks
         WHERE id = $1 AND namespace = $2 AND COALESCE(repository, '') = $3"
    ))
    .bind(id)
    .bind(owner.namespace())
    .bind(owner.repository().unwrap_or(""))
    .fetch_optional(pool)
    .await?;
    row.map(webhook)
        .ok_or_else(|| Error::NotFound(format!("webhook {id}")))
}

/// A clash on the unique name as a conflict; other database errors as they are.
fn name_taken(name: &str) -> impl Fn(sqlx::Error) -> Error + '_ {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            Error::Conflict(format!("a webhook named {:?}", name.trim()))
        }
        _ => e.into(),
    }
}

/// Writes a change of a webhook to the audit log.
async fn audit_change(
    hooks: &Webhooks,
    actor: &str,
    action: &str,
    owner: &Owner,
    input: &Input,
) -> Result<()> {
    let detail = format!("{} -> {}", input.name.trim(), input.url.trim());
    audit::record(&hooks.accounts, actor, action, &owner.label(), &detail).await
}

/// Tells the other processes that a webhook now listens for pulls: they queue pulls from now
/// on, instead of from their next check.
async fn announce_if_pulls(pool: &sqlx::AnyPool, input: &Input) -> Result<()> {
    if input.active && input.events.contains(&Kind::Pull) {
        coherence::announce_on(pool, Topic::Webhooks).await?;
    }
    Ok(())
}

pub async fn create(
    hooks: &Webhooks,
    config: &Config,
    actor: &str,
    owner: &Owner,
    input: Input,
) -> Result<Webhook> {
    let pool = &hooks.pool;
    validate(&input, &config.allowed_targets)?;
    let count: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM webhooks
         WHERE namespace = $1 AND COALESCE(repository, '') = $2",
    )
    .bind(owner.namespace())
    .bind(owner.repository().unwrap_or(""))
    .fetch_one(pool)
    .await?;
    if count >= MAX_PER_OWNER {
        return Err(Error::Invalid(format!(
            "at most {MAX_PER_OWNER} webhooks per repository or organization"
        )));
    }
    let now = berth_accounts::now();
    let has = |k: Kind| i64::from(input.events.contains(&k));
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO webhooks (namespace, repository, name, url, on_push, on_delete, on_pull,
                               on_build, secret, active, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
    )
    .bind(owner.namespace())
    .bind(owner.repository())
    .bind(input.name.trim())
    .bind(input.url.trim())
    .bind(has(Kind::Push))
    .bind(has(Kind::Delete))
    .bind(has(Kind::Pull))
    .bind(has(Kind::Build))
    .bind(input.secret.as_deref().unwrap_or(""))
    .bind(i64::from(input.active))
    .bind(actor)
    .bind(now)
    .fetch_one(pool)
    .await
    .map_err(name_taken(&input.name))?;
    announce_if_pulls(pool, &input).await?;
    audit_change(hooks, actor, "webhook.create", owner, &input).await?;
    get(hooks, owner, id).await
}

pub async fn update(
    hooks: &Webhooks,
    config: &Config,
    actor: &str,
    owner: &Owner,
    id: i64,
    patch: Patch,
) -> Result<Webhook> {
    let pool = &hooks.pool;
    let current = get(hooks, owner, id).await?;
    let input = Input {
        name: patch.name.unwrap_or(current.name),
        url: patch.url.unwrap_or(current.url),
        events: patch.events.unwrap_or(current.events),
        secret: patch.secret.clone(),
        active: patch.active.unwrap_or(current.active),
    };
    validate(&input, &config.allowed_targets)?;
    let has = |k: Kind| i64::from(input.events.contains(&k));
    sqlx::query(
        "UPDATE webhooks SET name = $2, url = $3, on_push = $4, on_delete = $5, on_pull = $6,
                on_build = $7, secret = COALESCE($8, secret), active = $9, updated_at = $10
         WHERE id = $1",
    )
    .bind(id)
    .bind(input.name.trim())
    .bind(input.url.trim())
    .bind(has(Kind::Push))
    .bind(has(Kind::Delete))
    .bind(has(Kind::Pull))
    .bind(has(Kind::Build))
    .bind(patch.secret.as_deref())
    .bind(i64::from(input.active))
    .bind(berth_accounts::now())
    .execute(pool)
    .await
    .map_err(name_taken(&input.name))?;
    announce_if_pulls(pool, &input).await?;
    audit_change(hooks, actor, "webhook.update", owner, &input).await?;
    get(hooks, owner, id).await
}

/// Deletes a webhook and its delivery log.
pub async fn delete(hooks: &Webhooks, actor: &str, owner: &Owner, id: i64) -> Result<()> {
    let pool = &hooks.pool;
    let hook = get(hooks, owner, id).await?;
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM webhooks WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    audit::record(
        &hooks.accounts,
        actor,
        "webhook.delete",
        &owner.label(),
        &hook.name,
    )
    .await
}

/// Removes the webhooks (and delivery logs) of one repository, inside the caller's transaction.
pub async fn delete_of_repository(conn: &mut sqlx::AnyConnection, repository: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM webhook_deliveries WHERE webhook_id IN
         (SELECT id FROM webhooks WHERE repository = $1)",
    )
    .bind(repository)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM webhooks WHERE repository = $1")
        .bind(repository)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Removes every webhook of a namespace (its organization's and its repositories'), inside the
/// caller's transaction.
pub async fn delete_of_namespace(conn: &mut sqlx::AnyConnection, namespace: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM webhook_deliveries WHERE webhook_id IN
         (SELECT id FROM webhooks WHERE namespace = $1)",
    )
    .bind(namespace)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM webhooks WHERE namespace = $1")
        .bind(namespace)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether any active webhook listens for pulls (so pulls need queueing at all).
pub async fn any_listen_for_pulls(hooks: &Webhooks) -> Result<bool> {
    let pool = &hooks.pool;
    let row: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT id FROM webhooks WHERE {} = 1 AND active = 1 LIMIT 1",
        Kind::Pull.column()
    ))
    .fetch_optional(pool)
    .await?;
    Ok(row.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_threefold() {
        let c = Config::for_url("http://berth.example");
        let waits: Vec<u64> = (1..5).map(|a| c.backoff(a).as_secs()).collect();
        assert_eq!(waits, [40, 120, 360, 1080]);
        assert!(c.backoff(200) >= c.backoff(10));
    }

    #[test]
    fn input_rules() {
        let allow = guard::Allowlist::default();
        let ok = Input {
            name: "deploy".into(),
            url: "https://ci.example.com/hook".into(),
            events: vec![Kind::Push],
            secret: None,
            active: true,
        };
        assert!(validate(&ok, &allow).is_ok());
        let no_events = Input {
            events: vec![],
            ..ok.clone()
        };
        assert!(validate(&no_events, &allow).is_err());
        let metadata = Input {
            url: "http://169.254.169.254/latest".into(),
            ..ok.clone()
        };
        assert!(validate(&metadata, &allow).is_err());
        let unnamed = Input {
            name: " ".into(),
            ..ok
        };
        assert!(validate(&unnamed, &allow).is_err());
    }
}
