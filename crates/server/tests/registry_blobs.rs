//! Blob pulls and uploads through the registry API, as the OCI conformance suite drives them,
//! plus the edge cases around them: ranges, chunk order, cancel, mounts, sha512, wrong digests,
//! truncated bodies.

use crate::common;

use std::io::Write;
use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn base_endpoint_announces_the_api_version() {
    let app = TestApp::start().await;
    for path in ["/v2/", "/v2"] {
        let r = app.get(path).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            header(&r, "docker-distribution-api-version"),
            "registry/2.0"
        );
    }
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn monolithic_post_then_pull_with_ranges() {
    let app = TestApp::start().await;
    let blob: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let digest = sha256(&blob);
    let r = app
        .request(
            Method::POST,
            &format!("/v2/mono/blobs/uploads/?digest={digest}"),
        )
        .header("Content-Type", "application/octet-stream")
        .body(blob.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(location(&r), format!("/v2/mono/blobs/{digest}"));
    assert_eq!(header(&r, "docker-content-digest"), digest);

    let path = format!("/v2/mono/blobs/{digest}");
    let r = app.head(&path).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-length"), "1000");
    assert_eq!(header(&r, "docker-content-digest"), digest);
    assert_eq!(header(&r, "etag"), format!("\"{digest}\""));

    let r = app.get(&path).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.expect("body").as_ref(), blob.as_slice());

    let range = |spec: &'static str| app.request(Method::GET, &path).header("Range", spec).send();
    let r = range("bytes=10-19").await.expect("range");
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&r, "content-range"), "bytes 10-19/1000");
    assert_eq!(r.bytes().await.expect("body").as_ref(), &blob[10..20]);
    let r = range("bytes=-5").await.expect("suffix range");
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.expect("body").as_ref(), &blob[995..]);
    let r = range("bytes=990-").await.expect("open range");
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.expect("body").as_ref(), &blob[990..]);
    let r = range("bytes=5000-6000").await.expect("unsatisfiable");
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // The blob is served only through repositories it was pushed or mounted into.
    let r = app.get(&format!("/v2/other/blobs/{digest}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
}

#[tokio::test]
async fn unknown_and_malformed_blob_digests() {
    let app = TestApp::start().await;
    let dummy = sha256(b"hello world");
    for m in [Method::GET, Method::HEAD] {
        let r = app
            .request(m.clone(), &format!("/v2/repo/blobs/{dummy}"))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{m}");
    }
    let r = app.get(&format!("/v2/repo/blobs/{dummy}")).await;
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
    for bad in [
        "sha256:abc",
        "md5:1234",
        "nodigest",
        "sha256:..%2F..%2Fetc%2Fpasswd",
    ] {
        let r = app.get(&format!("/v2/repo/blobs/{bad}")).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_code(r).await, "DIGEST_INVALID", "{bad}");
    }
}

#[tokio::test]
async fn post_then_put_and_streamed_patch_then_empty_put() {
    let app = TestApp::start().await;
    // POST then PUT with the whole body.
    let digest = app.push_blob("stream", b"a config blob").await;
    let r = app.get(&format!("/v2/stream/blobs/{digest}")).await;
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"a config blob");

    // POST, PATCH without Content-Range (a stream), then PUT without a body.
    let blob = vec![42u8; 42];
    let loc = app.start_upload("stream").await;
    let r = app
        .client
        .patch(app.url(&loc))
        .header("Content-Type", "application/octet-stream")
        .body(blob.clone())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&r, "range"), "0-41");
    let id = header(&r, "docker-upload-uuid");
    let loc = location(&r);
    assert!(loc.ends_with(&id), "{loc} names the session {id}");
    let digest = sha256(&blob);
    let r = app
        .client
        .put(app.url(&with_digest(&loc, &digest)))
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(location(&r), format!("/v2/stream/blobs/{digest}"));
    let r = app.get(&format!("/v2/stream/blobs/{digest}")).await;
    assert_eq!(r.bytes().await.expect("body").as_ref(), blob.as_slice());
    // The finished session is gone.
    let r = app.get(&loc).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
}

async fn patch(app: &TestApp, loc: &str, range: &str, body: &[u8]) -> reqwest::Response {
    app.client
        .patch(app.url(loc))
        .header("Content-Type", "application/octet-stream")
        .header("Content-Range", range)
        .body(body.to_vec())
        .send()
        .await
        .expect("PATCH")
}

#[tokio::test]
async fn chunked_upload_enforces_chunk_order() {
    let app = TestApp::start().await;
    let blob: Vec<u8> = (0..42u8).collect();
    let (chunk1, chunk2) = blob.split_at(22);

    // Chunk 2 first: out of order.
    let loc = app.start_upload("chunks").await;
    let r = patch(&app, &loc, "22-41", chunk2).await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&r, "range"), "0-0");

    let post_loc = app.start_upload("chunks").await;
    let r = patch(&app, &post_loc, "0-21", chunk1).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&r, "range"), "0-21");
    // Retrying the same chunk is out of order now.
    let r = patch(&app, &post_loc, "0-21", chunk1).await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&r, "range"), "0-21");
    // A chunk whose length does not match its range is refused and leaves nothing behind.
    let r = patch(&app, &post_loc, "22-50", chunk2).await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // Upload status through the original location.
    let r = app.get(&post_loc).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&r, "range"), "0-21");
    let status_loc = location(&r);

    let r = patch(&app, &status_loc, "22-41", chunk2).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&r, "range"), "0-41");
    let digest = sha256(&blob);
    let r = app
        .client
        .put(app.url(&with_digest(&location(&r), &digest)))
        .header("Content-Length", "0")
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.get(&format!("/v2/chunks/blobs/{digest}")).await;
    assert_eq!(r.bytes().await.expect("body").as_ref(), blob.as_slice());
}

#[tokio::test]
async fn final_chunk_can_come_with_the_put() {
    let app = TestApp::start().await;
    let blob = b"first part, then the last part".to_vec();
    let loc = app.start_upload("lastput").await;
    let r = patch(&app, &loc, "0-10", &blob[..11]).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let digest = sha256(&blob);
    let r = app
        .client
        .put(app.url(&with_digest(&location(&r), &digest)))
        .header("Content-Range", format!("11-{}", blob.len() - 1))
        .body(blob[11..].to_vec())
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.get(&format!("/v2/lastput/blobs/{digest}")).await;
    assert_eq!(r.bytes().await.expect("body").as_ref(), blob.as_slice());
}

fn uploads_dir(app: &TestApp) -> std::path::PathBuf {
    app.config.data_dir.join("storage").join("uploads")
}

fn entries(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn cancelled_upload_is_gone() {
    let app = TestApp::start().await;
    let loc = app.start_upload("cancel").await;
    assert_eq!(
        patch(&app, &loc, "0-2", b"abc").await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(entries(&uploads_dir(&app)), 1);
    let r = app.delete(&loc).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(entries(&uploads_dir(&app)), 0);
    for m in [Method::GET, Method::PATCH, Method::PUT, Method::DELETE] {
        let r = app
            .request(m.clone(), &with_digest(&loc, &sha256(b"abc")))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{m} after cancel");
        assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
    }
}

#[tokio::test]
async fn an_upload_session_belongs_to_its_repository() {
    let app = TestApp::start().await;
    let loc = app.start_upload("owner/repo").await;
    let id = loc.rsplit('/').next().expect("id");
    for other in [
        format!("/v2/intruder/repo/blobs/uploads/{id}"),
        format!("/v2/owner/repo/blobs/uploads/{}", uuid::Uuid::new_v4()),
        "/v2/owner/repo/blobs/uploads/not-a-uuid".to_owned(),
        format!("/v2/owner/repo/blobs/uploads/{}", id.to_uppercase()),
    ] {
        for m in [Method::GET, Method::PATCH, Method::DELETE] {
            let r = app
                .request(m.clone(), &other)
                .body("x")
                .send()
                .await
                .expect("request");
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{m} {other}");
            assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
        }
    }
    // The rightful session is untouched.
    let r = app.get(&loc).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&r, "range"), "0-0");
}

#[tokio::test]
async fn a_wrong_digest_stores_nothing() {
    let app = TestApp::start().await;
    let claimed = sha256(b"what the client claims");
    let r = app
        .request(
            Method::POST,
            &format!("/v2/wrong/blobs/uploads/?digest={claimed}"),
        )
        .body("something else")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");

    let loc = app.start_upload("wrong").await;
    let r = app
        .client
        .put(app.url(&with_digest(&loc, &claimed)))
        .body("something else")
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    // The failed session is discarded, and neither digest names a blob.
    assert_eq!(app.get(&loc).await.status(), StatusCode::NOT_FOUND);
    for d in [claimed, sha256(b"something else")] {
        let r = app.head(&format!("/v2/wrong/blobs/{d}")).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(entries(&uploads_dir(&app)), 0);
    let blobs = app.config.data_dir.join("storage").join("blobs");
    assert_eq!(
        entries(&blobs),
        0,
        "no blob reached content-addressed storage"
    );

    // A PUT without a digest, or with a malformed one, is refused.
    let loc = app.start_upload("wrong").await;
    for q in ["", "?digest=sha256:zz"] {
        let r = app
            .client
            .put(app.url(&format!("{loc}{q}")))
            .send()
            .await
            .expect("PUT");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{q:?}");
        assert_eq!(error_code(r).await, "DIGEST_INVALID");
    }
}

#[tokio::test]
async fn a_truncated_body_stores_nothing() {
    let app = TestApp::start().await;
    let full = vec![7u8; 100_000];
    let digest = sha256(&full);
    let host = app.host();
    let auth = basic(ADMIN, &app.admin_token);
    let sent = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(&host).expect("connect");
        write!(
            s,
            "POST /v2/cut/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n",
            full.len()
        )
        .expect("headers");
        s.write_all(&full[..40_000]).expect("part of the body");
        s.flush().expect("flush");
        // Hang up half way.
    });
    sent.await.expect("client");
    // The server notices the hang-up on its own schedule: wait for it to clean up.
    // (It must have accepted the request first: an upload session was created.)
    let dir = uploads_dir(&app);
    let mut clean = false;
    for _ in 0..100 {
        if entries(&dir) == 0 {
            clean = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(clean, "the cut-short upload was discarded");
    let r = app
        .head(&format!("/v2/cut/blobs/{}", sha256(&vec![7u8; 100_000])))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sha512_digests_work_on_every_upload_path() {
    let app = TestApp::start().await;
    let blob = b"sha512 is optional in the spec and supported here".to_vec();
    let digest = sha512(&blob);
    let r = app
        .request(
            Method::POST,
            &format!("/v2/s512/blobs/uploads/?digest={digest}"),
        )
        .body(blob.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.get(&format!("/v2/s512/blobs/{digest}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "docker-content-digest"), digest);
    assert_eq!(r.bytes().await.expect("body").as_ref(), blob.as_slice());

    // Chunked: the running hash is sha256, so completion re-hashes with sha512.
    let other = b"another sha512 blob, in two chunks".to_vec();
    let loc = app.start_upload("s512").await;
    let r = patch(&app, &loc, "0-9", &other[..10]).await;
    let r = patch(
        &app,
        &location(&r),
        &format!("10-{}", other.len() - 1),
        &other[10..],
    )
    .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let d = sha512(&other);
    let r = app
        .client
        .put(app.url(&with_digest(&location(&r), &d)))
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.get(&format!("/v2/s512/blobs/{d}")).await;
    assert_eq!(r.bytes().await.expect("body").as_ref(), other.as_slice());
}

#[tokio::test]
async fn cross_repository_mounts() {
    let app = TestApp::start().await;
    let digest = app.push_blob("source", b"a shared layer").await;
    let dummy = sha256(b"hello world");

    // Without `from`: a plain new session.
    let r = app
        .request(
            Method::POST,
            &format!("/v2/target/blobs/uploads/?mount={dummy}"),
        )
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert!(location(&r).starts_with("/v2/target/blobs/uploads/"));

    let r = app
        .request(
            Method::POST,
            &format!("/v2/target/blobs/uploads/?mount={digest}&from=source"),
        )
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(location(&r), format!("/v2/target/blobs/{digest}"));
    let r = app.get(&location(&r)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"a shared layer");

    // A source without the blob, or an invalid source name: fall back to an upload session.
    for from in ["empty-source", "Not..Valid"] {
        let r = app
            .request(
                Method::POST,
                &format!("/v2/target2/blobs/uploads/?mount={digest}&from={from}"),
            )
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), StatusCode::ACCEPTED, "from={from}");
        assert!(location(&r).starts_with("/v2/target2/blobs/uploads/"));
    }
    let r = app.head(&format!("/v2/target2/blobs/{digest}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn blob_delete_unlinks_and_can_be_disabled() {
    let app = TestApp::start().await;
    let digest = app.push_blob("del", b"to be deleted").await;
    let r = app.delete(&format!("/v2/del/blobs/{digest}")).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(
        app.get(&format!("/v2/del/blobs/{digest}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let r = app.delete(&format!("/v2/del/blobs/{digest}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");

    let app = TestApp::start_with(|c| c.registry.delete_enabled = false).await;
    let digest = app.push_blob("keep", b"cannot be deleted").await;
    let r = app.delete(&format!("/v2/keep/blobs/{digest}")).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(r).await, "UNSUPPORTED");
    assert_eq!(
        app.get(&format!("/v2/keep/blobs/{digest}")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn repository_names_follow_the_grammar() {
    let app = TestApp::start().await;
    let long = "a".repeat(256);
    for name in ["a/../b", "..", "a/./b", "."] {
        let (status, body) =
            raw_request(&app.host(), "POST", &format!("/v2/{name}/blobs/uploads/")).await;
        assert_eq!(status, 400, "{name:?}");
        assert!(body.contains("NAME_INVALID"), "{name:?}: {body}");
    }
    for name in [
        "Upper",
        "a%2Fb",
        "a//b",
        "-lead",
        "trail_",
        long.as_str(),
        "",
    ] {
        let r = app
            .request(Method::POST, &format!("/v2/{name}/blobs/uploads/"))
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name:?}");
        assert_eq!(error_code(r).await, "NAME_INVALID", "{name:?}");
    }
    let ok = "a".repeat(255);
    for name in [ok.as_str(), "a/b/c", "my-app", "my__app", "v1.2/x"] {
        let r = app
            .request(Method::POST, &format!("/v2/{name}/blobs/uploads/"))
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{name:?}");
    }
}

#[tokio::test]
async fn unsupported_methods_and_paths_get_json_errors() {
    let app = TestApp::start().await;
    let r = app
        .request(Method::POST, "/v2/x/tags/list")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(r).await, "UNSUPPORTED");
    let r = app.get("/v2/x/nothing-here").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        header(&r, "docker-distribution-api-version"),
        "registry/2.0",
        "errors name the API version too"
    );
    assert_eq!(
        header(&r, "content-type"),
        "application/json",
        "errors are JSON"
    );
}
