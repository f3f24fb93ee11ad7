#![cfg(feature = "e2e")]
//! Docker Content Trust with Berth as the trust server, over HTTPS with a certificate from a
//! throwaway CA: `DOCKER_CONTENT_TRUST=1 docker push` signs into TUF metadata that Berth
//! validates and stores, `docker pull` with trust verifies it, an unsigned tag is refused by
//! the client, Debian's `notary` CLI lists what was signed, and tampered, replayed or
//! unauthorised trust updates are refused with nothing stored.

mod common;

use common::docker::{build_context, random_text, Docker};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A multipart update as the Notary client sends it: one part per role, named by its role.
fn multipart(files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = format!("trust-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (role, data) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; \
                 filename=\"{role}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
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
    let out = run_command_ok(docker.trusted(&app, &["push", &format!("{gun}:signed")])).await;
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
    let page = app
        .get(&format!("/r/{ADMIN}/trusted/tags"))
        .await
        .text()
        .await
        .expect("tags page");
    assert!(page.contains("Signed · targets"), "{page}");

    // Signed pull, with nothing cached: the client downloads and verifies the metadata.
    docker.ok(&["rmi", &format!("{gun}:signed")]).await;
    let out = run_command_ok(docker.trusted(&app, &["pull", &format!("{gun}:signed")])).await;
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
    let out = run_command(docker.trusted(&app, &["pull", &format!("{gun}:unsigned")])).await;
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
    let out = run_command_ok(docker.trusted(&app, &["pull", &format!("{gun}:signed")])).await;
    assert!(out.stdout_text().contains(&digest));

    // Its administrator may delete it; then there is no trust data to pull with.
    let r = app
        .request(Method::DELETE, &trust.base)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(trust.file("root.json").await.0, StatusCode::NOT_FOUND);
}
