//! Push events from git hosts: which host sent a webhook request, whether it carries the
//! source's secret, and which branch or tag moved to which commit.
//!
//! - Gitea, Forgejo and Gogs name the event in `X-Gitea-Event` / `X-Forgejo-Event` /
//!   `X-Gogs-Event` and sign with the hex HMAC-SHA256 of the raw body in
//!   `X-Gitea-Signature` / `X-Forgejo-Signature` / `X-Gogs-Signature`. Gitea also sends
//!   `X-GitHub-Event`, so its own headers are looked at first.
//! - GitHub names the event in `X-GitHub-Event` and signs with `X-Hub-Signature-256:
//!   sha256=<hex HMAC-SHA256>`; the older SHA-1 `X-Hub-Signature` is not accepted.
//! - GitLab names the event in `X-Gitlab-Event` (`Push Hook`, `Tag Push Hook`) and sends the
//!   secret itself in `X-Gitlab-Token`.
//!
//! The signature is checked before the body is parsed, and every comparison takes the same
//! time whatever the secret's first wrong byte. An empty secret verifies nothing.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rules::RefKind;

/// The kind of git host a push event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Host {
    /// Gitea, Forgejo or Gogs.
    Gitea,
    GitHub,
    GitLab,
}

impl Host {
    /// `gitea`, `github` or `gitlab`, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Host::Gitea => "gitea",
            Host::GitHub => "github",
            Host::GitLab => "gitlab",
        }
    }
}

/// A branch or tag that moved (or was deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    pub host: Host,
    pub kind: RefKind,
    /// The branch or tag name, without `refs/heads/` or `refs/tags/`.
    pub name: String,
    /// The commit the ref now points at, lowercase hex (40 for SHA-1, 64 for SHA-256
    /// repositories); all zeros when the ref was deleted.
    pub commit: String,
    pub deleted: bool,
}

/// What a verified request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Push(PushEvent),
    /// a ping/test or another event kind: acknowledged, nothing built
    Ignored(String),
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The request carries no signature or token header for its host.
    Unsigned,
    /// The signature or token does not match the source's secret.
    BadSignature,
    /// Not a git host's webhook request, or a payload missing what a push event has.
    Malformed(String),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Unsigned => f.write_str(
                "the request is not signed: set the webhook's secret on the git host to the \
                 build trigger's secret (Gitea/Forgejo and GitHub sign with it; GitLab sends \
                 it as the secret token)",
            ),
            Rejection::BadSignature => f.write_str(
                "the request's signature does not match the build trigger's secret: copy the \
                 secret again into the webhook's settings on the git host",
            ),
            Rejection::Malformed(why) => write!(f, "not a push event Berth understands: {why}"),
        }
    }
}

impl std::error::Error for Rejection {}

/// The fields of a push payload that builds use; the three hosts share these names.
#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "ref")]
    reference: Option<String>,
    after: Option<String>,
    /// GitLab: the commit a tag or branch points at (the tag object is in `after` for an
    /// annotated tag); `null` when the ref was deleted.
    checkout_sha: Option<String>,
    /// GitHub: set on a deleted ref.
    deleted: Option<bool>,
    /// GitHub and Gitea: the commit now at the ref's head; for an annotated tag, `after`
    /// is the tag object while this is its commit.
    head_commit: Option<HeadCommit>,
    /// GitLab system hooks carry the event kind in the payload.
    object_kind: Option<String>,
}

#[derive(Deserialize)]
struct HeadCommit {
    id: Option<String>,
}

fn header_value(header: &impl Fn(&str) -> Option<String>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|name| header(name))
        .map(|v| v.trim().to_owned())
}

fn hmac_of(secret: &str) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

/// Checks a hex HMAC-SHA256 of `body` in constant time.
fn hmac_matches(secret: &str, body: &[u8], hex_signature: &str) -> bool {
    let Ok(signature) = hex::decode(hex_signature) else {
        return false;
    };
    let mut mac = hmac_of(secret);
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

/// Compares a token with the secret in constant time: both are hashed first, so neither the
/// length nor the first differing byte shows in the time taken.
fn token_matches(secret: &str, token: &str) -> bool {
    let (a, b) = (
        Sha256::digest(secret.as_bytes()),
        Sha256::digest(token.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The commit id of a payload field: 40 (SHA-1) or 64 (SHA-256) hex digits, lowercased.
fn commit_id(field: &str, value: &str) -> Result<String, Rejection> {
    let ok = matches!(value.len(), 40 | 64) && value.bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(Rejection::Malformed(format!(
            "\"{field}\" is not a commit id (40 or 64 hex digits)"
        )));
    }
    Ok(value.to_ascii_lowercase())
}

/// Verifies the request's signature against `secret`, then parses it. `header(name)` returns a
/// header's value (case-insensitive name lookup is the caller's job: pass lowercase names).
pub fn verify_and_parse(
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
    secret: &str,
) -> Result<Incoming, Rejection> {
    let gitea = header_value(
        &header,
        &["x-gitea-event", "x-forgejo-event", "x-gogs-event"],
    );
    let (host, event) = if let Some(event) = gitea {
        (Host::Gitea, event)
    } else if let Some(event) = header_value(&header, &["x-github-event"]) {
        (Host::GitHub, event)
    } else if let Some(event) = header_value(&header, &["x-gitlab-event"]) {
        (Host::GitLab, event)
    } else {
        return Err(Rejection::Malformed(
            "no X-Gitea-Event, X-GitHub-Event or X-Gitlab-Event header; point a Gitea, \
             Forgejo, GitHub or GitLab push webhook here"
                .into(),
        ));
    };

    let verified = match host {
        Host::Gitea => {
            let signature = header_value(
                &header,
                &[
                    "x-gitea-signature",
                    "x-forgejo-signature",
                    "x-gogs-signature",
                ],
            )
            .filter(|s| !s.is_empty())
            .ok_or(Rejection::Unsigned)?;
            hmac_matches(secret, body, &signature)
        }
        Host::GitHub => {
            let signature = header_value(&header, &["x-hub-signature-256"])
                .filter(|s| !s.is_empty())
                .ok_or(Rejection::Unsigned)?;
            signature
                .strip_prefix("sha256=")
                .is_some_and(|hex| hmac_matches(secret, body, hex))
        }
        Host::GitLab => {
            let token = header_value(&header, &["x-gitlab-token"])
                .filter(|s| !s.is_empty())
                .ok_or(Rejection::Unsigned)?;
            token_matches(secret, &token)
        }
    };
    // An unset secret must not turn into "anyone may trigger": it matches no signature.
    if !verified || secret.is_empty() {
        return Err(Rejection::BadSignature);
    }

    let event_lc = event.to_ascii_lowercase();
    match (host, event_lc.as_str()) {
        (Host::GitHub, "ping") => return Ok(Incoming::Ignored("ping".into())),
        (Host::Gitea | Host::GitHub, "push")
        | (Host::GitLab, "push hook" | "tag push hook" | "system hook") => {}
        _ => return Ok(Incoming::Ignored(format!("event {event:?}"))),
    }

    let payload: Payload = serde_json::from_slice(body)
        .map_err(|e| Rejection::Malformed(format!("the body is not a push payload: {e}")))?;
    if event_lc == "system hook"
        && !matches!(payload.object_kind.as_deref(), Some("push" | "tag_push"))
    {
        let kind = payload.object_kind.as_deref().unwrap_or("unknown");
        return Ok(Incoming::Ignored(format!("system hook {kind:?}")));
    }

    let reference = payload
        .reference
        .ok_or_else(|| Rejection::Malformed("the payload has no \"ref\"".into()))?;
    let (kind, name) = if let Some(name) = reference.strip_prefix("refs/heads/") {
        (RefKind::Branch, name)
    } else if let Some(name) = reference.strip_prefix("refs/tags/") {
        (RefKind::Tag, name)
    } else {
        return Ok(Incoming::Ignored(format!("ref {reference:?}")));
    };
    if name.is_empty() {
        return Err(Rejection::Malformed(format!(
            "\"ref\" {reference:?} names no branch or tag"
        )));
    }

    let after = payload
        .after
        .ok_or_else(|| Rejection::Malformed("the payload has no \"after\" commit".into()))?;
    let after = commit_id("after", &after)?;
    let deleted = payload.deleted == Some(true) || after.bytes().all(|b| b == b'0');
    let commit = if deleted {
        after
    } else {
        // The commit to build, not the annotated tag object `after` may name.
        let peeled = match host {
            Host::GitLab => payload.checkout_sha.map(|c| ("checkout_sha", c)),
            Host::GitHub | Host::Gitea if kind == RefKind::Tag => payload
                .head_commit
                .and_then(|h| h.id)
                .map(|c| ("head_commit.id", c)),
            _ => None,
        };
        match peeled {
            Some((field, c)) => commit_id(field, &c)?,
            None => after,
        }
    };
    Ok(Incoming::Push(PushEvent {
        host,
        kind,
        name: name.to_owned(),
        commit,
        deleted,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-trigger";
    const C1: &str = "bffeb74224043ba2feb48d137756c8a9331c449a";
    const C2: &str = "28e1879d029cb852e4844d9c718537df08844e03";
    const TAG_OBJECT: &str = "5f3a8e0c1d2b4a6978e0f1c2d3b4a5968778695a";
    const ZERO: &str = "0000000000000000000000000000000000000000";

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = hmac_of(secret);
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    fn with_headers(headers: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        }
    }

    /// A request as Gitea sends it: it names the event in its own, GitHub's and Gogs's headers,
    /// and signs in several.
    fn gitea(body: &str, secret: &str) -> Result<Incoming, Rejection> {
        let sig = sign(secret, body.as_bytes());
        let headers = with_headers(vec![
            ("x-github-event", "push".into()),
            ("x-gogs-event", "push".into()),
            ("x-gitea-event", "push".into()),
            (
                "x-gitea-delivery",
                "f6266f16-1bf3-46a5-9ea4-602e06ead473".into(),
            ),
            ("x-gitea-signature", sig.clone()),
            ("x-gogs-signature", sig.clone()),
            ("x-hub-signature-256", format!("sha256={sig}")),
        ]);
        verify_and_parse(headers, body.as_bytes(), SECRET)
    }

    fn github(event: &str, body: &str, secret: &str) -> Result<Incoming, Rejection> {
        let sig = sign(secret, body.as_bytes());
        let headers = with_headers(vec![
            ("x-github-event", event.into()),
            (
                "x-github-delivery",
                "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
            ),
            ("x-github-hook-id", "292430182".into()),
            (
                "x-hub-signature",
                "sha1=7d38cdd689735b008b3c702edd92eea23791c5f6".into(),
            ),
            ("x-hub-signature-256", format!("sha256={sig}")),
        ]);
        verify_and_parse(headers, body.as_bytes(), SECRET)
    }

    fn gitlab(event: &str, body: &str, token: &str) -> Result<Incoming, Rejection> {
        let headers = with_headers(vec![
            ("x-gitlab-event", event.into()),
            ("x-gitlab-instance", "https://gitlab.example.com".into()),
            ("x-gitlab-token", token.into()),
        ]);
        verify_and_parse(headers, body.as_bytes(), SECRET)
    }

    fn push(host: Host, kind: RefKind, name: &str, commit: &str, deleted: bool) -> Incoming {
        Incoming::Push(PushEvent {
            host,
            kind,
            name: name.into(),
            commit: commit.into(),
            deleted,
        })
    }

    fn gitea_payload(reference: &str, before: &str, after: &str) -> String {
        format!(
            r#"{{
  "ref": "{reference}",
  "before": "{before}",
  "after": "{after}",
  "compare_url": "http://localhost:3000/gitea/webhooks/compare/{before}...{after}",
  "commits": [{{
    "id": "{after}",
    "message": "Webhooks Yay!",
    "url": "http://localhost:3000/gitea/webhooks/commit/{after}",
    "author": {{"name": "Gitea", "email": "someone@gitea.io", "username": "gitea"}},
    "committer": {{"name": "Gitea", "email": "someone@gitea.io", "username": "gitea"}},
    "timestamp": "2017-03-13T13:52:11-04:00"
  }}],
  "repository": {{
    "id": 140, "name": "webhooks", "full_name": "gitea/webhooks",
    "owner": {{"id": 1, "login": "gitea", "username": "gitea"}},
    "html_url": "http://localhost:3000/gitea/webhooks",
    "clone_url": "http://localhost:3000/gitea/webhooks.git",
    "private": false, "default_branch": "main"
  }},
  "pusher": {{"id": 1, "login": "gitea", "username": "gitea"}},
  "sender": {{"id": 1, "login": "gitea", "username": "gitea"}}
}}"#
        )
    }

    fn github_payload(
        reference: &str,
        after: &str,
        deleted: bool,
        head_commit: Option<&str>,
    ) -> String {
        let head = head_commit.map_or("null".to_string(), |id| {
            format!(
                r#"{{"id": "{id}", "tree_id": "f9d2a07e9488b91af2641b26b9407fe22a451433",
                "distinct": true, "message": "Update README.md",
                "timestamp": "2024-05-01T12:00:00Z",
                "url": "https://github.com/octo/app/commit/{id}",
                "author": {{"name": "Octo", "email": "octo@example.com", "username": "octo"}},
                "added": [], "removed": [], "modified": ["README.md"]}}"#
            )
        });
        format!(
            r#"{{
  "ref": "{reference}",
  "before": "{C2}",
  "after": "{after}",
  "repository": {{"id": 35129377, "name": "app", "full_name": "octo/app",
    "private": false, "clone_url": "https://github.com/octo/app.git",
    "default_branch": "main"}},
  "pusher": {{"name": "octo", "email": "octo@example.com"}},
  "sender": {{"login": "octo", "id": 1, "type": "User"}},
  "created": false,
  "deleted": {deleted},
  "forced": false,
  "base_ref": null,
  "compare": "https://github.com/octo/app/compare/{C2}...{after}",
  "commits": [],
  "head_commit": {head}
}}"#
        )
    }

    fn gitlab_payload(kind: &str, reference: &str, after: &str, checkout: Option<&str>) -> String {
        let checkout = checkout.map_or("null".to_string(), |c| format!("\"{c}\""));
        format!(
            r#"{{
  "object_kind": "{kind}",
  "event_name": "{kind}",
  "before": "{C2}",
  "after": "{after}",
  "ref": "{reference}",
  "ref_protected": true,
  "checkout_sha": {checkout},
  "user_id": 4,
  "user_name": "John Smith",
  "user_username": "jsmith",
  "project_id": 15,
  "project": {{"id": 15, "name": "Diaspora", "path_with_namespace": "mike/diaspora",
    "git_http_url": "https://gitlab.example.com/mike/diaspora.git",
    "git_ssh_url": "git@gitlab.example.com:mike/diaspora.git",
    "default_branch": "master"}},
  "commits": [],
  "total_commits_count": 0,
  "repository": {{"name": "Diaspora", "url": "git@gitlab.example.com:mike/diaspora.git"}}
}}"#
        )
    }

    #[test]
    fn gitea_branch_and_tag_pushes() {
        let body = gitea_payload("refs/heads/develop", C2, C1);
        assert_eq!(
            gitea(&body, SECRET),
            Ok(push(Host::Gitea, RefKind::Branch, "develop", C1, false))
        );
        let body = gitea_payload("refs/tags/v1.2.0", ZERO, C1);
        assert_eq!(
            gitea(&body, SECRET),
            Ok(push(Host::Gitea, RefKind::Tag, "v1.2.0", C1, false))
        );
        let body = gitea_payload("refs/heads/feature/login", C1, ZERO);
        assert_eq!(
            gitea(&body, SECRET),
            Ok(push(
                Host::Gitea,
                RefKind::Branch,
                "feature/login",
                ZERO,
                true
            ))
        );
    }

    #[test]
    fn forgejo_and_gogs_are_gitea_with_their_own_headers() {
        let body = gitea_payload("refs/heads/main", C2, C1);
        let sig = sign(SECRET, body.as_bytes());
        let forgejo = with_headers(vec![
            ("x-forgejo-event", "push".into()),
            ("x-forgejo-signature", sig.clone()),
        ]);
        assert_eq!(
            verify_and_parse(forgejo, body.as_bytes(), SECRET),
            Ok(push(Host::Gitea, RefKind::Branch, "main", C1, false))
        );
        let gogs = with_headers(vec![
            ("x-gogs-event", "push".into()),
            ("x-gogs-signature", sig.to_uppercase()),
        ]);
        assert_eq!(
            verify_and_parse(gogs, body.as_bytes(), SECRET),
            Ok(push(Host::Gitea, RefKind::Branch, "main", C1, false))
        );
    }

    #[test]
    fn gitea_requests_must_carry_the_right_signature() {
        let body = gitea_payload("refs/heads/main", C2, C1);
        assert_eq!(gitea(&body, "another secret"), Err(Rejection::BadSignature));
        // Only the Gitea-style header counts for Gitea: a GitHub-style one alone is not read.
        let only_hub = with_headers(vec![
            ("x-gitea-event", "push".into()),
            (
                "x-hub-signature-256",
                format!("sha256={}", sign(SECRET, body.as_bytes())),
            ),
        ]);
        assert_eq!(
            verify_and_parse(only_hub, body.as_bytes(), SECRET),
            Err(Rejection::Unsigned)
        );
        let garbage = with_headers(vec![
            ("x-gitea-event", "push".into()),
            ("x-gitea-signature", "not hex".into()),
        ]);
        assert_eq!(
            verify_and_parse(garbage, body.as_bytes(), SECRET),
            Err(Rejection::BadSignature)
        );
        // A signature over another body does not carry over.
        let sig = sign(SECRET, body.as_bytes());
        let tampered = body.replace("refs/heads/main", "refs/heads/prod");
        let headers = with_headers(vec![
            ("x-gitea-event", "push".into()),
            ("x-gitea-signature", sig),
        ]);
        assert_eq!(
            verify_and_parse(headers, tampered.as_bytes(), SECRET),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn github_branch_push_and_annotated_tag_push() {
        let body = github_payload("refs/heads/main", C1, false, Some(C1));
        assert_eq!(
            github("push", &body, SECRET),
            Ok(push(Host::GitHub, RefKind::Branch, "main", C1, false))
        );
        // For an annotated tag `after` is the tag object; the commit is head_commit's.
        let body = github_payload("refs/tags/v2.0.0", TAG_OBJECT, false, Some(C1));
        assert_eq!(
            github("push", &body, SECRET),
            Ok(push(Host::GitHub, RefKind::Tag, "v2.0.0", C1, false))
        );
        let body = github_payload("refs/tags/v2.0.1", C1, false, None);
        assert_eq!(
            github("push", &body, SECRET),
            Ok(push(Host::GitHub, RefKind::Tag, "v2.0.1", C1, false))
        );
    }

    #[test]
    fn github_deletions_and_pings_build_nothing() {
        let body = github_payload("refs/heads/old", ZERO, true, None);
        assert_eq!(
            github("push", &body, SECRET),
            Ok(push(Host::GitHub, RefKind::Branch, "old", ZERO, true))
        );
        let ping = r#"{"zen":"Design for failure.","hook_id":292430182,"hook":{"type":"Repository","id":292430182,"events":["push"],"active":true}}"#;
        assert_eq!(
            github("ping", ping, SECRET),
            Ok(Incoming::Ignored("ping".into()))
        );
        // Even a ping must be signed with the secret.
        assert_eq!(github("ping", ping, "wrong"), Err(Rejection::BadSignature));
        assert_eq!(
            github("pull_request", "{}", SECRET),
            Ok(Incoming::Ignored("event \"pull_request\"".into()))
        );
    }

    #[test]
    fn github_requests_must_carry_the_sha256_signature() {
        let body = github_payload("refs/heads/main", C1, false, Some(C1));
        assert_eq!(github("push", &body, "wrong"), Err(Rejection::BadSignature));
        // The SHA-1 header alone is not enough.
        let sha1_only = with_headers(vec![
            ("x-github-event", "push".into()),
            (
                "x-hub-signature",
                "sha1=7d38cdd689735b008b3c702edd92eea23791c5f6".into(),
            ),
        ]);
        assert_eq!(
            verify_and_parse(sha1_only, body.as_bytes(), SECRET),
            Err(Rejection::Unsigned)
        );
        // The right hex without its `sha256=` prefix is not GitHub's format.
        let bare = with_headers(vec![
            ("x-github-event", "push".into()),
            ("x-hub-signature-256", sign(SECRET, body.as_bytes())),
        ]);
        assert_eq!(
            verify_and_parse(bare, body.as_bytes(), SECRET),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn gitlab_branch_and_tag_pushes_build_the_checked_out_commit() {
        let body = gitlab_payload("push", "refs/heads/master", C1, Some(C1));
        assert_eq!(
            gitlab("Push Hook", &body, SECRET),
            Ok(push(Host::GitLab, RefKind::Branch, "master", C1, false))
        );
        let body = gitlab_payload("tag_push", "refs/tags/v1.0.0", TAG_OBJECT, Some(C1));
        assert_eq!(
            gitlab("Tag Push Hook", &body, SECRET),
            Ok(push(Host::GitLab, RefKind::Tag, "v1.0.0", C1, false))
        );
        let body = gitlab_payload("tag_push", "refs/tags/v0.9", ZERO, None);
        assert_eq!(
            gitlab("Tag Push Hook", &body, SECRET),
            Ok(push(Host::GitLab, RefKind::Tag, "v0.9", ZERO, true))
        );
        // A system hook carries pushes too, and other events that build nothing.
        let body = gitlab_payload("push", "refs/heads/main", C1, Some(C1));
        assert_eq!(
            gitlab("System Hook", &body, SECRET),
            Ok(push(Host::GitLab, RefKind::Branch, "main", C1, false))
        );
        let project_create =
            r#"{"event_name":"project_create","name":"x","path_with_namespace":"a/x"}"#;
        assert!(matches!(
            gitlab("System Hook", project_create, SECRET),
            Ok(Incoming::Ignored(_))
        ));
        assert_eq!(
            gitlab("Merge Request Hook", "{}", SECRET),
            Ok(Incoming::Ignored("event \"Merge Request Hook\"".into()))
        );
    }

    #[test]
    fn gitlab_requests_must_carry_the_secret_token() {
        let body = gitlab_payload("push", "refs/heads/master", C1, Some(C1));
        assert_eq!(
            gitlab("Push Hook", &body, "wrong"),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            gitlab("Push Hook", &body, &format!("{SECRET}x")),
            Err(Rejection::BadSignature)
        );
        assert_eq!(gitlab("Push Hook", &body, ""), Err(Rejection::Unsigned));
        let no_token = with_headers(vec![("x-gitlab-event", "Push Hook".into())]);
        assert_eq!(
            verify_and_parse(no_token, body.as_bytes(), SECRET),
            Err(Rejection::Unsigned)
        );
    }

    #[test]
    fn an_empty_secret_verifies_nothing() {
        let body = gitlab_payload("push", "refs/heads/master", C1, Some(C1));
        let headers = with_headers(vec![
            ("x-gitlab-event", "Push Hook".into()),
            ("x-gitlab-token", " ".into()),
        ]);
        assert_eq!(
            verify_and_parse(headers, body.as_bytes(), ""),
            Err(Rejection::Unsigned)
        );
        let body = gitea_payload("refs/heads/main", C2, C1);
        let headers = with_headers(vec![
            ("x-gitea-event", "push".into()),
            ("x-gitea-signature", sign("", body.as_bytes())),
        ]);
        assert_eq!(
            verify_and_parse(headers, body.as_bytes(), ""),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn the_signature_is_checked_before_the_body_is_read() {
        // Not JSON at all: an unsigned or wrongly signed body never reaches the parser.
        let body = "{not json";
        assert_eq!(github("push", body, "wrong"), Err(Rejection::BadSignature));
        assert!(matches!(
            github("push", body, SECRET),
            Err(Rejection::Malformed(_))
        ));
    }

    #[test]
    fn other_refs_are_acknowledged_and_broken_payloads_refused() {
        let body = github_payload("refs/pull/7/head", C1, false, Some(C1));
        assert_eq!(
            github("push", &body, SECRET),
            Ok(Incoming::Ignored("ref \"refs/pull/7/head\"".into()))
        );
        let body = github_payload("refs/heads/", C1, false, Some(C1));
        assert!(matches!(
            github("push", &body, SECRET),
            Err(Rejection::Malformed(m)) if m.contains("names no branch")
        ));
        for after in ["abc", "zzfeb74224043ba2feb48d137756c8a9331c449a", ""] {
            let body = gitea_payload("refs/heads/main", C2, after);
            assert!(
                matches!(gitea(&body, SECRET), Err(Rejection::Malformed(m)) if m.contains("\"after\"")),
                "{after:?}"
            );
        }
        let body = github_payload("refs/tags/v1", TAG_OBJECT, false, Some("not-a-commit"));
        assert!(matches!(
            github("push", &body, SECRET),
            Err(Rejection::Malformed(m)) if m.contains("head_commit.id")
        ));
        assert!(matches!(
            github("push", r#"{"after":"x"}"#, SECRET),
            Err(Rejection::Malformed(m)) if m.contains("\"ref\"")
        ));
        assert!(matches!(
            github("push", r#"{"ref":"refs/heads/main"}"#, SECRET),
            Err(Rejection::Malformed(m)) if m.contains("\"after\"")
        ));
        assert!(matches!(
            github("push", r#"["ref"]"#, SECRET),
            Err(Rejection::Malformed(_))
        ));
    }

    #[test]
    fn sha256_repositories_and_uppercase_ids_give_lowercase_commits() {
        let long = "A".repeat(64);
        let body = gitea_payload("refs/heads/main", C2, &long);
        assert_eq!(
            gitea(&body, SECRET),
            Ok(push(
                Host::Gitea,
                RefKind::Branch,
                "main",
                &"a".repeat(64),
                false
            ))
        );
    }

    #[test]
    fn requests_from_no_known_host_are_malformed() {
        let headers = with_headers(vec![("x-hub-signature-256", "sha256=00".into())]);
        let e = verify_and_parse(headers, b"{}", SECRET).unwrap_err();
        assert!(matches!(&e, Rejection::Malformed(_)));
        assert!(e.to_string().contains("X-GitHub-Event"), "{e}");
        assert!(Rejection::Unsigned.to_string().contains("secret"));
        assert!(Rejection::BadSignature.to_string().contains("secret"));
        assert_eq!(serde_json::to_string(&Host::GitHub).unwrap(), "\"github\"");
        assert_eq!(Host::GitLab.as_str(), "gitlab");
    }
}
