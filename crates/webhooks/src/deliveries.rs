//! The outbox and delivery log: one row per delivery of one event to one webhook, written in the
//! event's own transaction, claimed by the sender with a lease (so a crashed sender's work is
//! taken up again, and several replicas never send the same delivery at once), and kept with
//! the outcome of its last attempt.

use berth_registry::backend::Backend;
use berth_registry::events::Event;
use berth_registry::metrics::DeliveryFailure;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::AnyConnection;

use berth_accounts::repos;

use crate::hooks::{Config, Kind};
use crate::payload::BuildEvent;
use crate::{payload, Error, Result, Webhooks};

/// The clock in Unix milliseconds that delivery times are kept in (the registry's).
pub use berth_registry::clock::now_ms;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for its first or next attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
    /// The SSRF guard refused the target; not retried.
    Refused,
}

impl Status {
    fn parse(s: &str) -> Status {
        match s {
            "delivered" => Status::Delivered,
            "failed" => Status::Failed,
            "refused" => Status::Refused,
            _ => Status::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Refused => "refused",
        }
    }
}

/// What the receiver reported back through the delivery's `callback_url`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Callback {
    pub state: String,
    pub description: String,
    pub context: String,
    pub target_url: String,
    pub at: i64,
}

/// One delivery, as the log shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: i64,
    pub event: Kind,
    pub repository: String,
    pub status: Status,
    pub attempts: i64,
    pub created_at: i64,
    pub last_attempt_at: Option<i64>,
    /// When the next attempt is due (pending deliveries), in seconds.
    pub next_attempt_at: Option<i64>,
    pub response_status: Option<i64>,
    pub duration_ms: Option<i64>,
    pub response_excerpt: String,
    pub error: String,
    pub redelivery_of: Option<String>,
    pub callback: Option<Callback>,
    pub payload: Value,
}

const COLUMNS: &str = "id, webhook_id, event, repository, status, attempts, created_at, \
    last_attempt_at, next_attempt_ms, response_status, duration_ms, response_excerpt, error, \
    redelivery_of, callback_state, callback_description, callback_context, callback_target_url, \
    callback_at, payload";

/// A `webhook_deliveries` row as [`COLUMNS`] selects it.
#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    webhook_id: i64,
    event: String,
    repository: String,
    status: String,
    attempts: i64,
    created_at: i64,
    last_attempt_at: Option<i64>,
    next_attempt_ms: i64,
    response_status: Option<i64>,
    duration_ms: Option<i64>,
    response_excerpt: String,
    error: String,
    redelivery_of: Option<String>,
    callback_state: Option<String>,
    callback_description: Option<String>,
    callback_context: Option<String>,
    callback_target_url: Option<String>,
    callback_at: Option<i64>,
    payload: String,
}

impl Delivery {
    /// The event as its body names it: the kind, except that a build delivery says which build
    /// event it was (`build_failure`).
    pub fn event_name(&self) -> &str {
        match self.event {
            Kind::Build => self
                .payload
                .get("event")
                .and_then(Value::as_str)
                .and_then(BuildEvent::parse)
                .map_or(Kind::Build.as_str(), BuildEvent::as_str),
            kind => kind.as_str(),
        }
    }
}

fn delivery(row: DeliveryRow) -> Result<Delivery> {
    let status = Status::parse(&row.status);
    let event = row.event;
    let callback = row.callback_state.map(|state| Callback {
        state,
        description: row.callback_description.unwrap_or_default(),
        context: row.callback_context.unwrap_or_default(),
        target_url: row.callback_target_url.unwrap_or_default(),
        at: row.callback_at.unwrap_or_default(),
    });
    Ok(Delivery {
        id: row.id,
        webhook_id: row.webhook_id,
        event: Kind::parse(&event)
            .ok_or_else(|| Error::Internal(format!("unknown webhook event {event:?}")))?,
        repository: row.repository,
        status,
        attempts: row.attempts,
        created_at: row.created_at,
        last_attempt_at: row.last_attempt_at,
        next_attempt_at: (status == Status::Pending).then_some(row.next_attempt_ms / 1000),
        response_status: row.response_status,
        duration_ms: row.duration_ms,
        response_excerpt: row.response_excerpt,
        error: row.error,
        redelivery_of: row.redelivery_of,
        callback,
        payload: serde_json::from_str(&row.payload).unwrap_or(Value::Null),
    })
}

/// A new delivery id and its callback secret.
fn new_ids() -> Result<(String, String)> {
    let id = uuid::Uuid::new_v4().to_string();
    let token = berth_accounts::tokens::new_secret("")?;
    Ok((id, token))
}

/// What one event says, before it is addressed to a webhook.
struct News<'a> {
    kind: Kind,
    /// The body's `event`: the kind's name, or a build event's.
    event: &'static str,
    repository: &'a str,
    /// `push_data`, `delete_data`, `pull_data` or `build_data`.
    data: Value,
    /// The `repository` object.
    repo: Value,
}

/// Inserts one pending delivery of `news` to `webhook_id`.
async fn insert(
    conn: &mut AnyConnection,
    config: &Config,
    webhook_id: i64,
    news: &News<'_>,
    redelivery_of: Option<&str>,
) -> Result<String> {
    let (id, token) = new_ids()?;
    let callback_url = format!(
        "{}/api/v1/webhooks/callbacks/{id}/{token}",
        config.public_url
    );
    let body = payload::body(
        news.kind,
        news.event,
        &callback_url,
        news.data.clone(),
        news.repo.clone(),
    );
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, webhook_id, event, repository, payload, status,
                                         next_attempt_ms, created_at, redelivery_of,
                                         callback_token_hash)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(webhook_id)
    .bind(news.kind.as_str())
    .bind(news.repository)
    .bind(body.to_string())
    .bind(now_ms())
    .bind(berth_accounts::now())
    .bind(redelivery_of)
    .bind(berth_accounts::tokens::digest(&token))
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// The active webhooks that want `kind` events of `repository`: its own and its
/// organization's.
async fn subscribers(conn: &mut AnyConnection, kind: Kind, repository: &str) -> Result<Vec<i64>> {
    let namespace = berth_registry::names::namespace_of(repository).unwrap_or(repository);
    Ok(sqlx::query_scalar(&format!(
        "SELECT id FROM webhooks WHERE active = 1 AND {} = 1
         AND (repository = $1 OR (repository IS NULL AND namespace = $2))",
        kind.column()
    ))
    .bind(repository)
    .bind(namespace)
    .fetch_all(&mut *conn)
    .await?)
}

async fn settings(
    conn: &mut AnyConnection,
    repository: &str,
) -> Result<Option<repos::RepoSettings>> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM repository_settings WHERE repository = $1",
        repos::COLUMNS
    ))
    .bind(repository)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(repos::settings).transpose()
}

/// Writes the deliveries of `data` about `repository` for every subscribed webhook; returns
/// how many.
async fn fan_out(
    conn: &mut AnyConnection,
    config: &Config,
    kind: Kind,
    event: &'static str,
    repository: &str,
    data: Value,
) -> Result<usize> {
    let hooks = subscribers(conn, kind, repository).await?;
    if hooks.is_empty() {
        return Ok(0);
    }
    let settings = settings(conn, repository).await?;
    let news = News {
        kind,
        event,
        repository,
        data,
        repo: payload::repository(&config.public_url, repository, settings.as_ref()),
    };
    for hook in &hooks {
        insert(conn, config, *hook, &news, None).await?;
    }
    Ok(hooks.len())
}

/// Writes the deliveries of a registry event, inside the transaction that records it.
pub async fn stage(conn: &mut AnyConnection, config: &Config, event: &Event) -> Result<usize> {
    let Some(kind) = payload::kind_of(event) else {
        return Ok(0);
    };
    let data = payload::event_data(kind, event, berth_accounts::now());
    fan_out(conn, config, kind, kind.as_str(), &event.repository, data).await
}

/// Writes the deliveries of a repository's deletion (to its organization's webhooks: its own go
/// with it), inside the transaction that deletes it.
pub async fn stage_repository_deleted(
    conn: &mut AnyConnection,
    config: &Config,
    repository: &str,
    actor: &str,
) -> Result<usize> {
    let data = payload::repository_deleted(actor, berth_accounts::now());
    let kind = Kind::Delete;
    fan_out(conn, config, kind, kind.as_str(), repository, data).await
}

/// Writes the deliveries of a build event (`build_queued`, `build_success`, `build_failure`)
/// of `repository`, inside the caller's transaction; returns how many. `data` is the body's
/// `build_data` (see [`payload`] for its fields). The caller wakes the sender
/// ([`Webhooks::wake`]) once the transaction has committed.
pub async fn stage_build(
    conn: &mut AnyConnection,
    config: &Config,
    repository: &str,
    event: BuildEvent,
    data: Value,
) -> Result<usize> {
    fan_out(conn, config, Kind::Build, event.as_str(), repository, data).await
}

/// The latest deliveries of a webhook, newest first.
pub async fn list(hooks: &Webhooks, webhook_id: i64, limit: i64) -> Result<Vec<Delivery>> {
    let pool = &hooks.pool;
    let rows = sqlx::query_as::<_, DeliveryRow>(&format!(
        "SELECT {COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1
         ORDER BY seq DESC LIMIT $2"
    ))
    .bind(webhook_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(delivery).collect()
}

/// One delivery of a webhook.
pub async fn get(hooks: &Webhooks, webhook_id: i64, id: &str) -> Result<Delivery> {
    let pool = &hooks.pool;
    let row = sqlx::query_as::<_, DeliveryRow>(&format!(
        "SELECT {COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND id = $2"
    ))
    .bind(webhook_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(delivery)
        .transpose()?
        .ok_or_else(|| Error::NotFound(format!("delivery {id}")))
}

/// Sends a delivery's payload again, as a new delivery (with its own id and callback); returns
/// the new delivery.
pub async fn redeliver(
    hooks: &Webhooks,
    config: &Config,
    webhook_id: i64,
    id: &str,
) -> Result<Delivery> {
    let pool = &hooks.pool;
    let old = get(hooks, webhook_id, id).await?;
    let event = match old.event {
        Kind::Build => old
            .payload
            .get("event")
            .and_then(Value::as_str)
            .and_then(BuildEvent::parse)
            .ok_or_else(|| Error::Internal(format!("delivery {id} names no build event")))?
            .as_str(),
        kind => kind.as_str(),
    };
    let key = payload::data_key(old.event);
    let news = News {
        kind: old.event,
        event,
        repository: &old.repository,
        data: old.payload.get(key).cloned().unwrap_or(Value::Null),
        repo: old
            .payload
            .get("repository")
            .cloned()
            .unwrap_or(Value::Null),
    };
    let mut conn = pool.acquire().await?;
    let new = insert(&mut conn, config, webhook_id, &news, Some(&old.id)).await?;
    drop(conn);
    get(hooks, webhook_id, &new).await
}

/// A delivery claimed for sending, with where and how to send it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub event: Kind,
    pub payload: String,
    pub attempts: i64,
    pub url: String,
    pub secret: String,
    pub active: bool,
}

/// A claimed delivery joined with its webhook, as [`claim`] selects it.
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: String,
    event: String,
    payload: String,
    attempts: i64,
    url: String,
    secret: String,
    /// Stored as an integer on both backends.
    active: i64,
}

/// Claims up to `limit` due deliveries for `lease_ms`, oldest due first.
///
/// One statement picks and leases them, so whatever it leases was due and unleased when the
/// lease was written: under PostgreSQL's READ COMMITTED, a row another sender leased (or
/// attempted and rescheduled) meanwhile is re-checked against the whole condition after that
/// sender's write, and left alone. On PostgreSQL, rows another sender is claiming at that very
/// moment are skipped rather than waited for, so senders on several replicas share a backlog;
/// on SQLite writes run one at a time.
pub async fn claim(hooks: &Webhooks, limit: usize, lease_ms: i64) -> Result<Vec<Claimed>> {
    let pool = &hooks.pool;
    let now = now_ms();
    let skip_locked = match Backend::of_pool(pool) {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    const DUE: &str = "status = 'pending' AND next_attempt_ms <= $1 AND lease_until_ms < $1";
    // Materialized: PostgreSQL may otherwise run the picking query again for the update and
    // lease more rows than `limit`, which would wait out their lease unsent.
    let due: Vec<String> = sqlx::query_scalar(&format!(
        "WITH picked AS MATERIALIZED
             (SELECT id FROM webhook_deliveries WHERE {DUE}
              ORDER BY next_attempt_ms, seq LIMIT $3{skip_locked})
         UPDATE webhook_deliveries SET lease_until_ms = $2
         WHERE {DUE} AND id IN (SELECT id FROM picked)
         RETURNING id"
    ))
    .bind(now)
    .bind(now + lease_ms)
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    let mut claimed = Vec::with_capacity(due.len());
    for id in due {
        let row = sqlx::query_as::<_, ClaimedRow>(
            "SELECT d.id, d.event, d.payload, d.attempts, w.url, w.secret, w.active
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1",
        )
        .bind(&id)
        .fetch_optional(pool)
        .await?;
        let Some(row) = row else { continue };
        claimed.push(Claimed {
            id: row.id,
            event: Kind::parse(&row.event).unwrap_or(Kind::Push),
            payload: row.payload,
            attempts: row.attempts,
            url: row.url,
            secret: row.secret,
            active: row.active != 0,
        });
    }
    Ok(claimed)
}

/// When the next delivery falls due, in milliseconds since the epoch.
/// Deliveries being sent right now (leased) are not counted.
pub async fn next_due(hooks: &Webhooks) -> Result<Option<i64>> {
    let pool = &hooks.pool;
    Ok(sqlx::query_scalar(
        "SELECT next_attempt_ms FROM webhook_deliveries
         WHERE status = 'pending' AND lease_until_ms < $1
         ORDER BY next_attempt_ms LIMIT 1",
    )
    .bind(now_ms())
    .fetch_optional(pool)
    .await?)
}

/// Deliveries not yet delivered, failed or refused: waiting for their first attempt or a retry,
/// or being sent now.
pub async fn pending_count(hooks: &Webhooks) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
            .fetch_one(&hooks.pool)
            .await?,
    )
}

/// How long the log keeps a finished delivery.
pub const KEEP_SECS: i64 = 30 * 24 * 3600;

/// Forgets finished deliveries older than [`KEEP_SECS`]; returns how many.
pub async fn prune(hooks: &Webhooks) -> Result<u64> {
    let pool = &hooks.pool;
    Ok(
        sqlx::query("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1")
            .bind(berth_accounts::now() - KEEP_SECS)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// What one attempt came to.
#[derive(Debug, Clone, Default)]
pub struct Attempt {
    pub response_status: Option<u16>,
    pub duration_ms: i64,
    pub response_excerpt: String,
    pub error: String,
    /// The guard refused the target.
    pub refused: bool,
}

impl Attempt {
    fn succeeded(&self) -> bool {
        self.response_status
            .is_some_and(|s| (200..300).contains(&s))
    }
}

/// Records an attempt and decides what comes next: delivered, retried later, or failed.
pub async fn finish(
    hooks: &Webhooks,
    config: &Config,
    claimed: &Claimed,
    attempt: &Attempt,
) -> Result<Status> {
    let pool = &hooks.pool;
    let attempts = claimed.attempts + 1;
    let (status, next) = if attempt.succeeded() {
        (Status::Delivered, 0)
    } else if attempt.refused {
        (Status::Refused, 0)
    } else if attempts >= i64::from(config.max_attempts) || !claimed.active {
        (Status::Failed, 0)
    } else {
        let wait = config.backoff(attempts as u32).as_millis() as i64;
        (Status::Pending, now_ms() + wait)
    };
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_ms = $4,
                lease_until_ms = 0, last_attempt_at = $5, response_status = $6,
                duration_ms = $7, response_excerpt = $8, error = $9
         WHERE id = $1",
    )
    .bind(&claimed.id)
    .bind(status.as_str())
    .bind(attempts)
    .bind(next)
    .bind(berth_accounts::now())
    .bind(attempt.response_status.map(i64::from))
    .bind(attempt.duration_ms)
    .bind(&attempt.response_excerpt)
    .bind(&attempt.error)
    .execute(pool)
    .await?;
    let failure = match status {
        Status::Delivered => None,
        Status::Pending => Some(DeliveryFailure::Retry),
        Status::Refused => Some(DeliveryFailure::Refused),
        Status::Failed => Some(DeliveryFailure::Failed),
    };
    if let Some(failure) = failure {
        hooks.metrics.webhook_delivery_failed(failure);
    }
    Ok(status)
}

/// What a receiver posts to a delivery's `callback_url`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackInput {
    pub state: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub context: String,
    #[serde(default)]
    pub target_url: String,
}

/// Compares two digests in time that does not depend on where they differ.
fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Validates and records a receiver's callback; the token must be the delivery's.
pub async fn record_callback(
    hooks: &Webhooks,
    id: &str,
    token: &str,
    input: CallbackInput,
) -> Result<Callback> {
    let pool = &hooks.pool;
    let unknown = || Error::NotFound("webhook delivery".into());
    let hash: Option<String> =
        sqlx::query_scalar("SELECT callback_token_hash FROM webhook_deliveries WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    let expected = hash.ok_or_else(unknown)?;
    if !same_digest(&berth_accounts::tokens::digest(token), &expected) {
        return Err(unknown());
    }
    if !matches!(input.state.as_str(), "success" | "failure" | "error") {
        return Err(Error::Invalid(
            "state must be success, failure or error".into(),
        ));
    }
    if input.description.chars().count() > 255 || input.context.chars().count() > 100 {
        return Err(Error::Invalid(
            "description may be at most 255 characters and context at most 100".into(),
        ));
    }
    if !input.target_url.is_empty() {
        let ok = input.target_url.len() <= crate::hooks::MAX_URL
            && url::Url::parse(&input.target_url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err(Error::Invalid(
                "target_url must be an http:// or https:// URL".into(),
            ));
        }
    }
    let at = berth_accounts::now();
    sqlx::query(
        "UPDATE webhook_deliveries SET callback_state = $2, callback_description = $3,
                callback_context = $4, callback_target_url = $5, callback_at = $6
         WHERE id = $1",
    )
    .bind(id)
    .bind(&input.state)
    .bind(&input.description)
    .bind(&input.context)
    .bind(&input.target_url)
    .bind(at)
    .execute(pool)
    .await?;
    Ok(Callback {
        state: input.state,
        description: input.description,
        context: input.context,
        target_url: input.target_url,
        at,
    })
}
