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
    if !targets.contains_key(TARGETS) {
        return Err(
            "the collection has no targets.json yet; the first update must hold one".into(),
        );
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
