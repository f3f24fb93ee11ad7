//! Opening the database and migrating it: the one seam where SQLite and PostgreSQL differ.

use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// How long a request waits for a PostgreSQL connection before it fails (a request may wait
/// twice: once to authorize, once for what it asked).
const POSTGRES_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

pub use berth_registry::backend::Backend;

/// The database a URL names, or a clear error.
pub fn backend_of(url: &str) -> anyhow::Result<Backend> {
    Backend::of_url(url)
        .ok_or_else(|| anyhow::anyhow!("unsupported database URL (use sqlite://… or postgres://…)"))
}

/// Connects and brings the schema up to date.
pub async fn open(url: &str) -> anyhow::Result<AnyPool> {
    sqlx::any::install_default_drivers();
    let backend = backend_of(url)?;
    let options = match backend {
        // SQLite connections are files in this process: nothing can cut them, so they are not
        // pinged before use (a ping is a round trip to the connection's worker thread, as
        // costly as the query it would guard).
        Backend::Sqlite => AnyPoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers run beside the writer; FULL makes every commit durable
                    // before it is acknowledged, so a power cut loses no 201 already sent.
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;")
                        .await?;
                    Ok(())
                })
            }),
        // While the server is away (a restart, a failover) a request waits this long for a
        // connection, then fails with a 5xx, instead of holding its client for sqlx's default
        // 30 s. Pooled connections are checked before use, so those cut by a restart are
        // replaced rather than handed out.
        Backend::Postgres => AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
            .test_before_acquire(true),
    };
    let pool = options
        .connect(url)
        .await
        .with_context(|| format!("connecting to the {backend:?} database"))?;
    let migrator = match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    };
    migrator
        .run(&pool)
        .await
        .context("migrating the database")?;
    Ok(pool)
}
