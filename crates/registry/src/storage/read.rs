//! Streaming a local file into a response body: a blocking thread reads large chunks ahead
//! while the socket drains the previous ones, so a pull costs a read and a send per megabyte,
//! never the whole blob in memory.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;

use crate::error::{Error, Result};

const CHUNK: usize = 1 << 20;
const READ_AHEAD: usize = 4;

/// The bytes `offset..offset + len` of a file, as a stream.
pub(super) struct FileStream {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
}

impl Stream for FileStream {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// Opens `path` (failing now if it is missing) and streams `len` bytes from `offset`.
pub(super) async fn read_file(path: PathBuf, offset: u64, len: u64) -> Result<FileStream> {
    let file = tokio::task::spawn_blocking(move || File::open(path))
        .await
        .map_err(|e| Error::internal(format!("storage task failed: {e}")))??;
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        if let Err(e) = file.seek(SeekFrom::Start(offset)) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        let mut left = len;
        while left > 0 {
            let want = CHUNK.min(left as usize);
            // `read_to_end` fills the vector's spare capacity as it is: no zeroing pass.
            let mut buf = Vec::with_capacity(want);
            let item = match (&mut file).take(want as u64).read_to_end(&mut buf) {
                Ok(0) => Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "blob shorter than recorded",
                )),
                Ok(n) => {
                    left -= n as u64;
                    Ok(Bytes::from(buf))
                }
                Err(e) => Err(e),
            };
            let failed = item.is_err();
            // The client went away: stop reading.
            if tx.blocking_send(item).is_err() || failed {
                break;
            }
        }
    });
    Ok(FileStream { rx })
}
