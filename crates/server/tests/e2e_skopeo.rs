#![cfg(feature = "e2e")]
//! End to end with `skopeo`: OCI image layouts written here are copied into a Berth on a loopback
//! port and back out again, and every manifest and blob must survive byte for byte.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::skopeo::*;
use common::*;
use reqwest::{Method, StatusCode};

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The names of the files in `dir` that are named by a 64-digit hex digest.
fn hex_named_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .into_string()
                .expect("utf-8 name")
        })
        .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    names.sort();
    names
}

fn hex_of(digest: &str) -> String {
    digest.trim_start_matches("sha256:").to_owned()
}

/// Every blob `expected` holds is in `dir` (named by its hex digest) with the same bytes, and
/// `dir` holds no other blob.
fn assert_same_blobs(dir: &Path, expected: &BTreeMap<String, Vec<u8>>) {
    let want: Vec<String> = expected.keys().map(|d| hex_of(d)).collect();
    assert_eq!(hex_named_files(dir), want, "blobs in {}", dir.display());
    for (digest, bytes) in expected {
        let got = read(&dir.join(hex_of(digest)));
        assert_eq!(sha256(&got), *digest, "digest of copied blob {digest}");
        assert!(
            got == *bytes,
            "copied blob {digest} differs from the original"
        );
    }
}

/// GETs a manifest by tag or digest with `accept`; checks the status, type and digest header;
/// returns the body.
async fn get_manifest(app: &TestApp, repo: &str, reference: &str, accept: &str) -> Vec<u8> {
    let r = app
        .request(Method::GET, &format!("/v2/{repo}/manifests/{reference}"))
        .header("Accept", accept)
        .send()
        .await
        .expect("GET manifest");
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "GET {repo} manifest {reference}"
    );
    assert_eq!(header(&r, "content-type"), accept);
    let digest = header(&r, "docker-content-digest");
    let body = r.bytes().await.expect("manifest body").to_vec();
    assert_eq!(
        digest,
        sha256(&body),
        "Docker-Content-Digest of {reference}"
    );
    body
}

async fn get_blob(app: &TestApp, repo: &str, digest: &str) -> Vec<u8> {
    let r = app.get(&format!("/v2/{repo}/blobs/{digest}")).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {repo} blob {digest}");
    r.bytes().await.expect("blob body").to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_copies_an_oci_image_in_and_out_unchanged() {
    let app = TestApp::start().await;
    let skopeo = Skopeo::new();
    skopeo.login(&app).await;
    let mut layout = Layout::new();
    let image = layout.add_image("amd64", &[64 * 1024 + 7, 300 * 1024]);
    layout.set_ref("v1", OCI_MANIFEST, &image.manifest);
    let remote = format!("docker://{}/sk/img:v1", app.host());

    skopeo
        .ok(&[
            "copy",
            "--preserve-digests",
            "--dest-tls-verify=false",
            &format!("oci:{}:v1", path_str(layout.path())),
            &remote,
        ])
        .await;

    let served = get_manifest(&app, "sk/img", "v1", OCI_MANIFEST).await;
    assert!(
        served == image.manifest.bytes,
        "the registry serves the manifest as written"
    );

    let out = tempfile::tempdir().expect("dir: tempdir");
    let out_dir: PathBuf = out.path().join("img");
    skopeo
        .ok(&[
            "copy",
            "--preserve-digests",
            "--src-tls-verify=false",
            &remote,
            &format!("dir:{}", path_str(&out_dir)),
        ])
        .await;
    let copied_manifest = read(&out_dir.join("manifest.json"));
    assert!(
        copied_manifest == image.manifest.bytes,
        "manifest changed on the round trip:\n{}\n{}",
        String::from_utf8_lossy(&image.manifest.bytes),
        String::from_utf8_lossy(&copied_manifest)
    );
    let mut expected = BTreeMap::new();
    for blob in std::iter::once(&image.config).chain(&image.layers) {
        expected.insert(blob.digest.clone(), blob.bytes.clone());
    }
    assert_same_blobs(&out_dir, &expected);

    let inspected: serde_json::Value =
        serde_json::from_slice(&skopeo.ok(&["inspect", "--tls-verify=false", &remote]).await)
            .expect("skopeo inspect prints JSON");
    assert_eq!(
        inspected["Digest"].as_str(),
        Some(image.manifest.digest.as_str())
    );
    assert_eq!(inspected["Architecture"], "amd64");
    let layers: Vec<&str> = inspected["Layers"]
        .as_array()
        .expect("Layers")
        .iter()
        .map(|l| l.as_str().expect("layer digest"))
        .collect();
    let want: Vec<&str> = image.layers.iter().map(|l| l.digest.as_str()).collect();
    assert_eq!(layers, want);

    let raw = skopeo
        .ok(&["inspect", "--raw", "--tls-verify=false", &remote])
        .await;
    assert!(
        raw == image.manifest.bytes,
        "skopeo inspect --raw:\n{}",
        String::from_utf8_lossy(&raw)
    );
    let raw_config = skopeo
        .ok(&[
            "inspect",
            "--raw",
            "--config",
            "--tls-verify=false",
            &remote,
        ])
        .await;
    assert!(
        raw_config == image.config.bytes,
        "skopeo inspect --raw --config:\n{}",
        String::from_utf8_lossy(&raw_config)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_copies_a_multi_arch_index_in_and_out_unchanged() {
    let app = TestApp::start().await;
    let skopeo = Skopeo::new();
    skopeo.login(&app).await;
    let mut layout = Layout::new();
    let amd64 = layout.add_image("amd64", &[40 * 1024]);
    let arm64 = layout.add_image("arm64", &[50 * 1024 + 3]);
    let index = layout.add_index(&[("amd64", &amd64), ("arm64", &arm64)]);
    layout.set_ref("v1", OCI_INDEX, &index);
    let remote = format!("docker://{}/sk/multi:v1", app.host());

    skopeo
        .ok(&[
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
            &format!("oci:{}:v1", path_str(layout.path())),
            &remote,
        ])
        .await;

    let served = get_manifest(&app, "sk/multi", "v1", OCI_INDEX).await;
    assert!(
        served == index.bytes,
        "the registry serves the index as written"
    );
    let served: serde_json::Value = serde_json::from_slice(&served).expect("index is JSON");
    let children: Vec<&str> = served["manifests"]
        .as_array()
        .expect("index manifests")
        .iter()
        .map(|m| m["digest"].as_str().expect("child digest"))
        .collect();
    assert_eq!(
        children,
        [
            amd64.manifest.digest.as_str(),
            arm64.manifest.digest.as_str()
        ]
    );
    for image in [&amd64, &arm64] {
        let child = get_manifest(&app, "sk/multi", &image.manifest.digest, OCI_MANIFEST).await;
        assert!(
            child == image.manifest.bytes,
            "child {} by digest",
            image.manifest.digest
        );
        for blob in std::iter::once(&image.config).chain(&image.layers) {
            assert!(
                get_blob(&app, "sk/multi", &blob.digest).await == blob.bytes,
                "blob {} of child {}",
                blob.digest,
                image.manifest.digest
            );
        }
    }

    let out = tempfile::tempdir().expect("out layout tempdir");
    let out_dir = out.path().join("multi");
    skopeo
        .ok(&[
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-oci-accept-uncompressed-layers",
            "--src-tls-verify=false",
            &remote,
            &format!("oci:{}:v1", path_str(&out_dir)),
        ])
        .await;

    let out_index: serde_json::Value =
        serde_json::from_slice(&read(&out_dir.join("index.json"))).expect("index.json is JSON");
    let top: Vec<&serde_json::Value> = out_index["manifests"]
        .as_array()
        .expect("index.json manifests")
        .iter()
        .filter(|m| m["annotations"][REF_NAME] == "v1")
        .collect();
    assert_eq!(top.len(), 1, "one v1 entry in {out_index}");
    assert_eq!(top[0]["digest"].as_str(), Some(index.digest.as_str()));
    assert_eq!(top[0]["mediaType"], OCI_INDEX);
    assert_eq!(top[0]["size"].as_u64(), Some(index.size as u64));
    assert_same_blobs(&out_dir.join("blobs/sha256"), &layout.blobs);
}
