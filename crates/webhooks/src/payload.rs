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
//!
//! Automated builds are one subscription (`build`) with three events, named in the body's
//! `event` ([`BuildEvent`]): `build_queued`, `build_success` and `build_failure`. Their data is
//! `build_data`, as the builds crate describes the build:
//!
//! ```json
//! {
//!   "event": "build_success",
//!   "callback_url": "https://berth.example/api/v1/webhooks/callbacks/<delivery>/<token>",
//!   "build_data": {"build_id": "…", "status": "success", "trigger": "push",
//!                  "source_ref": "refs/heads/main", "commit": "<40 hex>",
//!                  "tags": ["latest", "1.2"], "digest": "sha256:…",
//!                  "queued_at": 1700000000, "finished_at": 1700000090, "duration_seconds": 90,
//!                  "build_url": "https://berth.example/r/acme/app/builds/…", "error": null},
//!   "repository": {…}
//! }
//! ```
//!
//! `build_id` names the build, `status` is where it stands, `trigger` what started it (a push
//! from the git host, or someone by hand), `source_ref` the git ref built and `commit` its
//! commit id; `tags` are the image's tags and `digest` its manifest's (`null` until pushed);
//! `queued_at` and `finished_at` are seconds since the epoch (`finished_at` and
//! `duration_seconds` are `null` while the build has not finished); `build_url` is the build's
//! page and `error` why it failed (`null` otherwise). The `X-Berth-Event` header says `build`.

use berth_registry::events::{Event, EventAction, EventTarget};
use serde_json::{json, Value};

use berth_accounts::repos::RepoSettings;

use crate::hooks::Kind;

/// Which build event a `build` delivery reports: its body's `event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildEvent {
    Queued,
    Success,
    Failure,
}

impl BuildEvent {
    pub const ALL: [BuildEvent; 3] = [BuildEvent::Queued, BuildEvent::Success, BuildEvent::Failure];

    pub fn as_str(self) -> &'static str {
        match self {
            BuildEvent::Queued => "build_queued",
            BuildEvent::Success => "build_success",
            BuildEvent::Failure => "build_failure",
        }
    }

    pub fn parse(s: &str) -> Option<BuildEvent> {
        BuildEvent::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

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
        // No registry event is a build ([`kind_of`]): a build's data comes from the builds crate.
        Kind::Build => Value::Null,
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

/// Where a body of `kind` holds its data.
pub fn data_key(kind: Kind) -> &'static str {
    match kind {
        Kind::Push => "push_data",
        Kind::Delete => "delete_data",
        Kind::Pull => "pull_data",
        Kind::Build => "build_data",
    }
}

/// The whole body of one delivery of `kind`; `event` is the kind's name, or for a build the
/// [`BuildEvent`]'s.
pub fn body(kind: Kind, event: &str, callback_url: &str, data: Value, repository: Value) -> Value {
    json!({
        "event": event,
        "callback_url": callback_url,
        data_key(kind): data,
        "repository": repository,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_events_are_named_as_bodies_name_them() {
        for event in BuildEvent::ALL {
            assert_eq!(BuildEvent::parse(event.as_str()), Some(event));
        }
        assert_eq!(BuildEvent::Failure.as_str(), "build_failure");
        assert_eq!(BuildEvent::parse("build"), None);
        assert_eq!(Kind::parse("build"), Some(Kind::Build));
    }

    #[test]
    fn a_build_body_carries_build_data() {
        let data = json!({"build_id": "b1", "status": "failure", "error": "no Dockerfile"});
        let body = body(
            Kind::Build,
            BuildEvent::Failure.as_str(),
            "https://berth.example/cb",
            data.clone(),
            json!({}),
        );
        assert_eq!(body["event"], "build_failure");
        assert_eq!(body["build_data"], data);
        assert!(body.get("push_data").is_none());
    }
}
