//! Blob storage: content-addressed bytes behind one trait.
//!
//! Uploads are written to a temporary object, hashed in the same pass, and only moved into their
//! content-addressed place by [`BlobStore::commit`] once the digest has been checked, so a stored
//! blob never lies about its digest.

mod fs;
mod read;

use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::Result;

pub use fs::FsStore;
pub use read::read_file;

/// One piece of a streamed request body. A stream that closes without [`Chunk::End`] was cut
/// short (the client went away) and everything it appended is discarded.
#[derive(Debug)]
pub enum Chunk {
    Data(Bytes),
    End,
}

/// Where the bytes of a stored blob can be read from.
#[derive(Debug)]
pub enum BlobSource {
    /// A local file, served with the kernel's help (ranges, sendfile).
    File(PathBuf),
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
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

    /// Moves a verified upload into its content-addressed place.
    async fn commit(&self, id: &str, digest: &Digest) -> Result<()>;

    /// Removes an upload object (no error if it is already gone).
    async fn delete_upload(&self, id: &str) -> Result<()>;

    /// Size of a stored blob, `None` if absent.
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>>;

    /// Where to read a stored blob from.
    async fn source(&self, digest: &Digest) -> Result<BlobSource>;

    /// Removes a stored blob (garbage collection).
    async fn delete(&self, digest: &Digest) -> Result<()>;
}
