//! Blob uploads: `POST /v2/<name>/blobs/uploads/` (monolithic with `?digest=`, or a mount with
//! `?mount=&from=`, or a new session), then `PATCH`, `PUT`, `GET` and `DELETE` on the session.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{authorize_repo, query, query_param};
use crate::auth::{Action, Principal};
use crate::digest::{Algorithm, Digest};
use crate::error::{Code, Error, Result};
use crate::events::{Event, EventAction, EventTarget};
use crate::meta::Upload;
use crate::upload_sessions::{self as session, Lease};
use crate::{names, Registry};

fn owner(principal: &Principal) -> &str {
    principal.subject.as_deref().unwrap_or("")
}

fn upload_location(name: &str, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

/// The `Range` header value for an upload holding `size` bytes.
fn range(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

/// `202 Accepted` describing an upload session in progress.
fn in_progress(name: &str, id: &str, size: u64) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header((header::LOCATION, upload_location(name, id)))
        .insert_header(("Docker-Upload-UUID", id))
        .insert_header((header::RANGE, range(size)))
        .insert_header((header::CONTENT_LENGTH, 0))
        .finish()
}

/// `201 Created` for a blob now in the repository.
fn created(name: &str, digest: &Digest) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v2/{name}/blobs/{digest}")))
        .insert_header(("Docker-Content-Digest", digest.to_string()))
        .insert_header((header::CONTENT_LENGTH, 0))
        .finish()
}

fn pushed(reg: &Registry, name: &str, digest: &Digest, size: u64, actor: Principal) {
    reg.events.record(Event {
        action: EventAction::Push,
        target: EventTarget::Blob,
        repository: name.to_owned(),
        digest: digest.to_string(),
        media_type: None,
        size: size as i64,
        tag: None,
        actor,
    });
}

fn digest_param(req: &HttpRequest) -> Result<Option<Digest>> {
    let q = query(req);
    query_param(&q, "digest").map(str::parse).transpose()
}

pub(super) async fn start(
    reg: &Registry,
    req: &HttpRequest,
    payload: web::Payload,
    name: &str,
) -> Result<HttpResponse> {
    let principal = authorize_repo(reg, req, name, &[Action::Pull, Action::Push]).await?;
    let q = query(req);

    if let Some(mount) = query_param(&q, "mount") {
        let digest: Digest = mount.parse()?;
        let from = query_param(&q, "from");
        if mountable(reg, &principal, name, from, &digest)
            .await?
            .is_some()
        {
            // `None`: collected since it was looked up; then it is simply uploaded again.
            if let Some(size) = reg.meta.mount_blob(name, &digest).await? {
                pushed(reg, name, &digest, size as u64, principal);
                return Ok(created(name, &digest));
            }
        }
        // Not mountable: fall back to an ordinary upload session.
    }

    let digest = digest_param(req)?;
    let id = session::create(reg, name, owner(&principal), digest.is_none()).await?;
    let Some(digest) = digest else {
        return Ok(in_progress(name, &id, 0));
    };

    // Monolithic upload: the whole blob is in this request's body.
    let upload = Upload {
        id: id.clone(),
        repository: name.to_owned(),
        owner: owner(&principal).to_owned(),
        size: 0,
        hash_state: None,
    };
    let mut lease = reg
        .uploads
        .lease(&id)
        .ok_or_else(|| Error::internal("new upload already in use"))?;
    let result = write_and_complete(reg, req, &upload, &mut lease, payload, &digest, None).await;
    lease.finish();
    match result {
        Ok(size) => {
            pushed(reg, name, &digest, size, principal);
            Ok(created(name, &digest))
        }
        Err(e) => {
            session::discard(reg, &id).await.ok();
            Err(e)
        }
    }
}

/// How many repositories holding a blob a mount without `from` considers, the target's own
/// namespace first. Past that the client simply uploads, which is always correct.
const MOUNT_CANDIDATES: i64 = 1000;

/// The size of `digest` if the caller may mount it into `name`: from `from` when the request
/// names a source, otherwise from any repository holding it. Either way only from a repository
/// the caller may pull, so a mount never hands out a blob the caller could not download.
///
/// Whether the caller may pull is asked of who they are, not of the credentials they sent: a
/// bearer token names only the target repository, yet its subject may pull the source.
async fn mountable(
    reg: &Registry,
    principal: &Principal,
    name: &str,
    from: Option<&str>,
    digest: &Digest,
) -> Result<Option<i64>> {
    let holders = match from {
        Some(from) => {
            if names::validate_name(from).is_err() {
                return Ok(None);
            }
            match reg.meta.blob_in_repository(from, digest).await? {
                Some(size) => vec![(from.to_owned(), size)],
                None => return Ok(None),
            }
        }
        None => {
            reg.meta
                .repositories_holding(
                    digest,
                    names::namespace_of(name).unwrap_or(name),
                    MOUNT_CANDIDATES,
                )
                .await?
        }
    };
    for chunk in holders.chunks(100) {
        let names: Vec<String> = chunk.iter().map(|(n, _)| n.clone()).collect();
        let pullable = reg.auth.visible(principal, names).await?;
        if let Some((_, size)) = chunk.iter().find(|(n, _)| pullable.contains(n)) {
            return Ok(Some(*size));
        }
    }
    Ok(None)
}

/// Writes the body (if any) at the end of the upload, then completes it against `digest`.
async fn write_and_complete(
    reg: &Registry,
    req: &HttpRequest,
    upload: &Upload,
    lease: &mut Lease<'_>,
    payload: web::Payload,
    digest: &Digest,
    content_range: Option<(u64, u64)>,
) -> Result<u64> {
    let declared = content_length(req);
    let size = append(
        reg,
        upload,
        lease,
        payload,
        content_range,
        digest.algorithm(),
        declared,
        false,
    )
    .await?;
    let done = session::complete(reg, upload, lease, size, digest).await;
    if let Err(e) = &done {
        // Not recorded above, since completing forgets the session: a failure that leaves it
        // to be retried records what it holds now.
        if !matches!(e.code(), Code::DigestInvalid | Code::Denied) && size != upload.size as u64 {
            reg.meta
                .set_upload_size(&upload.id, size as i64, None)
                .await
                .ok();
        }
    }
    done.map(|()| size)
}

/// Reads the `Content-Range` header of a chunk, if there is one.
fn content_range(req: &HttpRequest) -> Result<Option<(u64, u64)>> {
    let Some(v) = req.headers().get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| Error::new(Code::RangeInvalid, "invalid Content-Range"))?;
    parse_content_range(v).map(Some)
}

/// Parses a chunk's `Content-Range: <start>-<end>` value (a `bytes ` or `bytes=` prefix and a
/// `/<total>` suffix are tolerated) into inclusive `(start, end)` with `start <= end`.
/// Public so that the fuzz targets exercise the parser the upload routes use.
pub fn parse_content_range(value: &str) -> Result<(u64, u64)> {
    let bad = || Error::new(Code::RangeInvalid, "invalid Content-Range");
    let s = value.trim();
    let s = s
        .strip_prefix("bytes=")
        .or_else(|| s.strip_prefix("bytes "))
        .unwrap_or(s);
    let s = s.split('/').next().unwrap_or(s);
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let start: u64 = a.trim().parse().map_err(|_| bad())?;
    let end: u64 = b.trim().parse().map_err(|_| bad())?;
    if end < start {
        return Err(bad());
    }
    Ok((start, end))
}

fn content_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Appends the request body to the upload, enforcing chunk order. Returns the new size, which
/// is recorded in the session's row with the running hash when the session goes on (`record`).
#[allow(clippy::too_many_arguments)]
async fn append(
    reg: &Registry,
    upload: &Upload,
    lease: &mut Lease<'_>,
    payload: web::Payload,
    content_range: Option<(u64, u64)>,
    algorithm: Algorithm,
    declared_len: Option<u64>,
    record: bool,
) -> Result<u64> {
    let offset = upload.size as u64;
    let out_of_order = || {
        Error::new(
            Code::RangeInvalid,
            format!("chunk out of order: the upload holds {offset} bytes"),
        )
        .with_header("Location", upload_location(&upload.repository, &upload.id))
        .with_header("Range", range(offset))
        .with_header("Docker-Upload-UUID", upload.id.clone())
    };
    let expected_len = match content_range {
        Some((start, end)) => {
            if start != offset {
                return Err(out_of_order());
            }
            // `0-18446744073709551615` is one byte more than a u64 can count.
            let len = (end - start).checked_add(1).ok_or_else(|| {
                Error::new(Code::RangeInvalid, "Content-Range is larger than any blob")
            })?;
            if declared_len.is_some_and(|cl| cl != len) {
                return Err(Error::new(
                    Code::RangeInvalid,
                    "Content-Range does not match Content-Length",
                ));
            }
            Some(len)
        }
        None => None,
    };
    let hasher = session::hasher_at(lease, upload, algorithm);
    let (size, hasher) = session::stream_into(reg, &upload.id, offset, payload, hasher).await?;
    if expected_len.is_some_and(|len| size - offset != len) {
        session::truncate(reg, &upload.id, offset).await?;
        return Err(Error::new(
            Code::RangeInvalid,
            "chunk length does not match its Content-Range",
        ));
    }
    if record && size != offset {
        let state = hasher.as_ref().map(|h| h.save());
        reg.meta
            .set_upload_size(&upload.id, size as i64, state)
            .await?;
    }
    lease.hasher = hasher.map(|h| (size, h));
    Ok(size)
}

/// Loads an upload session for this caller and repository, to read. Someone else's session,
/// or a session of another repository, is as unknown as one that never existed.
async fn load(
    reg: &Registry,
    req: &HttpRequest,
    name: &str,
    id: &str,
) -> Result<(Upload, Principal)> {
    let principal = authorize_repo(reg, req, name, &[Action::Pull, Action::Push]).await?;
    let id = session::parse_id(id)?;
    let upload = reg
        .meta
        .upload(&id)
        .await?
        .filter(|u| u.repository == name && u.owner == owner(&principal))
        .ok_or_else(|| Error::new(Code::BlobUploadUnknown, "unknown upload"))?;
    still_stored(reg, &upload).await?;
    Ok((upload, principal))
}

/// An upload whose bytes were swept (by the upload sweep, or lost) is forgotten.
async fn still_stored(reg: &Registry, upload: &Upload) -> Result<()> {
    if reg.store.upload_size(&upload.id).await?.is_none() {
        reg.meta.delete_upload(&upload.id).await?;
        return Err(Error::new(Code::BlobUploadUnknown, "unknown upload"));
    }
    Ok(())
}

/// Takes an upload session for this request, to write: the session as it is now, read once
/// under the lease (another request may have appended a moment ago), and the lease. Another
/// request writing to it is [`Code::RangeInvalid`], with what it holds so far.
async fn open<'a>(
    reg: &'a Registry,
    req: &HttpRequest,
    name: &str,
    id: &str,
) -> Result<(Upload, Principal, Lease<'a>)> {
    let principal = authorize_repo(reg, req, name, &[Action::Pull, Action::Push]).await?;
    let id = session::parse_id(id)?;
    let owner = owner(&principal);
    let Some(mut lease) = reg.uploads.lease(&id) else {
        return Err(session::busy(reg, &id, name, owner).await);
    };
    let upload = session::claim(reg, &mut lease, name, owner).await?;
    still_stored(reg, &upload).await?;
    Ok((upload, principal, lease))
}

pub(super) async fn patch(
    reg: &Registry,
    req: &HttpRequest,
    payload: web::Payload,
    name: &str,
    id: &str,
) -> Result<HttpResponse> {
    let (upload, _, mut lease) = open(reg, req, name, id).await?;
    let range = content_range(req)?;
    let declared = content_length(req);
    let size = append(
        reg,
        &upload,
        &mut lease,
        payload,
        range,
        Algorithm::Sha256,
        declared,
        true,
    )
    .await?;
    lease.release().await;
    Ok(in_progress(name, &upload.id, size))
}

pub(super) async fn put(
    reg: &Registry,
    req: &HttpRequest,
    payload: web::Payload,
    name: &str,
    id: &str,
) -> Result<HttpResponse> {
    let (upload, principal, mut lease) = open(reg, req, name, id).await?;
    let digest = digest_param(req)?
        .ok_or_else(|| Error::new(Code::DigestInvalid, "the digest parameter is required"))?;
    let range = content_range(req)?;
    match write_and_complete(reg, req, &upload, &mut lease, payload, &digest, range).await {
        Ok(size) => {
            lease.finish();
            pushed(reg, name, &digest, size, principal);
            Ok(created(name, &digest))
        }
        Err(e) => {
            // A wrong digest or a full namespace discarded the upload; other failures leave
            // it to be retried.
            if matches!(e.code(), Code::DigestInvalid | Code::Denied) {
                lease.finish();
            }
            Err(e)
        }
    }
}

pub(super) async fn status(
    reg: &Registry,
    req: &HttpRequest,
    name: &str,
    id: &str,
) -> Result<HttpResponse> {
    let (upload, _) = load(reg, req, name, id).await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::LOCATION, upload_location(name, &upload.id)))
        .insert_header(("Docker-Upload-UUID", upload.id.clone()))
        .insert_header((header::RANGE, range(upload.size as u64)))
        .finish())
}

pub(super) async fn cancel(
    reg: &Registry,
    req: &HttpRequest,
    name: &str,
    id: &str,
) -> Result<HttpResponse> {
    let (upload, _, lease) = open(reg, req, name, id).await?;
    session::discard(reg, &upload.id).await?;
    lease.finish();
    Ok(HttpResponse::NoContent().finish())
}
