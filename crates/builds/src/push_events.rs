//! The push-event endpoint's work: a git host says a branch or tag moved; Berth checks the
//! signature with the source's secret and queues a build for every autobuild rule that matches.

use serde::Serialize;

use crate::queue::{self, Build, Trigger, Wanted};
use crate::trigger::{self, Incoming, Rejection};
use crate::{rules, sources, Builds, Error, Result};

/// What a push event led to.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase", tag = "result")]
pub enum Received {
    /// The builds it queued (none when no autobuild rule matched).
    Queued { builds: Vec<Build> },
    /// Nothing to build: a ping, a deleted branch, another kind of event.
    Ignored { reason: String },
}

/// Handles a push event sent to `hook_id`'s URL. `header(name)` gives a request header by its
/// lower-case name.
pub async fn receive(
    builds: &Builds,
    hook_id: &str,
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
) -> Result<Received> {
    let source = sources::by_hook(builds, hook_id)
        .await?
        .ok_or_else(|| Error::NotFound("this push-event URL".into()))?;
    let event = match trigger::verify_and_parse(header, body, &source.push_secret) {
        Ok(Incoming::Push(event)) => event,
        Ok(Incoming::Ignored(reason)) => return Ok(Received::Ignored { reason }),
        Err(Rejection::Unsigned | Rejection::BadSignature) => return Err(Error::Forbidden),
        Err(Rejection::Malformed(why)) => return Err(Error::Invalid(why)),
    };
    if event.deleted {
        return Ok(Received::Ignored {
            reason: format!("{} {} was deleted", event.kind.as_str(), event.name),
        });
    }
    let matched = rules::matching(&source.rules, event.kind, &event.name, true);
    if matched.is_empty() {
        return Ok(Received::Queued { builds: Vec::new() });
    }
    let wanted: Vec<Wanted> = matched
        .into_iter()
        .map(|(rule, tag)| Wanted {
            kind: event.kind,
            name: &event.name,
            commit: Some(&event.commit),
            rule,
            tag,
        })
        .collect();
    let by = format!("{:?} push", event.host).to_lowercase();
    let builds = queue::enqueue(builds, &source.repository, Trigger::Push, &by, &wanted).await?;
    Ok(Received::Queued { builds })
}
