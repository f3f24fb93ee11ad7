//! Faults: many clients racing on the same layer, tag and manifest; the data directory running
//! out of space; and the PostgreSQL server restarting, and staying away, under load. After
//! each, the consistency checker (`common::check`) finds storage and database in agreement, and
//! Berth serves again without being restarted. Loopback only; every wait is bounded.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::binary::*;
use common::check::{assert_consistent, blob_file_count, upload_file_count};
use common::pg::PgCluster;
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
    let app = TestApp::start_with(move |c| {
        if !backend_is_postgres() {
            // The default layout: the SQLite database in the data directory, on the same disk.
            c.database_url = format!("sqlite://{}?mode=rwc", data_dir.join("berth.db").display());
        }
        // Blobs in the data directory too, as by default.
        c.storage = berth::config::StorageConfig::Fs {
            root: data_dir.join("storage"),
        };
        c.data_dir = data_dir;
    })
    .await;
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

    // Full to the last byte: even the upload session's row may not fit (SQLite shares the disk).
    let filler = disk.path().join("filler2");
    fill(&filler);
    let small = b"a small blob that does not fit".to_vec();
    let r = app
        .client
        .post(app.url(&format!(
            "/v2/full/app/blobs/uploads/?digest={}",
            sha256(&small)
        )))
        .body(small.clone())
        .send()
        .await
        .expect("push on a full disk");
    expect_storage_full(r, "no space at all").await;
    assert_eq!(upload_file_count(&data), 0);
    assert_eq!(pull_image(&app, "full/app", "v1").await, earlier_digest);
    std::fs::remove_file(&filler).expect("remove filler");
    let r = app
        .client
        .post(app.url(&format!(
            "/v2/full/app/blobs/uploads/?digest={}",
            sha256(&small)
        )))
        .body(small)
        .send()
        .await
        .expect("push");
    assert_eq!(r.status(), StatusCode::CREATED);
    app.assert_consistent().await;
    drop(app);
    drop(disk);
}

/// What one request under load came to.
#[derive(Debug)]
enum Outcome {
    Ok,
    /// A 5xx with the JSON error body.
    CleanFailure(u16),
    Bad(String),
}

async fn judge(sent: Result<reqwest::Response, reqwest::Error>, what: &str) -> Outcome {
    let r = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Outcome::Bad(format!("{what}: no answer in time")),
        Err(e) => return Outcome::Bad(format!("{what}: {e}")),
    };
    let status = r.status();
    if status.is_success() {
        return Outcome::Ok;
    }
    let body = r.bytes().await.unwrap_or_default();
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    match json {
        Some(v) if status.is_server_error() && v["errors"][0]["code"].is_string() => {
            Outcome::CleanFailure(status.as_u16())
        }
        _ => Outcome::Bad(format!(
            "{what}: {status} {}",
            String::from_utf8_lossy(&body)
        )),
    }
}

/// How long a client waits for any one answer while the database is away: a request may wait
/// for a connection twice (3 s each), plus its work.
const REQUEST_BOUND: Duration = Duration::from_secs(10);
/// How long the database stays down in the long outage: past [`REQUEST_BOUND`].
const OUTAGE: Duration = Duration::from_secs(11);

#[tokio::test]
async fn berth_rides_out_a_postgres_restart_under_load() {
    let pg = PgCluster::start();
    let url = pg.url();
    let dir = tempfile::tempdir().expect("tempdir");
    create_admin(dir.path(), Some(&url));
    let port = free_port();
    let mut berth = start(dir.path(), Some(&url), port).await;
    let base = berth.base.clone();

    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/user/tokens"))
        .header("Authorization", auth())
        .json(&serde_json::json!({"name": "load", "scope": "read-write"}))
        .send()
        .await
        .expect("create token");
    assert_eq!(r.status(), StatusCode::CREATED);
    let token: serde_json::Value = r.json().await.expect("token");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        basic(ROOT, token["token"].as_str().expect("secret"))
            .parse()
            .expect("header"),
    );
    // The bound on any one request, outage or not.
    let bound = REQUEST_BOUND;
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .timeout(bound)
        .build()
        .expect("client");

    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let layer = b"load layer".to_vec();
    for blob in [&config[..], &layer[..]] {
        push_blob_to(&client, &base, "load/app", blob).await;
    }
    let r = client
        .put(format!("{base}/v2/load/app/manifests/v1"))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest_for(config, &layer, "v1"))
        .send()
        .await
        .expect("push manifest");
    assert_eq!(r.status(), StatusCode::CREATED);

    let stop = Arc::new(AtomicBool::new(false));
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let mut workers = Vec::new();
    for worker in 0..4 {
        let (client, base, stop, outcomes) =
            (client.clone(), base.clone(), stop.clone(), outcomes.clone());
        let layer = layer.clone();
        workers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let outcome = if worker % 2 == 0 {
                    let sent = client
                        .get(format!("{base}/v2/load/app/manifests/v1"))
                        .header("Accept", OCI_MANIFEST)
                        .send()
                        .await;
                    judge(sent, "pull").await
                } else {
                    let sent = client
                        .put(format!("{base}/v2/load/app/manifests/w{worker}-{i}"))
                        .header("Content-Type", OCI_MANIFEST)
                        .body(manifest_for(config, &layer, &format!("{worker}-{i}")))
                        .send()
                        .await;
                    judge(sent, "push").await
                };
                outcomes.lock().expect("lock").push(outcome);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let before = outcomes.lock().expect("lock").len();
    let restarting = Instant::now();
    let pg = tokio::task::spawn_blocking(move || {
        pg.restart();
        pg
    })
    .await
    .expect("pg_ctl restart");
    let restart_took = restarting.elapsed();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let after_restart = outcomes.lock().expect("lock").len();
    assert!(
        outcomes.lock().expect("lock")[before..]
            .iter()
            .any(|o| matches!(o, Outcome::Ok)),
        "requests succeed again after the restart"
    );

    // A longer outage: down for longer than Berth waits for a database connection, and longer
    // than a client waits for an answer.
    let pg = tokio::task::spawn_blocking(move || {
        pg.stop();
        pg
    })
    .await
    .expect("pg_ctl stop");
    tokio::time::sleep(OUTAGE).await;
    let pg = tokio::task::spawn_blocking(move || {
        pg.start_again();
        pg
    })
    .await
    .expect("pg_ctl start");
    let restarted = Instant::now();
    // The load goes on for a while with the server back.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        tokio::time::timeout(bound + Duration::from_secs(5), w)
            .await
            .expect("a worker hung")
            .expect("worker");
    }
    berth.assert_running();

    let outcomes = std::mem::take(&mut *outcomes.lock().expect("lock"));
    let bad: Vec<&String> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Bad(why) => Some(why),
            _ => None,
        })
        .collect();
    let failed: Vec<u16> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::CleanFailure(status) => Some(*status),
            _ => None,
        })
        .collect();
    assert!(
        bad.is_empty(),
        "requests that did not fail cleanly: {bad:?} (and {} clean 5xx)",
        failed.len()
    );
    eprintln!(
        "{} requests under load, {} of them a clean 5xx {failed:?}; restart took {restart_took:?}",
        outcomes.len(),
        failed.len()
    );
    assert!(before > 0, "the load ran before the restart");
    assert!(
        !failed.is_empty(),
        "an outage longer than any request may wait is answered with errors"
    );
    assert!(after_restart > before);
    assert!(
        matches!(outcomes.last(), Some(Outcome::Ok)),
        "the load recovered: {:?}",
        &outcomes[outcomes.len().saturating_sub(5)..]
    );

    // Ready again, without restarting Berth, and serving pushes and pulls.
    let probe = reqwest::Client::new();
    loop {
        let r = probe.get(format!("{base}/readyz")).send().await;
        if r.is_ok_and(|r| r.status() == StatusCode::OK) {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "/readyz never answered 200 again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = client
        .put(format!("{base}/v2/load/app/manifests/after"))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest_for(config, &layer, "after"))
        .send()
        .await
        .expect("push after");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = client
        .get(format!("{base}/v2/load/app/manifests/after"))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .expect("pull after");
    assert_eq!(r.status(), StatusCode::OK);
    berth.assert_running();
    assert_consistent(&url, &dir.path().join("data")).await;
    drop(berth);
    drop(pg);
}
