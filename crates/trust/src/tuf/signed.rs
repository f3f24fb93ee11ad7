//! The tags a repository's trust collections sign, worked out again from the stored files on
//! every read: only keys whose signatures verify count, within the paths every delegation
//! above a role allows.

use std::collections::HashMap;

use berth_registry::error::Result;
use berth_registry::Registry;

use super::metadata::{File, Root, Targets, ROOT, TARGETS};
use crate::signatures::Signature;
use crate::Trust;

/// A tag signed in a trust collection of a repository.
#[derive(Debug, Clone)]
pub struct SignedTag {
    pub tag: String,
    /// The digest it is signed as (`sha256:…`).
    pub digest: String,
    /// The collection (`<host>/<repository>`).
    pub gun: String,
    /// The role whose file signs it: `targets`, or a delegation such as `targets/releases`.
    pub role: String,
    /// SHA-256 fingerprints of the keys whose signatures of the role's file verify, to match
    /// against registered signing keys.
    pub key_fingerprints: Vec<String>,
    /// When that file was uploaded.
    pub signed_at: i64,
}

impl SignedTag {
    /// As a signature of `digest`: verified when the tag is signed as that digest (every
    /// stored file was checked against its collection's keys when it was uploaded).
    pub fn signature_of(&self, digest: &str) -> Signature {
        let verified = self.digest == digest;
        Signature {
            format: "notary",
            artifact: self.gun.clone(),
            verified,
            signer: Some(self.role.clone()),
            signed_at: Some(self.signed_at),
            problem: (!verified).then(|| {
                format!(
                    "{} signs {} as {}, not this manifest",
                    self.role, self.tag, self.digest
                )
            }),
        }
    }
}

/// Whether `name` lies within `paths` (prefixes; `None` allows everything).
fn within(paths: &Option<Vec<String>>, name: &str) -> bool {
    paths
        .as_ref()
        .is_none_or(|paths| paths.iter().any(|p| name.starts_with(p.as_str())))
}

impl Trust {
    /// Every tag signed in the repository's trust collections, by every role that signs it.
    /// The collection is the one named by `reg`'s own host.
    pub async fn signed_tags(&self, reg: &Registry, repository: &str) -> Result<Vec<SignedTag>> {
        let files = self.tuf.tuf_signing_files(repository).await?;
        let mut out = Vec::new();
        // A repository has one collection, under Berth's own GUN; files stored under any other
        // name (before that rule) sign nothing.
        let own = format!("{}/{repository}", reg.config().host);
        let mut guns: Vec<&str> = files
            .iter()
            .map(|f| f.gun.as_str())
            .filter(|g| *g == own)
            .collect();
        guns.sort_unstable();
        guns.dedup();
        for gun in guns {
            let parsed: HashMap<&str, (File, i64)> = files
                .iter()
                .filter(|f| f.gun == gun)
                .filter_map(|f| {
                    let file = File::parse(&f.role, f.data.clone()).ok()?;
                    Some((f.role.as_str(), (file, f.created_at)))
                })
                .collect();
            let Some(root) = parsed
                .get(ROOT)
                .and_then(|(f, _)| Root::parse(f, gun, None).ok())
            else {
                continue;
            };
            let targets: HashMap<&str, Targets> = parsed
                .iter()
                .filter(|(role, _)| **role != ROOT)
                .filter_map(|(role, (f, _))| Some((*role, Targets::parse(f).ok()?)))
                .collect();
            // Parents before children: a role counts only if its file is signed, now, by the
            // threshold of keys its parent names, and only for the paths every delegation above
            // it allows (`None`: all).
            let mut roles: Vec<&str> = targets.keys().copied().collect();
            roles.sort_by_key(|r| (r.matches('/').count(), *r));
            let mut allowed: HashMap<&str, Option<Vec<String>>> = HashMap::new();
            for role in roles {
                let (keys, paths) = if role == TARGETS {
                    (root.role(TARGETS), None)
                } else {
                    let Some((parent, _)) = role.rsplit_once('/') else {
                        continue;
                    };
                    let (Some(parent_paths), Some(delegation)) = (
                        allowed.get(parent),
                        targets.get(parent).and_then(|p| p.delegations.get(role)),
                    ) else {
                        continue;
                    };
                    let paths = delegation
                        .paths
                        .iter()
                        .filter(|p| within(parent_paths, p))
                        .cloned()
                        .collect();
                    (&delegation.keys, Some(paths))
                };
                let (file, signed_at) = &parsed[role];
                let signers = file.signers(keys);
                if signers.len() < keys.threshold {
                    continue;
                }
                let fingerprints: Vec<String> = signers.iter().map(|k| k.fingerprint()).collect();
                for name in targets[role].targets.keys() {
                    let Some((sha, _)) = targets[role].target(name) else {
                        continue;
                    };
                    if !within(&paths, name) {
                        continue;
                    }
                    out.push(SignedTag {
                        tag: name.clone(),
                        digest: format!("sha256:{sha}"),
                        gun: gun.to_owned(),
                        role: role.to_owned(),
                        key_fingerprints: fingerprints.clone(),
                        signed_at: *signed_at,
                    });
                }
                allowed.insert(role, paths);
            }
        }
        Ok(out)
    }
}

impl Trust {
    /// Every manifest a trust collection signs, as (repository, digest): garbage collection
    /// keeps them even when their tags are gone, so a signed tag can still be verified.
    pub async fn pinned_manifests(&self, reg: &Registry) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for repository in self.tuf.repositories_with_trust_data().await? {
            for signed in self.signed_tags(reg, &repository).await? {
                out.push((repository.clone(), signed.digest));
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}
