//! The conformance suite every [`BlobStore`] backend passes: what the registry relies on, case
//! by case. A backend's tests call [`run`] on a fresh store (the filesystem store's do it on a
//! temporary directory); each case uses its own upload ids and bytes, so one store serves all.
//!
//! Cases panic on the first broken promise, naming it.

use std::ops::Range;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{BlobStore, Chunk};
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Code, Result};

/// Runs every case against `store`.
pub async fn run(store: &dyn BlobStore) {
    upload_commit_and_read(store).await;
    append_at_offset_cuts_the_torn_tail(store).await;
    body_cut_short_restores_the_upload(store).await;
    hash_upload_equals_the_streaming_hash(store).await;
    commit_of_a_missing_upload_fails(store).await;
    delete_upload_is_idempotent(store).await;
    deleted_blob_is_gone(store).await;
    absent_digest_is_unknown(store).await;
    read_past_the_end_fails(store).await;
    concurrent_commits_of_one_digest(store).await;
    listings_name_uploads_and_blobs(store).await;
}

fn upload_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

/// `len` bytes that differ from case to case and from position to position.
fn content(seed: u8, len: usize) -> Vec<u8> {
    let mut x = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn sha256(bytes: &[u8]) -> Digest {
    Digest::of(Algorithm::Sha256, bytes)
}

/// Appends `parts` at `offset`, ending the body with [`Chunk::End`] only if `end`.
async fn append(
    store: &dyn BlobStore,
    id: &str,
    offset: u64,
    parts: &[&[u8]],
    end: bool,
    hasher: Option<Hasher>,
) -> Result<(u64, Option<Hasher>)> {
    let (tx, rx) = mpsc::channel(2);
    let parts: Vec<Bytes> = parts.iter().map(|p| Bytes::copy_from_slice(p)).collect();
    // Fed while the store reads, as a request body is: more parts than the channel holds.
    let feed = async move {
        for p in parts {
            if tx.send(Chunk::Data(p)).await.is_err() {
                return;
            }
        }
        if end {
            tx.send(Chunk::End).await.ok();
        }
    };
    let ((), written) = tokio::join!(feed, store.append(id, offset, rx, hasher));
    written
}

/// Uploads `bytes` in one body and commits them as their sha256 digest.
async fn store_blob(store: &dyn BlobStore, bytes: &[u8]) -> Digest {
    let id = upload_id();
    let digest = sha256(bytes);
    store.create_upload(&id).await.expect("create an upload");
    append(store, &id, 0, &[bytes], true, None)
        .await
        .expect("append a whole body");
    store.commit(&id, &digest).await.expect("commit");
    digest
}

async fn read(store: &dyn BlobStore, digest: &Digest, range: Range<u64>) -> Vec<u8> {
    let mut body = store
        .read(digest, range.clone())
        .await
        .unwrap_or_else(|e| panic!("reading {range:?} of {digest}: {e}"));
    let mut out = Vec::new();
    while let Some(part) = body.next().await {
        let part = part.unwrap_or_else(|e| panic!("streaming {range:?} of {digest}: {e}"));
        out.extend_from_slice(&part);
        assert!(
            out.len() as u64 <= range.end - range.start,
            "reading {range:?} of {digest} gave more bytes than asked for"
        );
    }
    out
}

async fn upload_bytes(store: &dyn BlobStore, id: &str) -> Digest {
    store
        .hash_upload(id, Algorithm::Sha256)
        .await
        .expect("hash the upload")
}

/// An upload in several appends, committed, then read back whole and by ranges (across the
/// boundaries of whatever pieces the backend reads in).
pub async fn upload_commit_and_read(store: &dyn BlobStore) {
    let bytes = content(1, (5 << 20) / 2 + 7);
    let (first, second) = bytes.split_at(1 << 20);
    let id = upload_id();
    store.create_upload(&id).await.expect("create an upload");
    assert_eq!(
        store.upload_size(&id).await.expect("upload size"),
        Some(0),
        "a new upload is empty"
    );
    let (size, _) = append(store, &id, 0, &[&first[..1000], &first[1000..]], true, None)
        .await
        .expect("first append");
    assert_eq!(size, first.len() as u64, "append returns the new size");
    let (size, _) = append(
        store,
        &id,
        size,
        &second.chunks(300_000).collect::<Vec<_>>(),
        true,
        None,
    )
    .await
    .expect("second append");
    assert_eq!(size, bytes.len() as u64, "append returns the new size");
    assert_eq!(
        store.upload_size(&id).await.expect("upload size"),
        Some(size),
        "upload_size counts every appended byte"
    );
    let digest = sha256(&bytes);
    assert_eq!(
        store.stat(&digest).await.expect("stat"),
        None,
        "not stored before commit"
    );
    store.commit(&id, &digest).await.expect("commit");
    assert_eq!(
        store.upload_size(&id).await.expect("upload size"),
        None,
        "a committed upload is gone"
    );
    assert_eq!(
        store.stat(&digest).await.expect("stat"),
        Some(size),
        "stat gives the committed size"
    );
    assert!(
        read(store, &digest, 0..size).await == bytes,
        "the whole blob reads back"
    );
    let whole = store.read_all(&digest).await.expect("read_all");
    assert!(whole[..] == bytes[..], "read_all gives the whole blob");
    let mib = 1u64 << 20;
    for range in [
        0..1,
        5..17,
        mib - 3..mib + 3,
        mib..2 * mib + 1,
        size - 1..size,
        100..100,
    ] {
        let want = &bytes[range.start as usize..range.end as usize];
        assert!(
            read(store, &digest, range.clone()).await == want,
            "the range {range:?} reads back"
        );
    }
}

/// Appending at an offset short of the upload's size cuts off what lies past it: the remains of
/// an earlier write that was cut.
pub async fn append_at_offset_cuts_the_torn_tail(store: &dyn BlobStore) {
    let id = upload_id();
    store.create_upload(&id).await.expect("create an upload");
    append(store, &id, 0, &[b"hello ", b"world, torn"], true, None)
        .await
        .expect("first append");
    let (size, _) = append(store, &id, 6, &[b"berth"], true, None)
        .await
        .expect("append at an offset");
    assert_eq!(size, 11, "the size is the offset plus the appended bytes");
    assert_eq!(
        store.upload_size(&id).await.expect("upload size"),
        Some(11),
        "nothing of the torn tail is left"
    );
    assert_eq!(
        upload_bytes(store, &id).await,
        sha256(b"hello berth"),
        "the upload holds the bytes before the offset and the appended ones"
    );
    store.delete_upload(&id).await.expect("delete the upload");
}

/// A body that closes without [`Chunk::End`] was cut short: the append fails and the upload is
/// as it was before it.
pub async fn body_cut_short_restores_the_upload(store: &dyn BlobStore) {
    let id = upload_id();
    store.create_upload(&id).await.expect("create an upload");
    append(store, &id, 0, &[b"hello "], true, None)
        .await
        .expect("first append");
    let big = content(3, 3 << 20);
    let err = match append(store, &id, 6, &[b"garbage", &big], false, None).await {
        Ok((size, _)) => panic!("a body cut short was taken ({size} bytes)"),
        Err(e) => e,
    };
    assert_eq!(
        err.code(),
        Code::BlobUploadInvalid,
        "a body cut short is an invalid upload: {err}"
    );
    assert_eq!(
        store.upload_size(&id).await.expect("upload size"),
        Some(6),
        "the upload is back at the offset"
    );
    assert_eq!(upload_bytes(store, &id).await, sha256(b"hello "));
    // And it goes on from there.
    let (size, _) = append(store, &id, 6, &[b"again"], true, None)
        .await
        .expect("append after the cut");
    assert_eq!(size, 11);
    assert_eq!(upload_bytes(store, &id).await, sha256(b"hello again"));
    store.delete_upload(&id).await.expect("delete the upload");
}

/// The hash of an upload computed from storage equals the one computed while streaming, across
/// appends that carry the hasher on.
pub async fn hash_upload_equals_the_streaming_hash(store: &dyn BlobStore) {
    let bytes = content(4, (3 << 20) + 11);
    let (first, second) = bytes.split_at(bytes.len() / 3);
    let id = upload_id();
    store.create_upload(&id).await.expect("create an upload");
    let hasher = Some(Hasher::new(Algorithm::Sha256));
    let (size, hasher) = append(store, &id, 0, &[first], true, hasher)
        .await
        .expect("first append");
    let (_, hasher) = append(
        store,
        &id,
        size,
        &second.chunks(65_536).collect::<Vec<_>>(),
        true,
        hasher,
    )
    .await
    .expect("second append");
    let streamed = hasher.expect("the hasher is handed back").finish();
    assert_eq!(
        streamed,
        sha256(&bytes),
        "the streaming hash covers every byte"
    );
    assert_eq!(
        upload_bytes(store, &id).await,
        streamed,
        "hash_upload equals the streaming hash"
    );
    let sha512 = store
        .hash_upload(&id, Algorithm::Sha512)
        .await
        .expect("hash the upload with sha512");
    assert_eq!(
        sha512,
        Digest::of(Algorithm::Sha512, &bytes),
        "hash_upload uses the algorithm asked for"
    );
    store.delete_upload(&id).await.expect("delete the upload");
}

/// Committing an upload that does not exist fails and stores nothing.
pub async fn commit_of_a_missing_upload_fails(store: &dyn BlobStore) {
    let digest = sha256(&content(5, 100));
    assert!(
        store.commit(&upload_id(), &digest).await.is_err(),
        "committing a missing upload fails"
    );
    assert_eq!(
        store.stat(&digest).await.expect("stat"),
        None,
        "nothing is stored"
    );
    // Nor one deleted before.
    let id = upload_id();
    store.create_upload(&id).await.expect("create an upload");
    store.delete_upload(&id).await.expect("delete the upload");
    assert!(
        store.commit(&id, &digest).await.is_err(),
        "committing a deleted upload fails"
    );
    assert_eq!(
        store.stat(&digest).await.expect("stat"),
        None,
        "nothing is stored"
    );
}

/// Deleting an upload removes it; deleting it again, or one that never was, is no error.
pub async fn delete_upload_is_idempotent(store: &dyn BlobStore) {
    let id = upload_id();
    store.create_upload(&id).await.expect("create an upload");
    append(store, &id, 0, &[b"some bytes"], true, None)
        .await
        .expect("append");
    store.delete_upload(&id).await.expect("delete the upload");
    assert_eq!(
        store.upload_size(&id).await.expect("upload size"),
        None,
        "a deleted upload is gone"
    );
    store
        .delete_upload(&id)
        .await
        .expect("deleting a deleted upload is no error");
    store
        .delete_upload(&upload_id())
        .await
        .expect("deleting an upload that never was is no error");
}

/// A deleted blob is gone: no size, nothing to read. Deleting it again is no error.
pub async fn deleted_blob_is_gone(store: &dyn BlobStore) {
    let bytes = content(6, 4096);
    let digest = store_blob(store, &bytes).await;
    assert_eq!(store.stat(&digest).await.expect("stat"), Some(4096));
    store.delete(&digest).await.expect("delete the blob");
    assert_eq!(
        store.stat(&digest).await.expect("stat"),
        None,
        "a deleted blob has no size"
    );
    assert_unknown(store, &digest, 4096).await;
    store
        .delete(&digest)
        .await
        .expect("deleting a deleted blob is no error");
}

/// Uploads are listed by id and blobs by digest, with their sizes and a time no later than
/// now; what was deleted is no longer listed.
pub async fn listings_name_uploads_and_blobs(store: &dyn BlobStore) {
    let now = crate::clock::now();
    let id = upload_id();
    store.create_upload(&id).await.expect("create upload");
    append(store, &id, 0, &[&content(8, 100)], true, None)
        .await
        .expect("append");
    let uploads = store.list_uploads().await.expect("list uploads");
    let listed = uploads
        .iter()
        .find(|l| l.name == id)
        .expect("the upload is listed");
    assert_eq!(listed.size, 100);
    assert!(listed.modified <= now + 1, "written no later than now");
    let digest = store_blob(store, &content(9, 300)).await;
    let blobs = store.list_blobs().await.expect("list blobs");
    let listed = blobs
        .iter()
        .find(|l| l.name == digest.to_string())
        .expect("the blob is listed by its digest");
    assert_eq!(listed.size, 300);
    assert!(
        listed.modified >= now - 1,
        "a blob counts as written when it was stored"
    );
    store.delete(&digest).await.expect("delete");
    store.delete_upload(&id).await.expect("delete upload");
    assert!(!store
        .list_blobs()
        .await
        .expect("list blobs")
        .iter()
        .any(|l| l.name == digest.to_string()));
    assert!(!store
        .list_uploads()
        .await
        .expect("list uploads")
        .iter()
        .any(|l| l.name == id));
}

/// Reading a digest never stored fails as an unknown blob, before any byte.
pub async fn absent_digest_is_unknown(store: &dyn BlobStore) {
    let digest = sha256(&content(7, 10));
    assert_eq!(store.stat(&digest).await.expect("stat"), None);
    assert_unknown(store, &digest, 10).await;
}

async fn assert_unknown(store: &dyn BlobStore, digest: &Digest, size: u64) {
    match store.read(digest, 0..size).await {
        Ok(_) => panic!("reading absent blob {digest} succeeded"),
        Err(e) => assert_eq!(e.code(), Code::BlobUnknown, "reading an absent blob: {e}"),
    }
    match store.read_all(digest).await {
        Ok(_) => panic!("read_all of absent blob {digest} succeeded"),
        Err(e) => assert_eq!(
            e.code(),
            Code::BlobUnknown,
            "read_all of an absent blob: {e}"
        ),
    }
}

/// A range past the blob's end never comes back short: the stream ends with an error.
pub async fn read_past_the_end_fails(store: &dyn BlobStore) {
    let bytes = content(8, 1000);
    let digest = store_blob(store, &bytes).await;
    // Whether the backend refuses at once or fails the stream, no short body passes as whole.
    if let Ok(mut body) = store.read(&digest, 500..1500).await {
        let mut got = 0;
        let mut failed = false;
        while let Some(part) = body.next().await {
            match part {
                Ok(b) => got += b.len(),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed, "reading past the end gave {got} bytes and no error");
    }
}

/// Two uploads of the same bytes committed at once both succeed and leave one correct blob.
pub async fn concurrent_commits_of_one_digest(store: &dyn BlobStore) {
    let bytes = content(9, (1 << 20) + 333);
    let digest = sha256(&bytes);
    let (a, b) = (upload_id(), upload_id());
    for id in [&a, &b] {
        store.create_upload(id).await.expect("create an upload");
        append(store, id, 0, &[&bytes], true, None)
            .await
            .expect("append");
    }
    let (ca, cb) = tokio::join!(store.commit(&a, &digest), store.commit(&b, &digest));
    ca.expect("the first commit succeeds");
    cb.expect("the second commit succeeds");
    for id in [&a, &b] {
        assert_eq!(
            store.upload_size(id).await.expect("upload size"),
            None,
            "a committed upload is gone"
        );
    }
    assert_eq!(
        store.stat(&digest).await.expect("stat"),
        Some(bytes.len() as u64),
        "one blob of the right size"
    );
    let size = bytes.len() as u64;
    assert!(
        read(store, &digest, 0..size).await == bytes,
        "the blob reads back whole"
    );
    // A third commit of the same bytes, after the fact, is no different.
    let c = upload_id();
    store.create_upload(&c).await.expect("create an upload");
    append(store, &c, 0, &[&bytes], true, None)
        .await
        .expect("append");
    store
        .commit(&c, &digest)
        .await
        .expect("a later commit succeeds");
    assert!(
        read(store, &digest, 0..size).await == bytes,
        "the blob reads back whole"
    );
}
