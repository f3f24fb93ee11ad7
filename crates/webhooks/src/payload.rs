//! What a delivery's body says. Pushes use Docker Hub's format; deletes and pulls follow it with
//! `delete_data` and `pull_data` in place of `push_data`:
//!
//! ```json
//! {
//!   "event": "push",
//!   "callback_url": "https://berth.example/api/v1/webhooks/callbacks/<delivery>/<token>",
//!   "push_data": {"pushed_at": 1700000000, "pusher": "alice", "tag": "latest",
//!                 "digest": "sha256:…", "media_type": "application/vnd.oci.image.manifest.v1+json"},
//!   "repository": {"name": "app", "namespace": "acme", "repo_name": "acme/app",
//!                  "repo_url": "https://berth.example/r/acme/app", "description": "…",
//!                  "full_description": "…", "is_private": false, "is_official": false,
//!                  "star_count": 0, "comment_count": 0, "pull_count": 0, "status": "Active",
//!                  "owner": "acme", "date_created": 1700000000}
//! }
//! ```
//!
//! `delete_data` is `{deleted_at, deleter, target: "manifest"|"tag"|"repository", tag, digest}`;
//! `pull_data` is `{pulled_at, puller, tag, digest}`. `tag` is `null` where there was none.

use berth_registry::events::{Event, EventAction, EventTarget};
use serde_json::{json, Value};

use berth_accounts::repos::RepoSettings;

use crate::hooks::Kind;

/// The event kind a registry event is delivered as, if any.
pub fn kind_of(event: &Event) -> Option<Kind> {
    match (event.action, event.target) {
        (EventAction::Push, EventTarget::Manifest) => Some(Kind::Push),
        (EventAction::Pull, EventTarget::Manifest) => Some(Kind::Pull),
        (EventAction::Delete, EventTarget::Manifest | EventTarget::Tag) => Some(Kind::Delete),
        _ => None,
    }
}

/// The `delete_data` of a repository's deletion (the registry has no event of its own for it).
pub fn repository_deleted(actor: &str, at: i64) -> Value {
    data(Kind::Delete, actor, at, None, None, Some("repository"))
}

/// The `push_data`, `delete_data` or `pull_data` of an event.
pub fn event_data(kind: Kind, event: &Event, at: i64) -> Value {
    let actor = event.actor.subject.as_deref().unwrap_or("anonymous");
    let target = match event.target {
        EventTarget::Tag => "tag",
        _ => "manifest",
    };
    let mut v = data(
        kind,
        actor,
        at,
        event.tag.as_deref(),
        Some(&event.digest),
        Some(target),
    );
    if kind == Kind::Push {
        v["media_type"] = json!(event.media_type);
    }
    v
}

fn data(
    kind: Kind,
    actor: &str,
    at: i64,
    tag: Option<&str>,
    digest: Option<&str>,
    target: Option<&str>,
) -> Value {
    match kind {
        Kind::Push => json!({"pushed_at": at, "pusher": actor, "tag": tag, "digest": digest}),
        Kind::Pull => json!({"pulled_at": at, "puller": actor, "tag": tag, "digest": digest}),
        Kind::Delete => json!({
            "deleted_at": at,
            "deleter": actor,
            "target": target,
            "tag": tag,
            "digest": digest,
        }),
    }
}

/// The `repository` object. `settings` is `None` only if the repository has no account side
/// (it is then described from its name alone).
pub fn repository(public_url: &str, name: &str, settings: Option<&RepoSettings>) -> Value {
    let (namespace, short) = name.split_once('/').unwrap_or(("", name));
    json!({
        "name": short,
        "namespace": namespace,
        "repo_name": name,
        "repo_url": format!("{public_url}/r/{name}"),
        "description": settings.map_or("", |s| s.description.as_str()),
        "full_description": settings.map_or("", |s| s.full_description.as_str()),
        "is_private": settings.is_some_and(|s| s.private),
        "is_official": false,
        "star_count": settings.map_or(0, |s| s.star_count),
        "comment_count": settings.map_or(0, |s| s.comment_count),
        "pull_count": settings.map_or(0, |s| s.pull_count),
        "status": "Active",
        "owner": namespace,
        "date_created": settings.map(|s| s.created_at),
    })
}

/// The whole body of one delivery.
pub fn body(kind: Kind, callback_url: &str, data: Value, repository: Value) -> Value {
    let key = match kind {
        Kind::Push => "push_data",
        Kind::Delete => "delete_data",
        Kind::Pull => "pull_data",
    };
    json!({
        "event": kind.as_str(),
        "callback_url": callback_url,
        key: data,
        "repository": repository,
    })
}
