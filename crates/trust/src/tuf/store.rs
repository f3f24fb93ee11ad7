//! Trust collections' TUF files and the keys Berth holds for them: the only SQL on
//! `tuf_files` and `tuf_keys`.

use std::sync::atomic::{AtomicU64, Ordering};

use berth_registry::clock::now;
use berth_registry::coherence::{self, Topic};
use berth_registry::error::Result;
use sqlx::AnyPool;

/// Which version of a role's file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    Latest,
    Version(i64),
    Sha256(String),
}

/// A file about to be stored.
pub struct NewTufFile<'a> {
    pub role: &'a str,
    pub version: i64,
    pub sha256: String,
    pub expires: i64,
    pub data: &'a [u8],
}

/// The latest root or targets file of one of a repository's collections.
#[derive(sqlx::FromRow)]
pub struct SigningFile {
    pub gun: String,
    pub role: String,
    pub data: Vec<u8>,
    pub created_at: i64,
}

/// The TUF store. Its generation changes with every write, so what was worked out from trust
/// data (a pull's signature verdict) is not kept past one.
pub struct TufStore {
    pool: AnyPool,
    generation: AtomicU64,
}

#[derive(sqlx::FromRow)]
struct RoleData {
    role: String,
    data: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct SealedKey {
    version: i64,
    sealed: Vec<u8>,
}

impl TufStore {
    pub fn new(pool: AnyPool) -> Self {
        TufStore {
            pool,
            generation: AtomicU64::new(0),
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Another process changed trust data.
    pub(crate) fn forget(&self) {
        self.changed();
    }

    /// The latest file of every role of a collection: `(role, data)`.
    pub async fn tuf_latest(&self, gun: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let rows: Vec<RoleData> = sqlx::query_as(
            "SELECT f.role, f.data FROM tuf_files f
             WHERE f.gun = $1 AND f.version =
                 (SELECT MAX(l.version) FROM tuf_files l WHERE l.gun = f.gun AND l.role = f.role)",
        )
        .bind(gun)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.role, r.data)).collect())
    }

    /// One file of a role, with its expiry.
    pub async fn tuf_file(
        &self,
        gun: &str,
        role: &str,
        which: &Which,
    ) -> Result<Option<(Vec<u8>, i64)>> {
        const SELECT: &str = "SELECT data, expires FROM tuf_files WHERE gun = $1 AND role = $2";
        let sql = match which {
            Which::Latest => format!("{SELECT} ORDER BY version DESC LIMIT 1"),
            Which::Version(_) => format!("{SELECT} AND version = $3"),
            Which::Sha256(_) => format!("{SELECT} AND sha256 = $3 ORDER BY version DESC LIMIT 1"),
        };
        let query = sqlx::query_as(&sql).bind(gun).bind(role);
        let query = match which {
            Which::Latest => query,
            Which::Version(v) => query.bind(*v),
            Which::Sha256(sha) => query.bind(sha.as_str()),
        };
        Ok(query.fetch_optional(&self.pool).await?)
    }

    /// Stores the files of one update together. `false` when another update stored one of
    /// these versions first: nothing of this one is kept.
    ///
    /// `root` is the version of root.json the files rest on: should the collection's latest
    /// root differ once they are in (it was deleted meanwhile, say), nothing is kept either.
    pub async fn tuf_store(
        &self,
        gun: &str,
        repository: &str,
        files: &[NewTufFile<'_>],
        root: i64,
    ) -> Result<bool> {
        let stored = self.store_in_one_go(gun, repository, files, root).await;
        self.changed();
        stored
    }

    async fn store_in_one_go(
        &self,
        gun: &str,
        repository: &str,
        files: &[NewTufFile<'_>],
        root: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        coherence::announce(&mut tx, Topic::Trust).await?;
        let created_at = now();
        for f in files {
            let inserted = sqlx::query(
                "INSERT INTO tuf_files (gun, repository, role, version, sha256, expires, data, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(gun)
            .bind(repository)
            .bind(f.role)
            .bind(f.version)
            .bind(&f.sha256)
            .bind(f.expires)
            .bind(f.data)
            .bind(created_at)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {}
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        let latest: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(version) FROM tuf_files WHERE gun = $1 AND role = 'root'",
        )
        .bind(gun)
        .fetch_one(&mut *tx)
        .await?;
        if latest != Some(root) {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The sealed keys Berth holds for a collection's role, newest first: `(version, sealed)`.
    pub async fn tuf_keys(&self, gun: &str, role: &str) -> Result<Vec<(i64, Vec<u8>)>> {
        let rows: Vec<SealedKey> = sqlx::query_as(
            "SELECT version, sealed FROM tuf_keys WHERE gun = $1 AND role = $2
             ORDER BY version DESC",
        )
        .bind(gun)
        .bind(role)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|k| (k.version, k.sealed)).collect())
    }

    /// Keeps a sealed key as `version` of the role's key. `false` when another request kept
    /// that version first.
    pub async fn tuf_add_key(
        &self,
        gun: &str,
        repository: &str,
        role: &str,
        version: i64,
        sealed: &[u8],
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO tuf_keys (gun, repository, role, version, sealed, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (gun, role, version) DO NOTHING",
        )
        .bind(gun)
        .bind(repository)
        .bind(role)
        .bind(version)
        .bind(sealed)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes a collection's files and keys. `false` when it had none.
    pub async fn tuf_delete(&self, gun: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        coherence::announce(&mut tx, Topic::Trust).await?;
        let files = sqlx::query("DELETE FROM tuf_files WHERE gun = $1")
            .bind(gun)
            .execute(&mut *tx)
            .await?;
        let keys = sqlx::query("DELETE FROM tuf_keys WHERE gun = $1")
            .bind(gun)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.changed();
        Ok(files.rows_affected() + keys.rows_affected() > 0)
    }

    /// The repositories that have trust data.
    pub async fn repositories_with_trust_data(&self) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT repository FROM tuf_files ORDER BY repository")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The latest root, targets and delegation files of each collection of a repository.
    pub async fn tuf_signing_files(&self, repository: &str) -> Result<Vec<SigningFile>> {
        Ok(sqlx::query_as(
            "SELECT f.gun, f.role, f.data, f.created_at FROM tuf_files f
             WHERE f.repository = $1 AND f.role NOT IN ('snapshot', 'timestamp') AND f.version =
                 (SELECT MAX(l.version) FROM tuf_files l WHERE l.gun = f.gun AND l.role = f.role)",
        )
        .bind(repository)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Forgets a repository's trust data, inside a deletion's transaction.
pub async fn delete_of_repository(conn: &mut sqlx::AnyConnection, repository: &str) -> Result<()> {
    for table in ["tuf_files", "tuf_keys"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE repository = $1"))
            .bind(repository)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Forgets the trust data of every repository under `namespace/`, inside a deletion's
/// transaction.
pub async fn delete_of_namespace(conn: &mut sqlx::AnyConnection, namespace: &str) -> Result<()> {
    let prefix = format!("{namespace}/");
    for table in ["tuf_files", "tuf_keys"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE substr(repository, 1, length($1)) = $1"
        ))
        .bind(&prefix)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
