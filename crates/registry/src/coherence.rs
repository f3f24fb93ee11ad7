//! Keeping the in-memory caches of several Berth processes on one PostgreSQL coherent.
//!
//! A few answers every pull needs are kept in memory for a moment (manifests, the quota set,
//! the signed-only policy and keys, trust data's generation, whether a webhook listens for
//! pulls, which repositories are private). A write in this process forgets what it changed at once; other processes sharing
//! the database learn of it here:
//!
//! - every write that changes what a cache holds also calls [`announce`] with its [`Topic`]
//!   on the same transaction, which on PostgreSQL is `pg_notify('berth_invalidate', topic)`:
//!   PostgreSQL delivers it only once the transaction commits, and never if it rolls back;
//! - one listener per process ([`spawn_listener`], on a connection of its own) hears every
//!   announcement, this process's own included, and runs what was [`Coherence::on`]-registered
//!   for its topic;
//! - when the listener loses its connection, notifications may have been missed: once it
//!   listens again (retrying with backoff), everything is forgotten.
//!
//! Each cache keeps its time-to-live as well, which bounds staleness should a notification
//! never come. On SQLite there is one process: [`announce`] does nothing and no listener runs.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::AnyConnection;
use tokio::sync::Notify;

/// The PostgreSQL channel announcements go to.
pub const CHANNEL: &str = "berth_invalidate";

/// The `application_name` of the listener's connection, as `pg_stat_activity` shows it.
pub const LISTENER_NAME: &str = "berth-invalidations";

/// The longest wait between attempts to listen again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What changed: which cache may now be stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Tags, manifests or repositories (the manifest cache, and what is worked out from it).
    Manifests,
    /// Namespace quota rows.
    Quotas,
    /// Signed-only policies and signing keys.
    Signing,
    /// Trust collections (TUF data).
    Trust,
    /// Webhooks, and which events they listen for.
    Webhooks,
    /// Repositories' account settings: which exist, and which are private.
    Repositories,
}

impl Topic {
    pub const ALL: [Topic; 6] = [
        Topic::Manifests,
        Topic::Quotas,
        Topic::Signing,
        Topic::Trust,
        Topic::Webhooks,
        Topic::Repositories,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Manifests => "manifests",
            Topic::Quotas => "quotas",
            Topic::Signing => "signing",
            Topic::Trust => "trust",
            Topic::Webhooks => "webhooks",
            Topic::Repositories => "repositories",
        }
    }

    pub fn parse(s: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Tells the other processes on this database that `topic` changed, as part of `conn`'s
/// transaction (delivered when it commits), or right away outside one. Nothing on SQLite.
pub async fn announce(conn: &mut AnyConnection, topic: Topic) -> sqlx::Result<()> {
    if conn.backend_name() != "PostgreSQL" {
        return Ok(());
    }
    // The function returns `void`, which the Any driver cannot read: read it as text.
    sqlx::query("SELECT CAST(pg_notify($1, $2) AS TEXT)")
        .bind(CHANNEL)
        .bind(topic.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// [`announce`] on a connection of `pool`, for a write that has already committed.
pub async fn announce_on(pool: &sqlx::AnyPool, topic: Topic) -> sqlx::Result<()> {
    let mut conn = pool.acquire().await?;
    announce(&mut conn, topic).await
}

type Forget = Box<dyn Fn() + Send + Sync>;

/// What each cache does when told its topic changed somewhere.
#[derive(Default)]
pub struct Coherence {
    forgets: Mutex<Vec<(Topic, Forget)>>,
    /// Stops the listener when this goes away.
    stop: Arc<Notify>,
}

impl Coherence {
    /// Runs `forget` whenever `topic` is announced (or may have been, unheard).
    pub fn on(&self, topic: Topic, forget: impl Fn() + Send + Sync + 'static) {
        self.forgets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((topic, Box::new(forget)));
    }

    /// Forgets what `topic`'s caches hold.
    pub fn forget(&self, topic: Topic) {
        let forgets = self.forgets.lock().unwrap_or_else(PoisonError::into_inner);
        for (t, forget) in forgets.iter() {
            if *t == topic {
                forget();
            }
        }
    }

    /// Forgets what every cache holds.
    pub fn forget_all(&self) {
        let forgets = self.forgets.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, forget) in forgets.iter() {
            forget();
        }
    }
}

impl Drop for Coherence {
    fn drop(&mut self) {
        self.stop.notify_one();
    }
}

/// Starts this process's listener on the PostgreSQL database at `url`; it stops when
/// `coherence` goes away. The listener is running (or retrying) when this returns: the first
/// connection is tried before, so a first write's announcement is not missed when the
/// database is up.
pub async fn spawn_listener(coherence: &Arc<Coherence>, url: &str) -> sqlx::Result<()> {
    let options: PgConnectOptions = url.parse()?;
    let options = options.application_name(LISTENER_NAME);
    let first = listen(&options).await;
    if let Err(e) = &first {
        tracing::warn!(error = %e, "listening for other replicas' changes; retrying");
    }
    let stop = coherence.stop.clone();
    let weak = Arc::downgrade(coherence);
    tokio::spawn(async move {
        tokio::select! {
            () = run(weak, options, first.ok()) => {}
            () = stop.notified() => {}
        }
    });
    Ok(())
}

/// A connection of its own that listens on [`CHANNEL`].
async fn listen(options: &PgConnectOptions) -> sqlx::Result<PgListener> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(options.clone())
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn run(weak: Weak<Coherence>, options: PgConnectOptions, first: Option<PgListener>) {
    let mut listener = first;
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut current = match listener.take() {
            Some(l) => l,
            None => match listen(&options).await {
                Ok(l) => {
                    tracing::info!("listening for other replicas' changes again");
                    // Whatever was announced while nobody listened is unknown.
                    let Some(coherence) = weak.upgrade() else {
                        return;
                    };
                    coherence.forget_all();
                    backoff = Duration::from_millis(100);
                    l
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "listening for other replicas' changes");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            },
        };
        match current.try_recv().await {
            Ok(Some(notification)) => {
                let Some(coherence) = weak.upgrade() else {
                    return;
                };
                match Topic::parse(notification.payload()) {
                    Some(topic) => coherence.forget(topic),
                    // A newer Berth's topic: forgetting everything is always safe.
                    None => coherence.forget_all(),
                }
                listener = Some(current);
            }
            // The connection was lost and is back (PgListener reconnects before it says so),
            // listening again: what came meanwhile is unknown.
            Ok(None) => {
                tracing::info!(
                    "the connection listening for other replicas' changes was lost and is back"
                );
                let Some(coherence) = weak.upgrade() else {
                    return;
                };
                coherence.forget_all();
                listener = Some(current);
            }
            // Lost and not back: listen on a new connection.
            Err(e) => {
                tracing::warn!(error = %e, "the connection listening for other replicas' changes failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn topics_name_themselves() {
        for t in Topic::ALL {
            assert_eq!(Topic::parse(t.as_str()), Some(t));
        }
        assert_eq!(Topic::parse("nothing"), None);
    }

    #[test]
    fn a_topic_reaches_only_its_caches_and_everything_reaches_all() {
        let c = Coherence::default();
        let hits = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let h = hits.clone();
        c.on(Topic::Manifests, move || {
            h[0].fetch_add(1, Ordering::SeqCst);
        });
        let h = hits.clone();
        c.on(Topic::Signing, move || {
            h[1].fetch_add(1, Ordering::SeqCst);
        });
        c.forget(Topic::Manifests);
        assert_eq!(hits[0].load(Ordering::SeqCst), 1);
        assert_eq!(hits[1].load(Ordering::SeqCst), 0);
        c.forget_all();
        assert_eq!(hits[0].load(Ordering::SeqCst), 2);
        assert_eq!(hits[1].load(Ordering::SeqCst), 1);
    }
}
