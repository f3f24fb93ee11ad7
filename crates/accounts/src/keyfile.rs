//! Key files in the secrets directory (the token-signing key, the content trust secret):
//! written once, atomically, with narrow permissions, and read as they are from then on.
//!
//! Processes sharing one database must share these files too (one process's tokens are checked
//! by another; trust keys sealed by one are opened by another). Each records the fingerprints
//! of its keys ([`shared_fingerprint`]): the first to start sets them, and one whose keys differ
//! learns so before it serves anything.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::Db;

/// Reads the 32-byte secret at `path`, creating it (mode 0600) on first start.
pub fn load_or_create_secret(path: &Path) -> io::Result<[u8; 32]> {
    let read = |path: &Path| -> io::Result<[u8; 32]> {
        fs::read(path)?.try_into().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a 32-byte secret", path.display()),
            )
        })
    };
    match read(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            getrandom::getrandom(&mut secret).map_err(|e| {
                io::Error::other(format!("no randomness for {}: {e}", path.display()))
            })?;
            if write_new(path, &secret, 0o600)? {
                Ok(secret)
            } else {
                read(path)
            }
        }
        other => other,
    }
}

/// Writes `contents` to `path` only if `path` does not exist yet, atomically: the bytes go to a
/// private temporary file that is then hard-linked into place, so a crash never leaves a
/// half-written file and two processes starting at once cannot overwrite each other. Returns
/// false when `path` already existed.
pub fn write_new(path: &Path, contents: &[u8], mode: u32) -> io::Result<bool> {
    let invalid = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no {what}", path.display()),
        )
    };
    let dir = path.parent().ok_or_else(|| invalid("parent directory"))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| invalid("file name"))?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));

    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have narrowed the mode; a wider one is never wanted.
        file.set_permissions(Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        match fs::hard_link(&tmp, path) {
            Ok(()) => {
                File::open(dir)?.sync_all()?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// SHA-256 of a secret, hex: what may be recorded or shown of it.
pub fn fingerprint(secret: &[u8]) -> String {
    hex::encode(Sha256::digest(secret))
}

/// The fingerprint every process on this database must have for the key `name`: `fingerprint`
/// if none was recorded yet (it is now), or the one recorded first.
pub async fn shared_fingerprint(db: &Db, name: &str, fingerprint: &str) -> crate::Result<String> {
    sqlx::query(
        "INSERT INTO secret_fingerprints (name, fingerprint, recorded_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(fingerprint)
    .bind(crate::now())
    .execute(&db.pool)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT fingerprint FROM secret_fingerprints WHERE name = $1")
            .bind(name)
            .fetch_one(&db.pool)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_made_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("trust.secret");
        let first = load_or_create_secret(&path).expect("created");
        assert_eq!(load_or_create_secret(&path).expect("read"), first);
        let mode = fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::write(&path, b"short").expect("overwrite");
        let e = load_or_create_secret(&path).expect_err("a short secret is refused");
        assert!(e.to_string().contains("not a 32-byte secret"), "{e}");
    }
}
