//! OCI image layouts written by tests, and `skopeo` run against them and a Berth.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::{run_command_ok, sha256, TestApp, ADMIN, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST};

pub const OCI_TAR_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// `len` unpredictable bytes, different on every call.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let seed = uuid::Uuid::new_v4();
    let mut out = Vec::with_capacity(len + 32);
    let mut block = 0u64;
    while out.len() < len {
        out.extend_from_slice(
            &Sha256::new()
                .chain_update(seed.as_bytes())
                .chain_update(block.to_le_bytes())
                .finalize(),
        );
        block += 1;
    }
    out.truncate(len);
    out
}

/// An OCI image layout being written in a temporary directory; remembers every blob it holds.
pub struct Layout {
    dir: tempfile::TempDir,
    pub blobs: BTreeMap<String, Vec<u8>>,
}

/// One blob's descriptor parts.
#[derive(Clone)]
pub struct Blob {
    pub digest: String,
    pub size: usize,
    pub bytes: Vec<u8>,
}

/// An image written into a layout: its manifest and the blobs it references.
pub struct Image {
    pub manifest: Blob,
    pub config: Blob,
    pub layers: Vec<Blob>,
}

impl Layout {
    pub fn new() -> Layout {
        let dir = tempfile::tempdir().expect("layout tempdir");
        std::fs::write(
            dir.path().join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .expect("write oci-layout");
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).expect("create blobs dir");
        Layout {
            dir,
            blobs: BTreeMap::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn add_blob(&mut self, bytes: Vec<u8>) -> Blob {
        let digest = sha256(&bytes);
        let hex = digest.trim_start_matches("sha256:");
        std::fs::write(self.path().join("blobs/sha256").join(hex), &bytes).expect("write blob");
        self.blobs.insert(digest.clone(), bytes.clone());
        Blob {
            digest,
            size: bytes.len(),
            bytes,
        }
    }

    /// Writes a linux/`arch` image with uncompressed random layers of the given sizes.
    pub fn add_image(&mut self, arch: &str, layer_sizes: &[usize]) -> Image {
        let layers: Vec<Blob> = layer_sizes
            .iter()
            .map(|&n| self.add_blob(random_bytes(n)))
            .collect();
        let diff_ids: Vec<String> = layers.iter().map(|l| format!("\"{}\"", l.digest)).collect();
        let config = self.add_blob(
            format!(
                r#"{{"architecture":"{arch}","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
                diff_ids.join(",")
            )
            .into_bytes(),
        );
        let layer_descriptors: Vec<String> = layers
            .iter()
            .map(|l| {
                format!(
                    r#"{{"mediaType":"{OCI_TAR_LAYER}","digest":"{}","size":{}}}"#,
                    l.digest, l.size
                )
            })
            .collect();
        let manifest = self.add_blob(
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{}","size":{}}},"layers":[{}]}}"#,
                config.digest,
                config.size,
                layer_descriptors.join(",")
            )
            .into_bytes(),
        );
        Image {
            manifest,
            config,
            layers,
        }
    }

    /// Writes an image index of `images`, each with its platform `(architecture, image)`.
    pub fn add_index(&mut self, images: &[(&str, &Image)]) -> Blob {
        let entries: Vec<String> = images
            .iter()
            .map(|(arch, image)| {
                format!(
                    r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#,
                    image.manifest.digest, image.manifest.size
                )
            })
            .collect();
        self.add_blob(
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
                entries.join(",")
            )
            .into_bytes(),
        )
    }

    /// Writes `index.json`, naming `top` (of `media_type`) as `name`.
    pub fn set_ref(&self, name: &str, media_type: &str, top: &Blob) {
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{media_type}","digest":"{}","size":{},"annotations":{{"{REF_NAME}":"{name}"}}}}]}}"#,
            top.digest, top.size
        );
        std::fs::write(self.path().join("index.json"), index).expect("write index.json");
    }
}

/// `skopeo` with no trust policy and nothing from the user's registry credentials.
pub struct Skopeo {
    pub scratch: tempfile::TempDir,
}

impl Skopeo {
    pub fn new() -> Skopeo {
        Skopeo {
            scratch: tempfile::tempdir().expect("skopeo tempdir"),
        }
    }

    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let tmp = self.scratch.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("skopeo tmpdir");
        let mut cmd = tokio::process::Command::new("skopeo");
        cmd.arg("--insecure-policy")
            .arg("--tmpdir")
            .arg(&tmp)
            .args(args)
            .env("REGISTRY_AUTH_FILE", self.scratch.path().join("auth.json"))
            .env("DOCKER_CONFIG", self.scratch.path().join("docker"));
        cmd
    }

    pub async fn ok(&self, args: &[&str]) -> Vec<u8> {
        run_command_ok(self.command(args)).await.stdout
    }

    /// `skopeo login` with the administrator's access token, as a CI job would.
    pub async fn login(&self, app: &TestApp) {
        self.ok(&[
            "login",
            "--tls-verify=false",
            "--username",
            ADMIN,
            "--password",
            &app.admin_token,
            &app.host(),
        ])
        .await;
    }
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}
