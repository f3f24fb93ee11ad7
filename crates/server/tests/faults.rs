//! Faults: many clients racing on the same layer, tag and manifest; the data directory running
//! out of space. After each, the consistency checker (`common::check`) finds storage and
//! database in agreement, and Berth serves again without being restarted. Loopback only; every
//! wait is bounded.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::check::{blob_file_count, upload_file_count};
use common::*;
use futures::future::join_all;
use reqwest::{Method, StatusCode};

/// A manifest for `config` and `layer` (as pushed), told apart from its siblings by `n`.
fn manifest_for(config: &[u8], layer: &[u8], n: &str) -> Vec<u8> {
    image_manifest(
        (&sha256(config), config.len()),
        &[(&sha256(layer), layer.len())],
        &format!(r#","annotations":{{"n":"{n}"}}"#),
    )
}

/// Pulls `repo:reference` and checks the body against its digest; `None` if it is unknown.
async fn pull_manifest(app: &TestApp, repo: &str, reference: &str) -> Option<(String, Vec<u8>)> {
    let r = app
        .request(Method::GET, &format!("/v2/{repo}/manifests/{reference}"))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .expect("GET manifest");
    if r.status() == StatusCode::NOT_FOUND {
        assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
        return None;
    }
    assert_eq!(r.status(), StatusCode::OK, "GET {repo}:{reference}");
    let digest = header(&r, "docker-content-digest");
    let body = r.bytes().await.expect("body").to_vec();
    assert_eq!(sha256(&body), digest, "{repo}:{reference} is served whole");
    Some((digest, body))
}

/// Pulls a whole one-layer image: the manifest and every blob it names.
async fn pull_image(app: &TestApp, repo: &str, tag: &str) -> String {
    let (digest, body) = pull_manifest(app, repo, tag)
        .await
        .unwrap_or_else(|| panic!("{repo}:{tag} is missing"));
    let doc: serde_json::Value = serde_json::from_slice(&body).expect("manifest JSON");
    let mut blobs = vec![doc["config"]["digest"].as_str().expect("config").to_owned()];
    for l in doc["layers"].as_array().expect("layers") {
        blobs.push(l["digest"].as_str().expect("layer").to_owned());
    }
    for blob in blobs {
        let r = app.get(&format!("/v2/{repo}/blobs/{blob}")).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {repo} blob {blob}");
        assert_eq!(sha256(&r.bytes().await.expect("blob")), blob);
    }
    digest
}

async fn tag_list(app: &TestApp, repo: &str) -> Vec<String> {
    let v = app.json(&format!("/v2/{repo}/tags/list?n=1000")).await;
    v["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| t.as_str().expect("tag").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn fifty_pushes_of_one_layer_into_fifty_repositories_store_it_once() {
    let app = TestApp::start().await;
    let layer: Vec<u8> = (0..524_288u32).map(|i| (i % 247) as u8).collect();
    let pushes = (0..50).map(|i| {
        let (app, layer) = (&app, &layer);
        async move { app.push_image(&format!("same/repo{i}"), "v1", layer).await }
    });
    let pushed = join_all(pushes).await;
    for (i, (manifest, digest)) in pushed.iter().enumerate() {
        let repo = format!("same/repo{i}");
        assert_eq!(&pull_image(&app, &repo, "v1").await, digest);
        let (_, body) = pull_manifest(&app, &repo, digest).await.expect("by digest");
        assert_eq!(&body, manifest);
    }
    // One config and one layer, each stored once; no upload left behind.
    assert_eq!(blob_file_count(&app.config.data_dir), 2);
    assert_eq!(upload_file_count(&app.config.data_dir), 0);
    app.assert_consistent().await;
}

#[tokio::test]
async fn a_tag_pushed_and_deleted_at_once_is_never_dangling() {
    let app = TestApp::start().await;
    let repo = "race/push-delete";
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let layer = b"a small layer".to_vec();
    app.push_blob(repo, config).await;
    app.push_blob(repo, &layer).await;
    let (mut present, mut absent) = (0, 0);
    for i in 0..30 {
        let manifest = manifest_for(config, &layer, &i.to_string());
        let tag_path = format!("/v2/{repo}/manifests/t");
        let (put, delete) = tokio::join!(
            app.put_manifest(repo, "t", OCI_MANIFEST, &manifest),
            app.delete(&tag_path)
        );
        assert_eq!(put.status(), StatusCode::CREATED, "round {i}");
        assert!(
            [StatusCode::ACCEPTED, StatusCode::NOT_FOUND].contains(&delete.status()),
            "round {i}: DELETE answered {}",
            delete.status()
        );
        let listed = tag_list(&app, repo).await.contains(&"t".to_owned());
        match pull_manifest(&app, repo, "t").await {
            Some((digest, _)) => {
                assert_eq!(
                    digest,
                    sha256(&manifest),
                    "round {i}: the tag is this round's"
                );
                assert!(listed, "round {i}: a resolvable tag is listed");
                present += 1;
            }
            None => {
                assert!(!listed, "round {i}: an unresolvable tag is not listed");
                absent += 1;
            }
        }
        // The manifest itself is never lost with its tag.
        assert!(pull_manifest(&app, repo, &sha256(&manifest))
            .await
            .is_some());
    }
    assert_eq!(present + absent, 30);
    app.assert_consistent().await;
}

#[tokio::test]
async fn two_manifests_pushed_to_one_tag_at_once_leave_one_of_them_everywhere() {
    let app = TestApp::start().await;
    let repo = "race/two";
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let layer = b"another small layer".to_vec();
    app.push_blob(repo, config).await;
    app.push_blob(repo, &layer).await;
    for i in 0..20 {
        let a = manifest_for(config, &layer, &format!("a{i}"));
        let b = manifest_for(config, &layer, &format!("b{i}"));
        let (ra, rb) = tokio::join!(
            app.put_manifest(repo, "same", OCI_MANIFEST, &a),
            app.put_manifest(repo, "same", OCI_MANIFEST, &b)
        );
        assert_eq!(ra.status(), StatusCode::CREATED, "round {i}");
        assert_eq!(rb.status(), StatusCode::CREATED, "round {i}");
        let (digest, body) = pull_manifest(&app, repo, "same")
            .await
            .expect("the tag exists");
        assert!(
            digest == sha256(&a) || digest == sha256(&b),
            "round {i}: the tag names one of the two pushed"
        );
        assert_eq!(tag_list(&app, repo).await, vec!["same".to_owned()]);
        let view = app
            .json(&format!("/api/v1/repositories/{repo}/tags/same"))
            .await;
        assert_eq!(
            view["summary"]["digest"],
            digest.as_str(),
            "round {i}: the API agrees"
        );
        let shown: serde_json::Value =
            serde_json::from_str(view["manifest"].as_str().expect("manifest")).expect("JSON");
        let pulled: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            shown, pulled,
            "round {i}: the API shows the manifest pulled"
        );
    }
    app.assert_consistent().await;
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        assert!(
            is_root(),
            "this test mounts a tmpfs and needs root (scripts/test runs the suite as root)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount");
        assert!(status.success(), "mount -t tmpfs failed");
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: Berth may still hold files open while the test unwinds.
        Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status()
            .ok();
    }
}

/// Writes `path` until the filesystem is full; returns how much was written.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(path).expect("filler");
    let chunk = vec![0xa5u8; 1 << 20];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    written
}

async fn expect_storage_full(r: reqwest::Response, what: &str) {
    assert!(
        r.status().is_server_error(),
        "{what}: a full disk is the server's problem, not {}",
        r.status()
    );
    let body: serde_json::Value = r.json().await.expect("the registry's JSON error");
    let detail = body["errors"][0]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("storage is full"),
        "{what}: the error says why: {body}"
    );
}

#[tokio::test]
async fn a_full_disk_fails_the_push_cleanly_and_recovers_when_space_is_freed() {
    let disk = Tmpfs::mount("48m");
    let data = disk.path().join("data");
    let data_dir: PathBuf = data.clone();
    let app = TestApp::start_with(move |c| c.data_dir = data_dir).await;
    let earlier: Vec<u8> = (0..262_144u32).map(|i| (i % 233) as u8).collect();
    let (_, earlier_digest) = app.push_image("full/app", "v1", &earlier).await;
    // A chunked upload started before the disk fills.
    let loc = app.start_upload("full/chunked").await;

    let filler = disk.path().join("filler");
    let written = fill(&filler);
    assert!(written > 40 << 20, "the filler took most of the disk");
    // Leave 2 MiB free, less than the blob needs.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .and_then(|f| f.set_len(written - (2 << 20)))
        .expect("shrink filler");

    let blob: Vec<u8> = (0..8_388_608u32).map(|i| (i % 229) as u8).collect();
    let digest = sha256(&blob);
    let push = || {
        app.client
            .post(app.url(&format!("/v2/full/app/blobs/uploads/?digest={digest}")))
            .body(blob.clone())
            .send()
    };
    expect_storage_full(push().await.expect("monolithic push"), "monolithic").await;
    let r = app
        .client
        .patch(app.url(&loc))
        .header("Content-Range", format!("0-{}", blob.len() - 1))
        .body(blob.clone())
        .send()
        .await
        .expect("PATCH");
    expect_storage_full(r, "chunk").await;

    // Nothing half-written: no blob, no partial upload bytes, the chunked session still empty.
    let r = app.head(&format!("/v2/full/app/blobs/{digest}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let uploads: Vec<u64> = std::fs::read_dir(data.join("storage/uploads"))
        .expect("uploads")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .collect();
    assert_eq!(
        uploads,
        vec![0],
        "only the chunked session's (empty) file is left"
    );
    let r = app.get(&loc).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&r, "range"), "0-0");
    app.assert_consistent().await;
    // Reads still work on a full disk.
    assert_eq!(pull_image(&app, "full/app", "v1").await, earlier_digest);

    // Space freed: the same pushes succeed, with the same Berth.
    std::fs::remove_file(&filler).expect("remove filler");
    let r = push().await.expect("monolithic push");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .client
        .patch(app.url(&loc))
        .header("Content-Range", format!("0-{}", blob.len() - 1))
        .body(blob.clone())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = app
        .client
        .put(app.url(&with_digest(&location(&r), &digest)))
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), StatusCode::CREATED);
    for repo in ["full/app", "full/chunked"] {
        let r = app.get(&format!("/v2/{repo}/blobs/{digest}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(sha256(&r.bytes().await.expect("blob")), digest);
    }
    assert_eq!(upload_file_count(&data), 0);
    app.assert_consistent().await;
    drop(app);
    drop(disk);
}
