//! The local filesystem backend: `<root>/uploads/<id>` for uploads in progress and
//! `<root>/blobs/<algorithm>/<first two hex>/<hex>` for content. Both live under one root so
//! that committing an upload is an atomic rename.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::{absent, read::read_file, BlobBody, BlobStore, Chunk, Listed};
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, Result};

const WRITE_BUFFER: usize = 1 << 20;
/// Chunks written but not yet hashed, at most.
const HASH_QUEUE: usize = 8;
/// How many bytes an upload writes between two background write-backs.
const FLUSH_EVERY: usize = 16 << 20;

pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    /// Opens (and creates) a store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(root.join("uploads"))?;
        std::fs::create_dir_all(root.join("blobs"))?;
        Ok(FsStore { root })
    }

    // Upload ids are parsed as UUIDs before they get here, so they are safe path components.
    fn upload_path(&self, id: &str) -> PathBuf {
        self.root.join("uploads").join(id)
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(&hex[..2])
            .join(hex)
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("storage task failed: {e}")))?
}

fn write_body(
    path: &Path,
    offset: u64,
    body: mpsc::Receiver<Chunk>,
    hasher: Option<Hasher>,
) -> Result<(u64, Option<Hasher>)> {
    let mut file = OpenOptions::new().write(true).open(path)?;
    file.set_len(offset)?;
    file.seek(SeekFrom::Start(offset))?;
    let written = write_from(&mut file, offset, body, hasher);
    if written.is_err() {
        // A failed write (a full disk, say) leaves nothing past the offset: the upload is as it
        // was, and the space the partial chunk took is given back.
        file.set_len(offset).ok();
    }
    written
}

fn write_from(
    file: &mut File,
    offset: u64,
    mut body: mpsc::Receiver<Chunk>,
    hasher: Option<Hasher>,
) -> Result<(u64, Option<Hasher>)> {
    // A small body (most layers, every config) is hashed on this thread as it is written: no
    // thread to start, no hand-over per chunk. Past `HASH_INLINE` bytes, hashing moves to a
    // thread of its own beside the writer: one pass over the bytes, two cores. Past
    // `FLUSH_EVERY`, a third thread writes the page cache back to disk as the upload goes, so
    // the `fsync` that makes the finished blob durable has little left to do.
    std::thread::scope(|scope| {
        let mut hashing = match hasher {
            Some(h) => Hashing::Inline(h),
            None => Hashing::Off,
        };
        let mut flusher: Option<std::sync::mpsc::SyncSender<()>> = None;
        let mut size = offset;
        let mut unflushed = 0;
        let complete = loop {
            match body.blocking_recv() {
                Some(Chunk::Data(bytes)) => {
                    file.write_all(&bytes)?;
                    size += bytes.len() as u64;
                    unflushed += bytes.len();
                    if unflushed >= FLUSH_EVERY {
                        let tick = match &flusher {
                            Some(tick) => tick,
                            None => flusher.insert(spawn_flusher(file)?),
                        };
                        // A flush already under way covers these bytes too.
                        tick.try_send(()).ok();
                        unflushed = 0;
                    }
                    hashing = hashing.feed(scope, bytes, size - offset > HASH_INLINE)?;
                }
                Some(Chunk::End) => break true,
                None => break false,
            }
        };
        drop(flusher);
        let hasher = hashing.finish()?;
        if !complete {
            return Err(Error::new(
                crate::error::Code::BlobUploadInvalid,
                "request body ended early",
            ));
        }
        Ok((size, hasher))
    })
}

/// Bytes of one request hashed on the writing thread before hashing moves beside it.
const HASH_INLINE: u64 = 4 << 20;

/// Where a body's running hash is computed.
enum Hashing<'scope> {
    Off,
    Inline(Hasher),
    /// On a thread of its own, fed through a short queue: the hasher is the slower of the
    /// two, and what waits for it is memory.
    Beside(
        std::sync::mpsc::SyncSender<Bytes>,
        std::thread::ScopedJoinHandle<'scope, Hasher>,
    ),
}

impl<'scope> Hashing<'scope> {
    fn feed<'env>(
        self,
        scope: &'scope std::thread::Scope<'scope, 'env>,
        bytes: Bytes,
        large: bool,
    ) -> Result<Self> {
        Ok(match self {
            Hashing::Off => Hashing::Off,
            Hashing::Inline(mut h) if !large => {
                h.update(&bytes);
                Hashing::Inline(h)
            }
            Hashing::Inline(mut h) => {
                let (tx, chunks) = std::sync::mpsc::sync_channel::<Bytes>(HASH_QUEUE);
                let thread = scope.spawn(move || {
                    for chunk in chunks {
                        h.update(&chunk);
                    }
                    h
                });
                Hashing::Beside(tx, thread).feed(scope, bytes, large)?
            }
            Hashing::Beside(tx, thread) => {
                tx.send(bytes)
                    .map_err(|_| Error::internal("hasher stopped"))?;
                Hashing::Beside(tx, thread)
            }
        })
    }

    fn finish(self) -> Result<Option<Hasher>> {
        match self {
            Hashing::Off => Ok(None),
            Hashing::Inline(h) => Ok(Some(h)),
            Hashing::Beside(tx, thread) => {
                drop(tx);
                thread
                    .join()
                    .map(Some)
                    .map_err(|_| Error::internal("hasher thread panicked"))
            }
        }
    }
}

/// A thread that writes `file`'s dirty pages back each time it is told to; it ends when its
/// sender is dropped. Not joined: the write is done when its bytes are written, not when they
/// are on disk.
fn spawn_flusher(file: &File) -> Result<std::sync::mpsc::SyncSender<()>> {
    let flushed = file.try_clone()?;
    let (tick, ticks) = std::sync::mpsc::sync_channel::<()>(1);
    std::thread::spawn(move || {
        for () in ticks {
            // Best effort: the commit's own `fsync` is what durability rests on.
            flushed.sync_data().ok();
        }
    });
    Ok(tick)
}

#[async_trait]
impl BlobStore for FsStore {
    async fn create_upload(&self, id: &str) -> Result<()> {
        let path = self.upload_path(id);
        blocking(move || {
            File::create(path)?;
            Ok(())
        })
        .await
    }

    async fn upload_size(&self, id: &str) -> Result<Option<u64>> {
        match tokio::fs::metadata(self.upload_path(id)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn append(
        &self,
        id: &str,
        offset: u64,
        body: mpsc::Receiver<Chunk>,
        hasher: Option<Hasher>,
    ) -> Result<(u64, Option<Hasher>)> {
        let path = self.upload_path(id);
        blocking(move || write_body(&path, offset, body, hasher)).await
    }

    async fn hash_upload(&self, id: &str, algorithm: Algorithm) -> Result<Digest> {
        let path = self.upload_path(id);
        blocking(move || {
            let mut file = File::open(path)?;
            let mut hasher = Hasher::new(algorithm);
            let mut buf = vec![0u8; WRITE_BUFFER];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            Ok(hasher.finish())
        })
        .await
    }

    async fn commit(&self, id: &str, digest: &Digest) -> Result<()> {
        let from = self.upload_path(id);
        let to = self.blob_path(digest);
        blocking(move || {
            // Durable before it becomes visible: a crash after the rename must not leave a
            // blob whose bytes are still only in the page cache.
            File::open(&from)?.sync_all()?;
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // Stored now, whenever its bytes were written: the sweep of files no row names
            // goes by this time, and must not take a blob whose row is being written.
            File::options()
                .write(true)
                .open(&from)?
                .set_modified(std::time::SystemTime::now())?;
            std::fs::rename(&from, &to)?;
            if let Some(dir) = to.parent() {
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        })
        .await
    }

    async fn delete_upload(&self, id: &str) -> Result<()> {
        match tokio::fs::remove_file(self.upload_path(id)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn stat(&self, digest: &Digest) -> Result<Option<u64>> {
        match tokio::fs::metadata(self.blob_path(digest)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn read(&self, digest: &Digest, range: Range<u64>) -> Result<BlobBody> {
        let len = range.end.saturating_sub(range.start);
        match read_file(self.blob_path(digest), range.start, len).await {
            Ok(body) => Ok(Box::pin(body)),
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Err(absent(digest)),
            Err(e) => Err(e),
        }
    }

    async fn read_all(&self, digest: &Digest) -> Result<Bytes> {
        // One read on one blocking thread: cheaper than the read-ahead stream for the small
        // blobs this is for.
        match tokio::fs::read(self.blob_path(digest)).await {
            Ok(bytes) => Ok(bytes.into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(absent(digest)),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        match tokio::fs::remove_file(self.blob_path(digest)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn list_uploads(&self) -> Result<Vec<Listed>> {
        let dir = self.root.join("uploads");
        blocking(move || {
            Ok(files_in(&dir)?
                .into_iter()
                .filter(|(_, meta)| meta.is_file())
                .map(|(name, meta)| Listed {
                    name,
                    size: meta.len(),
                    modified: modified(&meta),
                })
                .collect())
        })
        .await
    }

    async fn list_blobs(&self) -> Result<Vec<Listed>> {
        let root = self.root.clone();
        blocking(move || list_blob_files(&root)).await
    }
}

/// When a file was last written, in Unix seconds.
fn modified(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// The files of `dir` (none if it does not exist), with their metadata.
fn files_in(dir: &Path) -> Result<Vec<(String, std::fs::Metadata)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        match entry.metadata() {
            Ok(meta) => out.push((name, meta)),
            // Deleted while the directory was read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

fn list_blob_files(root: &Path) -> Result<Vec<Listed>> {
    let mut out = Vec::new();
    for (algorithm, meta) in files_in(&root.join("blobs"))? {
        if !meta.is_dir() {
            continue;
        }
        for (prefix, meta) in files_in(&root.join("blobs").join(&algorithm))? {
            if !meta.is_dir() {
                continue;
            }
            for (hex, meta) in files_in(&root.join("blobs").join(&algorithm).join(&prefix))? {
                let name = format!("{algorithm}:{hex}");
                let named_right = hex.starts_with(&prefix) && name.parse::<Digest>().is_ok();
                if meta.is_file() && named_right {
                    out.push(Listed {
                        name,
                        size: meta.len(),
                        modified: modified(&meta),
                    });
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_blob_store_suite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsStore::open(dir.path()).expect("open");
        crate::storage::suite::run(&store).await;
    }
}
