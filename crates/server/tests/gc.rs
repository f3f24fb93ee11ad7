//! Garbage collection: what it keeps, what it frees, `berth gc` on the command line, the
//! administrators' API, and collections running again and again under concurrent pushes, or
//! killed half-way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{
    self, error_code, image_manifest, run_command, sha256, TestApp, ADMIN, OCI_INDEX, OCI_MANIFEST,
};

/// `len` bytes that differ with `seed`.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Stamps written this second count as older than a collection started after it: wait for
/// the clock's next second.
async fn next_second() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

/// Pushes a config and the layers (each uploaded unless the repository has it), then the
/// manifest under `reference`; the manifest's digest and bytes.
async fn push(
    app: &TestApp,
    repo: &str,
    reference: &str,
    layers: &[Vec<u8>],
    extra: &str,
) -> (String, Vec<u8>) {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","n":"{reference}"}}"#);
    let config_digest = app.push_blob(repo, config.as_bytes()).await;
    let mut refs = Vec::new();
    for layer in layers {
        refs.push((app.push_blob(repo, layer).await, layer.len()));
    }
    let refs: Vec<(&str, usize)> = refs.iter().map(|(d, n)| (d.as_str(), *n)).collect();
    let manifest = image_manifest((&config_digest, config.len()), &refs, extra);
    let r = app
        .put_manifest(repo, reference, OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "push {repo}:{reference}");
    (sha256(&manifest), manifest)
}

fn index_of(children: &[(&str, usize)]) -> Vec<u8> {
    let manifests: Vec<String> = children
        .iter()
        .map(|(d, n)| {
            format!(
                r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":{n},"platform":{{"architecture":"amd64","os":"linux"}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        manifests.join(",")
    )
    .into_bytes()
}

async fn manifest_status(app: &TestApp, repo: &str, reference: &str) -> StatusCode {
    app.head(&format!("/v2/{repo}/manifests/{reference}"))
        .await
        .status()
}

async fn blob_status(app: &TestApp, repo: &str, digest: &str) -> StatusCode {
    app.head(&format!("/v2/{repo}/blobs/{digest}"))
        .await
        .status()
}

/// The bytes of every file under the app's blob storage.
fn stored_bytes(app: &TestApp) -> u64 {
    fn walk(dir: &std::path::Path) -> u64 {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => walk(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    }
    walk(&app.config.data_dir.join("storage"))
}

async fn assert_no_garbage(app: &TestApp, cutoff: i64) {
    let left = common::check::garbage(&app.config.database_url, &app.config.data_dir, cutoff).await;
    assert!(
        left.is_empty(),
        "garbage left behind:\n  {}",
        left.join("\n  ")
    );
}

#[tokio::test]
async fn a_collection_keeps_what_is_reachable_and_frees_the_rest() {
    let app = TestApp::start_with(|c| c.gc.untagged_after = Some(Duration::ZERO)).await;
    let repo = format!("{ADMIN}/app");
    let layer = |n: u64| noise(n, 32 << 10);

    let (tagged, _) = push(&app, &repo, "v1", &[layer(1)], "").await;
    // v2 moves on: its first manifest and the layer only it used become garbage.
    let (moved_away, _) = push(&app, &repo, "v2", &[layer(1), layer(2)], "").await;
    let (current, _) = push(&app, &repo, "v2", &[layer(3)], "").await;
    // An index tagged `multi` whose platforms have no tags of their own.
    let (amd, amd_bytes) = push(&app, &repo, "scratch-amd", &[layer(4)], "").await;
    let (arm, arm_bytes) = push(&app, &repo, "scratch-arm", &[layer(5)], "").await;
    let index = index_of(&[(&amd, amd_bytes.len()), (&arm, arm_bytes.len())]);
    let r = app.put_manifest(&repo, "multi", OCI_INDEX, &index).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    for scratch in ["scratch-amd", "scratch-arm"] {
        let r = app.delete(&format!("/v2/{repo}/manifests/{scratch}")).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    // A referrer of the tagged image, untagged; and one whose subject is gone.
    let subject =
        |d: &str| format!(r#","subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":1}}"#);
    let (referrer, _) = push(&app, &repo, "ref-tmp", &[layer(6)], &subject(&tagged)).await;
    let (orphan_referrer, _) = push(
        &app,
        &repo,
        "orphan-tmp",
        &[layer(7)],
        &subject(&moved_away),
    )
    .await;
    // A signed image kept only by its cosign signature's tag.
    let (signed, _) = push(&app, &repo, "signed-tmp", &[layer(8)], "").await;
    let sig_tag = format!("{}.sig", signed.replace(':', "-"));
    push(&app, &repo, &sig_tag, &[layer(9)], "").await;
    for tmp in ["ref-tmp", "orphan-tmp", "signed-tmp"] {
        let r = app.delete(&format!("/v2/{repo}/manifests/{tmp}")).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    // A blob pushed and never used.
    let unused = app.push_blob(&repo, &noise(99, 10 << 10)).await;
    next_second().await;

    let dry = app.gc(true, Duration::ZERO).await;
    assert!(dry.dry_run);
    assert_eq!(
        manifest_status(&app, &repo, &moved_away).await,
        StatusCode::OK,
        "a dry run deletes nothing"
    );
    let done = app.gc(false, Duration::ZERO).await;
    assert_eq!(
        (done.manifests_deleted, done.blobs_deleted, done.bytes_freed),
        (dry.manifests_deleted, dry.blobs_deleted, dry.bytes_freed),
        "the dry run reported what the run freed"
    );
    assert_eq!(done.manifests_deleted, 2, "{done:?}");
    // Layers 2 and 7, the unused blob, and the orphaned referrer's config (the first v2's
    // config is the current v2's too).
    assert_eq!(done.blobs_deleted, 4, "{done:?}");

    for gone in [&moved_away, &orphan_referrer] {
        assert_eq!(
            manifest_status(&app, &repo, gone).await,
            StatusCode::NOT_FOUND
        );
    }
    for kept in [&tagged, &current, &amd, &arm, &referrer, &signed] {
        assert_eq!(
            manifest_status(&app, &repo, kept).await,
            StatusCode::OK,
            "{kept} is reachable"
        );
    }
    assert_eq!(
        blob_status(&app, &repo, &sha256(&layer(1))).await,
        StatusCode::OK
    );
    assert_eq!(
        blob_status(&app, &repo, &sha256(&layer(2))).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        blob_status(&app, &repo, &unused).await,
        StatusCode::NOT_FOUND
    );
    app.assert_consistent().await;
    assert_no_garbage(&app, berth_registry::clock::now()).await;

    // Nothing more to free: a second run deletes nothing.
    let again = app.gc(false, Duration::ZERO).await;
    assert_eq!((again.manifests_deleted, again.blobs_deleted), (0, 0));
}

#[tokio::test]
async fn untagged_manifests_and_new_blobs_wait_out_their_periods() {
    // Defaults: untagged manifests are kept 7 days, unreferenced blobs an hour.
    let app = TestApp::start().await;
    let repo = format!("{ADMIN}/young");
    let (first, _) = push(&app, &repo, "latest", &[noise(1, 1000)], "").await;
    push(&app, &repo, "latest", &[noise(2, 1000)], "").await;
    let unused = app.push_blob(&repo, &noise(3, 1000)).await;
    next_second().await;
    let report = app.gc(false, Duration::from_secs(3600)).await;
    assert_eq!((report.manifests_deleted, report.blobs_deleted), (0, 0));
    assert_eq!(manifest_status(&app, &repo, &first).await, StatusCode::OK);
    assert_eq!(blob_status(&app, &repo, &unused).await, StatusCode::OK);
}

#[tokio::test]
async fn abandoned_uploads_are_removed_with_their_bytes() {
    let app = TestApp::start_with(|c| c.gc.uploads_after = Duration::from_secs(1)).await;
    let repo = format!("{ADMIN}/uploads");
    let old = app.start_upload(&repo).await;
    let r = app
        .client
        .patch(app.url(&old))
        .header("Content-Type", "application/octet-stream")
        .body(noise(1, 4096))
        .send()
        .await
        .expect("PATCH");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let fresh = app.start_upload(&repo).await;
    assert_eq!(common::check::upload_file_count(&app.config.data_dir), 2);
    let report = app.gc(false, Duration::from_secs(3600)).await;
    assert_eq!(report.uploads_deleted, 1, "{report:?}");
    assert_eq!(common::check::upload_file_count(&app.config.data_dir), 1);
    let r = app.get(&old).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(app.get(&fresh).await.status(), StatusCode::NO_CONTENT);
}

fn gc_command(app: &TestApp, extra: &[&str]) -> tokio::process::Command {
    gc_command_with(app, extra, std::path::Path::new("/dev/null"))
}

/// `berth gc` on the app's data with the configuration file `config`.
fn gc_command_with(
    app: &TestApp,
    extra: &[&str],
    config: &std::path::Path,
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.arg("gc")
        .args(extra)
        .args(["--database-url", &app.config.database_url])
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(&app.config.data_dir)
        .env_remove("BERTH_DATABASE_URL")
        .env_remove("BERTH_DATA_DIR")
        .env_remove("BERTH_CONFIG");
    cmd
}

/// The number after `label` in `berth gc`'s summary.
fn summary_number(out: &str, label: &str) -> u64 {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in:\n{out}"))
}

#[tokio::test]
async fn deleting_a_repository_frees_its_bytes_with_berth_gc() {
    let app = TestApp::start().await;
    let repo = format!("{ADMIN}/big");
    push(
        &app,
        &repo,
        "v1",
        &[noise(1, 1 << 20), noise(2, 1 << 20)],
        "",
    )
    .await;
    push(
        &app,
        &format!("{ADMIN}/keep"),
        "stays",
        &[noise(3, 4096)],
        "",
    )
    .await;
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/repositories/{repo}")))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    next_second().await;
    let before = stored_bytes(&app);

    let dry = run_command(gc_command(&app, &["--dry-run", "--grace", "0s"])).await;
    assert!(dry.status.success(), "{}", dry.stderr_text());
    let dry_out = dry.stdout_text();
    assert!(dry_out.contains("would free"), "{dry_out}");
    assert_eq!(stored_bytes(&app), before, "a dry run deletes nothing");

    let run = run_command(gc_command(&app, &["--grace", "0s"])).await;
    assert!(run.status.success(), "{}", run.stderr_text());
    let out = run.stdout_text();
    let freed = before - stored_bytes(&app);
    assert!(freed >= 2 << 20, "freed {freed} bytes:\n{out}");
    for label in ["manifests:", "blob links:"] {
        assert_eq!(summary_number(&out, label), summary_number(&dry_out, label));
    }
    let blobs = |text: &str| {
        let line = text
            .lines()
            .find(|l| l.contains(" in ") && l.contains("blobs"))
            .unwrap_or_default()
            .to_owned();
        line.split(" in ").nth(1).unwrap_or_default().to_owned()
    };
    assert_eq!(blobs(&out), blobs(&dry_out), "{dry_out}\n{out}");
    assert_eq!(blobs(&out), "3 blobs", "two layers and the config:\n{out}");
    assert_eq!(
        manifest_status(&app, &format!("{ADMIN}/keep"), "stays").await,
        StatusCode::OK
    );
    app.assert_consistent().await;

    // While another collection holds the lock, `berth gc` says so and exits 75.
    let lock = berth_registry::lifecycle::gc::Lock::try_acquire(
        &app.state.registry,
        &app.config.gc.lock_file,
    )
    .await
    .expect("lock")
    .expect("free");
    let busy = run_command(gc_command(&app, &[])).await;
    assert_eq!(busy.status.code(), Some(75), "{}", busy.stderr_text());
    assert!(busy
        .stderr_text()
        .contains("another garbage collection is running"));
    lock.release().await;
    let bad = run_command(gc_command(&app, &["--grace", "soon"])).await;
    assert_eq!(bad.status.code(), Some(2), "a usage error");
}

#[tokio::test]
async fn site_administrators_run_and_review_collections_through_the_api() {
    let app = TestApp::start().await;
    let r = app
        .client
        .post(app.url("/api/v1/admin/gc"))
        .json(&json!({"dry_run": true, "grace": "0s"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::OK);
    let report: serde_json::Value = r.json().await.expect("json");
    assert_eq!(report["dry_run"], true);
    assert!(report["bytes_freed"].is_u64());

    let r = app
        .client
        .post(app.url("/api/v1/admin/gc"))
        .json(&json!({"grace": "later"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let status = app.json("/api/v1/admin/gc").await;
    assert_eq!(status["grace"], "1h");
    assert_eq!(status["schedule"], "1d");
    assert_eq!(status["untagged_after"], "7d");
    let run = &status["runs"][0];
    assert_eq!(run["dry_run"], true);
    assert_eq!(run["status"], "done");
    assert_eq!(run["trigger"], "api");
    assert_eq!(run["actor"], ADMIN);
    let audit = berth_accounts::audit::recent(&app.state.accounts.db, 10)
        .await
        .expect("audit");
    assert!(audit.iter().any(|e| e.action == "gc.dry_run"));

    let bob = common::sign_up_basic(&app, "bobby").await;
    for (method, expected) in [
        (reqwest::Method::GET, StatusCode::FORBIDDEN),
        (reqwest::Method::POST, StatusCode::FORBIDDEN),
    ] {
        let r = app
            .anonymous
            .request(method.clone(), app.url("/api/v1/admin/gc"))
            .header("Authorization", &bob)
            .json(&json!({}))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), expected, "{method} as a user");
        let r = app
            .anonymous
            .request(method.clone(), app.url("/api/v1/admin/gc"))
            .json(&json!({}))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} anonymously");
    }
}

/// What one pusher has had acknowledged: tag → (manifest digest, the blobs it needs).
type Acknowledged = HashMap<(String, String), (String, Vec<(String, Vec<u8>)>)>;

/// One pusher of the soak: pushes images sharing layers under its own tags, retags them and
/// deletes some, until `until`; records what the registry acknowledged.
async fn pusher(
    app: Arc<TestApp>,
    me: usize,
    until: Instant,
    shared: Arc<Vec<Vec<u8>>>,
    acknowledged: Arc<Mutex<Acknowledged>>,
) -> (u64, u64) {
    let (mut pushes, mut refused) = (0u64, 0u64);
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        let repo = format!("{ADMIN}/soak{}", (me + n as usize) % 3);
        let tag = format!("p{me}-{}", n % 5);
        let unique = noise((me as u64) << 32 | n, 8 << 10);
        let config =
            format!(r#"{{"architecture":"amd64","os":"linux","p":"{me}-{n}"}}"#).into_bytes();
        let layers = [
            shared[(me + n as usize) % shared.len()].clone(),
            shared[(me * 3 + n as usize) % shared.len()].clone(),
            unique,
        ];
        let mut blobs = vec![(sha256(&config), config.clone())];
        for l in &layers {
            let d = sha256(l);
            if !blobs.iter().any(|(x, _)| *x == d) {
                blobs.push((d, l.clone()));
            }
        }
        // As clients do: upload only what the repository does not answer for.
        let mut uploaded = true;
        for (digest, bytes) in &blobs {
            if blob_status(&app, &repo, digest).await == StatusCode::OK {
                continue;
            }
            let r = app
                .client
                .post(app.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")))
                .body(bytes.clone())
                .send()
                .await
                .expect("upload");
            uploaded &= r.status() == StatusCode::CREATED;
        }
        if !uploaded {
            refused += 1;
            continue;
        }
        let refs: Vec<(&str, usize)> = blobs[1..]
            .iter()
            .map(|(d, b)| (d.as_str(), b.len()))
            .collect();
        let refs: Vec<(&str, usize)> = layers
            .iter()
            .map(|l| {
                let d = sha256(l);
                *refs.iter().find(|(x, _)| *x == d).expect("listed")
            })
            .collect();
        let manifest = image_manifest((&blobs[0].0, config.len()), &refs, "");
        let r = app.put_manifest(&repo, &tag, OCI_MANIFEST, &manifest).await;
        if r.status() != StatusCode::CREATED {
            // A blob the repository answered for was collected before the manifest came:
            // the push fails cleanly, as it would for any client, and is not acknowledged.
            assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
            refused += 1;
            continue;
        }
        pushes += 1;
        let digest = sha256(&manifest);
        acknowledged
            .lock()
            .expect("lock")
            .insert((repo.clone(), tag.clone()), (digest.clone(), blobs.clone()));
        match n % 7 {
            // Retag: the same manifest under a second tag.
            0 | 3 => {
                let other = format!("p{me}-r{}", n % 4);
                let r = app
                    .put_manifest(&repo, &other, OCI_MANIFEST, &manifest)
                    .await;
                if r.status() == StatusCode::CREATED {
                    acknowledged
                        .lock()
                        .expect("lock")
                        .insert((repo.clone(), other), (digest, blobs));
                }
            }
            // Delete the tag again.
            5 => {
                let r = app.delete(&format!("/v2/{repo}/manifests/{tag}")).await;
                assert_eq!(r.status(), StatusCode::ACCEPTED);
                acknowledged.lock().expect("lock").remove(&(repo, tag));
            }
            _ => {}
        }
    }
    (pushes, refused)
}

/// For `BERTH_GC_SOAK_SECS` seconds (10 unless set; `scripts/test` sets 60), 8 pushers push
/// images that share layers, retag them and delete some, while collections run back to back
/// with a 1 s grace and untagged manifests kept 1 s. Every tag whose push was acknowledged
/// then pulls back byte for byte, and storage is consistent with no garbage older than the
/// grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn collections_under_concurrent_pushes_lose_nothing_acknowledged() {
    let secs: u64 = std::env::var("BERTH_GC_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let app =
        Arc::new(TestApp::start_with(|c| c.gc.untagged_after = Some(Duration::from_secs(1))).await);
    let shared: Arc<Vec<Vec<u8>>> = Arc::new((0..6).map(|i| noise(1000 + i, 16 << 10)).collect());
    let acknowledged = Arc::new(Mutex::new(Acknowledged::new()));
    let until = Instant::now() + Duration::from_secs(secs);
    let pushers: Vec<_> = (0..8)
        .map(|me| {
            tokio::spawn(pusher(
                app.clone(),
                me,
                until,
                shared.clone(),
                acknowledged.clone(),
            ))
        })
        .collect();
    let mut collections = 0;
    let mut freed = 0;
    while Instant::now() < until {
        let report = app.gc(false, Duration::from_secs(1)).await;
        collections += 1;
        freed += report.blobs_deleted;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mut pushes, mut refused) = (0, 0);
    for p in pushers {
        let (p, r) = p.await.expect("pusher");
        pushes += p;
        refused += r;
    }
    println!("{pushes} pushes acknowledged, {refused} refused, {collections} collections freed {freed} blobs");
    assert!(pushes > 50, "the pushers got through: {pushes}");
    assert!(
        collections >= 3 && freed > 0,
        "collections ran and freed something"
    );

    let acknowledged = acknowledged.lock().expect("lock").clone();
    for ((repo, tag), (digest, blobs)) in &acknowledged {
        let r = app
            .client
            .get(app.url(&format!("/v2/{repo}/manifests/{tag}")))
            .header("Accept", OCI_MANIFEST)
            .send()
            .await
            .expect("GET manifest");
        assert_eq!(r.status(), StatusCode::OK, "{repo}:{tag} was acknowledged");
        let body = r.bytes().await.expect("body");
        assert_eq!(&sha256(&body), digest, "{repo}:{tag}");
        for (blob, bytes) in blobs {
            let r = app.get(&format!("/v2/{repo}/blobs/{blob}")).await;
            assert_eq!(r.status(), StatusCode::OK, "{repo}:{tag} needs {blob}");
            assert_eq!(&r.bytes().await.expect("blob")[..], &bytes[..], "{blob}");
        }
    }
    if cfg!(feature = "e2e") {
        pull_back_with_skopeo(&app, &acknowledged).await;
    }
    app.assert_consistent().await;
    // Once quiet, a collection leaves no garbage older than its grace.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cutoff = berth_registry::clock::now() - 1;
    app.gc(false, Duration::from_secs(1)).await;
    assert_no_garbage(&app, cutoff).await;
    app.assert_consistent().await;
}

/// Copies acknowledged tags (up to 24 of them) with skopeo to `dir:` layouts and compares what
/// arrived, byte for byte, with what was pushed.
async fn pull_back_with_skopeo(app: &TestApp, acknowledged: &Acknowledged) {
    let skopeo = common::skopeo::Skopeo::new();
    skopeo.login(app).await;
    let mut tags: Vec<_> = acknowledged.iter().collect();
    tags.sort_by(|a, b| a.0.cmp(b.0));
    for ((repo, tag), (digest, blobs)) in tags.into_iter().take(24) {
        let out = tempfile::tempdir().expect("dir: tempdir");
        let target = format!("dir:{}", common::skopeo::path_str(out.path()));
        skopeo
            .ok(&[
                "copy",
                "--src-tls-verify=false",
                &format!("docker://{}/{repo}:{tag}", app.host()),
                &target,
            ])
            .await;
        let manifest = std::fs::read(out.path().join("manifest.json")).expect("manifest.json");
        assert_eq!(&sha256(&manifest), digest, "skopeo pulled {repo}:{tag}");
        for (blob, bytes) in blobs {
            let hex = &blob["sha256:".len()..];
            let copied = std::fs::read(out.path().join(hex)).expect("a copied blob");
            assert_eq!(&copied, bytes, "{repo}:{tag} {blob}");
        }
    }
}

/// Writes `count` blob files straight into storage with rows that nothing references, the
/// even ones still linked into `repo`, all stamped long ago.
async fn plant_garbage(app: &TestApp, repo: &str, count: u64) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&app.config.database_url)
        .await
        .expect("connect");
    let repo_id: i64 = sqlx::query_scalar("SELECT id FROM repositories WHERE name = $1")
        .bind(repo)
        .fetch_one(&pool)
        .await
        .expect("repository");
    let mut tx = pool.begin().await.expect("begin");
    for i in 0..count {
        let bytes = noise(50_000 + i, 64);
        let digest = sha256(&bytes);
        let hex = &digest["sha256:".len()..];
        let dir = app
            .config
            .data_dir
            .join("storage/blobs/sha256")
            .join(&hex[..2]);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(hex), &bytes).expect("write blob");
        sqlx::query(
            "INSERT INTO blobs (digest, size, created_at, last_linked) VALUES ($1, 64, 0, 0)",
        )
        .bind(&digest)
        .execute(&mut *tx)
        .await
        .expect("blob row");
        if i % 2 == 0 {
            sqlx::query(
                "INSERT INTO repository_blobs (repository_id, digest, created_at, linked_at)
                 VALUES ($1, $2, 0, 0)",
            )
            .bind(repo_id)
            .bind(&digest)
            .execute(&mut *tx)
            .await
            .expect("link");
        }
    }
    tx.commit().await.expect("commit");
    pool.close().await;
}

/// `berth gc` killed with SIGKILL at random points, again and again, while the server keeps
/// serving: nothing acknowledged is lost, a blob row never outlives its file for anything
/// reachable, the dead runs are recorded as interrupted, and a last collection frees the rest.
#[tokio::test]
async fn a_collection_killed_at_any_point_loses_nothing_and_the_next_finishes_it() {
    let app = TestApp::start_with(|c| c.gc.untagged_after = Some(Duration::ZERO)).await;
    let repo = format!("{ADMIN}/killed");
    let (kept, _) = push(&app, &repo, "kept", &[noise(1, 4096)], "").await;
    // Plenty of garbage: thousands of unreferenced blobs (half of them still linked), and 20
    // untagged manifests.
    plant_garbage(&app, &repo, 4000).await;
    for i in 0..20 {
        push(&app, &repo, "moving", &[noise(20_000 + i, 1024)], "").await;
    }
    next_second().await;
    let mut seed = 7u64;
    for round in 0..8 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let delay = Duration::from_millis(20 + (seed >> 33) % 300);
        // The collection that is killed deletes untagged manifests too, as the server would.
        let config = app.dir.path().join("gc.toml");
        std::fs::write(&config, "[gc]\nuntagged_after = \"0s\"\n").expect("config");
        let mut child = gc_command_with(&app, &["--grace", "0s"], &config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start berth gc");
        tokio::time::sleep(delay).await;
        child.start_kill().ok();
        child.wait().await.expect("wait");
        // Whatever was cut short, everything reachable is whole.
        assert_eq!(manifest_status(&app, &repo, "kept").await, StatusCode::OK);
        assert_eq!(
            manifest_status(&app, &repo, "moving").await,
            StatusCode::OK,
            "round {round}"
        );
        let problems =
            common::check::inconsistencies(&app.config.database_url, &app.config.data_dir)
                .await
                .into_iter()
                // A killed collection may leave an unlinked row whose file it had deleted: nothing
                // reaches it, and the next collection deletes it.
                .filter(|p| !p.ends_with("has a row but no file"))
                .collect::<Vec<_>>();
        assert!(problems.is_empty(), "round {round}: {problems:?}");
    }
    let report = app.gc(false, Duration::ZERO).await;
    println!("the last collection: {report:?}");
    app.assert_consistent().await;
    assert_no_garbage(&app, berth_registry::clock::now()).await;
    assert_eq!(manifest_status(&app, &repo, &kept).await, StatusCode::OK);
    let runs = berth_registry::lifecycle::gc::recent_runs(&app.state.registry, 20)
        .await
        .expect("runs");
    assert!(runs.iter().all(|r| r.status != "running"), "{runs:?}");
    let statuses: Vec<&str> = runs.iter().map(|r| r.status.as_str()).collect();
    println!("runs, newest first: {statuses:?}");
    assert!(
        statuses.contains(&"interrupted"),
        "some collection was killed half-way: {statuses:?}"
    );
}

/// A collection applies retention rules first, audits every tag they delete, and frees what
/// those tags held in the same run; immutable tags are never deleted; a repository whose
/// policy keeps untagged manifests forever keeps them.
#[tokio::test]
async fn a_collection_applies_retention_rules_and_frees_what_they_untag() {
    let app = TestApp::start_with(|c| c.gc.untagged_after = Some(Duration::ZERO)).await;
    let repo = format!("{ADMIN}/kept-few");
    for (i, tag) in ["v1", "old-a", "old-b", "new"].iter().enumerate() {
        push(&app, &repo, tag, &[noise(100 + i as u64, 4096)], "").await;
        next_second().await;
    }
    let r = app
        .client
        .put(app.url(&format!("/api/v1/repositories/{repo}/immutable-tags")))
        .json(&json!({"patterns": ["v*"]}))
        .send()
        .await
        .expect("PUT immutable");
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .client
        .put(app.url(&format!("/api/v1/repositories/{repo}/retention")))
        .json(&json!({"enabled": true, "keep_most_recent": 1}))
        .send()
        .await
        .expect("PUT retention");
    assert_eq!(r.status(), StatusCode::OK);
    // Untagged manifests of this other repository are kept for good by its policy.
    let forever = format!("{ADMIN}/forever");
    let (first, _) = push(&app, &forever, "latest", &[noise(200, 4096)], "").await;
    push(&app, &forever, "latest", &[noise(201, 4096)], "").await;
    let r = app
        .client
        .put(app.url(&format!("/api/v1/repositories/{forever}/retention")))
        .json(&json!({"enabled": true, "keep_patterns": ["*"], "untagged_days": 0}))
        .send()
        .await
        .expect("PUT retention");
    assert_eq!(r.status(), StatusCode::OK);
    next_second().await;

    let dry = app.gc(true, Duration::ZERO).await;
    assert_eq!(dry.tags_deleted, 2, "{dry:?}");
    assert_eq!(manifest_status(&app, &repo, "old-a").await, StatusCode::OK);
    let report = app.gc(false, Duration::ZERO).await;
    assert_eq!(report.tags_deleted, 2, "{report:?}");
    assert_eq!(report.manifests_deleted, 2, "{report:?}");
    for gone in ["old-a", "old-b"] {
        assert_eq!(
            manifest_status(&app, &repo, gone).await,
            StatusCode::NOT_FOUND
        );
    }
    for kept in ["v1", "new"] {
        assert_eq!(
            manifest_status(&app, &repo, kept).await,
            StatusCode::OK,
            "{kept}"
        );
    }
    assert_eq!(
        manifest_status(&app, &forever, &first).await,
        StatusCode::OK
    );
    let audit = berth_accounts::audit::recent(&app.state.accounts.db, 20)
        .await
        .expect("audit");
    let deletions: Vec<&str> = audit
        .iter()
        .filter(|e| e.action == "retention.delete")
        .map(|e| e.target.as_str())
        .collect();
    assert_eq!(deletions.len(), 2, "{deletions:?}");
    assert!(deletions.contains(&format!("{repo}:old-a").as_str()));
    app.assert_consistent().await;
}
