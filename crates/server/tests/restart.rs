//! The real `berth` binary, killed in the middle of uploads and started again: nothing corrupt
//! is ever served, and an interrupted chunked upload resumes where its last complete chunk
//! ended. Also: defaults on a fresh directory, and graceful shutdown on SIGTERM.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use reqwest::StatusCode;

fn authed_client() -> reqwest::Client {
    berth_accounts::install_tls_provider();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        auth().parse().expect("header"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

struct Berth {
    child: Child,
    base: String,
    host: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

const ROOT: &str = "root1";
const ROOT_PASSWORD: &str = "root password 1";

fn auth() -> String {
    basic(ROOT, ROOT_PASSWORD)
}

/// Creates the administrator with `berth admin create-user`, as an operator would.
fn create_admin(dir: &Path, database_url: Option<&str>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.current_dir(dir)
        .args([
            "admin",
            "create-user",
            ROOT,
            "--email",
            "root@example.com",
            "--password-stdin",
            "--admin",
        ])
        .env_remove("BERTH_DATABASE_URL")
        .env_remove("BERTH_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    let mut child = cmd.spawn().expect("spawn berth admin");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{ROOT_PASSWORD}\n").as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("berth admin");
    assert!(
        out.status.success(),
        "create-user failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created administrator user root1"));
}

/// Starts `berth serve` in `dir` (its data in `dir/data`) and waits until it is ready.
async fn start(dir: &Path, database_url: Option<&str>, port: u16) -> Berth {
    start_with_env(dir, database_url, port, &[]).await
}

/// [`start`], with more environment variables.
async fn start_with_env(
    dir: &Path,
    database_url: Option<&str>,
    port: u16,
    env: &[(&str, &str)],
) -> Berth {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.current_dir(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("BERTH_DATABASE_URL")
        .env_remove("BERTH_DATA_DIR")
        .env("BERTH_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    let berth = Berth {
        child: cmd.spawn().expect("spawn berth"),
        base: format!("http://127.0.0.1:{port}"),
        host: format!("127.0.0.1:{port}"),
    };
    berth_accounts::install_tls_provider();
    let probe = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = probe.get(format!("{}/readyz", berth.base)).send().await {
            if r.status() == StatusCode::OK {
                return berth;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("berth did not become ready");
}

impl Berth {
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Berth {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// A database for a test that outlives one server process.
async fn database(dir: &Path) -> Option<String> {
    if backend_is_postgres() {
        Some(test_database_url(dir).await)
    } else {
        // SQLite: the default location, `./data/berth.db`, is what is tested.
        None
    }
}

/// Sends the headers and `sent` bytes of a request whose body is longer, and leaves the
/// connection open (returned) so the server is mid-body.
fn partial_request(host: &str, head: &str, body: &[u8], sent: usize) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    write!(
        s,
        "{head}\r\nHost: {host}\r\nAuthorization: {}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
        auth(),
        body.len()
    )
    .expect("headers");
    s.write_all(&body[..sent]).expect("body part");
    s.flush().expect("flush");
    s
}

async fn wait_for_size(path: &Path, at_least: u64) {
    for _ in 0..400 {
        if std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{} never reached {at_least} bytes", path.display());
}

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
    let conn =
        tokio::task::spawn_blocking(move || partial_request(&host, &head, &body, 3 * 1_048_576))
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
    let conn =
        tokio::task::spawn_blocking(move || partial_request(&host, &head, &body, 3 * 1_048_576))
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
    let r = client
        .post(format!(
            "{}/v2/{ROOT}/app/blobs/uploads/?digest={}",
            berth.base,
            sha256(config)
        ))
        .body(config.to_vec())
        .send()
        .await
        .expect("push config");
    assert_eq!(r.status(), StatusCode::CREATED);
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
