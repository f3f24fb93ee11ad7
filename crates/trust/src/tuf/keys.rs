//! TUF keys: the public keys of a trust collection's roles, as Notary writes them, and the
//! timestamp and snapshot keys Berth holds itself, sealed at rest.

use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use data_encoding::BASE64;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::canonical;
use crate::signatures::{KeyAlgorithm, PublicKey};

const OID_RSA: &str = "1.2.840.113549.1.1.1";

/// What verifies a signature made with the key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verifier {
    /// ECDSA P-256 or Ed25519.
    Standard(PublicKey),
    /// An RSA public key, PKCS#1 DER.
    Rsa(Vec<u8>),
}

/// The certificate a `*-x509` key comes in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub common_name: String,
    pub not_before: i64,
    pub not_after: i64,
}

/// A role's public key as a TUF file lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TufKey {
    verifier: Verifier,
    /// The DER SubjectPublicKeyInfo: two keys are the same key when these match.
    pub spki: Vec<u8>,
    pub certificate: Option<Certificate>,
}

impl TufKey {
    /// Reads `{"keytype": …, "keyval": {"public": "<base64>"}}`: `ecdsa`, `rsa` (DER
    /// SubjectPublicKeyInfo), `ecdsa-x509`, `rsa-x509` (a PEM certificate) or `ed25519` (32
    /// raw bytes).
    pub fn parse(value: &Value) -> Result<TufKey, String> {
        let keytype = value["keytype"].as_str().ok_or("a key has no keytype")?;
        let public = value["keyval"]["public"]
            .as_str()
            .ok_or("a key has no keyval.public")?;
        let public = BASE64
            .decode(public.as_bytes())
            .map_err(|_| "a key's public part is not base64")?;
        match keytype {
            "ecdsa" | "rsa" => TufKey::from_spki(public, None),
            "ecdsa-x509" | "rsa-x509" => {
                let (_, pem) = x509_parser::pem::parse_x509_pem(&public)
                    .map_err(|_| "a certificate key is not PEM")?;
                let (_, cert) = X509Certificate::from_der(&pem.contents)
                    .map_err(|_| "a certificate key is not an X.509 certificate")?;
                let common_name = cert
                    .subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let validity = cert.validity();
                let certificate = Certificate {
                    common_name,
                    not_before: validity.not_before.timestamp(),
                    not_after: validity.not_after.timestamp(),
                };
                TufKey::from_spki(cert.public_key().raw.to_vec(), Some(certificate))
            }
            "ed25519" if public.len() == 32 => {
                // The SubjectPublicKeyInfo of an Ed25519 key is a fixed prefix and the key.
                let mut spki = vec![
                    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
                ];
                spki.extend_from_slice(&public);
                TufKey::from_spki(spki, None)
            }
            other => Err(format!("unsupported key type {other:?}")),
        }
    }

    fn from_spki(spki: Vec<u8>, certificate: Option<Certificate>) -> Result<TufKey, String> {
        use spki::der::Decode;
        let info = spki::SubjectPublicKeyInfoRef::from_der(&spki)
            .map_err(|_| "a key is not a DER SubjectPublicKeyInfo")?;
        let verifier = if info.algorithm.oid.to_string() == OID_RSA {
            let pkcs1 = info
                .subject_public_key
                .as_bytes()
                .ok_or("an RSA key has a partial byte")?;
            Verifier::Rsa(pkcs1.to_vec())
        } else {
            Verifier::Standard(PublicKey::from_spki_der(&spki)?)
        };
        Ok(TufKey {
            verifier,
            spki,
            certificate,
        })
    }

    /// Whether `signature`, made by `method` (`ecdsa`, `eddsa`, `rsapss`, `rsapkcs1v15`),
    /// signs `message`.
    pub fn verifies(&self, method: &str, message: &[u8], signature: &[u8]) -> bool {
        let (algorithm, key): (&dyn sig::VerificationAlgorithm, &[u8]) =
            match (&self.verifier, method) {
                (Verifier::Standard(k), "ecdsa") if k.algorithm == KeyAlgorithm::EcdsaP256 => {
                    (&sig::ECDSA_P256_SHA256_FIXED, k.raw())
                }
                (Verifier::Standard(k), "eddsa") if k.algorithm == KeyAlgorithm::Ed25519 => {
                    (&sig::ED25519, k.raw())
                }
                (Verifier::Rsa(k), "rsapss") => (&sig::RSA_PSS_2048_8192_SHA256, k),
                (Verifier::Rsa(k), "rsapkcs1v15") => (&sig::RSA_PKCS1_2048_8192_SHA256, k),
                _ => return false,
            };
        UnparsedPublicKey::new(algorithm, key)
            .verify(message, signature)
            .is_ok()
    }

    /// SHA-256 of the SubjectPublicKeyInfo: the fingerprint a registered signing key has.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(&self.spki))
    }
}

/// The key that seals the secrets Berth holds at rest (AES-256-GCM): the trust keys, and the
/// credentials and deploy keys of build sources.
#[derive(Clone)]
pub struct TrustSecret([u8; 32]);

impl TrustSecret {
    pub fn new(bytes: [u8; 32]) -> TrustSecret {
        TrustSecret(bytes)
    }

    fn key(&self) -> Result<RandomizedNonceKey, String> {
        RandomizedNonceKey::new(&AES_256_GCM, &self.0).map_err(|_| "bad sealing key".to_owned())
    }

    /// Encrypts `plain`, bound to `context`: the nonce, then the ciphertext and tag.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Result<Vec<u8>, String> {
        let mut in_out = plain.to_vec();
        let nonce = self
            .key()?
            .seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut in_out)
            .map_err(|_| "sealing a key failed")?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, String> {
        if sealed.len() < NONCE_LEN {
            return Err("a sealed key is truncated".into());
        }
        let (nonce, data) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "bad nonce")?;
        let mut in_out = data.to_vec();
        let plain = self
            .key()?
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut in_out)
            .map_err(|_| "a sealed key does not open with this data directory's trust.secret")?;
        Ok(plain.to_vec())
    }
}

/// A timestamp or snapshot key Berth holds: ECDSA P-256, as Notary's server makes them.
pub struct ServerKey {
    pair: EcdsaKeyPair,
    /// PKCS#8, for storing sealed.
    pkcs8: Vec<u8>,
    /// `{"keytype":"ecdsa","keyval":{"private":null,"public":…}}`.
    pub public: Value,
    /// The key ID: SHA-256 of the canonical public key.
    pub id: String,
}

impl ServerKey {
    pub fn generate() -> Result<ServerKey, String> {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            &SystemRandom::new(),
        )
        .map_err(|_| "generating a key failed")?;
        ServerKey::from_pkcs8(pkcs8.as_ref())
    }

    fn from_pkcs8(pkcs8: &[u8]) -> Result<ServerKey, String> {
        let pair = EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|_| "a stored key is not ECDSA P-256 PKCS#8")?;
        let der = pair
            .public_key()
            .as_der()
            .map_err(|_| "encoding a public key failed")?;
        let public = json!({
            "keytype": "ecdsa",
            "keyval": {"private": null, "public": BASE64.encode(der.as_ref())},
        });
        let id = hex::encode(Sha256::digest(canonical::encode(&public)?));
        Ok(ServerKey {
            pair,
            pkcs8: pkcs8.to_vec(),
            public,
            id,
        })
    }

    /// The key sealed with `secret` for the collection and role it serves.
    pub fn seal(&self, secret: &TrustSecret, context: &str) -> Result<Vec<u8>, String> {
        secret.seal(context, &self.pkcs8)
    }

    pub fn open(secret: &TrustSecret, context: &str, sealed: &[u8]) -> Result<ServerKey, String> {
        ServerKey::from_pkcs8(&secret.open(context, sealed)?)
    }

    /// A TUF signature entry over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Value, String> {
        let signature = self
            .pair
            .sign(&SystemRandom::new(), message)
            .map_err(|_| "signing failed")?;
        Ok(json!({
            "keyid": self.id,
            "method": "ecdsa",
            "sig": BASE64.encode(signature.as_ref()),
        }))
    }

    pub fn tuf_key(&self) -> Result<TufKey, String> {
        TufKey::parse(&self.public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_keys_seal_sign_and_verify() {
        let secret = TrustSecret::new([7; 32]);
        let key = ServerKey::generate().unwrap();
        let sealed = key.seal(&secret, "gun/timestamp").unwrap();
        let opened = ServerKey::open(&secret, "gun/timestamp", &sealed).unwrap();
        assert_eq!(opened.id, key.id);
        assert!(ServerKey::open(&secret, "other/timestamp", &sealed).is_err());
        assert!(ServerKey::open(&TrustSecret::new([8; 32]), "gun/timestamp", &sealed).is_err());

        let entry = opened.sign(b"message").unwrap();
        let signature = BASE64
            .decode(entry["sig"].as_str().unwrap().as_bytes())
            .unwrap();
        let public = key.tuf_key().unwrap();
        assert!(public.verifies("ecdsa", b"message", &signature));
        assert!(!public.verifies("ecdsa", b"other", &signature));
        assert!(!public.verifies("eddsa", b"message", &signature));
        assert_eq!(entry["keyid"], key.id.as_str());
    }
}
