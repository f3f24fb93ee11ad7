#![cfg(feature = "e2e")]
//! Content trust with real clients. Signatures in the sigstore/cosign format (what `cosign
//! sign --key` and `skopeo copy --sign-by-sigstore-private-key` store: a simple signing payload
//! as the layer of a manifest tagged `sha256-<hex>.sig`) are made here with a P-256 key and
//! pushed into Berth by skopeo; Berth checks them against the keys the namespace registered,
//! shows the verdict in the API and on the tag pages, and under the signed-only policy refuses
//! to serve what no trusted key signed, to skopeo and to docker.
//!
//! Debian's skopeo (1.9.3, bookworm) is built without sigstore signing ("Debian-local change:
//! sigstore disabled"), so it cannot make the signature itself; it pushes and pulls everything.

use crate::common;

use common::docker::Docker;
use common::signing::{
    add_key, cosign_tag, manifest_status, set_policy, Key, Signature, SIGNATURE_CONFIG,
};
use common::skopeo::*;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Skopeo logged in to Berth.
struct Client {
    skopeo: Skopeo,
}

impl Client {
    async fn new(app: &TestApp) -> Client {
        let skopeo = Skopeo::new();
        skopeo.login(app).await;
        Client { skopeo }
    }

    async fn copy(&self, from: &str, to: &str) -> CommandOutput {
        run_command(self.skopeo.command(&[
            "copy",
            "--dest-tls-verify=false",
            "--src-tls-verify=false",
            from,
            to,
        ]))
        .await
    }

    async fn copy_ok(&self, from: &str, to: &str) {
        let out = self.copy(from, to).await;
        assert!(
            out.status.success(),
            "skopeo copy {from} {to}: {}",
            out.stderr_text()
        );
    }

    /// Signs the manifest `digest` of `repo` with `key` the way cosign does, and has skopeo push
    /// the signature artifact under its cosign tag.
    async fn sign(&self, app: &TestApp, repo: &str, digest: &str, key: &Key) {
        let signature = Signature::new(&app.host(), repo, digest, key);
        let mut layout = Layout::new();
        let payload = layout.add_blob(signature.payload.clone());
        let config = layout.add_blob(SIGNATURE_CONFIG.to_vec());
        let manifest = layout.add_blob(signature.manifest(&payload.digest, &config.digest));
        layout.set_ref("sig", OCI_MANIFEST, &manifest);
        self.copy_ok(
            &format!("oci:{}:sig", path_str(layout.path())),
            &format!("docker://{}/{repo}:{}", app.host(), cosign_tag(digest)),
        )
        .await;
    }
}

/// A one-layer OCI layout holding an image tagged `v`.
fn layout() -> Layout {
    let mut layout = Layout::new();
    let image = layout.add_image("amd64", &[2048]);
    layout.set_ref("v", OCI_MANIFEST, &image.manifest);
    layout
}

fn oci(layout: &Layout) -> String {
    format!("oci:{}:v", path_str(layout.path()))
}

/// The tag as the JSON API reports it.
async fn tag(app: &TestApp, repo: &str, tag: &str) -> Value {
    app.json(&format!("/api/v1/repositories/{repo}/tags/{tag}"))
        .await["summary"]
        .clone()
}

#[tokio::test]
async fn skopeo_signatures_are_verified_shown_and_enforced() {
    let app = TestApp::start().await;
    let signer = Client::new(&app).await;
    let repo = format!("{ADMIN}/signed");
    let release = Key::ecdsa();
    let stranger = Key::ecdsa();

    // Signed by the key the namespace will trust, signed by another, and not signed at all.
    let (one, two, three) = (layout(), layout(), layout());
    let host = app.host();
    for (layout, tag_name) in [(&one, "v1"), (&two, "v2"), (&three, "v3")] {
        signer
            .copy_ok(&oci(layout), &format!("docker://{host}/{repo}:{tag_name}"))
            .await;
    }
    let digest_of = |v: &Value| v["digest"].as_str().expect("digest").to_owned();
    let digest = digest_of(&tag(&app, &repo, "v1").await);
    signer.sign(&app, &repo, &digest, &release).await;
    let v2_digest = digest_of(&tag(&app, &repo, "v2").await);
    signer.sign(&app, &repo, &v2_digest, &stranger).await;

    // The signature is under cosign's tag for the manifest's digest.
    let v1 = tag(&app, &repo, "v1").await;
    let sig_tag = cosign_tag(&digest);
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, &sig_tag).await,
        StatusCode::OK
    );

    // Before the namespace trusts any key, the signature is there but does not verify.
    assert_eq!(v1["signed"], false, "{v1}");
    assert_eq!(v1["signatures"].as_array().map(Vec::len), Some(1), "{v1}");
    assert!(v1["signatures"][0]["problem"]
        .as_str()
        .unwrap_or_default()
        .contains("no signing keys"));

    // A key that is not P-256 or Ed25519 PEM is refused with a reason.
    let r = app
        .client
        .post(app.url("/api/v1/user/signing-keys"))
        .json(&json!({"name": "bad", "public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}))
        .send()
        .await
        .expect("bad key");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let key = add_key(
        &app,
        "/api/v1/user/signing-keys",
        "release",
        &release.public_pem(),
    )
    .await;
    assert_eq!(key["algorithm"], "ecdsa-p256");
    let v1 = tag(&app, &repo, "v1").await;
    assert_eq!(v1["signed"], true, "{v1}");
    assert_eq!(v1["signatures"][0]["signer"], "release");
    let v2 = tag(&app, &repo, "v2").await;
    assert_eq!(v2["signed"], false, "{v2}");
    assert!(v2["signatures"][0]["problem"]
        .as_str()
        .unwrap_or_default()
        .contains("no key the namespace trusts"));
    let v3 = tag(&app, &repo, "v3").await;
    assert_eq!(v3["signed"], false);
    assert_eq!(v3["signatures"], json!([]));

    // The tags page shows the verdicts.
    let page = app
        .client
        .get(app.url(&format!("/r/{repo}/tags")))
        .send()
        .await
        .expect("tags page")
        .text()
        .await
        .expect("tags html");
    assert!(page.contains("Signed · release"), "{page}");
    assert!(page.contains("Unverified signature"), "{page}");

    // Only signed images can be pulled from the namespace now.
    let policy = set_policy(&app, "/api/v1/user/signing-policy", true).await;
    assert_eq!(policy["effective"], true);
    for (reference, allowed) in [("v1", true), ("v2", false), ("v3", false)] {
        if allowed {
            assert_eq!(
                manifest_status(&app, Method::GET, &repo, reference).await,
                StatusCode::OK,
                "{reference}"
            );
        } else {
            let r = app
                .request(Method::GET, &format!("/v2/{repo}/manifests/{reference}"))
                .header("Accept", OCI_MANIFEST)
                .send()
                .await
                .expect("pull manifest");
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{reference}");
            let body: Value = r.json().await.expect("error json");
            assert_eq!(body["errors"][0]["code"], "DENIED");
            assert!(body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("only serves signed images"));
        }
    }
    // The signature itself stays readable, so clients can verify.
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, &sig_tag).await,
        StatusCode::OK
    );

    // Skopeo gets the signed image and is refused the others.
    let out_dir = tempfile::tempdir().expect("out");
    let out = signer
        .copy(
            &format!("docker://{host}/{repo}:v1"),
            &format!("oci:{}:v1", path_str(out_dir.path())),
        )
        .await;
    assert!(out.status.success(), "{}", out.stderr_text());
    let out = signer
        .copy(
            &format!("docker://{host}/{repo}:v3"),
            &format!("oci:{}:v3", path_str(out_dir.path())),
        )
        .await;
    assert!(!out.status.success());
    assert!(
        out.stderr_text().contains("only serves signed images")
            || out.stderr_text().contains("denied"),
        "{}",
        out.stderr_text()
    );

    // Turning the policy off serves everything again, and the audit log has both changes.
    set_policy(&app, "/api/v1/user/signing-policy", false).await;
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, "v3").await,
        StatusCode::OK
    );
    let audit: Vec<String> = berth_accounts::audit::recent(&app.state.accounts.db, 20)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in [
        "signing_key.add",
        "policy.signed_only.on",
        "policy.signed_only.off",
    ] {
        assert!(audit.iter().any(|a| a == action), "{action} in {audit:?}");
    }
}

#[tokio::test]
async fn docker_pulls_only_signed_images_under_the_policy() {
    let app = TestApp::start().await;
    let mut docker = Docker::new();
    docker.login(&app).await;
    let signer = Client::new(&app).await;
    let key = Key::ecdsa();
    let host = app.host();
    let repo = format!("{ADMIN}/dockersigned");

    // Two different images pushed with docker; the first is signed where it lies.
    for tag in ["signed", "unsigned"] {
        let ctx = common::docker::build_context(
            "FROM scratch\nCOPY a /a\n",
            &[("a", &common::docker::random_text())],
        );
        let reference = format!("{host}/{repo}:{tag}");
        docker.build(ctx.path(), &reference).await;
        docker.ok(&["push", &reference]).await;
    }
    let digest = tag(&app, &repo, "signed").await["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    signer.sign(&app, &repo, &digest, &key).await;
    add_key(&app, "/api/v1/user/signing-keys", "ci", &key.public_pem()).await;
    let policy = set_policy(
        &app,
        &format!("/api/v1/repositories/{repo}/signing-policy"),
        true,
    )
    .await;
    assert_eq!(policy["signed_only"], true);

    for tag in ["signed", "unsigned"] {
        let reference = format!("{host}/{repo}:{tag}");
        docker.ok(&["rmi", "-f", &reference]).await;
        let out = docker.run(&["pull", &reference]).await;
        if tag == "signed" {
            assert!(out.status.success(), "{}", out.stderr_text());
        } else {
            assert!(!out.status.success(), "an unsigned image was pulled");
            assert!(
                out.stderr_text().contains("only serves signed images")
                    || out.stderr_text().contains("denied"),
                "{}",
                out.stderr_text()
            );
        }
    }
}
