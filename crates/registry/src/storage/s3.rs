//! The S3 backend (Garage, MinIO, AWS S3), through `object_store`. Several Berth replicas share
//! one bucket, so nothing about an upload lives in one process.
//!
//! Layout under the optional prefix:
//! - `blobs/<algorithm>/<first two hex>/<hex>`: content, written whole (S3 writes are atomic:
//!   an object is there complete or not at all).
//! - `uploads/<id>/<offset, 20 digits>`: an upload in progress, as segments. Each request
//!   appends one segment starting where the upload ends, streamed as a multipart upload when it
//!   is large; an empty segment at offset 0 marks a new upload. Appending at an offset first
//!   cuts every segment past it, which is how a chunk that failed its checks is undone.
//!
//! A commit copies a one-segment upload into place inside the store (no bytes pass through
//! Berth; on Garage a copy only links the same data blocks) and concatenates a many-segment one.
//! The digest is never computed by reading the object back: the hash runs as the bytes stream
//! in, and its state is saved with the session between requests.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{GetOptions, ObjectStore, PutPayload, WriteMultipart};
use tokio::sync::mpsc;

use super::{absent, BlobBody, BlobStore, Chunk, Listed};
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Code, Error, Result};

/// Bytes gathered before a request's body becomes a multipart upload, and the size of each part
/// (S3 takes parts of at least 5 MiB).
const PART: usize = 8 << 20;
/// Parts of one segment in flight at once.
const PARTS_IN_FLIGHT: usize = 4;
/// How long a pull redirect's presigned URL is valid, as Docker Hub's and Distribution's are.
pub const REDIRECT_TTL: Duration = Duration::from_secs(20 * 60);

/// Where the bucket is and how to reach it.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    pub bucket: String,
    /// `http(s)://host:port` of an S3-compatible service; `None` for AWS itself.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Keys are stored under this prefix (no leading or trailing slash), so that a bucket can
    /// be shared.
    pub prefix: String,
    /// The endpoint clients reach, for presigned pull redirects, when it differs from the one
    /// Berth uses.
    pub public_endpoint: Option<String>,
}

pub struct S3Store {
    store: Arc<AmazonS3>,
    /// Signs redirect URLs for the endpoint clients reach.
    signer: Arc<AmazonS3>,
    prefix: String,
}

fn client(settings: &S3Settings, endpoint: Option<&str>) -> Result<AmazonS3> {
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&settings.bucket)
        .with_region(&settings.region)
        .with_access_key_id(&settings.access_key_id)
        .with_secret_access_key(&settings.secret_access_key);
    if let Some(endpoint) = endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            // Garage and MinIO serve buckets as paths; virtual hosts need wildcard DNS.
            .with_virtual_hosted_style_request(false);
    }
    builder
        .build()
        .map_err(|e| Error::internal(format!("S3 storage settings: {e}")))
}

impl S3Store {
    /// Builds the clients; nothing is sent until [`S3Store::check`].
    pub fn open(settings: &S3Settings) -> Result<Self> {
        let store = Arc::new(client(settings, settings.endpoint.as_deref())?);
        let signer = match &settings.public_endpoint {
            Some(public) => Arc::new(client(settings, Some(public))?),
            None => store.clone(),
        };
        Ok(S3Store {
            store,
            signer,
            prefix: settings.prefix.trim_matches('/').to_owned(),
        })
    }

    /// Asks the bucket for one key, so that a wrong endpoint, bucket or key fails at start with
    /// the store's own words rather than at the first push.
    pub async fn check(&self) -> Result<()> {
        match self.store.head(&self.key("uploads/.check")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::internal(format!("S3 storage is not usable: {e}"))),
        }
    }

    fn key(&self, rest: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rest)
        } else {
            Path::from(format!("{}/{rest}", self.prefix))
        }
    }

    fn blob_key(&self, digest: &Digest) -> Path {
        let hex = digest.hex();
        self.key(&format!(
            "blobs/{}/{}/{hex}",
            digest.algorithm().as_str(),
            &hex[..2]
        ))
    }

    fn upload_dir(&self, id: &str) -> Path {
        self.key(&format!("uploads/{id}"))
    }

    fn segment_key(&self, id: &str, offset: u64) -> Path {
        self.key(&format!("uploads/{id}/{offset:020}"))
    }

    /// Every object under `prefix`.
    async fn list_under(&self, prefix: &Path) -> Result<Vec<object_store::ObjectMeta>> {
        self.store
            .list(Some(prefix))
            .try_collect()
            .await
            .map_err(storage_error)
    }

    /// An upload's segments by offset, with their sizes.
    async fn segments(&self, id: &str) -> Result<BTreeMap<u64, u64>> {
        Ok(self
            .list_under(&self.upload_dir(id))
            .await?
            .into_iter()
            .filter_map(|meta| {
                let offset = meta.location.filename()?.parse().ok()?;
                Some((offset, meta.size))
            })
            .collect())
    }

    /// Removes everything of an upload past `offset`: segments that start there or later go
    /// (the marker at 0 is emptied instead) and one that runs across it is cut short.
    async fn cut(&self, id: &str, offset: u64, segments: &BTreeMap<u64, u64>) -> Result<()> {
        for (&start, &size) in segments {
            if start >= offset {
                if start == 0 {
                    if size > 0 {
                        self.put(&self.segment_key(id, 0), PutPayload::new())
                            .await?;
                    }
                } else {
                    self.delete_key(&self.segment_key(id, start)).await?;
                }
            } else if start + size > offset {
                let key = self.segment_key(id, start);
                let kept = self.get_range(&key, 0..offset - start).await?;
                self.put(&key, kept.into()).await?;
            }
        }
        Ok(())
    }

    async fn put(&self, key: &Path, payload: PutPayload) -> Result<()> {
        self.store
            .put(key, payload)
            .await
            .map(|_| ())
            .map_err(storage_error)
    }

    async fn delete_key(&self, key: &Path) -> Result<()> {
        match self.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage_error(e)),
        }
    }

    async fn get_range(&self, key: &Path, range: Range<u64>) -> Result<Bytes> {
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        let options = GetOptions {
            range: Some(range.into()),
            ..GetOptions::default()
        };
        self.store
            .get_opts(key, options)
            .await
            .map_err(storage_error)?
            .bytes()
            .await
            .map_err(storage_error)
    }

    /// The segments of an upload that hold its bytes, in order; an error if they do not join
    /// up from 0 (the upload is gone or damaged).
    async fn chain(&self, id: &str) -> Result<Vec<(u64, u64)>> {
        let segments = self.segments(id).await?;
        if !segments.contains_key(&0) {
            return Err(Error::new(Code::BlobUploadUnknown, "unknown upload"));
        }
        let mut end = 0;
        let mut chain = Vec::new();
        for (start, size) in segments {
            if start != end {
                break;
            }
            end += size;
            if size > 0 {
                chain.push((start, size));
            }
        }
        Ok(chain)
    }

    /// Streams `body` into the object `key` and returns the bytes written and the hasher: one
    /// plain write for a small body, a multipart upload for a large one. Nothing is written if
    /// the body ends without [`Chunk::End`].
    async fn stream(
        &self,
        key: &Path,
        mut body: mpsc::Receiver<Chunk>,
        mut hasher: Option<Hasher>,
    ) -> Result<(u64, Option<Hasher>)> {
        let mut written = 0u64;
        let mut gathered: Vec<Bytes> = Vec::new();
        let mut gathered_len = 0;
        let mut parts: Option<WriteMultipart> = None;
        let outcome: Result<bool> = async {
            loop {
                match body.recv().await {
                    Some(Chunk::Data(bytes)) => {
                        if let Some(h) = hasher.as_mut() {
                            h.update(&bytes);
                        }
                        written += bytes.len() as u64;
                        if let Some(parts) = parts.as_mut() {
                            parts
                                .wait_for_capacity(PARTS_IN_FLIGHT)
                                .await
                                .map_err(storage_error)?;
                            parts.put(bytes);
                            continue;
                        }
                        gathered_len += bytes.len();
                        gathered.push(bytes);
                        if gathered_len >= PART {
                            let upload =
                                self.store.put_multipart(key).await.map_err(storage_error)?;
                            let mut started = WriteMultipart::new_with_chunk_size(upload, PART);
                            for bytes in gathered.drain(..) {
                                started.put(bytes);
                            }
                            parts = Some(started);
                        }
                    }
                    Some(Chunk::End) => return Ok(true),
                    None => return Ok(false),
                }
            }
        }
        .await;
        match (outcome, parts) {
            (Ok(true), Some(parts)) => {
                parts.finish().await.map_err(storage_error)?;
            }
            (Ok(true), None) => {
                if gathered_len > 0 {
                    self.put(key, gathered.into_iter().collect()).await?;
                }
            }
            (outcome, parts) => {
                if let Some(parts) = parts {
                    // What was sent so far is dropped by the store; nothing becomes visible.
                    parts.abort().await.ok();
                }
                outcome?;
                return Err(Error::new(
                    Code::BlobUploadInvalid,
                    "request body ended early",
                ));
            }
        }
        Ok((written, hasher))
    }

    /// The bytes of the segments `chain` of upload `id`, in order.
    fn read_chain(&self, id: &str, chain: Vec<(u64, u64)>) -> BlobBody {
        let store = self.store.clone();
        let keys: Vec<Path> = chain
            .into_iter()
            .map(|(start, _)| self.segment_key(id, start))
            .collect();
        Box::pin(
            futures_util::stream::iter(keys)
                .then(move |key| {
                    let store = store.clone();
                    async move { store.get(&key).await.map(|got| got.into_stream()) }
                })
                .try_flatten()
                .map_err(std::io::Error::other),
        )
    }
}

fn storage_error(e: object_store::Error) -> Error {
    Error::internal(format!("S3 storage: {e}"))
}

#[async_trait]
impl BlobStore for S3Store {
    fn shared(&self) -> bool {
        true
    }

    async fn redirect_url(&self, digest: &Digest) -> Result<Option<String>> {
        let url = self
            .signer
            .signed_url(reqwest::Method::GET, &self.blob_key(digest), REDIRECT_TTL)
            .await
            .map_err(storage_error)?;
        Ok(Some(url.to_string()))
    }

    async fn create_upload(&self, id: &str) -> Result<()> {
        self.put(&self.segment_key(id, 0), PutPayload::new()).await
    }

    async fn upload_size(&self, id: &str) -> Result<Option<u64>> {
        match self.chain(id).await {
            Ok(chain) => Ok(Some(chain.last().map_or(0, |&(start, size)| start + size))),
            Err(e) if e.code() == Code::BlobUploadUnknown => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn append(
        &self,
        id: &str,
        offset: u64,
        body: mpsc::Receiver<Chunk>,
        hasher: Option<Hasher>,
    ) -> Result<(u64, Option<Hasher>)> {
        let segments = self.segments(id).await?;
        if segments.is_empty() {
            return Err(Error::new(Code::BlobUploadUnknown, "unknown upload"));
        }
        self.cut(id, offset, &segments).await?;
        let (written, hasher) = self
            .stream(&self.segment_key(id, offset), body, hasher)
            .await?;
        Ok((offset + written, hasher))
    }

    async fn hash_upload(&self, id: &str, algorithm: Algorithm) -> Result<Digest> {
        let chain = self.chain(id).await?;
        let mut hasher = Hasher::new(algorithm);
        let mut bytes = self.read_chain(id, chain);
        while let Some(chunk) = bytes.next().await {
            hasher.update(&chunk?);
        }
        Ok(hasher.finish())
    }

    async fn commit(&self, id: &str, digest: &Digest) -> Result<()> {
        let chain = self.chain(id).await?;
        let to = self.blob_key(digest);
        match chain.as_slice() {
            [] => self.put(&to, PutPayload::new()).await?,
            [(start, _)] => self
                .store
                .copy(&self.segment_key(id, *start), &to)
                .await
                .map_err(storage_error)?,
            _ => {
                let (tx, rx) = mpsc::channel(PARTS_IN_FLIGHT);
                let mut bytes = self.read_chain(id, chain);
                let feed = async move {
                    while let Some(chunk) = bytes.next().await {
                        if tx.send(Chunk::Data(chunk?)).await.is_err() {
                            return Ok(());
                        }
                    }
                    tx.send(Chunk::End).await.ok();
                    Ok::<_, Error>(())
                };
                let (fed, written) = tokio::join!(feed, self.stream(&to, rx, None));
                fed?;
                written?;
            }
        }
        self.delete_upload(id).await
    }

    async fn delete_upload(&self, id: &str) -> Result<()> {
        for start in self.segments(id).await?.into_keys().rev() {
            self.delete_key(&self.segment_key(id, start)).await?;
        }
        Ok(())
    }

    async fn stat(&self, digest: &Digest) -> Result<Option<u64>> {
        match self.store.head(&self.blob_key(digest)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(storage_error(e)),
        }
    }

    async fn read(&self, digest: &Digest, range: Range<u64>) -> Result<BlobBody> {
        let want = range.end.saturating_sub(range.start);
        if want == 0 {
            return match self.stat(digest).await? {
                Some(_) => Ok(Box::pin(futures_util::stream::empty())),
                None => Err(absent(digest)),
            };
        }
        let options = GetOptions {
            range: Some(range.into()),
            ..GetOptions::default()
        };
        let got = match self.store.get_opts(&self.blob_key(digest), options).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Err(absent(digest)),
            Err(e) => return Err(storage_error(e)),
        };
        // The store hands back less than asked for when the object is shorter: that is an
        // error, never a short blob.
        Ok(Box::pin(ShortCheck {
            inner: Box::pin(got.into_stream().map_err(std::io::Error::other)),
            want,
            seen: 0,
            done: false,
        }))
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        self.delete_key(&self.blob_key(digest)).await
    }

    async fn list_uploads(&self) -> Result<Vec<Listed>> {
        let listed = self.list_under(&self.key("uploads")).await?;
        let mut uploads: BTreeMap<String, Listed> = BTreeMap::new();
        for meta in listed {
            let mut parts = meta.location.parts().collect::<Vec<_>>().into_iter().rev();
            let (Some(_segment), Some(id)) = (parts.next(), parts.next()) else {
                continue;
            };
            let id = id.as_ref().to_owned();
            let modified = meta.last_modified.timestamp();
            let entry = uploads.entry(id.clone()).or_insert(Listed {
                name: id,
                size: 0,
                modified,
            });
            entry.size += meta.size;
            entry.modified = entry.modified.max(modified);
        }
        Ok(uploads.into_values().collect())
    }

    async fn list_blobs(&self) -> Result<Vec<Listed>> {
        let listed = self.list_under(&self.key("blobs")).await?;
        Ok(listed
            .into_iter()
            .filter_map(|meta| {
                let parts: Vec<_> = meta.location.parts().collect();
                let [.., algorithm, prefix, hex] = parts.as_slice() else {
                    return None;
                };
                let name = format!("{}:{}", algorithm.as_ref(), hex.as_ref());
                let named_right =
                    hex.as_ref().starts_with(prefix.as_ref()) && name.parse::<Digest>().is_ok();
                named_right.then(|| Listed {
                    name,
                    size: meta.size,
                    modified: meta.last_modified.timestamp(),
                })
            })
            .collect())
    }
}

/// A ranged read that ends in an error, not quietly, when the store had fewer bytes than asked.
struct ShortCheck {
    inner: BlobBody,
    want: u64,
    seen: u64,
    done: bool,
}

impl futures_util::Stream for ShortCheck {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        if self.done {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                self.seen += bytes.len() as u64;
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(None) if self.seen < self.want => {
                self.done = true;
                Poll::Ready(Some(Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "blob shorter than recorded",
                ))))
            }
            other => other,
        }
    }
}
