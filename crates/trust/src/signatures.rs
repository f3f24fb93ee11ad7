//! Image signatures stored beside images as OCI artifacts, in the sigstore/cosign format that
//! `cosign sign --key` and `skopeo copy --sign-by-sigstore-private-key` write: a manifest tagged
//! `sha256-<hex>.sig` (or attached through the referrers API) whose layers are "simple signing"
//! payloads naming the signed manifest's digest, each with its signature in an annotation.
//!
//! Notation signatures (`notation sign`: a JWS envelope in an artifact that refers to the
//! manifest) are recognised the same way ([`notation`]).
//!
//! Berth checks those signatures itself against public keys that namespace administrators
//! register (ECDSA P-256 and Ed25519), so the UI, the API and the signed-only pull policy all
//! rest on the same verdict.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey};
use data_encoding::BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use berth_registry::digest::Digest;
use berth_registry::error::Result;
use berth_registry::Registry;

use crate::Trust;

mod notation;

/// Media type of a simple signing payload layer.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation that carries the base64 signature of the payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Signature artifacts a manifest may have (via its cosign tag and the referrers API).
const MAX_ARTIFACTS: usize = 16;
/// Signature layers looked at per artifact.
const MAX_LAYERS: usize = 32;
/// Largest payload read.
const MAX_PAYLOAD: u64 = 64 * 1024;

/// The tag under which cosign stores the signatures of `digest`.
pub fn cosign_tag(digest: &Digest) -> String {
    format!("{}-{}.sig", digest.algorithm().as_str(), digest.hex())
}

/// Whether a stored manifest is itself a signature artifact: every one of its layers is a
/// signature (so an image cannot pass for one by carrying a signature among its layers).
pub fn is_signature_artifact(manifest: &[u8]) -> bool {
    let Ok(m) = serde_json::from_slice::<ManifestLayers>(manifest) else {
        return false;
    };
    let notation = m.is_notation();
    !m.layers.is_empty()
        && m.layers
            .iter()
            .all(|l| l.media_type == SIMPLE_SIGNING || (notation && l.media_type == notation::JWS))
}

/// The algorithms a signing key may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    EcdsaP256,
    Ed25519,
}

impl KeyAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
            KeyAlgorithm::Ed25519 => "ed25519",
        }
    }
}

/// A public key, parsed from PEM (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: KeyAlgorithm,
    /// The key itself: an uncompressed P-256 point, or 32 Ed25519 bytes.
    raw: Vec<u8>,
    /// SHA-256 of the SubjectPublicKeyInfo, hex: what the UI shows to tell keys apart.
    pub fingerprint: String,
}

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_ED25519: &str = "1.3.101.112";

impl PublicKey {
    /// Parses a PEM public key, or says why it is not one Berth can verify with.
    pub fn from_pem(pem: &str) -> std::result::Result<PublicKey, String> {
        let body: String = pem
            .trim()
            .strip_prefix("-----BEGIN PUBLIC KEY-----")
            .and_then(|s| s.trim_end().strip_suffix("-----END PUBLIC KEY-----"))
            .ok_or("a public key is PEM text from -----BEGIN PUBLIC KEY----- to -----END PUBLIC KEY-----")?
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = BASE64
            .decode(body.as_bytes())
            .map_err(|_| "the public key is not valid base64")?;
        PublicKey::from_spki_der(&der)
    }

    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> std::result::Result<PublicKey, String> {
        use spki::der::Decode;
        let info = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|_| "the public key is not a DER SubjectPublicKeyInfo")?;
        let raw = info
            .subject_public_key
            .as_bytes()
            .ok_or("the public key has a partial byte")?
            .to_vec();
        let algorithm = match info.algorithm.oid.to_string().as_str() {
            OID_EC_PUBLIC_KEY => {
                let curve = info
                    .algorithm
                    .parameters_oid()
                    .map_err(|_| "the EC public key does not name its curve")?;
                if curve.to_string() != OID_P256 || raw.len() != 65 || raw[0] != 4 {
                    return Err("only ECDSA keys on P-256 are supported".into());
                }
                KeyAlgorithm::EcdsaP256
            }
            OID_ED25519 if raw.len() == 32 => KeyAlgorithm::Ed25519,
            _ => return Err("the key is neither ECDSA P-256 nor Ed25519".into()),
        };
        Ok(PublicKey {
            algorithm,
            raw,
            fingerprint: hex::encode(Sha256::digest(der)),
        })
    }

    /// The key itself: an uncompressed P-256 point, or 32 Ed25519 bytes.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Whether `signature` (ASN.1 DER for ECDSA, 64 bytes for Ed25519) signs `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let algorithm: &dyn sig::VerificationAlgorithm = match self.algorithm {
            KeyAlgorithm::EcdsaP256 => &sig::ECDSA_P256_SHA256_ASN1,
            KeyAlgorithm::Ed25519 => &sig::ED25519,
        };
        UnparsedPublicKey::new(algorithm, &self.raw)
            .verify(message, signature)
            .is_ok()
    }
}

/// A key a namespace trusts, by the name it was registered under.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub name: String,
    pub key: PublicKey,
}

/// One signature found for a manifest, and what Berth made of it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Signature {
    /// `cosign`: a sigstore simple signing payload; `notation`: a Notary Project JWS envelope;
    /// `notary`: a Docker Content Trust (TUF) target.
    pub format: &'static str,
    /// The signature artifact's digest.
    pub artifact: String,
    /// Whether a trusted key verifies it.
    pub verified: bool,
    /// The name of the key that verified it.
    pub signer: Option<String>,
    /// When it says it was made (seconds since the epoch), if it says.
    pub signed_at: Option<i64>,
    /// Why it does not verify, when it does not.
    pub problem: Option<String>,
}

/// A layer that carries a signature.
enum SignatureLayer {
    /// A simple signing payload, its signature in an annotation.
    Cosign { payload: Digest, signature: String },
    /// A Notation JWS envelope.
    Notation { envelope: Digest },
}

#[derive(Deserialize)]
struct ManifestLayers {
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
    #[serde(default)]
    config: Option<Layer>,
    #[serde(default)]
    layers: Vec<Layer>,
}

#[derive(Deserialize)]
struct Layer {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: std::collections::HashMap<String, String>,
}

impl ManifestLayers {
    /// Whether this is a Notation signature artifact (by its artifact type or config).
    fn is_notation(&self) -> bool {
        self.artifact_type.as_deref() == Some(notation::ARTIFACT_TYPE)
            || self.config.as_ref().map(|c| c.media_type.as_str()) == Some(notation::ARTIFACT_TYPE)
    }
}

fn signature_layers(manifest: &[u8]) -> Vec<SignatureLayer> {
    let Ok(m) = serde_json::from_slice::<ManifestLayers>(manifest) else {
        return Vec::new();
    };
    let notation = m.is_notation();
    m.layers
        .into_iter()
        .filter_map(|l| match l.media_type.as_str() {
            SIMPLE_SIGNING => Some(SignatureLayer::Cosign {
                payload: l.digest.parse().ok()?,
                signature: l.annotations.get(SIGNATURE_ANNOTATION)?.clone(),
            }),
            notation::JWS if notation => Some(SignatureLayer::Notation {
                envelope: l.digest.parse().ok()?,
            }),
            _ => None,
        })
        .take(MAX_LAYERS)
        .collect()
}

#[derive(Deserialize)]
struct Payload {
    critical: Critical,
    #[serde(default)]
    optional: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct Critical {
    image: PayloadImage,
}

#[derive(Deserialize)]
struct PayloadImage {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

/// Checks one signature layer of `artifact` against `keys`, for the manifest `subject`.
fn judge(
    artifact: &str,
    subject: &Digest,
    payload: Option<&[u8]>,
    signature: &str,
    keys: &[TrustedKey],
) -> Signature {
    let mut verdict = Signature {
        format: "cosign",
        artifact: artifact.to_owned(),
        verified: false,
        signer: None,
        signed_at: None,
        problem: None,
    };
    let Some(payload) = payload else {
        verdict.problem = Some("the signed payload is missing".into());
        return verdict;
    };
    let parsed = match serde_json::from_slice::<Payload>(payload) {
        Ok(p) => p,
        Err(_) => {
            verdict.problem = Some("the signed payload is not a simple signing document".into());
            return verdict;
        }
    };
    verdict.signed_at = parsed
        .optional
        .as_ref()
        .and_then(|o| o.get("timestamp"))
        .and_then(serde_json::Value::as_i64);
    if parsed.critical.image.docker_manifest_digest != subject.to_string() {
        // What the payload names is the signer's text: shown, but never at length.
        let named: String = parsed
            .critical
            .image
            .docker_manifest_digest
            .chars()
            .take(80)
            .collect();
        verdict.problem = Some(format!("it signs {named}, not this manifest"));
        return verdict;
    }
    let Ok(bytes) = BASE64.decode(signature.trim().as_bytes()) else {
        verdict.problem = Some("the signature is not valid base64".into());
        return verdict;
    };
    match keys.iter().find(|k| k.key.verifies(payload, &bytes)) {
        Some(k) => {
            verdict.verified = true;
            verdict.signer = Some(k.name.clone());
        }
        None if keys.is_empty() => {
            verdict.problem = Some("the namespace has no signing keys".into());
        }
        None => {
            verdict.problem = Some("no key the namespace trusts made this signature".into());
        }
    }
    verdict
}

/// Whether a manifest is signed by one of a set of keys, remembered for up to a second while
/// nothing in the registry changes: under the signed-only policy every pull asks.
#[derive(Default)]
pub(crate) struct Verdicts(Mutex<HashMap<(String, String), Verdict>>);

struct Verdict {
    at: Instant,
    generation: u64,
    fingerprints: Vec<String>,
    signed: bool,
}

/// Manifests whose verdicts are remembered at once.
const MAX_VERDICTS: usize = 4096;
const VERDICT_TTL: Duration = Duration::from_secs(1);

impl Verdicts {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Verdict>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(
        &self,
        repository: &str,
        digest: &Digest,
        fingerprints: &[String],
        generation: u64,
    ) -> Option<bool> {
        let entries = self.entries();
        let v = entries.get(&(repository.to_owned(), digest.to_string()))?;
        let fresh = v.generation == generation
            && v.at.elapsed() < VERDICT_TTL
            && v.fingerprints == fingerprints;
        fresh.then_some(v.signed)
    }

    fn put(
        &self,
        repository: &str,
        digest: &Digest,
        fingerprints: Vec<String>,
        generation: u64,
        signed: bool,
    ) {
        let mut entries = self.entries();
        if entries.len() >= MAX_VERDICTS {
            entries.clear();
        }
        let verdict = Verdict {
            at: Instant::now(),
            generation,
            fingerprints,
            signed,
        };
        entries.insert((repository.to_owned(), digest.to_string()), verdict);
    }
}

/// The signatures stored for the manifest `digest` of `repository`, each checked against
/// `keys`: those under its cosign tag and those that refer to it as their subject.
pub async fn signatures(
    reg: &Registry,
    repository: &str,
    digest: &Digest,
    keys: &[TrustedKey],
) -> Result<Vec<Signature>> {
    let mut each = signatures_of_each(reg, repository, std::slice::from_ref(digest), keys).await?;
    Ok(each.pop().unwrap_or_default())
}

/// [`signatures`] of several manifests of `repository`, in their order, with one database
/// query for all of them (a page of tags asks this).
pub async fn signatures_of_each(
    reg: &Registry,
    repository: &str,
    digests: &[Digest],
    keys: &[TrustedKey],
) -> Result<Vec<Vec<Signature>>> {
    let tags: Vec<String> = digests.iter().map(cosign_tag).collect();
    let subjects: Vec<String> = digests.iter().map(Digest::to_string).collect();
    let rows = reg
        .meta()
        .signature_artifacts(repository, &tags, &subjects)
        .await?;
    let mut out = Vec::with_capacity(digests.len());
    for ((digest, tag), subject) in digests.iter().zip(&tags).zip(&subjects) {
        // Its cosign tag's manifest first, then its referrers, oldest first; each once.
        let mut artifacts: Vec<(&str, &[u8])> = Vec::new();
        let mine = rows
            .iter()
            .filter(|r| (r.via == 0 && r.key == *tag) || (r.via == 1 && r.key == *subject));
        for r in mine {
            if artifacts.len() >= MAX_ARTIFACTS {
                break;
            }
            if !artifacts.iter().any(|(d, _)| *d == r.digest) {
                artifacts.push((&r.digest, &r.content));
            }
        }
        let mut found = Vec::new();
        for (artifact, content) in artifacts {
            for layer in signature_layers(content) {
                found.push(match layer {
                    SignatureLayer::Cosign { payload, signature } => {
                        let payload = reg.small_blob(&payload, MAX_PAYLOAD).await?;
                        judge(artifact, digest, payload.as_deref(), &signature, keys)
                    }
                    SignatureLayer::Notation { envelope } => {
                        let envelope = reg.small_blob(&envelope, MAX_PAYLOAD).await?;
                        notation::judge(artifact, digest, envelope.as_deref(), keys)
                    }
                });
            }
        }
        out.push(found);
    }
    Ok(out)
}

impl Trust {
    /// Whether `digest` of `repository`, or an index of that repository that lists it, carries
    /// a signature one of `keys` verifies: what the signed-only policy asks of a pull.
    pub async fn signed_by_any(
        &self,
        reg: &Registry,
        repository: &str,
        digest: &Digest,
        keys: &[TrustedKey],
    ) -> Result<bool> {
        let fingerprints: Vec<String> = keys.iter().map(|k| k.key.fingerprint.clone()).collect();
        // Both only ever grow: their sum changes whenever either store is written.
        let generation = reg.meta().generation() + self.tuf.generation();
        if let Some(signed) = self
            .verdicts
            .get(repository, digest, &fingerprints, generation)
        {
            return Ok(signed);
        }
        let signed = self.find_signature(reg, repository, digest, keys).await?;
        self.verdicts
            .put(repository, digest, fingerprints, generation, signed);
        Ok(signed)
    }

    async fn find_signature(
        &self,
        reg: &Registry,
        repository: &str,
        digest: &Digest,
        keys: &[TrustedKey],
    ) -> Result<bool> {
        let mut candidates = vec![digest.clone()];
        for parent in reg.meta().indexes_listing(repository, digest).await? {
            if let Ok(parent) = parent.parse::<Digest>() {
                candidates.push(parent);
            }
        }
        for candidate in &candidates {
            let found = signatures(reg, repository, candidate, keys).await?;
            if found.iter().any(|s| s.verified) {
                return Ok(true);
            }
        }
        // Docker Content Trust: a tag signed as one of them by a role holding a trusted key.
        let trusted = |fingerprint: &String| keys.iter().any(|k| k.key.fingerprint == *fingerprint);
        Ok(self.signed_tags(reg, repository).await?.iter().any(|t| {
            candidates.iter().any(|c| c.to_string() == t.digest)
                && t.key_fingerprints.iter().any(trusted)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    fn pem(der: &[u8]) -> String {
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            BASE64.encode(der)
        )
    }

    /// SubjectPublicKeyInfo DER for a raw key, built by hand.
    fn spki(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
        let mut bits = vec![0x03, (key.len() + 1) as u8, 0x00];
        bits.extend_from_slice(key);
        let mut inner = algorithm.to_vec();
        inner.extend_from_slice(&bits);
        let mut out = vec![0x30, inner.len() as u8];
        out.extend_from_slice(&inner);
        out
    }

    const EC_ALG: [u8; 21] = [
        0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    const ED_ALG: [u8; 7] = [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];

    fn payload(digest: &str) -> Vec<u8> {
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"x/y"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":{{"timestamp":1700000000}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn ecdsa_and_ed25519_signatures_verify_and_others_do_not() {
        let rng = SystemRandom::new();
        let ec = EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let ec_key = PublicKey::from_pem(&pem(&spki(&EC_ALG, ec.public_key().as_ref()))).unwrap();
        assert_eq!(ec_key.algorithm, KeyAlgorithm::EcdsaP256);
        let ed = Ed25519KeyPair::generate().unwrap();
        let ed_key = PublicKey::from_pem(&pem(&spki(&ED_ALG, ed.public_key().as_ref()))).unwrap();
        assert_eq!(ed_key.algorithm, KeyAlgorithm::Ed25519);
        assert_ne!(ec_key.fingerprint, ed_key.fingerprint);

        let subject: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        let body = payload(&subject.to_string());
        let ec_sig = BASE64.encode(ec.sign(&rng, &body).unwrap().as_ref());
        let ed_sig = BASE64.encode(ed.sign(&body).as_ref());
        let keys = vec![
            TrustedKey {
                name: "release".into(),
                key: ec_key.clone(),
            },
            TrustedKey {
                name: "laptop".into(),
                key: ed_key,
            },
        ];
        let v = judge("a", &subject, Some(&body), &ec_sig, &keys);
        assert!(v.verified, "{v:?}");
        assert_eq!(v.signer.as_deref(), Some("release"));
        assert_eq!(v.signed_at, Some(1_700_000_000));
        let v = judge("a", &subject, Some(&body), &ed_sig, &keys);
        assert_eq!(v.signer.as_deref(), Some("laptop"));

        // Another key, another manifest, a changed payload, garbage: none verify.
        let v = judge("a", &subject, Some(&body), &ec_sig, &keys[1..]);
        assert!(!v.verified);
        let other: Digest = format!("sha256:{}", "cd".repeat(32)).parse().unwrap();
        let v = judge("a", &other, Some(&body), &ec_sig, &keys);
        assert!(v.problem.unwrap().contains("not this manifest"));
        let mut changed = body.clone();
        let at = changed.len() - 3;
        changed[at] = b'1';
        assert!(!judge("a", &subject, Some(&changed), &ec_sig, &keys).verified);
        assert!(!judge("a", &subject, Some(&body), "!!", &keys).verified);
        assert!(!judge("a", &subject, None, &ec_sig, &keys).verified);
    }

    #[test]
    fn keys_that_are_not_p256_or_ed25519_are_refused() {
        assert!(PublicKey::from_pem("hello").is_err());
        assert!(
            PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
                .is_err()
        );
        // An EC key on P-384's OID.
        let mut p384 = EC_ALG.to_vec();
        p384.truncate(11);
        p384[1] = 0x10;
        p384.extend_from_slice(&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]);
        let point = [4u8; 97];
        let err = PublicKey::from_pem(&pem(&spki(&p384, &point))).unwrap_err();
        assert!(err.contains("P-256"), "{err}");
    }
}
