//! Notation (Notary Project) signatures: an OCI artifact of type
//! `application/vnd.cncf.notary.signature` that refers to the signed manifest as its subject,
//! with a JWS envelope (`application/jose+json`) as its layer. The envelope signs a payload
//! naming the manifest's digest with the key of the first certificate of its `x5c` chain.
//!
//! Berth trusts the key, not a certificate authority: a signature verifies when its signing
//! certificate holds one of the namespace's registered public keys, the JWS signature checks
//! out with it (ES256, the algorithm of P-256 keys), it has not expired, and it names no
//! critical header Berth does not understand.

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey};
use data_encoding::{BASE64, BASE64URL_NOPAD};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{KeyAlgorithm, PublicKey, Signature, TrustedKey};
use berth_registry::digest::Digest;

/// The artifact type (and config media type) of a Notation signature.
pub const ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
/// The media type of a JWS signature envelope.
pub const JWS: &str = "application/jose+json";
const PAYLOAD_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";

#[derive(Deserialize)]
struct Envelope {
    payload: String,
    protected: String,
    #[serde(default)]
    header: Header,
    signature: String,
}

#[derive(Deserialize, Default)]
struct Header {
    #[serde(default)]
    x5c: Vec<String>,
}

#[derive(Deserialize)]
struct Protected {
    alg: String,
    cty: String,
    #[serde(default)]
    crit: Vec<String>,
    #[serde(rename = "io.cncf.notary.signingTime")]
    signing_time: Option<String>,
    #[serde(rename = "io.cncf.notary.expiry")]
    expiry: Option<String>,
}

/// The critical header parameters Berth understands; a signature naming any other as critical
/// is refused, as JWS requires.
const UNDERSTOOD: &[&str] = &[
    "io.cncf.notary.signingScheme",
    "io.cncf.notary.expiry",
    "io.cncf.notary.authenticSigningTime",
];

fn unix_time(rfc3339: &str) -> Option<i64> {
    OffsetDateTime::parse(rfc3339, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "targetArtifact")]
    target_artifact: Target,
}

#[derive(Deserialize)]
struct Target {
    digest: String,
}

/// Checks one JWS envelope of `artifact` against `keys`, for the manifest `subject`.
pub(super) fn judge(
    artifact: &str,
    subject: &Digest,
    envelope: Option<&[u8]>,
    keys: &[TrustedKey],
) -> Signature {
    let mut verdict = Signature {
        format: "notation",
        artifact: artifact.to_owned(),
        verified: false,
        signer: None,
        signed_at: None,
        problem: None,
    };
    match check(subject, envelope, keys, &mut verdict.signed_at) {
        Ok(name) => {
            verdict.verified = true;
            verdict.signer = Some(name);
        }
        Err(problem) => verdict.problem = Some(problem),
    }
    verdict
}

fn check(
    subject: &Digest,
    envelope: Option<&[u8]>,
    keys: &[TrustedKey],
    signed_at: &mut Option<i64>,
) -> Result<String, String> {
    let envelope = envelope.ok_or("the signature envelope is missing")?;
    let envelope: Envelope = serde_json::from_slice(envelope)
        .map_err(|_| "the signature envelope is not a JWS in JSON serialization")?;
    let decode = |part: &str, what: &str| {
        BASE64URL_NOPAD
            .decode(part.as_bytes())
            .map_err(|_| format!("the envelope's {what} is not base64url"))
    };
    let protected: Protected = serde_json::from_slice(&decode(&envelope.protected, "header")?)
        .map_err(|_| "the envelope's protected header is malformed")?;
    if protected.cty != PAYLOAD_TYPE {
        return Err(format!(
            "the envelope signs a {:?}, not a Notation payload",
            protected.cty
        ));
    }
    if let Some(unknown) = protected
        .crit
        .iter()
        .find(|c| !UNDERSTOOD.contains(&c.as_str()))
    {
        let unknown: String = unknown.chars().take(80).collect();
        return Err(format!(
            "it requires {unknown:?}, which Berth does not understand"
        ));
    }
    *signed_at = protected.signing_time.as_deref().and_then(unix_time);
    if let Some(expiry) = &protected.expiry {
        let expires = unix_time(expiry).ok_or("the signature's expiry is not a time")?;
        if expires <= berth_registry::clock::now() {
            return Err(format!("the signature expired at {expiry}"));
        }
    }
    let payload: Payload = serde_json::from_slice(&decode(&envelope.payload, "payload")?)
        .map_err(|_| "the envelope's payload names no target artifact")?;
    if payload.target_artifact.digest != subject.to_string() {
        let named: String = payload.target_artifact.digest.chars().take(80).collect();
        return Err(format!("it signs {named}, not this manifest"));
    }
    let leaf = envelope
        .header
        .x5c
        .first()
        .ok_or("the envelope carries no signing certificate")?;
    let der = BASE64
        .decode(leaf.as_bytes())
        .map_err(|_| "the signing certificate is not base64")?;
    let (_, cert) =
        X509Certificate::from_der(&der).map_err(|_| "the signing certificate is not X.509")?;
    let key = PublicKey::from_spki_der(cert.public_key().raw)?;
    let trusted = keys
        .iter()
        .find(|k| k.key.fingerprint == key.fingerprint)
        .ok_or_else(|| {
            if keys.is_empty() {
                "the namespace has no signing keys".to_owned()
            } else {
                "no key the namespace trusts made this signature".to_owned()
            }
        })?;
    if protected.alg != "ES256" || key.algorithm != KeyAlgorithm::EcdsaP256 {
        return Err(format!(
            "the algorithm {:?} is not supported",
            protected.alg
        ));
    }
    let signature = decode(&envelope.signature, "signature")?;
    let signing_input = format!("{}.{}", envelope.protected, envelope.payload);
    UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, key.raw())
        .verify(signing_input.as_bytes(), &signature)
        .map_err(|_| "the signature does not match its payload".to_owned())?;
    Ok(trusted.name.clone())
}
