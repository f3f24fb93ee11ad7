//! Signing keys and signatures in the sigstore/cosign format, made the way cosign makes them,
//! for the content trust tests.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::Engine as _;
use serde_json::json;

use super::{OCI_CONFIG, OCI_MANIFEST};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The config blob of a signature artifact.
pub const SIGNATURE_CONFIG: &[u8] = b"{}";

/// A signing key pair: ECDSA P-256 or Ed25519.
pub enum Key {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl Key {
    pub fn ecdsa() -> Key {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("keygen");
        Key::Ecdsa(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).expect("key"),
        )
    }

    pub fn ed25519() -> Key {
        Key::Ed25519(Ed25519KeyPair::generate().expect("keygen"))
    }

    /// The public key as PEM SubjectPublicKeyInfo, as people register it.
    pub fn public_pem(&self) -> String {
        let spki = match self {
            Key::Ecdsa(k) => {
                // id-ecPublicKey on prime256v1, then the uncompressed point.
                let mut der = vec![
                    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
                    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
                ];
                der.extend_from_slice(k.public_key().as_ref());
                der
            }
            Key::Ed25519(k) => {
                let mut der = vec![
                    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
                ];
                der.extend_from_slice(k.public_key().as_ref());
                der
            }
        };
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            B64.encode(spki)
        )
    }

    /// The signature of `message`, base64, as cosign puts it in its annotation.
    pub fn sign(&self, message: &[u8]) -> String {
        let bytes = match self {
            Key::Ecdsa(k) => k
                .sign(&SystemRandom::new(), message)
                .expect("sign")
                .as_ref()
                .to_vec(),
            Key::Ed25519(k) => k.sign(message).as_ref().to_vec(),
        };
        B64.encode(bytes)
    }
}

/// The tag cosign stores the signatures of `digest` under.
pub fn cosign_tag(digest: &str) -> String {
    format!("sha256-{}.sig", digest.trim_start_matches("sha256:"))
}

/// A cosign signature of the manifest `digest` of `host/repo`: the simple signing payload, and
/// its signature by `key`.
pub struct Signature {
    pub payload: Vec<u8>,
    pub signature: String,
}

impl Signature {
    pub fn new(host: &str, repo: &str, digest: &str, key: &Key) -> Signature {
        let payload = json!({
            "critical": {
                "identity": {"docker-reference": format!("{host}/{repo}")},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature"
            },
            "optional": {"creator": "berth tests", "timestamp": 1_764_000_000}
        })
        .to_string()
        .into_bytes();
        let signature = key.sign(&payload);
        Signature { payload, signature }
    }

    /// The signature artifact's manifest, once the payload and [`SIGNATURE_CONFIG`] are blobs
    /// with these digests.
    pub fn manifest(&self, payload_digest: &str, config_digest: &str) -> Vec<u8> {
        json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": SIGNATURE_CONFIG.len()},
            "layers": [{
                "mediaType": SIMPLE_SIGNING,
                "digest": payload_digest,
                "size": self.payload.len(),
                "annotations": {"dev.cosignproject.cosign/signature": self.signature}
            }]
        })
        .to_string()
        .into_bytes()
    }
}

/// `GET`/`HEAD` of a manifest as the administrator, accepting OCI manifests and indexes: the
/// status (what the signed-only policy decides).
pub async fn manifest_status(
    app: &super::TestApp,
    method: reqwest::Method,
    repo: &str,
    reference: &str,
) -> reqwest::StatusCode {
    app.request(method, &format!("/v2/{repo}/manifests/{reference}"))
        .header(
            "Accept",
            format!("{}, {}", super::OCI_MANIFEST, super::OCI_INDEX),
        )
        .send()
        .await
        .expect("manifest request")
        .status()
}

/// Registers a public key (PEM) at `path` (`/api/v1/user/signing-keys`, …) as the
/// administrator.
pub async fn add_key(app: &super::TestApp, path: &str, name: &str, pem: &str) -> serde_json::Value {
    let r = app
        .client
        .post(app.url(path))
        .json(&serde_json::json!({"name": name, "public_key": pem}))
        .send()
        .await
        .expect("add key");
    assert_eq!(
        r.status(),
        reqwest::StatusCode::CREATED,
        "add key {name} at {path}"
    );
    r.json().await.expect("key json")
}

/// Switches the signed-only policy at `path` as the administrator.
pub async fn set_policy(app: &super::TestApp, path: &str, on: bool) -> serde_json::Value {
    let r = app
        .client
        .put(app.url(path))
        .json(&serde_json::json!({ "signed_only": on }))
        .send()
        .await
        .expect("set policy");
    assert_eq!(r.status(), reqwest::StatusCode::OK, "policy at {path}");
    r.json().await.expect("policy json")
}

/// A Notation signer: a P-256 key and a self-signed certificate for it, signing as `notation
/// sign` does (a JWS envelope in JSON serialization, ES256).
pub struct NotationSigner {
    certificate: Vec<u8>,
    key: EcdsaKeyPair,
    /// The public key as PEM, as people register it.
    pub public_pem: String,
}

impl NotationSigner {
    pub fn new(name: &str) -> NotationSigner {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let certificate = params
            .self_signed(&key)
            .expect("certificate")
            .der()
            .to_vec();
        NotationSigner {
            certificate,
            key: EcdsaKeyPair::from_pkcs8(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &key.serialize_der(),
            )
            .expect("signing key"),
            public_pem: key.public_key_pem(),
        }
    }

    /// The JWS envelope signing the manifest `digest`, with `extra` protected headers (an
    /// object; `{}` for none).
    pub fn envelope(
        &self,
        digest: &str,
        media_type: &str,
        size: usize,
        extra: serde_json::Value,
    ) -> Vec<u8> {
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut protected = json!({
            "alg": "ES256",
            "crit": ["io.cncf.notary.signingScheme"],
            "cty": "application/vnd.cncf.notary.payload.v1+json",
            "io.cncf.notary.signingScheme": "notary.x509",
            "io.cncf.notary.signingTime": "2026-11-30T12:00:00Z",
        });
        if let (Some(headers), Some(extra)) = (protected.as_object_mut(), extra.as_object()) {
            headers.extend(extra.clone());
        }
        let protected = url.encode(protected.to_string());
        let payload = url.encode(
            json!({"targetArtifact": {"mediaType": media_type, "digest": digest, "size": size}})
                .to_string(),
        );
        let signature = self
            .key
            .sign(
                &SystemRandom::new(),
                format!("{protected}.{payload}").as_bytes(),
            )
            .expect("sign");
        json!({
            "payload": payload,
            "protected": protected,
            "header": {
                "x5c": [B64.encode(&self.certificate)],
                "io.cncf.notary.signingAgent": "berth tests",
            },
            "signature": url.encode(signature.as_ref()),
        })
        .to_string()
        .into_bytes()
    }
}

/// The manifest of a Notation signature artifact: `envelope` (a blob of `envelope_len` bytes)
/// refers to the manifest `subject` (`(digest, media type, size)`).
pub fn notation_manifest(
    subject: (&str, &str, usize),
    envelope: (&str, usize),
    config_digest: &str,
) -> Vec<u8> {
    json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.cncf.notary.signature",
        "config": {
            "mediaType": "application/vnd.cncf.notary.signature",
            "digest": config_digest,
            "size": SIGNATURE_CONFIG.len(),
        },
        "layers": [{"mediaType": "application/jose+json", "digest": envelope.0, "size": envelope.1}],
        "subject": {"mediaType": subject.1, "digest": subject.0, "size": subject.2},
    })
    .to_string()
    .into_bytes()
}
