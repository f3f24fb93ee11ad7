//! Blob upload sessions: streaming request bodies into the blob store while hashing, one writer
//! per session at a time, and committing a blob once its digest checks out.
//!
//! The session row (repository, owner, size, the running hash) is in the database and the bytes
//! are in the blob store, so an upload survives a restart and may go on at any replica. The
//! running hash is also kept in memory between chunks, which spares reading it back; a session
//! from before hashes were saved is hashed again from storage on completion.
//!
//! One request writes to a session at a time: this process's requests are kept apart in memory,
//! and where the blob store is shared by several replicas a claim in the session's row keeps
//! the others' apart too.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::web;
use bytes::BytesMut;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Code, Error, Result};
use crate::lifecycle::quota;
use crate::meta::{Meta, Upload};
use crate::storage::Chunk;
use crate::Registry;

/// Chunks buffered between the socket reader and the hashing writer.
const PIPE_DEPTH: usize = 8;
/// Size of the chunks handed to the writer.
const COALESCE: usize = 512 << 10;
/// How long a request's claim on a shared session lasts at most: a replica that dies while
/// writing holds the session this long (clients start a new upload when a chunk fails).
const CLAIM_MS: i64 = 15 * 60 * 1000;

#[derive(Default)]
pub(crate) struct Sessions {
    inner: Mutex<HashMap<String, Slot>>,
}

#[derive(Default)]
struct Slot {
    busy: bool,
    /// Hash state and the offset it covers.
    hasher: Option<(u64, Hasher)>,
}

/// Exclusive use of an upload session for the length of one request.
pub(crate) struct Lease<'a> {
    sessions: &'a Sessions,
    id: String,
    pub hasher: Option<(u64, Hasher)>,
    finished: bool,
    /// The claim in the session's row, given up when the request ends.
    claim: Option<(Meta, String)>,
}

impl Sessions {
    /// Takes the session for one request, or `None` if another request is writing to it.
    pub fn lease(&self, id: &str) -> Option<Lease<'_>> {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let slot = map.entry(id.to_owned()).or_default();
        if slot.busy {
            return None;
        }
        slot.busy = true;
        Some(Lease {
            sessions: self,
            id: id.to_owned(),
            hasher: slot.hasher.take(),
            finished: false,
            claim: None,
        })
    }
}

impl Lease<'_> {
    /// Gives up the claim in the session's row now, before the response goes out: the
    /// client's next request (docker's `PUT` right after its `PATCH`) must find it free.
    pub async fn release(mut self) {
        if let Some((meta, token)) = self.claim.take() {
            if let Err(e) = meta.release_upload(&self.id, &token).await {
                tracing::warn!(upload = %self.id, error = %e, "releasing an upload's claim");
            }
        }
    }

    /// The session is over (completed or cancelled): forget it.
    pub fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        // A finished session's row is gone with its claim: nothing to release.
        if let Some((meta, token)) = self.claim.take().filter(|_| !self.finished) {
            let id = self.id.clone();
            // A request that failed: released after the response, never holding it up.
            tokio::spawn(async move {
                if let Err(e) = meta.release_upload(&id, &token).await {
                    tracing::warn!(upload = %id, error = %e, "releasing an upload's claim");
                }
            });
        }
        let mut map = self
            .sessions
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match self.hasher.take() {
            // Nothing to remember (the session is over, or was never this caller's, or the
            // running hash is in its row): no slot is kept for it.
            None => {
                map.remove(&self.id);
            }
            Some(_) if self.finished => {
                map.remove(&self.id);
            }
            Some(hasher) => {
                if let Some(slot) = map.get_mut(&self.id) {
                    slot.busy = false;
                    slot.hasher = Some(hasher);
                }
            }
        }
    }
}

/// The session as it is now, read for the request holding `lease`, if it belongs to
/// `repository` and `owner` (anyone else's session is as unknown as one that never existed).
/// Where the blob store is shared by several replicas, the session is also claimed in its row;
/// a session another replica's request is writing to is [`Code::RangeInvalid`], like one this
/// process is writing (see [`busy`]).
pub(crate) async fn claim(
    reg: &Registry,
    lease: &mut Lease<'_>,
    repository: &str,
    owner: &str,
) -> Result<Upload> {
    let unknown = || Error::new(Code::BlobUploadUnknown, "unknown upload");
    let theirs = |u: &Upload| u.repository == repository && u.owner == owner;
    if !reg.store.shared() {
        return reg
            .meta
            .upload(&lease.id)
            .await?
            .filter(theirs)
            .ok_or_else(unknown);
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    let until = crate::clock::now_ms() + CLAIM_MS;
    match reg
        .meta
        .claim_upload(&lease.id, repository, owner, &token, until)
        .await?
    {
        Some(upload) => {
            lease.claim = Some((reg.meta.clone(), token));
            Ok(upload)
        }
        None => Err(busy(reg, &lease.id, repository, owner).await),
    }
}

/// The error for a session another request is writing to: [`Code::RangeInvalid`] with the
/// session's size so far in `Range`, or unknown if it is gone or not the caller's.
pub(crate) async fn busy(reg: &Registry, id: &str, repository: &str, owner: &str) -> Error {
    match reg.meta.upload(id).await {
        Ok(Some(u)) if u.repository == repository && u.owner == owner => Error::new(
            Code::RangeInvalid,
            "another request is writing to this upload",
        )
        .with_header("Range", format!("0-{}", (u.size as u64).saturating_sub(1))),
        Ok(_) => Error::new(Code::BlobUploadUnknown, "unknown upload"),
        Err(e) => e,
    }
}

/// Parses an upload id from a URL; only canonical UUIDs name uploads.
pub(crate) fn parse_id(raw: &str) -> Result<String> {
    uuid::Uuid::parse_str(raw)
        .ok()
        .map(|u| u.hyphenated().to_string())
        .filter(|canonical| canonical == raw)
        .ok_or_else(|| Error::new(Code::BlobUploadUnknown, "unknown upload"))
}

/// Streams a request body into an upload at `offset`, hashing as it goes.
pub(crate) async fn stream_into(
    reg: &Registry,
    id: &str,
    offset: u64,
    mut payload: web::Payload,
    hasher: Option<Hasher>,
) -> Result<(u64, Option<Hasher>)> {
    let metrics = reg.metrics();
    let _streaming = metrics.upload_started();
    let (tx, rx) = mpsc::channel(PIPE_DEPTH);
    let write = reg.store.append(id, offset, rx, hasher);
    let pump = async move {
        // Socket reads arrive in small pieces; handing them over one by one would cost a
        // thread wake-up each. Gather them into large chunks instead.
        let mut buf = BytesMut::with_capacity(COALESCE);
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| {
                Error::new(
                    Code::BlobUploadInvalid,
                    format!("reading request body: {e}"),
                )
            })?;
            metrics.blob_received(chunk.len());
            if buf.is_empty() && chunk.len() >= COALESCE {
                if tx.send(Chunk::Data(chunk)).await.is_err() {
                    return Ok(());
                }
                continue;
            }
            buf.extend_from_slice(&chunk);
            if buf.len() >= COALESCE {
                let full = std::mem::replace(&mut buf, BytesMut::with_capacity(COALESCE));
                if tx.send(Chunk::Data(full.freeze())).await.is_err() {
                    // The writer stopped; its error is the one to report.
                    return Ok(());
                }
            }
        }
        if !buf.is_empty() && tx.send(Chunk::Data(buf.freeze())).await.is_err() {
            return Ok(());
        }
        // If the writer is already gone its result tells why; nothing to add here.
        tx.send(Chunk::End).await.ok();
        Ok::<_, Error>(())
    };
    let (pumped, written) = tokio::join!(pump, write);
    pumped?;
    written
}

/// Cuts an upload back to `offset` (undoing a chunk that did not match what it claimed).
pub(crate) async fn truncate(reg: &Registry, id: &str, offset: u64) -> Result<()> {
    let (tx, rx) = mpsc::channel(1);
    tx.send(Chunk::End)
        .await
        .map_err(|_| Error::internal("upload pipe closed"))?;
    reg.store.append(id, offset, rx, None).await.map(|_| ())
}

/// Starts a new upload in the store and, when it is a session later requests go on with
/// (`listed`), in the database. A monolithic upload, whole in the request that starts it, has
/// no row: nothing else can name it, and a crash leaves only bytes for the upload sweep.
pub(crate) async fn create(
    reg: &Registry,
    repository: &str,
    owner: &str,
    listed: bool,
) -> Result<String> {
    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    reg.store.create_upload(&id).await?;
    if !listed {
        return Ok(id);
    }
    if let Err(e) = reg.meta.create_upload(&id, repository, owner).await {
        reg.store.delete_upload(&id).await.ok();
        return Err(e);
    }
    Ok(id)
}

/// Removes an upload session's bytes and row.
pub(crate) async fn discard(reg: &Registry, id: &str) -> Result<()> {
    reg.meta.delete_upload(id).await?;
    reg.store.delete_upload(id).await
}

/// Checks the uploaded bytes against `digest` and, if they match, makes them the blob.
/// On a mismatch the upload is discarded: nothing is stored.
pub(crate) async fn complete(
    reg: &Registry,
    upload: &Upload,
    lease: &mut Lease<'_>,
    size: u64,
    digest: &Digest,
) -> Result<()> {
    // A namespace already over its quota takes no new blob; the upload is discarded.
    if let Err(e) =
        quota::check_upload(&reg.meta.quotas, &reg.meta.pool, &upload.repository, digest).await
    {
        if e.code() == Code::Denied {
            discard(reg, &upload.id).await?;
        }
        return Err(e);
    }
    let computed = match lease.hasher.take().or_else(|| saved_hasher(upload)) {
        Some((covered, h)) if covered == size && h.algorithm() == digest.algorithm() => h.finish(),
        _ => {
            reg.store
                .hash_upload(&upload.id, digest.algorithm())
                .await?
        }
    };
    if computed != *digest {
        discard(reg, &upload.id).await?;
        return Err(Error::new(
            Code::DigestInvalid,
            format!("uploaded content has digest {computed}, not {digest}"),
        ));
    }
    // The bytes go into place before the blob's row is linked, so a row never names a file
    // that is not there yet; when the blob is already stored the upload is kept until the link
    // is committed, in case a collection takes the stored file meanwhile.
    let placed = reg.store.stat(digest).await?.is_none();
    if placed {
        reg.store.commit(&upload.id, digest).await?;
    }
    let link = reg
        .meta
        .begin_blob_link(&upload.repository, digest, size as i64)
        .await?;
    // The link's row now holds off any collection, and one that took the file before it has
    // finished deleting it: what `stat` says stays true until the commit.
    if reg.store.stat(digest).await?.is_none() {
        if placed {
            return Err(Error::new(
                Code::BlobUploadInvalid,
                "the upload was collected before it completed; upload the blob again",
            ));
        }
        reg.store.commit(&upload.id, digest).await?;
    }
    link.commit(&upload.id).await?;
    if !placed {
        reg.store.delete_upload(&upload.id).await.ok();
    }
    Ok(())
}

/// The running hash saved in the session's row, with how many bytes it covers.
fn saved_hasher(upload: &Upload) -> Option<(u64, Hasher)> {
    let saved = upload.hash_state.as_deref().and_then(Hasher::restore)?;
    Some((upload.size as u64, saved))
}

/// The hasher to continue with at `offset`: the remembered one (in memory, or saved in the
/// session's row) if it covers exactly that much, a fresh one at the start, otherwise none (the
/// digest is computed from storage at the end).
pub(crate) fn hasher_at(
    lease: &mut Lease<'_>,
    upload: &Upload,
    algorithm: Algorithm,
) -> Option<Hasher> {
    let offset = upload.size as u64;
    match lease.hasher.take().or_else(|| saved_hasher(upload)) {
        Some((covered, h)) if covered == offset && h.algorithm() == algorithm => Some(h),
        _ if offset == 0 => Some(Hasher::new(algorithm)),
        _ => None,
    }
}
