//! Registry events (push, pull, delete) reported to whoever listens: audit, webhooks, counters.

use futures_util::future::BoxFuture;

use crate::auth::Principal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventAction {
    Push,
    Pull,
    Delete,
}

impl EventAction {
    pub fn as_str(self) -> &'static str {
        match self {
            EventAction::Push => "push",
            EventAction::Pull => "pull",
            EventAction::Delete => "delete",
        }
    }
}

/// What kind of object the event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTarget {
    Manifest,
    Blob,
    Tag,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub action: EventAction,
    pub target: EventTarget,
    pub repository: String,
    pub digest: String,
    pub media_type: Option<String>,
    pub size: i64,
    pub tag: Option<String>,
    pub actor: Principal,
}

/// Receives events.
pub trait EventSink: Send + Sync + 'static {
    /// Called inside the database transaction that records a push or a delete, before it
    /// commits: whatever the sink writes through `conn` (an outbox of notifications) commits or
    /// rolls back together with the event itself.
    fn stage<'c>(
        &'c self,
        conn: &'c mut sqlx::AnyConnection,
        event: &'c Event,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        let _ = (conn, event);
        Box::pin(std::future::ready(Ok(())))
    }

    /// Called once the event has happened. Must not block: implementations queue work of their
    /// own.
    fn record(&self, event: Event);
}

/// Writes events to the log.
pub struct LogSink;

impl EventSink for LogSink {
    fn record(&self, e: Event) {
        tracing::info!(
            action = e.action.as_str(),
            target = ?e.target,
            repository = %e.repository,
            digest = %e.digest,
            tag = e.tag.as_deref().unwrap_or(""),
            actor = e.actor.subject.as_deref().unwrap_or("anonymous"),
            "registry event"
        );
    }
}
