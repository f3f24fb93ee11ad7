//! TUF metadata made here, as a Notary client makes it, for the trust server tests: signing
//! keys (root certificates or plain ECDSA keys), signed files, and the multipart update that
//! carries them.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::Engine as _;
use rcgen::PublicKeyData;
use serde_json::{json, Value};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A multipart update as the Notary client sends it: one part per role, named by its role.
pub fn multipart(files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
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

/// A key of a TUF role, with its private half.
pub struct TufKey {
    pair: EcdsaKeyPair,
    /// As a TUF file lists it: `{"keytype", "keyval": {"public", "private": null}}`.
    pub public: Value,
    pub id: String,
    /// The public key as PEM, as people register it as a signing key.
    pub pem: String,
}

impl TufKey {
    /// A root key: a certificate for the collection `gun`.
    pub fn root(gun: &str) -> TufKey {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, gun);
        let cert = params.self_signed(&key).expect("certificate").pem();
        TufKey::new(&key, "ecdsa-x509", cert.as_bytes())
    }

    /// A plain ECDSA P-256 key.
    pub fn plain() -> TufKey {
        let key = rcgen::KeyPair::generate().expect("key");
        let spki = key.subject_public_key_info();
        TufKey::new(&key, "ecdsa", &spki)
    }

    fn new(key: &rcgen::KeyPair, keytype: &str, public: &[u8]) -> TufKey {
        TufKey {
            pair: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key.serialize_der())
                .expect("signing key"),
            public: json!({"keytype": keytype, "keyval": {"private": null, "public": B64.encode(public)}}),
            id: uuid::Uuid::new_v4().simple().to_string(),
            pem: key.public_key_pem(),
        }
    }
}

/// A signed file: `body` (canonical JSON, as serde_json writes sorted ASCII) signed by `by`.
pub fn signed(body: Value, by: &[&TufKey]) -> Vec<u8> {
    let message = serde_json::to_vec(&body).expect("json");
    let signatures: Vec<Value> = by
        .iter()
        .map(|k| {
            let sig = k.pair.sign(&SystemRandom::new(), &message).expect("sign");
            json!({"keyid": k.id, "method": "ecdsa", "sig": B64.encode(sig.as_ref())})
        })
        .collect();
    serde_json::to_vec(&json!({"signed": body, "signatures": signatures})).expect("json")
}

/// A key of Berth's (`GET …/<role>.key`) as a root lists it: `(id, key)`.
pub fn server_key(public: &Value) -> (String, Value) {
    (uuid::Uuid::new_v4().simple().to_string(), public.clone())
}

/// `length` and `hashes.sha256` of a target, as a targets file lists it.
pub fn target(digest: &str, size: usize) -> Value {
    let bytes = hex::decode(digest.trim_start_matches("sha256:")).expect("hex digest");
    json!({"length": size, "hashes": {"sha256": B64.encode(bytes)}})
}
