//! Blob storage: content-addressed bytes behind one trait.
//!
//! Uploads are written to a temporary object, hashed in the same pass, and only moved into their
//! content-addressed place by [`BlobStore::commit`] once the digest has been checked, so a stored
//! blob never lies about its digest.
//!
//! Every backend passes the same conformance suite ([`suite`], behind the `test-suite` feature).

mod fs;
mod read;
mod s3;
#[cfg(any(test, feature = "test-suite"))]
pub mod suite;

use std::ops::Range;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use tokio::sync::mpsc;

use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Code, Error, Result};

pub use fs::FsStore;
pub use s3::{S3Settings, S3Store};

/// One piece of a streamed request body. A stream that closes without [`Chunk::End`] was cut
/// short (the client went away) and everything it appended is discarded.
#[derive(Debug)]
pub enum Chunk {
    Data(Bytes),
    End,
}

/// The bytes of a stored blob, as they are read.
pub type BlobBody = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + 'static>>;

/// The error for a digest the store does not hold.
pub(crate) fn absent(digest: &Digest) -> Error {
    Error::new(
        Code::BlobUnknown,
        format!("blob {digest} is not in storage"),
    )
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Whether several Berth processes may use this store at once (an object store is; a
    /// local directory is not), so that an upload session must be claimed in the database by
    /// the request writing to it.
    fn shared(&self) -> bool {
        false
    }

    /// A URL the client may fetch the blob from directly for a while, if this store can give
    /// one (a presigned object store URL); pulls are then redirected to it.
    async fn redirect_url(&self, _digest: &Digest) -> Result<Option<String>> {
        Ok(None)
    }

    /// Creates an empty upload object.
    async fn create_upload(&self, id: &str) -> Result<()>;

    /// Size of an upload's bytes so far, `None` if the upload object is gone.
    async fn upload_size(&self, id: &str) -> Result<Option<u64>>;

    /// Appends `body` at `offset` (anything already past `offset` is cut off first: it is the
    /// remains of a write that never completed). Bytes are fed to `hasher` in the same pass.
    /// Returns the new size and the hasher. If the body ends without [`Chunk::End`] the upload is
    /// restored to `offset` and an error returned.
    async fn append(
        &self,
        id: &str,
        offset: u64,
        body: mpsc::Receiver<Chunk>,
        hasher: Option<Hasher>,
    ) -> Result<(u64, Option<Hasher>)>;

    /// Hashes an upload's bytes from the start (when the streaming state was lost, e.g. across
    /// a restart).
    async fn hash_upload(&self, id: &str, algorithm: Algorithm) -> Result<Digest>;

    /// Moves a verified upload into its content-addressed place. Committing a digest that is
    /// already stored (two uploads of the same bytes racing) succeeds and leaves one blob.
    async fn commit(&self, id: &str, digest: &Digest) -> Result<()>;

    /// Removes an upload object (no error if it is already gone).
    async fn delete_upload(&self, id: &str) -> Result<()>;

    /// Size of a stored blob, `None` if absent.
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>>;

    /// Streams the bytes `range` of a stored blob. An absent blob is a [`Code::BlobUnknown`]
    /// error before any byte; a blob shorter than `range.end` ends the stream with an error
    /// item, never with fewer bytes than asked for.
    async fn read(&self, digest: &Digest, range: Range<u64>) -> Result<BlobBody>;

    /// The whole of a stored blob in memory: only for blobs known to be small (an image's
    /// config, a signature payload). Absent: [`Code::BlobUnknown`].
    async fn read_all(&self, digest: &Digest) -> Result<Bytes> {
        let size = self.stat(digest).await?.ok_or_else(|| absent(digest))?;
        let parts: Vec<Bytes> = self.read(digest, 0..size).await?.try_collect().await?;
        Ok(parts.concat().into())
    }

    /// Removes a stored blob (garbage collection; no error if it is already gone).
    async fn delete(&self, digest: &Digest) -> Result<()>;

    /// Every upload object, by id, with when it was last written: for sweeping abandoned ones.
    async fn list_uploads(&self) -> Result<Vec<Listed>>;

    /// Every stored blob, by digest, with when it was stored: for finding files no row names.
    /// Objects whose names are not digests are left out.
    async fn list_blobs(&self) -> Result<Vec<Listed>>;
}

/// An object of the store as listed: its name (an upload id, or a blob's digest), its size and
/// when it was last written (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub size: u64,
    pub modified: i64,
}
