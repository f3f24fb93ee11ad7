//! What an update of a trust collection must satisfy before anything of it is stored, as
//! notary-server checks it, and the snapshot and timestamp Berth signs in answer.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use super::keys::ServerKey;
use super::metadata::{
    file_meta, format_time, meta_matches, sign, File, RoleKeys, Root, Targets, ROOT, SNAPSHOT,
    TARGETS, TIMESTAMP,
};

/// How long a snapshot Berth signs is valid (Notary's default: three years).
const SNAPSHOT_LIFETIME: i64 = 3 * 365 * 86_400;
/// How long a timestamp is valid (Notary's default: fourteen days).
pub const TIMESTAMP_LIFETIME: i64 = 14 * 86_400;

/// The keys Berth holds for a collection (every version, newest first).
pub struct ServerKeys<'a> {
    pub timestamp: &'a [ServerKey],
    /// Empty until a client asks for `snapshot.key`.
    pub snapshot: &'a [ServerKey],
}

/// The one of `held` that `role` names.
pub fn key_for<'a>(held: &'a [ServerKey], role: &RoleKeys) -> Option<&'a ServerKey> {
    held.iter()
        .find(|k| k.tuf_key().is_ok_and(|key| role.holds(&key)))
}

/// Checks `parts` against the collection's latest files (`current`, by role) and returns every
/// file to store: the accepted parts, then a snapshot (the client's, or one Berth signs) and a
/// new timestamp. Refuses with the reason, storing nothing, when any check fails.
pub fn apply(
    gun: &str,
    current: &HashMap<String, File>,
    parts: Vec<File>,
    keys: &ServerKeys<'_>,
    now: i64,
) -> Result<Vec<File>, String> {
    let mut update: HashMap<String, File> = HashMap::new();
    for part in parts {
        if part.role == TIMESTAMP {
            return Err("timestamp.json is signed by Berth; leave it out of updates".into());
        }
        let role = part.role.clone();
        if update.insert(role.clone(), part).is_some() {
            return Err(format!("the update holds {role}.json twice"));
        }
    }
    if update.is_empty() {
        return Err("the update holds no metadata".into());
    }
    let mut accepted = Vec::new();
    let rotated_root = update.contains_key(ROOT) && current.contains_key(ROOT);

    let (root_file, root) = match update.remove(ROOT) {
        Some(new) => {
            let expected = current.get(ROOT).map_or(1, |c| c.version + 1);
            if new.version != expected {
                return Err(format!(
                    "root.json must be version {expected}, not {}",
                    new.version
                ));
            }
            new.check_fresh(now)?;
            let root = Root::parse(&new, gun, Some(now))?;
            new.check_signed_by(root.role(ROOT), "root")?;
            if let Some(old) = current.get(ROOT) {
                // A rotation is signed by the keys it replaces as well.
                let old_root = Root::parse(old, gun, None)?;
                new.check_signed_by(old_root.role(ROOT), "current root")?;
            }
            accepted.push(new.clone());
            (new, root)
        }
        None => {
            let current = current
                .get(ROOT)
                .ok_or("the collection has no root.json yet; the first update must hold one")?;
            (current.clone(), Root::parse(current, gun, None)?)
        }
    };
    let timestamp_key = key_for(keys.timestamp, root.role(TIMESTAMP))
        .ok_or("root.json's timestamp role must be the key from timestamp.key")?;

    // Targets and delegations, parents before children.
    let mut targets: BTreeMap<String, File> = current
        .iter()
        .filter(|(role, _)| *role == TARGETS || role.starts_with("targets/"))
        .map(|(role, file)| (role.clone(), file.clone()))
        .collect();
    let mut roles: Vec<String> = update.keys().filter(|r| *r != SNAPSHOT).cloned().collect();
    roles.sort_by_key(|r| (r.matches('/').count(), r.clone()));
    for role in roles {
        let Some(new) = update.remove(&role) else {
            continue;
        };
        let signed = Targets::parse(&new)?;
        let role_keys = if role == TARGETS {
            root.role(TARGETS).clone()
        } else {
            let (parent, _) = role.rsplit_once('/').unwrap_or((TARGETS, ""));
            let parent_file = targets.get(parent).ok_or_else(|| {
                format!("{role}.json is delegated by {parent}.json, which does not exist")
            })?;
            let delegation = Targets::parse(parent_file)?
                .delegations
                .remove(&role)
                .ok_or_else(|| format!("{parent}.json does not delegate to {role}"))?;
            if let Some(name) = signed.targets.keys().find(|name| {
                !delegation
                    .paths
                    .iter()
                    .any(|p| name.starts_with(p.as_str()))
            }) {
                return Err(format!(
                    "{role}.json signs {name:?}, outside the paths {parent}.json delegates to it"
                ));
            }
            delegation.keys
        };
        if let Some(stored) = current.get(&role) {
            if new.version <= stored.version {
                return Err(format!(
                    "{role}.json version {} is not newer than the stored version {}",
                    new.version, stored.version
                ));
            }
        }
        new.check_fresh(now)?;
        new.check_signed_by(&role_keys, &role)?;
        accepted.push(new.clone());
        targets.insert(role, new);
    }
    let Some(top) = targets.get(TARGETS) else {
        return Err(
            "the collection has no targets.json yet; the first update must hold one".into(),
        );
    };
    if rotated_root && !accepted.iter().any(|f| f.role == TARGETS) {
        // A stored targets.json must still be signed by the keys the new root names.
        top.check_signed_by(root.role(TARGETS), "targets")
            .map_err(|e| format!("{e}: publish targets.json re-signed with the new root"))?;
    }

    let snapshot_version = current.get(SNAPSHOT).map_or(1, |c| c.version + 1);
    let snapshot = match update.remove(SNAPSHOT) {
        Some(new) => {
            if new.version < snapshot_version {
                return Err(format!(
                    "snapshot.json version {} is not newer than the stored version {}",
                    new.version,
                    snapshot_version - 1
                ));
            }
            new.check_fresh(now)?;
            new.check_signed_by(root.role(SNAPSHOT), "snapshot")?;
            for (role, file) in std::iter::once((ROOT, &root_file))
                .chain(targets.iter().map(|(r, f)| (r.as_str(), f)))
            {
                if !meta_matches(&new.signed["meta"][role], &file.bytes) {
                    return Err(format!(
                        "snapshot.json does not name the current {role}.json"
                    ));
                }
            }
            new
        }
        None => {
            if keys.snapshot.is_empty() {
                return Err(
                    "snapshot.json is missing and Berth holds no snapshot key for this \
                            collection (GET snapshot.key first)"
                        .into(),
                );
            }
            let key = key_for(keys.snapshot, root.role(SNAPSHOT)).ok_or(
                "snapshot.json is missing, and root.json's snapshot role is not a key Berth holds",
            )?;
            let mut meta = Map::new();
            meta.insert(ROOT.to_owned(), file_meta(&root_file.bytes));
            for (role, file) in &targets {
                meta.insert(role.clone(), file_meta(&file.bytes));
            }
            let signed = json!({
                "_type": "Snapshot",
                "version": snapshot_version,
                "expires": format_time(now + SNAPSHOT_LIFETIME),
                "meta": Value::Object(meta),
            });
            sign(SNAPSHOT, signed, key)?
        }
    };
    let timestamp_version = current.get(TIMESTAMP).map_or(1, |c| c.version + 1);
    let timestamp = timestamp_for(timestamp_version, &snapshot, timestamp_key, now)?;
    accepted.push(snapshot);
    accepted.push(timestamp);
    Ok(accepted)
}

/// A timestamp naming `snapshot`.
pub fn timestamp_for(
    version: i64,
    snapshot: &File,
    key: &ServerKey,
    now: i64,
) -> Result<File, String> {
    let signed = json!({
        "_type": "Timestamp",
        "version": version,
        "expires": format_time(now + TIMESTAMP_LIFETIME),
        "meta": {SNAPSHOT: file_meta(&snapshot.bytes)},
    });
    sign(TIMESTAMP, signed, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuf::canonical;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use data_encoding::BASE64;
    use rcgen::PublicKeyData;
    use sha2::{Digest as _, Sha256};

    const GUN: &str = "127.0.0.1:5000/alice/app";
    const NOW: i64 = 1_800_000_000;

    /// A signing key as a TUF file lists it: a root certificate, or a plain ECDSA key.
    struct Signer {
        pair: EcdsaKeyPair,
        public: Value,
        id: String,
    }

    impl Signer {
        fn root(common_name: &str) -> Signer {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, common_name);
            let pem = params.self_signed(&key).unwrap().pem();
            Signer::new(&key.serialize_der(), "ecdsa-x509", pem.as_bytes())
        }

        fn plain() -> Signer {
            let key = rcgen::KeyPair::generate().unwrap();
            Signer::new(
                &key.serialize_der(),
                "ecdsa",
                &key.subject_public_key_info(),
            )
        }

        fn new(pkcs8: &[u8], keytype: &str, public: &[u8]) -> Signer {
            let public = json!({
                "keytype": keytype,
                "keyval": {"private": null, "public": BASE64.encode(public)},
            });
            let id = hex::encode(Sha256::digest(canonical::encode(&public).unwrap()));
            Signer {
                pair: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).unwrap(),
                public,
                id,
            }
        }
    }

    fn signed(role: &str, body: Value, by: &[&Signer]) -> File {
        let message = canonical::encode(&body).unwrap();
        let signatures: Vec<Value> = by
            .iter()
            .map(|s| {
                let sig = s.pair.sign(&SystemRandom::new(), &message).unwrap();
                json!({"keyid": s.id, "method": "ecdsa", "sig": BASE64.encode(sig.as_ref())})
            })
            .collect();
        let bytes = serde_json::to_vec(&json!({"signed": body, "signatures": signatures})).unwrap();
        File::parse(role, bytes).unwrap()
    }

    fn role(keys: &[&Signer]) -> Value {
        json!({"keyids": keys.iter().map(|k| k.id.clone()).collect::<Vec<_>>(), "threshold": 1})
    }

    /// A root naming `root` for itself, `targets`, and Berth's two keys.
    fn root(
        version: i64,
        root_key: &Signer,
        targets: &Signer,
        berth: &Berth,
        by: &[&Signer],
    ) -> File {
        let mut keys = serde_json::Map::new();
        for k in [root_key, targets] {
            keys.insert(k.id.clone(), k.public.clone());
        }
        for k in [&berth.timestamp, &berth.snapshot] {
            keys.insert(k.id.clone(), k.public.clone());
        }
        let key_role = |k: &ServerKey| json!({"keyids": [k.id], "threshold": 1});
        let body = json!({
            "_type": "Root",
            "version": version,
            "expires": format_time(NOW + 86_400),
            "consistent_snapshot": false,
            "keys": keys,
            "roles": {
                "root": role(&[root_key]),
                "targets": role(&[targets]),
                "snapshot": key_role(&berth.snapshot),
                "timestamp": key_role(&berth.timestamp),
            },
        });
        signed(ROOT, body, by)
    }

    fn targets(version: i64, names: &[&str], delegations: Value, by: &[&Signer]) -> File {
        let entries: serde_json::Map<String, Value> = names
            .iter()
            .map(|n| {
                let meta = json!({"length": 10, "hashes": {"sha256": BASE64.encode(&[1u8; 32])}});
                ((*n).to_owned(), meta)
            })
            .collect();
        let body = json!({
            "_type": "Targets",
            "version": version,
            "expires": format_time(NOW + 86_400),
            "targets": entries,
            "delegations": delegations,
        });
        signed(TARGETS, body, by)
    }

    struct Berth {
        timestamp: ServerKey,
        snapshot: ServerKey,
    }

    impl Berth {
        fn new() -> Berth {
            Berth {
                timestamp: ServerKey::generate().unwrap(),
                snapshot: ServerKey::generate().unwrap(),
            }
        }

        fn apply(&self, current: &[File], parts: Vec<File>) -> Result<Vec<File>, String> {
            let current = current
                .iter()
                .map(|f| (f.role.clone(), f.clone()))
                .collect();
            let keys = ServerKeys {
                timestamp: std::slice::from_ref(&self.timestamp),
                snapshot: std::slice::from_ref(&self.snapshot),
            };
            apply(GUN, &current, parts, &keys, NOW)
        }
    }

    fn roles(files: &[File]) -> Vec<(&str, i64)> {
        files.iter().map(|f| (f.role.as_str(), f.version)).collect()
    }

    #[test]
    fn a_first_publish_gets_a_snapshot_and_timestamp_from_berth() {
        let berth = Berth::new();
        let (root_key, targets_key) = (Signer::root(GUN), Signer::plain());
        let root1 = root(1, &root_key, &targets_key, &berth, &[&root_key]);
        let t1 = targets(1, &["latest"], Value::Null, &[&targets_key]);
        let stored = berth.apply(&[], vec![root1.clone(), t1.clone()]).unwrap();
        assert_eq!(
            roles(&stored),
            [
                ("root", 1),
                ("targets", 1),
                ("snapshot", 1),
                ("timestamp", 1)
            ]
        );
        let snapshot = &stored[2];
        assert!(meta_matches(&snapshot.signed["meta"]["root"], &root1.bytes));
        assert!(meta_matches(&snapshot.signed["meta"]["targets"], &t1.bytes));
        assert!(meta_matches(
            &stored[3].signed["meta"]["snapshot"],
            &snapshot.bytes
        ));

        // Replays and forgeries are refused.
        let err = berth.apply(&stored, vec![t1.clone()]).unwrap_err();
        assert!(err.contains("not newer"), "{err}");
        let forged = targets(2, &["latest", "evil"], Value::Null, &[&Signer::plain()]);
        let err = berth.apply(&stored, vec![forged]).unwrap_err();
        assert!(err.contains("signed by 0 of the 1 targets keys"), "{err}");
        let mut expired = targets(2, &["latest"], Value::Null, &[&targets_key]);
        expired.expires = NOW - 1;
        assert!(berth
            .apply(&stored, vec![expired])
            .unwrap_err()
            .contains("expired"));
        let t2 = targets(2, &["latest", "v2"], Value::Null, &[&targets_key]);
        let next = berth.apply(&stored, vec![t2]).unwrap();
        assert_eq!(
            roles(&next),
            [("targets", 2), ("snapshot", 2), ("timestamp", 2)]
        );
    }

    #[test]
    fn roots_name_the_collection_and_rotations_are_signed_by_both_roots() {
        let berth = Berth::new();
        let (old_key, new_key, targets_key) =
            (Signer::root(GUN), Signer::root(GUN), Signer::plain());
        let t1 = targets(1, &["latest"], Value::Null, &[&targets_key]);

        let other = Signer::root("127.0.0.1:5000/mallory/app");
        let foreign = root(1, &other, &targets_key, &berth, &[&other]);
        let err = berth.apply(&[], vec![foreign, t1.clone()]).unwrap_err();
        assert!(err.contains("not \"127.0.0.1:5000/alice/app\""), "{err}");
        let plain = Signer::plain();
        let uncertified = root(1, &plain, &targets_key, &berth, &[&plain]);
        assert!(berth.apply(&[], vec![uncertified, t1.clone()]).is_err());

        let root1 = root(1, &old_key, &targets_key, &berth, &[&old_key]);
        let stored = berth.apply(&[], vec![root1, t1]).unwrap();
        let only_new = root(2, &new_key, &targets_key, &berth, &[&new_key]);
        let err = berth.apply(&stored, vec![only_new]).unwrap_err();
        assert!(err.contains("current root keys"), "{err}");
        let skipped = root(3, &new_key, &targets_key, &berth, &[&new_key, &old_key]);
        assert!(berth
            .apply(&stored, vec![skipped])
            .unwrap_err()
            .contains("version 2"));
        let both = root(2, &new_key, &targets_key, &berth, &[&new_key, &old_key]);
        assert_eq!(
            roles(&berth.apply(&stored, vec![both]).unwrap())[0],
            ("root", 2)
        );

        // A rotation of the targets key needs targets.json re-signed with it.
        let new_targets = Signer::plain();
        let rotated = root(2, &old_key, &new_targets, &berth, &[&old_key]);
        let err = berth.apply(&stored, vec![rotated.clone()]).unwrap_err();
        assert!(err.contains("re-signed"), "{err}");
        let t2 = targets(2, &["latest"], Value::Null, &[&new_targets]);
        assert!(berth.apply(&stored, vec![rotated, t2]).is_ok());
    }

    #[test]
    fn delegations_sign_within_their_paths_with_their_keys() {
        let berth = Berth::new();
        let (root_key, targets_key, releaser) =
            (Signer::root(GUN), Signer::plain(), Signer::plain());
        let delegations = json!({
            "keys": {releaser.id.clone(): releaser.public.clone()},
            "roles": [{"name": "targets/releases", "keyids": [releaser.id], "threshold": 1, "paths": ["v"]}],
        });
        let root1 = root(1, &root_key, &targets_key, &berth, &[&root_key]);
        let t1 = targets(1, &[], delegations, &[&targets_key]);
        let stored = berth.apply(&[], vec![root1, t1]).unwrap();
        let release = |names: &[&str], by: &Signer| {
            let mut f = targets(1, names, Value::Null, &[by]);
            f.role = "targets/releases".into();
            f
        };
        let ok = berth
            .apply(&stored, vec![release(&["v1"], &releaser)])
            .unwrap();
        assert!(ok[1].signed["meta"]["targets/releases"].is_object());
        let err = berth
            .apply(&stored, vec![release(&["latest"], &releaser)])
            .unwrap_err();
        assert!(err.contains("outside the paths"), "{err}");
        let err = berth
            .apply(&stored, vec![release(&["v1"], &targets_key)])
            .unwrap_err();
        assert!(err.contains("signed by 0"), "{err}");
        let mut undelegated = release(&["v1"], &releaser);
        undelegated.role = "targets/other".into();
        assert!(berth
            .apply(&stored, vec![undelegated])
            .unwrap_err()
            .contains("does not delegate"));
    }
}
