//! `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<reference>`.

use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use super::authorize_repo;
use crate::auth::Action;
use crate::digest::{Algorithm, Digest};
use crate::error::{Code, Error, Result};
use crate::events::{Event, EventAction, EventTarget};
use crate::manifest;
use crate::meta::NewManifest;
use crate::names::{is_tag, parse_reference, Reference};
use crate::Registry;

fn unknown(reference: &str) -> Error {
    Error::new(
        Code::ManifestUnknown,
        format!("manifest {reference:?} is unknown"),
    )
}

pub(super) async fn get(
    reg: &Registry,
    req: &HttpRequest,
    name: &str,
    reference: &str,
) -> Result<HttpResponse> {
    let reference_kind = match parse_reference(reference) {
        Ok(r) => r,
        // No manifest can be stored under an invalid tag: it is simply not there.
        Err(e) if e.code() == Code::ManifestInvalid => return Err(unknown(reference)),
        Err(e) => return Err(e),
    };
    let principal = authorize_repo(reg, req, name, &[Action::Pull]).await?;
    let is_get = req.method() == Method::GET;
    let (key, by_digest) = match &reference_kind {
        Reference::Digest(d) => (d.to_string(), true),
        Reference::Tag(t) => (t.clone(), false),
    };
    let Some(row) = reg.meta.manifest(name, &key, by_digest).await? else {
        if !reg.meta.repository_exists(name).await? {
            return Err(Error::new(
                Code::NameUnknown,
                format!("repository {name:?} is unknown"),
            ));
        }
        return Err(unknown(reference));
    };
    refuse_unsigned(reg, name, &row).await?;
    let accept: Vec<&str> = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !manifest::accepted(&accept, &row.media_type) {
        return Err(Error::new(
            Code::ManifestUnknown,
            format!(
                "the manifest is {}, which the Accept header does not allow",
                row.media_type
            ),
        ));
    }
    if is_get {
        let tag = match &reference_kind {
            Reference::Tag(t) => Some(t.as_str()),
            Reference::Digest(_) => None,
        };
        reg.meta.note_pull(name, tag, &row.digest);
        reg.events.record(Event {
            action: EventAction::Pull,
            target: EventTarget::Manifest,
            repository: name.to_owned(),
            digest: row.digest.clone(),
            media_type: Some(row.media_type.clone()),
            size: row.size,
            tag: match reference_kind {
                Reference::Tag(t) => Some(t),
                Reference::Digest(_) => None,
            },
            actor: principal,
        });
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, row.media_type))
        .insert_header(("Docker-Content-Digest", row.digest.clone()))
        .insert_header((header::ETAG, format!("\"{}\"", row.digest)))
        .body(row.content))
}

/// Under a signed-only policy, refuses a manifest no trusted key signed (the content trust
/// crate decides).
async fn refuse_unsigned(reg: &Registry, name: &str, row: &crate::meta::Cached) -> Result<()> {
    match &reg.trust {
        Some(trust) => trust.check_pull(reg, name, &row.digest, &row.content).await,
        None => Ok(()),
    }
}

/// Reads a body of at most `limit` bytes.
async fn read_capped(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>> {
    let too_large = || {
        Error::new(
            Code::SizeInvalid,
            format!("manifest exceeds the {limit} byte limit"),
        )
        .with_status_413()
    };
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| Error::new(Code::ManifestInvalid, format!("reading request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(super) async fn put(
    reg: &Registry,
    req: &HttpRequest,
    payload: web::Payload,
    name: &str,
    reference: &str,
) -> Result<HttpResponse> {
    let reference = parse_reference(reference)?;
    let principal = authorize_repo(reg, req, name, &[Action::Pull, Action::Push]).await?;
    let tags = tags_to_apply(reg, req, &reference)?;
    let limit = reg.config.max_manifest_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(Error::new(
            Code::SizeInvalid,
            format!("manifest exceeds the {limit} byte limit"),
        )
        .with_status_413());
    }
    let body = read_capped(payload, limit).await?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let parsed = manifest::parse(content_type, &body)?;
    let digest = match &reference {
        Reference::Digest(expected) => {
            let actual = Digest::of(expected.algorithm(), &body);
            if actual != *expected {
                return Err(Error::new(
                    Code::DigestInvalid,
                    format!("manifest body has digest {actual}, not {expected}"),
                ));
            }
            actual
        }
        Reference::Tag(_) => Digest::of(Algorithm::Sha256, &body),
    };
    let event = |tag: Option<&String>| Event {
        action: EventAction::Push,
        target: EventTarget::Manifest,
        repository: name.to_owned(),
        digest: digest.to_string(),
        media_type: Some(parsed.media_type.clone()),
        size: body.len() as i64,
        tag: tag.cloned(),
        actor: principal.clone(),
    };
    // One push event per tag, as if each had been pushed on its own.
    let events: Vec<Event> = if tags.is_empty() {
        vec![event(None)]
    } else {
        tags.iter().map(Some).map(event).collect()
    };
    reg.meta
        .put_manifest(
            NewManifest {
                repository: name,
                digest: &digest,
                media_type: &parsed.media_type,
                artifact_type: parsed.artifact_type.as_deref(),
                subject: parsed.subject.as_ref(),
                annotations: parsed.annotations.clone(),
                content: &body,
                config: parsed.config.as_ref(),
                layers: &parsed.layers,
                children: &parsed.children,
                sparse: reg.config.sparse_manifests,
                tags: &tags,
                pusher: principal.subject.as_deref(),
            },
            reg.events.as_ref(),
            &events,
        )
        .await?;
    for event in events {
        reg.events.record(event);
    }
    let mut resp = HttpResponse::Created();
    resp.insert_header((header::LOCATION, format!("/v2/{name}/manifests/{digest}")))
        .insert_header(("Docker-Content-Digest", digest.to_string()));
    for tag in &tags {
        resp.append_header(("OCI-Tag", tag.as_str()));
    }
    if let Some(subject) = &parsed.subject {
        resp.insert_header(("OCI-Subject", subject.to_string()));
    }
    Ok(resp.finish())
}

/// The tags a manifest `PUT` points at what it stores: the reference if it is a tag, and every
/// `tag` query parameter (the spec's way to tag a push by digest), in order, without repeats.
fn tags_to_apply(reg: &Registry, req: &HttpRequest, reference: &Reference) -> Result<Vec<String>> {
    let query = super::query(req);
    let asked: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "tag")
        .map(|(_, v)| v.as_str())
        .collect();
    let limit = reg.config.max_tags_per_push;
    if asked.len() > limit {
        return Err(Error::new(
            Code::ManifestInvalid,
            format!(
                "at most {limit} tags may be pushed with one manifest, not {}",
                asked.len()
            ),
        )
        .explained()
        .with_status_414());
    }
    let mut tags: Vec<String> = Vec::with_capacity(asked.len() + 1);
    if let Reference::Tag(t) = reference {
        tags.push(t.clone());
    }
    for tag in asked {
        if !is_tag(tag) {
            return Err(Error::new(
                Code::ManifestInvalid,
                format!(
                    "invalid tag {:?}",
                    tag.chars().take(160).collect::<String>()
                ),
            ));
        }
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_owned());
        }
    }
    Ok(tags)
}

pub(super) async fn delete(
    reg: &Registry,
    req: &HttpRequest,
    name: &str,
    reference: &str,
) -> Result<HttpResponse> {
    if !reg.config.delete_enabled {
        return Err(Error::new(Code::Unsupported, "deletion is disabled"));
    }
    let reference = match parse_reference(reference) {
        Ok(r) => r,
        Err(e) if e.code() == Code::ManifestInvalid => return Err(unknown(reference)),
        Err(e) => return Err(e),
    };
    let principal = authorize_repo(reg, req, name, &[Action::Delete]).await?;
    match &reference {
        Reference::Digest(d) => {
            let event = Event {
                action: EventAction::Delete,
                target: EventTarget::Manifest,
                repository: name.to_owned(),
                digest: d.to_string(),
                media_type: None,
                size: 0,
                tag: None,
                actor: principal,
            };
            if !reg
                .meta
                .delete_manifest(name, d, reg.events.as_ref(), &event)
                .await?
            {
                return Err(unknown(&d.to_string()));
            }
            reg.events.record(event);
        }
        Reference::Tag(t) => {
            if !reg.delete_tag(name, t, principal).await? {
                return Err(unknown(t));
            }
        }
    }
    Ok(HttpResponse::Accepted().finish())
}
