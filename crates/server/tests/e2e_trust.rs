#![cfg(feature = "e2e")]
//! Docker Content Trust with Berth as the trust server, over HTTPS with a certificate from a
//! throwaway CA: `DOCKER_CONTENT_TRUST=1 docker push` signs into TUF metadata that Berth
//! validates and stores, `docker pull` with trust verifies it, an unsigned tag is refused by
//! the client, Debian's `notary` CLI lists what was signed, and tampered, replayed or
//! unauthorised trust updates are refused with nothing stored.

use crate::common;

use common::docker::{build_context, random_text, Docker};
use common::signing::{add_key, manifest_status, set_policy};
use common::tuf::multipart;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// `docker ARGS` with Berth as the trust server.
fn trusted(docker: &Docker, app: &TestApp, args: &[&str]) -> tokio::process::Command {
    docker.trusted(&app.base, app.ca_pem.as_deref().expect("HTTPS"), args)
}

struct Trust<'a> {
    app: &'a TestApp,
    /// `/v2/<gun>/_trust/tuf/`
    base: String,
}

impl Trust<'_> {
    async fn file(&self, name: &str) -> (StatusCode, Vec<u8>) {
        let r = self.app.get(&format!("{}{name}", self.base)).await;
        let status = r.status();
        (status, r.bytes().await.expect("body").to_vec())
    }

    /// POSTs an update with `auth` (an `Authorization` value) and returns the status and the
    /// error's message.
    async fn post(&self, auth: &str, files: &[(&str, &[u8])]) -> (StatusCode, String) {
        let (content_type, body) = multipart(files);
        let r = self
            .app
            .anonymous
            .post(self.app.url(&self.base))
            .header("Authorization", auth)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST trust update");
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        (
            status,
            v["errors"][0]["message"].as_str().unwrap_or("").to_owned(),
        )
    }
}

#[tokio::test]
async fn docker_content_trust_signs_verifies_and_refuses_bad_metadata() {
    let app = TestApp::start_tls().await;
    let mut docker = Docker::new();
    docker.login(&app).await;
    let host = app.host();
    let gun = format!("{host}/{ADMIN}/trusted");

    // Signed push: docker initialises the collection (root, targets; snapshot and timestamp
    // keys from Berth) and publishes the tag.
    let ctx = build_context("FROM scratch\nCOPY a.txt /\n", &[("a.txt", &random_text())]);
    docker.build(ctx.path(), &format!("{gun}:signed")).await;
    let out = run_command_ok(trusted(&docker, &app, &["push", &format!("{gun}:signed")])).await;
    assert!(
        out.stdout_text()
            .contains(&format!("Successfully signed {gun}:signed")),
        "{}",
        out.stdout_text()
    );
    let digest = docker.repo_digests(&format!("{gun}:signed")).await[0]
        .split_once('@')
        .expect("repo digest")
        .1
        .to_owned();

    // The tag's page data names its signer.
    let tag = app
        .json(&format!("/api/v1/repositories/{ADMIN}/trusted/tags/signed"))
        .await;
    assert_eq!(tag["summary"]["signed"], true, "{tag}");
    let signature = &tag["summary"]["signatures"][0];
    assert_eq!(signature["format"], "notary");
    assert_eq!(signature["signer"], "targets");
    assert_eq!(signature["verified"], true);
    assert_eq!(signature["artifact"], gun.as_str());
    let found = app.json("/api/v1/search?signed=true").await;
    assert_eq!(
        found["results"][0]["name"],
        format!("{ADMIN}/trusted"),
        "{found}"
    );
    let page = app
        .get(&format!("/r/{ADMIN}/trusted/tags"))
        .await
        .text()
        .await
        .expect("tags page");
    assert!(page.contains("Signed · targets"), "{page}");

    // Signed pull, with nothing cached: the client downloads and verifies the metadata.
    docker.ok(&["rmi", &format!("{gun}:signed")]).await;
    let out = run_command_ok(trusted(&docker, &app, &["pull", &format!("{gun}:signed")])).await;
    assert!(
        out.stdout_text()
            .contains(&format!("{gun}:signed@{digest}")),
        "{}",
        out.stdout_text()
    );

    // A tag pushed without trust has no trust data: a trusted pull refuses it.
    let other = build_context("FROM scratch\nCOPY b.txt /\n", &[("b.txt", &random_text())]);
    docker.build(other.path(), &format!("{gun}:unsigned")).await;
    docker.ok(&["push", &format!("{gun}:unsigned")]).await;
    let out = run_command(trusted(
        &docker,
        &app,
        &["pull", &format!("{gun}:unsigned")],
    ))
    .await;
    assert!(
        !out.status.success(),
        "an unsigned tag was pulled with trust"
    );
    assert!(
        out.stderr_text().contains("trust data for unsigned"),
        "{}",
        out.stderr_text()
    );

    // Debian's notary CLI reads Berth's trust data (anonymously: the repository is public).
    let notary_dir = tempfile::tempdir().expect("notary dir");
    let ca = notary_dir.path().join("ca.crt");
    std::fs::write(&ca, app.ca_pem.as_deref().expect("CA")).expect("write CA");
    let mut notary = tokio::process::Command::new("notary");
    notary
        .arg("-s")
        .arg(&app.base)
        .arg("-d")
        .arg(notary_dir.path().join("trust"))
        .arg("--tlscacert")
        .arg(&ca)
        .args(["list", &gun]);
    let listed = run_command_ok(notary).await.stdout_text();
    let hex = digest.trim_start_matches("sha256:");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("signed ") && l.contains(hex) && l.contains("targets")),
        "{listed}"
    );
    assert!(!listed.contains("unsigned"), "{listed}");

    // Delegations: a signer added with `docker trust signer add` signs in a role of its own.
    let keys = tempfile::tempdir().expect("keys dir");
    let keys_dir = keys.path().to_str().expect("utf-8 path");
    let trust_cmd = |args: &[&str]| trusted(&docker, &app, args);
    run_command_ok(trust_cmd(&[
        "trust", "key", "generate", "releaser", "--dir", keys_dir,
    ]))
    .await;
    let public = format!("{keys_dir}/releaser.pub");
    run_command_ok(trust_cmd(&[
        "trust", "signer", "add", "--key", &public, "releaser", &gun,
    ]))
    .await;
    run_command_ok(trust_cmd(&["trust", "sign", &format!("{gun}:unsigned")])).await;
    let tag = app
        .json(&format!(
            "/api/v1/repositories/{ADMIN}/trusted/tags/unsigned"
        ))
        .await;
    let signers: Vec<&str> = tag["summary"]["signatures"]
        .as_array()
        .expect("signatures")
        .iter()
        .filter(|s| s["verified"] == true)
        .filter_map(|s| s["signer"].as_str())
        .collect();
    assert!(signers.contains(&"targets/releaser"), "{tag}");

    // Bad updates are refused and leave the collection as it was.
    let trust = Trust {
        app: &app,
        base: format!("/v2/{gun}/_trust/tuf/"),
    };
    let admin = basic(ADMIN, ADMIN_PASSWORD);
    let (status, targets) = trust.file("targets.json").await;
    assert_eq!(status, StatusCode::OK);
    let (_, root) = trust.file("root.json").await;
    let (_, timestamp) = trust.file("timestamp.json").await;

    // Tampered: the unsigned tag slipped into targets.json, signature left as it was.
    let mut tampered: Value = serde_json::from_slice(&targets).expect("targets.json");
    let signed_entry = tampered["signed"]["targets"]["signed"].clone();
    tampered["signed"]["targets"]["unsigned"] = signed_entry;
    tampered["signed"]["version"] = (tampered["signed"]["version"].as_i64().expect("v") + 1).into();
    let tampered = serde_json::to_vec(&tampered).expect("json");
    let (status, message) = trust.post(&admin, &[("targets", &tampered)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{message}");
    assert!(
        message.contains("targets.json is signed by 0 of the 1 targets keys"),
        "{message}"
    );

    // Replayed: the current targets.json again, and the first root once more.
    let (status, message) = trust.post(&admin, &[("targets", &targets)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message.contains("is not newer than the stored version"),
        "{message}"
    );
    let (status, message) = trust.post(&admin, &[("root", &root)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("root.json must be version 2"), "{message}");

    // Malformed, and a timestamp, which only Berth signs.
    let (status, message) = trust.post(&admin, &[("targets", b"{not json")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("targets.json is not JSON"), "{message}");
    let (status, _) = trust.post(&admin, &[("timestamp", &timestamp)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Another user may read this public repository's trust data but not write it.
    let bob = sign_up_basic(&app, "bobtrust").await;
    let (status, _) = trust.post(&bob, &[("targets", &targets)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = app
        .anonymous
        .delete(app.url(&trust.base))
        .header("Authorization", &bob)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Nothing of it was stored.
    assert_eq!(trust.file("targets.json").await.1, targets);
    assert_eq!(trust.file("root.json").await.1, root);
    let out = run_command_ok(trusted(&docker, &app, &["pull", &format!("{gun}:signed")])).await;
    assert!(out.stdout_text().contains(&digest));

    // A timestamp near its expiry is signed anew when asked for, with the next version, and
    // clients accept it.
    let version = |bytes: &[u8]| {
        let v: Value = serde_json::from_slice(bytes).expect("timestamp.json");
        v["signed"]["version"].as_i64().expect("version")
    };
    let soon = berth_registry::meta::now() + 3600;
    sqlx::query("UPDATE tuf_files SET expires = $1 WHERE role = 'timestamp'")
        .bind(soon)
        .execute(&app.state.pool)
        .await
        .expect("age the timestamp");
    let (_, refreshed) = trust.file("timestamp.json").await;
    assert_eq!(version(&refreshed), version(&timestamp) + 1);
    let stored: i64 =
        sqlx::query_scalar("SELECT MAX(expires) FROM tuf_files WHERE role = 'timestamp'")
            .fetch_one(&app.state.pool)
            .await
            .expect("expiry");
    assert!(stored > soon + 13 * 86_400, "refreshed for 14 days");
    docker.ok(&["rmi", &format!("{gun}:signed")]).await;
    run_command_ok(trusted(&docker, &app, &["pull", &format!("{gun}:signed")])).await;

    // Under the signed-only policy a tag signed through content trust counts once the key of
    // the role that signed it is one the namespace trusts.
    set_policy(
        &app,
        &format!("/api/v1/repositories/{ADMIN}/trusted/signing-policy"),
        true,
    )
    .await;
    let repo = format!("{ADMIN}/trusted");
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, "signed").await,
        StatusCode::FORBIDDEN
    );
    let root_json: Value = serde_json::from_slice(&root).expect("root.json");
    let key_id = root_json["signed"]["roles"]["targets"]["keyids"][0]
        .as_str()
        .expect("targets key id");
    let public = root_json["signed"]["keys"][key_id]["keyval"]["public"]
        .as_str()
        .expect("targets key");
    let pem = format!("-----BEGIN PUBLIC KEY-----\n{public}\n-----END PUBLIC KEY-----\n");
    add_key(&app, "/api/v1/user/signing-keys", "repository-key", &pem).await;
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, "signed").await,
        StatusCode::OK
    );
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, "unsigned").await,
        StatusCode::FORBIDDEN
    );
    docker.ok(&["rmi", &format!("{gun}:signed")]).await;
    docker.ok(&["pull", &format!("{gun}:signed")]).await;
    let out = docker.run(&["pull", &format!("{gun}:unsigned")]).await;
    assert!(!out.status.success());
    assert!(
        out.stderr_text().contains("only serves signed images"),
        "{}",
        out.stderr_text()
    );

    // Its administrator may delete it; then there is no trust data to pull with.
    let r = app
        .request(Method::DELETE, &trust.base)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(trust.file("root.json").await.0, StatusCode::NOT_FOUND);
}

/// What docker's signed push, signed pull and trusted pull of an unsigned tag came to.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    signed_push: bool,
    signed_pull: bool,
    unsigned_refused: bool,
}

async fn docker_flows(docker: &mut Docker, app: &TestApp, server: &str, repo: &str) -> Outcome {
    let ca = app.ca_pem.as_deref().expect("HTTPS");
    let image = format!("{}/{ADMIN}/{repo}", app.host());
    let ctx = build_context("FROM scratch\nCOPY a.txt /\n", &[("a.txt", &random_text())]);
    docker.build(ctx.path(), &format!("{image}:signed")).await;
    let push = run_command(docker.trusted(server, ca, &["push", &format!("{image}:signed")])).await;
    docker.ok(&["rmi", &format!("{image}:signed")]).await;
    let pull = run_command(docker.trusted(server, ca, &["pull", &format!("{image}:signed")])).await;
    let other = build_context("FROM scratch\nCOPY b.txt /\n", &[("b.txt", &random_text())]);
    docker
        .build(other.path(), &format!("{image}:unsigned"))
        .await;
    docker.ok(&["push", &format!("{image}:unsigned")]).await;
    let unsigned =
        run_command(docker.trusted(server, ca, &["pull", &format!("{image}:unsigned")])).await;
    Outcome {
        signed_push: push.status.success(),
        signed_pull: pull.status.success(),
        unsigned_refused: !unsigned.status.success()
            && unsigned.stderr_text().contains("trust data for unsigned"),
    }
}

/// Debian's notary-server, the reference trust server, on a free loopback port with Berth's
/// certificate and its own memory storage and signer.
struct NotaryServer {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl NotaryServer {
    async fn start(app: &TestApp) -> NotaryServer {
        let dir = tempfile::tempdir().expect("notary-server dir");
        let port = common::binary::free_port();
        let config = serde_json::json!({
            "server": {
                "http_addr": format!("127.0.0.1:{port}"),
                "tls_cert_file": app.dir.path().join("server.crt"),
                "tls_key_file": app.dir.path().join("server.key"),
            },
            "trust_service": {"type": "local", "hostname": "", "port": "", "key_algorithm": "ecdsa"},
            "logging": {"level": "error"},
            "storage": {"backend": "memory"},
        });
        let path = dir.path().join("server.json");
        std::fs::write(&path, config.to_string()).expect("write config");
        let child = std::process::Command::new("notary-server")
            .arg("-config")
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start notary-server");
        let server = NotaryServer {
            child,
            url: format!("https://127.0.0.1:{port}"),
            _dir: dir,
        };
        for _ in 0..100 {
            let ping = app
                .anonymous
                .get(format!("{}/v2/", server.url))
                .send()
                .await;
            if ping.is_ok() {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("notary-server did not answer on {}", server.url);
    }
}

impl Drop for NotaryServer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

#[tokio::test]
async fn docker_flows_match_notary_server() {
    let app = TestApp::start_tls().await;
    let notary = NotaryServer::start(&app).await;
    let mut docker = Docker::new();
    docker.login(&app).await;
    let expected = Outcome {
        signed_push: true,
        signed_pull: true,
        unsigned_refused: true,
    };
    let reference = docker_flows(&mut docker, &app, &notary.url, "reference").await;
    assert_eq!(reference, expected, "against notary-server");
    let berth = docker_flows(&mut docker, &app, &app.base, "berth").await;
    assert_eq!(berth, expected, "against Berth");
}

/// Debian's `notary` CLI as the administrator against `app`, its keys in `dir`.
fn notary(app: &TestApp, dir: &std::path::Path, args: &[&str]) -> tokio::process::Command {
    let ca = dir.join("ca.crt");
    std::fs::write(&ca, app.ca_pem.as_deref().expect("HTTPS")).expect("write CA");
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{ADMIN}:{ADMIN_PASSWORD}"),
    );
    // The root rotation asks for confirmation on standard input.
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg("echo yes | exec notary \"$@\"")
        .arg("notary")
        .arg("-s")
        .arg(&app.base)
        .arg("-d")
        .arg(dir.join("trust"))
        .arg("--tlscacert")
        .arg(&ca)
        .args(args)
        .env("NOTARY_AUTH", auth)
        .env("NOTARY_ROOT_PASSPHRASE", "root key passphrase")
        .env("NOTARY_TARGETS_PASSPHRASE", "targets key passphrase")
        .env("NOTARY_SNAPSHOT_PASSPHRASE", "snapshot key passphrase");
    cmd
}

#[tokio::test]
async fn the_notary_cli_publishes_and_rotates_keys() {
    let app = TestApp::start_tls().await;
    let gun = format!("{}/{ADMIN}/notarised", app.host());
    let publisher = tempfile::tempdir().expect("publisher dir");
    let file = publisher.path().join("artifact.txt");
    std::fs::write(&file, random_text()).expect("write artifact");
    let file = file.to_str().expect("utf-8 path");
    let run = |args: &[&str]| run_command_ok(notary(&app, publisher.path(), args));

    // notary init keeps the snapshot key on the client: Berth checks the client's snapshot.
    run(&["init", &gun, "-p"]).await;
    run(&["add", "-p", &gun, "v1", file]).await;
    // Then the snapshot key moves to Berth, the timestamp key and the root key rotate, and the
    // targets key too; each publish is checked against the root of its time.
    run(&["key", "rotate", &gun, "snapshot", "-r"]).await;
    run(&["add", "-p", &gun, "v2", file]).await;
    run(&["key", "rotate", &gun, "timestamp", "-r"]).await;
    run(&["key", "rotate", &gun, "root"]).await;
    run(&["key", "rotate", &gun, "targets"]).await;
    run(&["add", "-p", &gun, "v3", file]).await;

    // A client that trusts nothing yet downloads and verifies all of it.
    let reader = tempfile::tempdir().expect("reader dir");
    let listed = run_command_ok(notary(&app, reader.path(), &["list", &gun]))
        .await
        .stdout_text();
    for tag in ["v1", "v2", "v3"] {
        assert!(
            listed.lines().any(|l| l.starts_with(&format!("{tag} "))),
            "{listed}"
        );
    }
    let root = app.json(&format!("/v2/{gun}/_trust/tuf/root.json")).await;
    assert!(
        root["signed"]["version"].as_i64().expect("version") >= 3,
        "{root}"
    );
    // Every earlier root stays readable by version, as clients walking a rotation ask.
    let first = app.get(&format!("/v2/{gun}/_trust/tuf/1.root.json")).await;
    assert_eq!(first.status(), StatusCode::OK);

    // The audit log names who changed the trust data and how.
    let audit = berth_accounts::audit::recent(&app.state.accounts.db, 50)
        .await
        .expect("audit");
    for action in ["trust.update", "trust.key.rotate"] {
        assert!(
            audit
                .iter()
                .any(|e| e.action == action && e.actor == ADMIN && e.target == gun),
            "{action} missing from {audit:?}"
        );
    }
    assert!(audit
        .iter()
        .any(|e| e.action == "trust.key.rotate" && e.detail.starts_with("snapshot key ")));

    // Deleting the repository deletes its trust data.
    let r = app
        .delete(&format!("/api/v1/repositories/{ADMIN}/notarised"))
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let root = app.get(&format!("/v2/{gun}/_trust/tuf/root.json")).await;
    assert_eq!(root.status(), StatusCode::NOT_FOUND);
}
