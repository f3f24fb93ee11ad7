//! TUF metadata files as a Notary client writes them, and the roles they declare.

use std::collections::HashMap;

use data_encoding::BASE64;
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256, Sha512};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::canonical;
use super::keys::{ServerKey, TufKey};

pub const ROOT: &str = "root";
pub const TARGETS: &str = "targets";
pub const SNAPSHOT: &str = "snapshot";
pub const TIMESTAMP: &str = "timestamp";

/// `root`, `targets`, `snapshot`, `timestamp`, or a delegation such as `targets/releases`.
pub fn valid_role(role: &str) -> bool {
    match role.strip_prefix("targets/") {
        Some(path) => path.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        }),
        None => [ROOT, TARGETS, SNAPSHOT, TIMESTAMP].contains(&role),
    }
}

/// The `_type` a role's file declares.
fn file_type(role: &str) -> &'static str {
    match role {
        ROOT => "Root",
        SNAPSHOT => "Snapshot",
        TIMESTAMP => "Timestamp",
        _ => "Targets",
    }
}

pub fn format_time(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn parse_time(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

#[derive(Debug, Clone)]
struct Signature {
    keyid: String,
    method: String,
    sig: Vec<u8>,
}

/// One metadata file: its exact bytes (what is stored and served) and what they say.
#[derive(Debug, Clone)]
pub struct File {
    pub role: String,
    pub bytes: Vec<u8>,
    pub signed: Value,
    signatures: Vec<Signature>,
    pub version: i64,
    pub expires: i64,
}

impl File {
    pub fn parse(role: &str, bytes: Vec<u8>) -> Result<File, String> {
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("{role}.json is not JSON: {e}"))?;
        let signed = value
            .get("signed")
            .filter(|s| s.is_object())
            .ok_or_else(|| format!("{role}.json has no signed object"))?
            .clone();
        let wanted = file_type(role);
        if signed["_type"] != wanted {
            return Err(format!("{role}.json is not of _type {wanted}"));
        }
        let version = signed["version"]
            .as_i64()
            .filter(|v| *v >= 1)
            .ok_or_else(|| format!("{role}.json has no version of 1 or more"))?;
        let expires = signed["expires"]
            .as_str()
            .and_then(parse_time)
            .ok_or_else(|| format!("{role}.json has no RFC 3339 expires"))?;
        let signatures = match value.get("signatures") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .map(|s| {
                    let field = |name: &str| s[name].as_str().map(str::to_owned);
                    let sig = field("sig").and_then(|b| BASE64.decode(b.as_bytes()).ok());
                    match (field("keyid"), field("method"), sig) {
                        (Some(keyid), Some(method), Some(sig)) => {
                            Ok(Signature { keyid, method, sig })
                        }
                        _ => Err(format!("{role}.json has a malformed signature")),
                    }
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(format!("{role}.json's signatures are not a list")),
        };
        Ok(File {
            role: role.to_owned(),
            bytes,
            signed,
            signatures,
            version,
            expires,
        })
    }

    pub fn sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }

    /// The ones of `keys` whose signatures of this file verify, each once however many
    /// signatures name it.
    pub fn signers<'k>(&self, keys: &'k RoleKeys) -> Vec<&'k TufKey> {
        let Ok(message) = canonical::encode(&self.signed) else {
            return Vec::new();
        };
        let mut counted: Vec<&TufKey> = Vec::new();
        for s in &self.signatures {
            let Some(key) = keys.keys.get(&s.keyid) else {
                continue;
            };
            if !counted.iter().any(|k| k.spki == key.spki)
                && key.verifies(&s.method, &message, &s.sig)
            {
                counted.push(key);
            }
        }
        counted
    }

    /// Refuses a file signed by fewer of `keys` than their threshold.
    pub fn check_signed_by(&self, keys: &RoleKeys, by: &str) -> Result<(), String> {
        canonical::encode(&self.signed)
            .map_err(|e| format!("{}.json cannot be canonicalised: {e}", self.role))?;
        let counted = self.signers(keys);
        if counted.len() < keys.threshold {
            return Err(format!(
                "{}.json is signed by {} of the {} {by} keys it needs",
                self.role,
                counted.len(),
                keys.threshold
            ));
        }
        Ok(())
    }

    pub fn check_fresh(&self, now: i64) -> Result<(), String> {
        if self.expires <= now {
            return Err(format!(
                "{}.json expired at {}",
                self.role,
                format_time(self.expires)
            ));
        }
        Ok(())
    }
}

/// The keys of a role and how many of them must sign.
#[derive(Debug, Clone)]
pub struct RoleKeys {
    pub keys: HashMap<String, TufKey>,
    pub threshold: usize,
}

impl RoleKeys {
    fn parse(
        role: &str,
        keyids: &Value,
        threshold: &Value,
        all: &HashMap<String, TufKey>,
    ) -> Result<RoleKeys, String> {
        let ids = keyids
            .as_array()
            .ok_or_else(|| format!("role {role} lists no keyids"))?;
        let mut keys = HashMap::new();
        for id in ids {
            let id = id
                .as_str()
                .ok_or_else(|| format!("role {role} has a keyid that is not a string"))?;
            let key = all
                .get(id)
                .ok_or_else(|| format!("role {role} names key {id}, which is not listed"))?;
            keys.insert(id.to_owned(), key.clone());
        }
        let threshold = threshold
            .as_u64()
            .filter(|t| *t >= 1 && *t as usize <= keys.len())
            .ok_or_else(|| {
                format!("role {role} needs a threshold between 1 and its number of keys")
            })? as usize;
        Ok(RoleKeys { keys, threshold })
    }

    pub fn holds(&self, key: &TufKey) -> bool {
        self.keys.values().any(|k| k.spki == key.spki)
    }
}

fn parse_keys(value: &Value, file: &str) -> Result<HashMap<String, TufKey>, String> {
    let Some(map) = value.as_object() else {
        return Err(format!("{file}.json lists no keys"));
    };
    map.iter()
        .map(|(id, key)| {
            TufKey::parse(key)
                .map(|k| (id.clone(), k))
                .map_err(|e| format!("{file}.json, key {id}: {e}"))
        })
        .collect()
}

/// A collection's root: the keys of its four top-level roles.
#[derive(Debug, Clone)]
pub struct Root {
    pub roles: HashMap<String, RoleKeys>,
}

impl Root {
    /// Reads a root, checking that it declares every top-level role and that its root keys
    /// are certificates for the collection (as Notary's trust pinning does), valid at `now`
    /// when given (a stored root is read whatever its certificates' age).
    pub fn parse(file: &File, gun: &str, now: Option<i64>) -> Result<Root, String> {
        let keys = parse_keys(&file.signed["keys"], ROOT)?;
        let mut roles = HashMap::new();
        for role in [ROOT, TARGETS, SNAPSHOT, TIMESTAMP] {
            let entry = &file.signed["roles"][role];
            if entry.is_null() {
                return Err(format!("root.json declares no {role} role"));
            }
            let parsed = RoleKeys::parse(role, &entry["keyids"], &entry["threshold"], &keys)?;
            roles.insert(role.to_owned(), parsed);
        }
        for key in roles[ROOT].keys.values() {
            let Some(cert) = &key.certificate else {
                return Err("root keys must be X.509 certificates".into());
            };
            if cert.common_name != gun {
                return Err(format!(
                    "a root certificate is for {:?}, not {gun:?}",
                    cert.common_name
                ));
            }
            if now.is_some_and(|now| now < cert.not_before || now > cert.not_after) {
                return Err("a root certificate is not valid now".into());
            }
        }
        Ok(Root { roles })
    }

    pub fn role(&self, role: &str) -> &RoleKeys {
        // `parse` guarantees the four top-level roles.
        &self.roles[role]
    }
}

/// A delegation a targets file makes to a child role.
#[derive(Debug, Clone)]
pub struct Delegation {
    pub keys: RoleKeys,
    pub paths: Vec<String>,
}

/// A targets file (top-level or delegated): what it signs and whom it delegates to.
#[derive(Debug, Clone)]
pub struct Targets {
    pub targets: Map<String, Value>,
    pub delegations: HashMap<String, Delegation>,
}

impl Targets {
    pub fn parse(file: &File) -> Result<Targets, String> {
        let targets = match &file.signed["targets"] {
            Value::Object(map) => map.clone(),
            Value::Null => Map::new(),
            _ => return Err(format!("{}.json's targets are not an object", file.role)),
        };
        let mut delegations = HashMap::new();
        let d = &file.signed["delegations"];
        if let Some(roles) = d["roles"].as_array().filter(|r| !r.is_empty()) {
            let keys = parse_keys(&d["keys"], &file.role)?;
            for role in roles {
                let name = role["name"].as_str().unwrap_or_default();
                let parent = name.rsplit_once('/').map(|(p, _)| p);
                if !valid_role(name) || parent != Some(file.role.as_str()) {
                    return Err(format!(
                        "{}.json delegates to {name:?}, which is not one of its child roles",
                        file.role
                    ));
                }
                let paths = role["paths"]
                    .as_array()
                    .map(|p| {
                        p.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let keys = RoleKeys::parse(name, &role["keyids"], &role["threshold"], &keys)?;
                delegations.insert(name.to_owned(), Delegation { keys, paths });
            }
        }
        Ok(Targets {
            targets,
            delegations,
        })
    }

    /// The sha256 (hex) a target name is signed with, and its size.
    pub fn target(&self, name: &str) -> Option<(String, i64)> {
        let entry = self.targets.get(name)?;
        let sha = entry["hashes"]["sha256"].as_str()?;
        let sha = BASE64.decode(sha.as_bytes()).ok()?;
        Some((hex::encode(sha), entry["length"].as_i64().unwrap_or(0)))
    }
}

/// How a snapshot or timestamp names a file: its length and hashes.
pub fn file_meta(bytes: &[u8]) -> Value {
    json!({
        "length": bytes.len(),
        "hashes": {
            "sha256": BASE64.encode(&Sha256::digest(bytes)),
            "sha512": BASE64.encode(&Sha512::digest(bytes)),
        },
    })
}

/// Whether `meta` (from a snapshot or timestamp) names exactly `bytes`.
pub fn meta_matches(meta: &Value, bytes: &[u8]) -> bool {
    let sha = meta["hashes"]["sha256"]
        .as_str()
        .and_then(|s| BASE64.decode(s.as_bytes()).ok());
    meta["length"].as_u64() == Some(bytes.len() as u64)
        && sha.as_deref() == Some(Sha256::digest(bytes).as_slice())
}

/// Signs `signed` with `key` into a file's bytes.
pub fn sign(role: &str, signed: Value, key: &ServerKey) -> Result<File, String> {
    let message = canonical::encode(&signed)?;
    let envelope = json!({"signed": signed, "signatures": [key.sign(&message)?]});
    File::parse(role, canonical::encode(&envelope)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names() {
        for ok in [
            "root",
            "targets",
            "snapshot",
            "timestamp",
            "targets/releases",
            "targets/a/b-c_1.2",
        ] {
            assert!(valid_role(ok), "{ok}");
        }
        for bad in [
            "",
            "root/x",
            "targets/",
            "targets//a",
            "targets/..",
            "targets/a b",
            "other",
        ] {
            assert!(!valid_role(bad), "{bad}");
        }
    }

    #[test]
    fn signed_files_check_their_threshold() {
        let key = ServerKey::generate().unwrap();
        let other = ServerKey::generate().unwrap();
        let signed = json!({"_type": "Snapshot", "version": 3, "expires": format_time(4_000_000_000), "meta": {}});
        let file = sign(SNAPSHOT, signed, &key).unwrap();
        assert_eq!(file.version, 3);
        let keys = |ks: &[&ServerKey], threshold| RoleKeys {
            keys: ks
                .iter()
                .map(|k| (k.id.clone(), k.tuf_key().unwrap()))
                .collect(),
            threshold,
        };
        assert!(file.check_signed_by(&keys(&[&key], 1), "snapshot").is_ok());
        assert!(file
            .check_signed_by(&keys(&[&other], 1), "snapshot")
            .is_err());
        let two = file.check_signed_by(&keys(&[&key, &other], 2), "snapshot");
        assert_eq!(
            two.unwrap_err(),
            "snapshot.json is signed by 1 of the 2 snapshot keys it needs"
        );
        assert!(file.check_fresh(1_000).is_ok());
        assert!(file.check_fresh(4_000_000_000).is_err());

        let mut tampered: Value = serde_json::from_slice(&file.bytes).unwrap();
        tampered["signed"]["version"] = json!(4);
        let tampered = File::parse(SNAPSHOT, serde_json::to_vec(&tampered).unwrap()).unwrap();
        assert!(tampered
            .check_signed_by(&keys(&[&key], 1), "snapshot")
            .is_err());
        assert!(File::parse(TARGETS, file.bytes.clone()).is_err());
    }
}
