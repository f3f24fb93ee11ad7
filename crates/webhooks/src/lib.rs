//! Berth's webhooks: HTTP callbacks on registry events and automated builds, on a repository or
//! on an organization (all its repositories).
//!
//! The registry's events reach [`sink::Sink`]; the builds crate stages its own
//! ([`deliveries::stage_build`]). An event's deliveries are written to an outbox
//! ([`deliveries`]) in the same transaction as the event itself, then sent by the background
//! [`sender`] with retries and kept as the delivery log. [`hooks`] is what owners manage,
//! [`payload`] says what is sent, [`guard`] says where it may go.

pub mod deliveries;
pub mod guard;
pub mod hooks;
pub mod payload;
pub mod ping;
pub mod sender;
pub mod sink;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use berth_registry::events::Event;
use berth_registry::metrics::Metrics;
use sqlx::AnyPool;
use tokio::sync::Notify;

pub use berth_accounts::{Error, Result};
pub use hooks::{create, delete, get, list, update, Config, Input, Kind, Owner, Patch, Webhook};
pub use payload::BuildEvent;

/// Pulls queued for webhooks beyond this many (a database that stays down) are dropped, oldest
/// first, with a warning.
const MAX_QUEUED_PULLS: usize = 100_000;

/// The webhook service: its store, how deliveries are made, and the sender's wake-up call.
pub struct Webhooks {
    pub(crate) pool: AnyPool,
    /// Where changes to webhooks are audited.
    pub(crate) accounts: berth_accounts::Db,
    pub config: Config,
    /// Wakes the sender when deliveries were written.
    wake: Arc<Notify>,
    /// Whether any webhook listens for pulls (refreshed by every flush), so pulls are queued
    /// only when someone listens.
    pull_hooks: AtomicBool,
    /// Pulls waiting to be written to the outbox by the next [`Webhooks::flush_pulled`].
    pulled: Mutex<Vec<Event>>,
    /// Counts failed delivery attempts.
    pub(crate) metrics: Metrics,
}

impl Webhooks {
    pub fn new(pool: AnyPool, accounts: berth_accounts::Db, config: Config) -> Self {
        Webhooks {
            pool,
            accounts,
            config,
            wake: Arc::default(),
            pull_hooks: AtomicBool::new(false),
            pulled: Mutex::default(),
            metrics: Metrics::default(),
        }
    }

    /// Counts into `metrics` (the handle the server serves).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Tells the sender that deliveries were written.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Notes that a webhook now listens for pulls.
    pub fn pulls_watched(&self) {
        self.pull_hooks.store(true, Ordering::Relaxed);
    }

    /// Has this process hear of webhooks for pulls made through other processes.
    pub fn follow(self: &Arc<Self>, coherence: &berth_registry::coherence::Coherence) {
        let hooks = Arc::downgrade(self);
        coherence.on(berth_registry::coherence::Topic::Webhooks, move || {
            if let Some(h) = hooks.upgrade() {
                h.pulls_watched();
            }
        });
    }

    /// Queues a pull for the webhooks that listen for pulls (written by the next flush).
    pub fn queue_pull(&self, event: &Event) {
        if !self.pull_hooks.load(Ordering::Relaxed) {
            return;
        }
        let mut pulled = self.pulled.lock().unwrap_or_else(|e| e.into_inner());
        if pulled.len() >= MAX_QUEUED_PULLS {
            pulled.remove(0);
            tracing::warn!("too many pulls queued for webhooks: dropping the oldest");
        }
        pulled.push(event.clone());
    }

    /// Writes queued pulls to the outbox in one transaction, and notes whether any webhook
    /// still listens for pulls. Pulls not written wait for the next flush.
    pub async fn flush_pulled(&self) -> Result<()> {
        match hooks::any_listen_for_pulls(self).await {
            Ok(listening) => self.pull_hooks.store(listening, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "checking for webhooks on pulls"),
        }
        let taken = std::mem::take(&mut *self.pulled.lock().unwrap_or_else(|e| e.into_inner()));
        if let Err(e) = self.write_pulled(&taken).await {
            let mut pulled = self.pulled.lock().unwrap_or_else(|e| e.into_inner());
            let newer = std::mem::take(&mut *pulled);
            *pulled = taken;
            pulled.extend(newer);
            return Err(e);
        }
        Ok(())
    }

    async fn write_pulled(&self, pulled: &[Event]) -> Result<()> {
        if pulled.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let mut written = 0;
        for event in pulled {
            written += deliveries::stage(&mut tx, &self.config, event).await?;
        }
        tx.commit().await?;
        if written > 0 {
            self.wake();
        }
        Ok(())
    }
}
