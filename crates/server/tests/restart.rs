//! The real `berth` binary, killed in the middle of uploads and started again: nothing corrupt
//! is ever served, and an interrupted chunked upload resumes where its last complete chunk
//! ended. Also: defaults on a fresh directory, and graceful shutdown on SIGTERM.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::binary::*;
use common::check::assert_consistent;
use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn a_chunked_upload_resumes_after_the_server_is_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = database(dir.path()).await;
    create_admin(dir.path(), db.as_deref());
    let port = free_port();
    let berth = start(dir.path(), db.as_deref(), port).await;
    let client = authed_client();

    let chunk1: Vec<u8> = (0..1_048_576u32).map(|i| (i % 251) as u8).collect();
    let chunk2: Vec<u8> = (0..4_194_304u32).map(|i| (i % 241) as u8).collect();
    let r = client
        .post(format!("{}/v2/crash/blobs/uploads/", berth.base))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let loc = location(&r);
    let id = header(&r, "docker-upload-uuid");
    let r = client
        .patch(format!("{}{loc}", berth.base))
        .header("Content-Range", format!("0-{}", chunk1.len() - 1))
        .body(chunk1.clone())
        .send()
        .await
        .expect("PATCH 1");
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    // Chunk 2 is three quarters sent, and partly on disk, when the server dies.
    let upload_file = dir.path().join("data/storage/uploads").join(&id);
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nContent-Range: {}-{}",
        chunk1.len(),
        chunk1.len() + chunk2.len() - 1
    );
    let host = berth.host.clone();
    let body = chunk2.clone();
    let conn = tokio::task::spawn_blocking(move || {
        partial_request(
            &host,
            &head,
            "application/octet-stream",
            &body,
            3 * 1_048_576,
        )
    })
    .await
    .expect("client");
    wait_for_size(&upload_file, chunk1.len() as u64 + 1_048_576).await;
    berth.kill();
    drop(conn);

    let berth = start(dir.path(), db.as_deref(), port).await;
    let r = client
        .get(format!("{}{loc}", berth.base))
        .send()
        .await
        .expect("status");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        header(&r, "range"),
        format!("0-{}", chunk1.len() - 1),
        "only the completed chunk counts"
    );
    let r = client
        .patch(format!("{}{}", berth.base, location(&r)))
        .header(
            "Content-Range",
            format!("{}-{}", chunk1.len(), chunk1.len() + chunk2.len() - 1),
        )
        .body(chunk2.clone())
        .send()
        .await
        .expect("PATCH 2");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let whole = [chunk1, chunk2].concat();
    let digest = sha256(&whole);
    let r = client
        .put(format!(
            "{}{}",
            berth.base,
            with_digest(&location(&r), &digest)
        ))
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = client
        .get(format!("{}/v2/crash/blobs/{digest}", berth.base))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
    let got = r.bytes().await.expect("body");
    assert_eq!(sha256(&got), digest);
    assert_consistent(
        &database_url_in(dir.path(), db.as_deref()),
        &dir.path().join("data"),
    )
    .await;
}

#[tokio::test]
async fn a_monolithic_upload_cut_by_a_crash_leaves_no_blob() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = database(dir.path()).await;
    create_admin(dir.path(), db.as_deref());
    let port = free_port();
    let berth = start(dir.path(), db.as_deref(), port).await;
    let blob: Vec<u8> = (0..4_194_304u32).map(|i| (i % 253) as u8).collect();
    let digest = sha256(&blob);
    let host = berth.host.clone();
    let head = format!("POST /v2/crash/blobs/uploads/?digest={digest} HTTP/1.1");
    let body = blob.clone();
    let conn = tokio::task::spawn_blocking(move || {
        partial_request(
            &host,
            &head,
            "application/octet-stream",
            &body,
            3 * 1_048_576,
        )
    })
    .await
    .expect("client");
    let uploads = dir.path().join("data/storage/uploads");
    for _ in 0..400 {
        let written: u64 = std::fs::read_dir(&uploads)
            .expect("uploads dir")
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum();
        if written >= 1_048_576 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    berth.kill();
    drop(conn);

    let berth = start(dir.path(), db.as_deref(), port).await;
    let url = database_url_in(dir.path(), db.as_deref());
    assert_consistent(&url, &dir.path().join("data")).await;
    let client = authed_client();
    let r = client
        .head(format!("{}/v2/crash/blobs/{digest}", berth.base))
        .send()
        .await
        .expect("HEAD");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let hex = digest.trim_start_matches("sha256:");
    let stored = dir
        .path()
        .join("data/storage/blobs/sha256")
        .join(&hex[..2])
        .join(hex);
    assert!(!stored.exists(), "no blob file claims the digest");
    // And the same blob pushes cleanly afterwards.
    let r = client
        .post(format!(
            "{}/v2/crash/blobs/uploads/?digest={digest}",
            berth.base
        ))
        .body(blob)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(std::fs::metadata(&stored).expect("stored").len(), 4_194_304);
    assert_consistent(&url, &dir.path().join("data")).await;
}

#[tokio::test]
async fn serve_defaults_and_graceful_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = database(dir.path()).await;
    create_admin(dir.path(), db.as_deref());
    let port = free_port();
    let mut berth = start(dir.path(), db.as_deref(), port).await;
    let client = authed_client();
    let r = client
        .get(format!("{}/v2/", berth.base))
        .send()
        .await
        .expect("GET /v2/");
    assert_eq!(r.status(), StatusCode::OK);
    if db.is_none() {
        assert!(
            dir.path().join("data/berth.db").exists(),
            "SQLite database created in ./data by default"
        );
    }
    let status = Command::new("kill")
        .args(["-TERM", &berth.child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let exit = berth.child.wait().expect("wait");
    assert!(exit.success(), "berth exits cleanly on SIGTERM: {exit:?}");
}

/// A webhook delivery that failed once is still delivered when Berth is killed while it waits
/// to retry and started again: the outbox is in the database, not in memory.
#[tokio::test]
async fn a_pending_webhook_delivery_survives_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = database(dir.path()).await;
    create_admin(dir.path(), db.as_deref());
    std::fs::write(
        dir.path().join("berth.toml"),
        "[webhooks]\nretry_base_secs = 2\nmax_attempts = 5\n",
    )
    .expect("berth.toml");
    let receiver = common::receiver::Receiver::start().await;
    receiver.answer(500);
    let port = free_port();
    let env = [("BERTH_WEBHOOKS_ALLOWED_TARGETS", "127.0.0.1/32")];
    let berth = start_with_env(dir.path(), db.as_deref(), port, &env).await;
    let client = authed_client();

    let hooks = format!("{}/api/v1/repositories/{ROOT}/app/webhooks", berth.base);
    let r = client
        .post(format!("{}/api/v1/repositories", berth.base))
        .json(&serde_json::json!({"namespace": ROOT, "name": "app"}))
        .send()
        .await
        .expect("create repository");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = client
        .post(&hooks)
        .json(
            &serde_json::json!({"name": "deploy", "url": receiver.url("/"),
                                  "events": ["push"], "secret": "restart"}),
        )
        .send()
        .await
        .expect("create webhook");
    assert_eq!(r.status(), StatusCode::CREATED);
    let hook: serde_json::Value = r.json().await.expect("webhook");

    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    push_blob_to(&client, &berth.base, &format!("{ROOT}/app"), config).await;
    let manifest = image_manifest((&sha256(config), config.len()), &[], "");
    let r = client
        .put(format!("{}/v2/{ROOT}/app/manifests/v1", berth.base))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest)
        .send()
        .await
        .expect("push manifest");
    assert_eq!(r.status(), StatusCode::CREATED);

    let first = receiver.wait_for(1, 20).await.remove(0);
    assert_eq!(first.answered, 500);
    // Killed while the delivery waits for its second attempt.
    let log_url = format!("{hooks}/{}/deliveries", hook["id"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let log: serde_json::Value = client
            .get(&log_url)
            .send()
            .await
            .expect("deliveries")
            .json()
            .await
            .expect("JSON");
        if log[0]["attempts"] == 1 {
            assert_eq!(log[0]["status"], "pending", "{log}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the attempt was never logged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    berth.kill();
    receiver.answer(200);
    let berth = start_with_env(dir.path(), db.as_deref(), port, &env).await;
    let got = receiver.wait_for(2, 30).await;
    assert_eq!(got[1].answered, 200);
    assert_eq!(
        got[1].delivery, first.delivery,
        "the same delivery, retried"
    );
    assert!(got[1].signed_with("restart"));
    assert_eq!(got[1].json()["push_data"]["tag"], "v1");

    let log: serde_json::Value = client
        .get(&log_url)
        .send()
        .await
        .expect("deliveries")
        .json()
        .await
        .expect("JSON");
    let d = &log[0];
    assert_eq!(d["status"], "delivered", "{log}");
    assert_eq!(d["attempts"], 2);
    drop(berth);
}

/// Killed while a manifest PUT is half sent and other manifest PUTs are in flight: afterwards
/// the half-sent manifest is nowhere, the tag it was meant for still names the manifest it named
/// before, every acknowledged push is there, and every tag resolves to a complete manifest.
#[tokio::test]
async fn a_manifest_push_cut_by_a_crash_leaves_the_tag_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = database(dir.path()).await;
    create_admin(dir.path(), db.as_deref());
    let port = free_port();
    let berth = start(dir.path(), db.as_deref(), port).await;
    let client = authed_client();
    let base = berth.base.clone();

    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let layer: Vec<u8> = (0..65_536u32).map(|i| (i % 239) as u8).collect();
    for blob in [&config[..], &layer[..]] {
        push_blob_to(&client, &base, "crash/app", blob).await;
    }
    let layer_digest = sha256(&layer);
    let layer_len = layer.len();
    let refs = move |extra: &str| {
        image_manifest(
            (&sha256(config), config.len()),
            &[(&layer_digest, layer_len)],
            extra,
        )
    };
    let before = refs("");
    let r = client
        .put(format!("{base}/v2/crash/app/manifests/latest"))
        .header("Content-Type", OCI_MANIFEST)
        .body(before.clone())
        .send()
        .await
        .expect("push manifest");
    assert_eq!(r.status(), StatusCode::CREATED);

    // Other pushes keep going while the server dies; those acknowledged must survive.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut flood = Vec::new();
    for worker in 0..4 {
        let (client, base, acknowledged) = (client.clone(), base.clone(), acknowledged.clone());
        let refs = refs.clone();
        flood.push(tokio::spawn(async move {
            for i in 0.. {
                let tag = format!("w{worker}-{i}");
                let body = refs(&format!(r#","annotations":{{"n":"{tag}"}}"#));
                let sent = client
                    .put(format!("{base}/v2/crash/app/manifests/{tag}"))
                    .header("Content-Type", OCI_MANIFEST)
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        acknowledged.lock().expect("lock").push(tag);
                    }
                    _ => break,
                }
            }
        }));
    }

    // A large manifest for the same tag, half sent.
    let padding = "p".repeat(200_000);
    let after = refs(&format!(r#","annotations":{{"padding":"{padding}"}}"#));
    let host = berth.host.clone();
    let body = after.clone();
    let conn = tokio::task::spawn_blocking(move || {
        partial_request(
            &host,
            "PUT /v2/crash/app/manifests/latest HTTP/1.1",
            OCI_MANIFEST,
            &body,
            body.len() / 2,
        )
    })
    .await
    .expect("client");
    for _ in 0..200 {
        if acknowledged.lock().expect("lock").len() >= 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    berth.kill();
    drop(conn);
    for task in flood {
        task.await.expect("flood task");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() >= 8,
        "pushes were running when Berth died"
    );

    let berth = start(dir.path(), db.as_deref(), port).await;
    assert_consistent(
        &database_url_in(dir.path(), db.as_deref()),
        &dir.path().join("data"),
    )
    .await;
    let r = client
        .get(format!("{}/v2/crash/app/manifests/latest", berth.base))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .expect("GET latest");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "docker-content-digest"), sha256(&before));
    assert_eq!(
        r.bytes().await.expect("body"),
        before,
        "the tag is as it was"
    );
    let r = client
        .head(format!(
            "{}/v2/crash/app/manifests/{}",
            berth.base,
            sha256(&after)
        ))
        .send()
        .await
        .expect("HEAD");
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "half a manifest is nowhere"
    );

    let list: serde_json::Value = client
        .get(format!("{}/v2/crash/app/tags/list?n=1000", berth.base))
        .send()
        .await
        .expect("tags")
        .json()
        .await
        .expect("JSON");
    let tags: Vec<String> = list["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t.as_str().expect("tag").to_owned())
        .collect();
    for tag in &acknowledged {
        assert!(tags.contains(tag), "acknowledged push of {tag} was lost");
    }
    for tag in &tags {
        let r = client
            .get(format!("{}/v2/crash/app/manifests/{tag}", berth.base))
            .header("Accept", OCI_MANIFEST)
            .send()
            .await
            .expect("GET tag");
        assert_eq!(r.status(), StatusCode::OK, "tag {tag}");
        let digest = header(&r, "docker-content-digest");
        assert_eq!(sha256(&r.bytes().await.expect("body")), digest, "tag {tag}");
    }
}
