//! The registry's events, seen by builds: a push of a tag that builds were made FROM queues
//! their rebuilds, in the push's own transaction (so a rebuild is never lost to a crash between
//! the push and its trigger). Every event then goes on to the sink it wraps (webhooks, audit).

use std::sync::Arc;

use berth_registry::events::{Event, EventAction, EventSink, EventTarget};
use futures_util::future::BoxFuture;

use berth_webhooks::sink::database_error;

use crate::{queue, Builds};

/// Wraps another sink, adding base-image rebuilds.
pub struct Sink<S> {
    pub inner: S,
    pub builds: Arc<Builds>,
}

fn rebuilds_from(event: &Event) -> Option<&str> {
    match (event.action, event.target, event.tag.as_deref()) {
        (EventAction::Push, EventTarget::Manifest, Some(tag)) => Some(tag),
        _ => None,
    }
}

impl<S: EventSink> EventSink for Sink<S> {
    fn stage<'c>(
        &'c self,
        conn: &'c mut sqlx::AnyConnection,
        event: &'c Event,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(async move {
            self.inner.stage(conn, event).await?;
            if let Some(tag) = rebuilds_from(event) {
                if self.builds.config.enabled() {
                    queue::stage_rebuilds(&self.builds, conn, &event.repository, tag)
                        .await
                        .map_err(|e| database_error(e, "queueing rebuilds"))?;
                }
            }
            Ok(())
        })
    }

    fn record(&self, event: Event) {
        if rebuilds_from(&event).is_some() && self.builds.config.enabled() {
            self.builds.wake();
        }
        self.inner.record(event);
    }
}
