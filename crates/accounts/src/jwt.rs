//! The token service's signing key and its JSON Web Tokens.
//!
//! Tokens follow Docker's token authentication specification, so that both
//! Berth's own registry and a stock CNCF Distribution configured with
//! `auth.token.rootcertbundle` pointing at [`TokenKeys::certificate_pem`]
//! accept them. They are signed with one ECDSA P-256 key (`ES256`) that is
//! created on first start and kept in the data directory.
//!
//! Verification trusts that one key and nothing else: a token naming a key of
//! its own (`jwk`, `jku`, `x5c`, `x5u`) is refused before any signature check
//! (Distribution CVE-2025-24976 came from trusting such keys), and so is any
//! algorithm other than `ES256`, `none` included.

use std::collections::HashMap;
use std::fs::{self, DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use data_encoding::{BASE32_NOPAD, BASE64, BASE64URL_NOPAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, KeyPair, PublicKeyData, PKCS_ECDSA_P256_SHA256,
};
use sha2::{Digest, Sha256};

/// File name of the signing key (PKCS#8 PEM) inside the key directory.
const KEY_FILE: &str = "token-signing.key";
/// File name of the self-signed certificate (PEM) for the signing key.
const CERT_FILE: &str = "token-signing.crt";
/// Clock skew tolerated on `exp`, `nbf` and `iat`, as Distribution does.
const LEEWAY_SECS: i64 = 60;
/// Upper bound on the size of a token `verify` is willing to look at.
const MAX_TOKEN_LEN: usize = 64 * 1024;
/// Header members that carry or point at a key or certificate chain.
const EMBEDDED_KEY_MEMBERS: [&str; 4] = ["jwk", "jku", "x5c", "x5u"];
/// How many signature-checked tokens `verify` remembers.
const VERIFIED_CACHE_ENTRIES: usize = 8192;

/// One action grant in a token, as in Docker's token spec.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// The claim set of a registry token, as in Docker's token spec.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    pub access: Vec<Access>,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("token key storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("token key: {0}")]
    Key(String),
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// The token service's signing key, its certificate and its key ID.
///
/// Clones share one cache of tokens whose signature has already been checked
/// (a client sends the same token with every request of a push or pull, and
/// an ECDSA verification costs far more than the rest of a manifest `GET`).
/// Only the signature check is remembered: issuer, audience and times are
/// checked on every call.
#[derive(Clone)]
pub struct TokenKeys {
    key_id: String,
    /// SHA-256 of the public key's SubjectPublicKeyInfo, hex.
    fingerprint: String,
    certificate_pem: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    verified: Arc<VerifiedTokens>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// Loads the signing key and certificate from `dir` (`token-signing.key` PKCS#8 PEM, mode 0600,
    /// and `token-signing.crt`, a self-signed X.509 certificate PEM for the same key), creating both
    /// on first start. The key is ECDSA P-256 (ES256).
    pub fn load_or_create(dir: &Path) -> Result<TokenKeys, JwtError> {
        DirBuilder::new().recursive(true).mode(0o700).create(dir)?;

        let key_path = dir.join(KEY_FILE);
        let key = match fs::read_to_string(&key_path) {
            Ok(pem) => parse_key(&pem)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
                    .map_err(|e| JwtError::Key(format!("generating the signing key: {e}")))?;
                if crate::keyfile::write_new(&key_path, key.serialize_pem().as_bytes(), 0o600)? {
                    key
                } else {
                    // Another process created it first: use theirs.
                    parse_key(&fs::read_to_string(&key_path)?)?
                }
            }
            Err(e) => return Err(e.into()),
        };
        // A copied or restored key may have come back readable by others.
        let mode = fs::metadata(&key_path)?.permissions().mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(&key_path, Permissions::from_mode(0o600))?;
        }

        let spki = key.subject_public_key_info();
        let cert_path = dir.join(CERT_FILE);
        let certificate_pem = match fs::read_to_string(&cert_path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let pem = self_signed_certificate(&key)?;
                if crate::keyfile::write_new(&cert_path, pem.as_bytes(), 0o644)? {
                    pem
                } else {
                    fs::read_to_string(&cert_path)?
                }
            }
            Err(e) => return Err(e.into()),
        };
        if !certificate_holds_key(&certificate_pem, &spki) {
            return Err(JwtError::Key(format!(
                "{} does not hold the public key of {}; remove the certificate to have it \
                 recreated from the key",
                cert_path.display(),
                key_path.display()
            )));
        }

        Ok(TokenKeys {
            key_id: libtrust_key_id(&spki),
            fingerprint: hex::encode(Sha256::digest(&spki)),
            certificate_pem,
            encoding: EncodingKey::from_ec_der(&key.serialize_der()),
            decoding: DecodingKey::from_ec_der(key.public_key_raw()),
            verified: Arc::new(VerifiedTokens::new(VERIFIED_CACHE_ENTRIES)),
        })
    }

    /// The certificate PEM: what a stock CNCF Distribution lists as `auth.token.rootcertbundle`.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// SHA-256 of the public key (its SubjectPublicKeyInfo), hex: which key this is, for
    /// comparing with other processes'.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The libtrust key ID of the public key (what Distribution matches the JWT header `kid` against).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs claims: header {"alg":"ES256","typ":"JWT","kid":<key_id>}.
    pub fn sign(&self, claims: &Claims) -> Result<String, JwtError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| JwtError::Key(format!("signing a token: {e}")))
    }

    /// Verifies a token: signature with OUR key only (never a key embedded in the token: reject any
    /// header with `jwk`, `jku`, `x5c`, `x5u`; reject `alg` other than ES256, including `none`;
    /// reject a `kid` that is not ours), `iss` == issuer, `aud` == audience, `exp` in the future and
    /// `nbf`/`iat` not in the future (allow 60 s leeway). Returns the claims.
    pub fn verify(&self, token: &str, issuer: &str, audience: &str) -> Result<Claims, JwtError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(invalid("token too large"));
        }
        let now = now_unix();
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(claims) = self.verified.get(&digest) {
            check_claims(&claims, issuer, audience, now)?;
            return Ok(claims);
        }

        self.check_header(token)?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.leeway = LEEWAY_SECS.unsigned_abs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                JwtError::Invalid(match e.kind() {
                    ErrorKind::InvalidSignature => "signature does not verify".to_owned(),
                    ErrorKind::ExpiredSignature => "token expired".to_owned(),
                    ErrorKind::ImmatureSignature => "token not valid yet".to_owned(),
                    ErrorKind::InvalidIssuer => "token from another issuer".to_owned(),
                    ErrorKind::InvalidAudience => "token for another audience".to_owned(),
                    ErrorKind::MissingRequiredClaim(claim) => format!("claim `{claim}` missing"),
                    _ => e.to_string(),
                })
            })?
            .claims;
        // The library has checked `exp` and `nbf` already; `iat` it leaves alone.
        check_claims(&claims, issuer, audience, now)?;
        self.verified.insert(digest, &claims, now);
        Ok(claims)
    }

    /// Checks the protected header before any signature work: exactly our
    /// algorithm, our key ID, and no member that names a key of its own.
    fn check_header(&self, token: &str) -> Result<(), JwtError> {
        let mut parts = token.split('.');
        let (Some(encoded), Some(_), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("not a compact JWS with three parts"));
        };
        let raw = BASE64URL_NOPAD
            .decode(encoded.as_bytes())
            .map_err(|_| invalid("header is not base64url"))?;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&raw).map_err(|_| invalid("header is not a JSON object"))?;

        if let Some(member) = EMBEDDED_KEY_MEMBERS
            .iter()
            .find(|m| header.contains_key(**m))
        {
            return Err(JwtError::Invalid(format!(
                "header member `{member}` names a key; only the token service's own key is trusted"
            )));
        }
        for name in header.keys() {
            if !matches!(name.as_str(), "alg" | "typ" | "kid") {
                return Err(JwtError::Invalid(format!(
                    "unexpected header member {}",
                    shown(name)
                )));
            }
        }
        match header.get("alg").and_then(|v| v.as_str()) {
            Some("ES256") => {}
            Some(other) => {
                return Err(JwtError::Invalid(format!(
                    "algorithm {} is not accepted, only ES256",
                    shown(other)
                )))
            }
            None => return Err(invalid("header has no algorithm")),
        }
        match header.get("typ") {
            None => {}
            Some(serde_json::Value::String(t)) if t == "JWT" => {}
            Some(_) => return Err(invalid("header type is not JWT")),
        }
        match header.get("kid").and_then(|v| v.as_str()) {
            Some(kid) if kid == self.key_id => {}
            Some(_) => return Err(invalid("token signed by an unknown key")),
            None => return Err(invalid("header has no key ID")),
        }
        if signature.is_empty() {
            return Err(invalid("unsigned token"));
        }
        Ok(())
    }
}

/// The checks on claims that do not depend on the signature, made on every
/// `verify`, whether or not the signature was checked before.
fn check_claims(claims: &Claims, issuer: &str, audience: &str, now: i64) -> Result<(), JwtError> {
    if claims.iss != issuer {
        return Err(invalid("token from another issuer"));
    }
    if claims.aud != audience {
        return Err(invalid("token for another audience"));
    }
    if claims.exp.saturating_add(LEEWAY_SECS) < now {
        return Err(invalid("token expired"));
    }
    if claims.nbf.saturating_sub(LEEWAY_SECS) > now {
        return Err(invalid("token not valid yet"));
    }
    if claims.iat.saturating_sub(LEEWAY_SECS) > now {
        return Err(invalid("token issued in the future"));
    }
    Ok(())
}

/// Tokens whose header and signature passed, by SHA-256 of the whole token,
/// with their claims. Bounded: when full, expired entries go, and if that
/// frees nothing, everything goes.
struct VerifiedTokens {
    capacity: usize,
    entries: Mutex<HashMap<[u8; 32], Claims>>,
}

impl VerifiedTokens {
    fn new(capacity: usize) -> Self {
        VerifiedTokens {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, digest: &[u8; 32]) -> Option<Claims> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.get(digest).cloned()
    }

    fn insert(&self, digest: [u8; 32], claims: &Claims, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.retain(|_, c| c.exp.saturating_add(LEEWAY_SECS) >= now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(digest, claims.clone());
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

fn invalid(reason: &str) -> JwtError {
    JwtError::Invalid(reason.to_owned())
}

/// Quotes a value taken from a token for an error message: escaped, and cut
/// short, since the token is whatever the client sent.
fn shown(value: &str) -> String {
    let cut: String = value.chars().take(40).collect();
    format!("{cut:?}")
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Parses a PKCS#8 PEM private key, accepting only ECDSA P-256.
fn parse_key(pem: &str) -> Result<KeyPair, JwtError> {
    KeyPair::from_pkcs8_pem_and_sign_algo(pem, &PKCS_ECDSA_P256_SHA256).map_err(|e| {
        JwtError::Key(format!(
            "{KEY_FILE} is not a PKCS#8 PEM ECDSA P-256 private key: {e}"
        ))
    })
}

fn self_signed_certificate(key: &KeyPair) -> Result<String, JwtError> {
    let mut params = CertificateParams::new(Vec::<String>::new())
        .map_err(|e| JwtError::Key(format!("certificate parameters: {e}")))?;
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Berth");
    name.push(DnType::CommonName, "Berth token signing");
    params.distinguished_name = name;
    let certificate = params
        .self_signed(key)
        .map_err(|e| JwtError::Key(format!("creating the certificate: {e}")))?;
    Ok(certificate.pem())
}

/// True when one of the PEM `CERTIFICATE` blocks contains `spki`, the DER
/// SubjectPublicKeyInfo of the signing key (a certificate embeds its subject's
/// SubjectPublicKeyInfo verbatim).
fn certificate_holds_key(pem: &str, spki: &[u8]) -> bool {
    let mut body: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        if line == "-----BEGIN CERTIFICATE-----" {
            body = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            if let Some(der) = body.take().and_then(|b| BASE64.decode(b.as_bytes()).ok()) {
                if der.windows(spki.len()).any(|w| w == spki) {
                    return true;
                }
            }
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    false
}

/// Docker libtrust's key ID: the SHA-256 of the DER SubjectPublicKeyInfo,
/// truncated to 240 bits, base32 (standard alphabet, no padding) and split
/// into twelve groups of four characters joined by `:`.
fn libtrust_key_id(spki_der: &[u8]) -> String {
    let digest = Sha256::digest(spki_der);
    let encoded = BASE32_NOPAD.encode(&digest[..30]);
    let mut id = String::with_capacity(encoded.len() + encoded.len() / 4);
    for (i, c) in encoded.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            id.push(':');
        }
        id.push(c);
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A P-256 key made with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`;
    /// its key ID was computed outside this code from
    /// `openssl pkey -pubout -outform DER | sha256sum`, truncated to 30 bytes and base32-encoded.
    const OPENSSL_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg6rQMyx3MtMoMFbev
eQJI5khQBckMjOMQg6GtvYQWBWmhRANCAAQgceArcHteY0KQ+Q8CmImlDNP0J5m2
U4p67S7HBAqRYjQ98gLUD6xAtoUu/d/gcQZG3O1k373GdF9SZImD84Xa
-----END PRIVATE KEY-----
";
    const OPENSSL_KEY_ID: &str = "SLDE:TVVY:Z7FN:FX3P:BJ4Q:7HRL:D7I5:4P4K:KND2:EWI6:POG2:CLZA";

    const ISS: &str = "berth-issuer";
    const AUD: &str = "berth-service";

    fn now() -> i64 {
        now_unix()
    }

    fn claims() -> Claims {
        let now = now();
        Claims {
            iss: ISS.into(),
            sub: "alice".into(),
            aud: AUD.into(),
            exp: now + 300,
            nbf: now,
            iat: now,
            jti: "jti-1".into(),
            access: vec![Access {
                kind: "repository".into(),
                name: "alice/app".into(),
                actions: vec!["pull".into(), "push".into()],
            }],
        }
    }

    fn fresh_keys() -> (tempfile::TempDir, TokenKeys) {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = TokenKeys::load_or_create(dir.path()).expect("create keys");
        (dir, keys)
    }

    fn b64(json: &serde_json::Value) -> String {
        BASE64URL_NOPAD.encode(json.to_string().as_bytes())
    }

    /// Replaces the header of a signed token, keeping its payload and signature.
    fn with_header(token: &str, header: &serde_json::Value) -> String {
        let (_, rest) = token.split_once('.').expect("token has a header");
        format!("{}.{rest}", b64(header))
    }

    fn assert_invalid(result: Result<Claims, JwtError>, what: &str, reason: &str) {
        match result {
            Err(JwtError::Invalid(message)) => assert!(
                message.contains(reason),
                "{what}: rejected, but for {message:?} rather than {reason:?}"
            ),
            other => panic!("{what}: expected an invalid-token error, got {other:?}"),
        }
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let (_dir, keys) = fresh_keys();
        let claims = claims();
        let token = keys.sign(&claims).expect("sign");
        assert_eq!(keys.verify(&token, ISS, AUD).expect("verify"), claims);

        let (header, _) = token.split_once('.').expect("header");
        let header: serde_json::Value =
            serde_json::from_slice(&BASE64URL_NOPAD.decode(header.as_bytes()).expect("b64"))
                .expect("json");
        assert_eq!(
            header,
            serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": keys.key_id()})
        );
    }

    #[test]
    fn key_id_has_libtrust_shape() {
        let (_dir, keys) = fresh_keys();
        let kid = keys.key_id();
        assert_eq!(kid.len(), 59, "{kid}");
        let groups: Vec<&str> = kid.split(':').collect();
        assert_eq!(groups.len(), 12, "{kid}");
        for g in groups {
            assert_eq!(g.len(), 4, "{kid}");
            assert!(
                g.bytes()
                    .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)),
                "{kid}"
            );
        }
    }

    #[test]
    fn key_id_matches_known_vector_for_an_openssl_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(KEY_FILE), OPENSSL_KEY).expect("write key");
        let keys = TokenKeys::load_or_create(dir.path()).expect("load openssl key");
        assert_eq!(keys.key_id(), OPENSSL_KEY_ID);
        // The certificate was created for that key, and tokens round-trip.
        assert!(keys.certificate_pem().contains("BEGIN CERTIFICATE"));
        let token = keys.sign(&claims()).expect("sign");
        keys.verify(&token, ISS, AUD).expect("verify");
        // The group/world-readable key written by fs::write was tightened.
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn wrong_audience_or_issuer_is_rejected() {
        let (_dir, keys) = fresh_keys();
        let token = keys.sign(&claims()).expect("sign");
        assert_invalid(
            keys.verify(&token, ISS, "other-service"),
            "audience",
            "another audience",
        );
        assert_invalid(
            keys.verify(&token, "other-issuer", AUD),
            "issuer",
            "another issuer",
        );
    }

    #[test]
    fn expired_token_is_rejected_but_leeway_is_allowed() {
        let (_dir, keys) = fresh_keys();
        let mut c = claims();
        c.exp = now() - 120;
        c.nbf = now() - 600;
        c.iat = now() - 600;
        let token = keys.sign(&c).expect("sign");
        assert_invalid(keys.verify(&token, ISS, AUD), "expired", "expired");

        c.exp = now() - 10;
        let token = keys.sign(&c).expect("sign");
        keys.verify(&token, ISS, AUD)
            .expect("expired within the leeway");
    }

    #[test]
    fn not_yet_valid_or_future_issued_token_is_rejected() {
        let (_dir, keys) = fresh_keys();
        let mut c = claims();
        c.nbf = now() + 600;
        c.exp = now() + 900;
        assert_invalid(
            keys.verify(&keys.sign(&c).expect("sign"), ISS, AUD),
            "nbf",
            "not valid yet",
        );

        let mut c = claims();
        c.iat = now() + 600;
        assert_invalid(
            keys.verify(&keys.sign(&c).expect("sign"), ISS, AUD),
            "iat",
            "issued in the future",
        );

        let mut c = claims();
        c.nbf = now() + 30;
        c.iat = now() + 30;
        keys.verify(&keys.sign(&c).expect("sign"), ISS, AUD)
            .expect("within the leeway");
    }

    #[test]
    fn alg_none_is_rejected() {
        let (_dir, keys) = fresh_keys();
        let payload = b64(&serde_json::to_value(claims()).expect("claims json"));
        for header in [
            serde_json::json!({"alg": "none", "typ": "JWT", "kid": keys.key_id()}),
            serde_json::json!({"alg": "None", "typ": "JWT", "kid": keys.key_id()}),
            serde_json::json!({"alg": "none"}),
        ] {
            let header = b64(&header);
            assert_invalid(
                keys.verify(&format!("{header}.{payload}."), ISS, AUD),
                "none",
                "not accepted",
            );
            assert_invalid(
                keys.verify(&format!("{header}.{payload}.c2ln"), ISS, AUD),
                "none with a signature",
                "not accepted",
            );
        }
    }

    #[test]
    fn other_algorithms_are_rejected() {
        let (_dir, keys) = fresh_keys();
        let token = keys.sign(&claims()).expect("sign");
        for alg in ["HS256", "ES384", "RS256", "EdDSA"] {
            let forged = with_header(
                &token,
                &serde_json::json!({"alg": alg, "typ": "JWT", "kid": keys.key_id()}),
            );
            assert_invalid(keys.verify(&forged, ISS, AUD), alg, "not accepted");
        }
    }

    #[test]
    fn token_signed_by_another_key_is_rejected() {
        let (_dir, keys) = fresh_keys();
        let (_other_dir, other) = fresh_keys();
        assert_ne!(keys.key_id(), other.key_id());

        // Signed by the other key and naming it.
        let token = other.sign(&claims()).expect("sign");
        assert_invalid(
            keys.verify(&token, ISS, AUD),
            "other key, other kid",
            "unknown key",
        );

        // Signed by the other key but claiming ours.
        let forged = with_header(
            &token,
            &serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": keys.key_id()}),
        );
        // The signature covers the header, so re-sign with the other key.
        let (signing_input, _) = forged.rsplit_once('.').expect("signature");
        let signature =
            jsonwebtoken::crypto::sign(signing_input.as_bytes(), &other.encoding, Algorithm::ES256)
                .expect("raw sign");
        let forged = format!("{signing_input}.{signature}");
        assert_invalid(
            keys.verify(&forged, ISS, AUD),
            "other key, our kid",
            "signature",
        );
    }

    #[test]
    fn embedded_keys_in_the_header_are_rejected() {
        let (_dir, keys) = fresh_keys();
        let (_other_dir, attacker) = fresh_keys();
        let attacker_jwk =
            jsonwebtoken::jwk::Jwk::from_encoding_key(&attacker.encoding, Algorithm::ES256)
                .expect("jwk");

        let headers = [
            serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": keys.key_id(), "jwk": attacker_jwk}),
            serde_json::json!({"alg": "ES256", "typ": "JWT", "jwk": attacker_jwk}),
            serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": keys.key_id(), "jku": "http://127.0.0.1:1/keys"}),
            serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": keys.key_id(), "x5c": ["MIIB"]}),
            serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": keys.key_id(), "x5u": "http://127.0.0.1:1/c"}),
        ];
        for header in headers {
            let signing_input = format!(
                "{}.{}",
                b64(&header),
                b64(&serde_json::to_value(claims()).expect("claims json"))
            );
            // Signed by the embedded (attacker) key, and for good measure by ours too:
            // the header alone is reason enough to refuse.
            for signer in [&attacker, &keys] {
                let signature = jsonwebtoken::crypto::sign(
                    signing_input.as_bytes(),
                    &signer.encoding,
                    Algorithm::ES256,
                )
                .expect("raw sign");
                let token = format!("{signing_input}.{signature}");
                assert_invalid(
                    keys.verify(&token, ISS, AUD),
                    &header.to_string(),
                    "names a key",
                );
            }
        }
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let (_dir, keys) = fresh_keys();
        let token = keys.sign(&claims()).expect("sign");
        let (signing_input, _) = token.rsplit_once('.').expect("signature");
        for bad in [
            String::new(),
            "a.b".into(),
            format!("{token}.extra"),
            format!("{signing_input}."),
            format!("{signing_input}.AAAA"),
            format!("!!!.{}", token.split_once('.').expect("header").1),
            "x".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert_invalid(keys.verify(&bad, ISS, AUD), &bad, "");
        }
        // A claim of the wrong JSON type never passes as absent.
        let mut payload = serde_json::to_value(claims()).expect("claims json");
        payload["nbf"] = serde_json::json!("99999999999");
        let signing_input = format!(
            "{}.{}",
            token.split_once('.').expect("header").0,
            b64(&payload)
        );
        let signature =
            jsonwebtoken::crypto::sign(signing_input.as_bytes(), &keys.encoding, Algorithm::ES256)
                .expect("raw sign");
        assert_invalid(
            keys.verify(&format!("{signing_input}.{signature}"), ISS, AUD),
            "string nbf",
            "",
        );
    }

    #[test]
    fn a_remembered_token_is_still_checked_on_every_use() {
        let (_dir, keys) = fresh_keys();
        let token = keys.sign(&claims()).expect("sign");
        keys.verify(&token, ISS, AUD).expect("first use");
        assert_eq!(keys.verified.len(), 1);
        keys.verify(&token, ISS, AUD).expect("second use");
        assert_eq!(keys.verified.len(), 1);
        assert_invalid(
            keys.verify(&token, ISS, "other-service"),
            "remembered, other audience",
            "another audience",
        );
        assert_invalid(
            keys.verify(&token, "other-issuer", AUD),
            "remembered, other issuer",
            "another issuer",
        );
        // Clones share what was checked.
        let clone = keys.clone();
        clone.verify(&token, ISS, AUD).expect("clone");
        assert_eq!(clone.verified.len(), 1);

        // Time passes for remembered tokens too.
        let c = claims();
        let later = c.exp + LEEWAY_SECS + 1;
        assert_invalid(
            check_claims(&c, ISS, AUD, later).map(|()| c.clone()),
            "expired later",
            "expired",
        );
        let earlier = c.nbf - LEEWAY_SECS - 1;
        assert_invalid(
            check_claims(&c, ISS, AUD, earlier).map(|()| c.clone()),
            "before nbf",
            "not valid yet",
        );
        check_claims(&c, ISS, AUD, c.exp + LEEWAY_SECS).expect("last second of the leeway");

        // Rejected tokens are not remembered.
        let (_other_dir, other) = fresh_keys();
        let foreign = other.sign(&claims()).expect("sign");
        assert_invalid(keys.verify(&foreign, ISS, AUD), "foreign", "unknown key");
        assert_eq!(keys.verified.len(), 1);
    }

    #[test]
    fn the_verified_token_cache_is_bounded() {
        let cache = VerifiedTokens::new(3);
        let now = now();
        let mut c = claims();
        for i in 0..3u8 {
            c.jti = format!("jti-{i}");
            cache.insert([i; 32], &c, now);
        }
        assert_eq!(cache.len(), 3);
        // Full of live tokens: everything goes to make room.
        cache.insert([9; 32], &c, now);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&[9; 32]).is_some());
        assert!(cache.get(&[0; 32]).is_none());
        // Full with an expired one among them: only that one goes.
        let mut expired = claims();
        expired.exp = now - 3600;
        cache.insert([10; 32], &expired, now);
        cache.insert([11; 32], &c, now);
        cache.insert([12; 32], &c, now);
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&[10; 32]).is_none());
        assert!(cache.get(&[9; 32]).is_some());
    }

    #[test]
    fn key_persists_across_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = TokenKeys::load_or_create(dir.path()).expect("create");
        let token = first.sign(&claims()).expect("sign");
        let second = TokenKeys::load_or_create(dir.path()).expect("load");
        assert_eq!(first.key_id(), second.key_id());
        assert_eq!(first.certificate_pem(), second.certificate_pem());
        assert_eq!(
            second.verify(&token, ISS, AUD).expect("verify"),
            claims_of(&token)
        );

        let on_disk = fs::read_to_string(dir.path().join(CERT_FILE)).expect("read cert");
        assert_eq!(on_disk, first.certificate_pem());
    }

    fn claims_of(token: &str) -> Claims {
        let (_, rest) = token.split_once('.').expect("header");
        let (payload, _) = rest.split_once('.').expect("payload");
        serde_json::from_slice(&BASE64URL_NOPAD.decode(payload.as_bytes()).expect("b64"))
            .expect("claims")
    }

    #[test]
    fn key_file_is_private() {
        let (dir, _keys) = fresh_keys();
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .expect("stat key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
        let pem = fs::read_to_string(dir.path().join(KEY_FILE)).expect("read key");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        // No temporary files are left behind.
        let names: Vec<String> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(sorted, [CERT_FILE, KEY_FILE], "{names:?}");
    }

    #[test]
    fn missing_certificate_is_recreated_and_a_foreign_one_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = TokenKeys::load_or_create(dir.path()).expect("create");
        fs::remove_file(dir.path().join(CERT_FILE)).expect("remove cert");
        let second = TokenKeys::load_or_create(dir.path()).expect("recreate cert");
        assert_eq!(first.key_id(), second.key_id());
        assert!(certificate_holds_key(
            second.certificate_pem(),
            &parse_key(&fs::read_to_string(dir.path().join(KEY_FILE)).expect("key"))
                .expect("parse")
                .subject_public_key_info()
        ));

        let (_other_dir, other) = fresh_keys();
        fs::write(dir.path().join(CERT_FILE), other.certificate_pem()).expect("swap cert");
        match TokenKeys::load_or_create(dir.path()) {
            Err(JwtError::Key(_)) => {}
            other => panic!("expected a key error, got {other:?}"),
        }
    }

    #[test]
    fn non_p256_or_garbage_key_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p384 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("p384");
        fs::write(dir.path().join(KEY_FILE), p384.serialize_pem()).expect("write");
        assert!(matches!(
            TokenKeys::load_or_create(dir.path()),
            Err(JwtError::Key(_))
        ));
        fs::write(dir.path().join(KEY_FILE), "not a key").expect("write");
        assert!(matches!(
            TokenKeys::load_or_create(dir.path()),
            Err(JwtError::Key(_))
        ));
    }
}
