//! The registry's [`EventSink`]: every push and delete writes its webhook deliveries and its
//! line of the activity feed in the event's own transaction and is audited; pushes and pulls
//! are counted on the repository.

use std::sync::Arc;

use berth_accounts::{activity, Accounts, Error};
use berth_registry::events::{Event, EventAction, EventSink, EventTarget};
use futures_util::future::BoxFuture;

use crate::{deliveries, Webhooks};

/// Plugs accounts and webhooks into the registry's events.
#[derive(Clone)]
pub struct Sink {
    pub accounts: Arc<Accounts>,
    pub webhooks: Arc<Webhooks>,
}

/// An error of a store, as a registry event sink reports it: its database error, or the
/// failure of `doing`.
pub fn database_error(e: Error, doing: &str) -> sqlx::Error {
    match e {
        Error::Database(e) => e,
        e => sqlx::Error::Protocol(format!("{doing}: {e}")),
    }
}

impl EventSink for Sink {
    /// Writes the event's webhook deliveries to the outbox, in the event's own transaction.
    fn stage<'c>(
        &'c self,
        conn: &'c mut sqlx::AnyConnection,
        event: &'c Event,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(async move {
            deliveries::stage(conn, &self.webhooks.config, event)
                .await
                .map_err(|e| database_error(e, "staging webhooks"))?;
            let kind = match (event.action, event.target) {
                // Tags people push; not the untagged platform manifests of an index.
                (EventAction::Push, EventTarget::Manifest) if event.tag.is_some() => {
                    Some(activity::Kind::Push)
                }
                (EventAction::Delete, EventTarget::Tag) => Some(activity::Kind::TagDelete),
                _ => None,
            };
            if let Some(kind) = kind {
                let new = activity::New {
                    repository: &event.repository,
                    actor: event.actor.subject.as_deref().unwrap_or(""),
                    tag: event.tag.as_deref().unwrap_or(""),
                    digest: &event.digest,
                    detail: "",
                };
                activity::record(conn, kind, &new)
                    .await
                    .map_err(|e| database_error(e, "recording activity"))?;
            }
            Ok(())
        })
    }

    fn record(&self, event: Event) {
        berth_registry::events::LogSink.record(event.clone());
        if event.action != EventAction::Pull {
            // A push or delete may have written deliveries: send them now.
            self.webhooks.wake();
        }
        let counted = matches!(
            (event.action, event.target),
            (EventAction::Push | EventAction::Pull, EventTarget::Manifest)
        );
        if !counted {
            return;
        }
        match event.action {
            EventAction::Push => self.accounts.count_push(&event.repository),
            _ => {
                self.accounts.count_pull(&event.repository);
                self.webhooks.queue_pull(&event);
            }
        }
    }
}
